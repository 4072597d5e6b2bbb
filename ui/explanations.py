"""What to look for when an optimizer runs on a landscape: data for the explorer's
explanations (the update rule and the citation come from each optimizer's
module docstring, ``OptimizerInfo.explanation``).

A hint speaks of the landscape with its default parameters, and of a run from
its default start with the starting values of ``optimizers.starting_values``
over the explorer's default 300 steps (8 seeds where noisy). Every number in a
hint is measured or derived by ``tests/test_hints.py``.
"""

LOOK_FOR: dict[str, dict[str, str]] = {
    "gd": {
        "*": "Each step goes straight downhill, as long as α‖g‖. Its speed is set by α times the curvature.",
        "quadratic": "It diverges for α > 2/λ_max = 2.0 here: the largest curvature is 1, whatever κ. Near α = 2 "
        "it bounces across the valley; along the valley it shrinks the error by 1 − α/κ per step, so a large κ "
        "means a crawl: at α = 0.1 and κ = 10, L − L* is still 5·10⁻⁴ after 300 steps.",
        "noisy_quadratic": "It settles into a cloud around the minimum whose loss grows with α and shrinks with the "
        "batch size B: about Σᵢ αλᵢσ²/(2B(2 − αλᵢ)) (Zhang et al., 2019), 0.012 at α = 1 with σ = 0.3 and B = 4.",
        "rosenbrock": "The walls are steep: the Hessian's λ_max is 1506 at the start and 1002 at the minimum, where "
        "it settles only for α < 2/λ_max = 2.0·10⁻³. The registry's α = 0.1 leaves the landscape at step 2. From "
        "α = 10⁻³ it crawls along the curved floor: L ≈ 3 after 300 steps.",
        "saddle": "It slides off the saddle along the negative-curvature direction, slowly at first.",
        "pure_saddle": "Near the ridge the gradient is tiny, so it leaves slowly, then accelerates away.",
        "beale": "The registry's α = 0.1 leaves the landscape at step 2 (λ_max = 281.5 at the start). At α = 0.01 it "
        "is at L ≈ 0.007 after 300 steps, slowed by the valley's flat floor: at the minimum (3, 0.5) the curvature "
        "is 0.30 along it and 49 across.",
        "rastrigin": "Every ripple is a basin: from (2.7, −1.6) it settles in the nearest local minimum, (2.98, −1.99), "
        "where L = 12.93, and never sees the global minimum at the origin. The curvature in a ripple's minimum is "
        "about 2 + 4π²A = 397, so it settles only for α < 2/397 = 5.0·10⁻³; it starts here at α = 10⁻³.",
        "custom": "With the default formula it goes down a valley that leaves the view towards y → −∞, along which L "
        "falls towards 2.25, never to the minimum L = 0 at (3, 0.5). The valley narrows as it descends, and it "
        "stops where the curvature across it nears 2/α = 200 at α = 0.01 (189 where it ends, near y = −3.1).",
    },
    "momentum": {
        "*": "The velocity accumulates past gradients: consistent directions speed up, oscillating ones cancel.",
        "quadratic": "It diverges for α > (2 + 2β)/λ_max, 3.8 here at β = 0.9 (λ_max = 1). At its best α and β "
        "each decade of error takes about 1.15√κ steps, against 1.15κ for gradient descent at its best α: "
        "measured at κ = 100, 12–14 steps per decade against 115.",
        "rosenbrock": "Near the minimum (λ_max = 1002) it settles only for α < (2 + 2β)/λ_max = 3.8·10⁻³ at "
        "β = 0.9; the registry's α = 0.1 leaves the landscape at step 2. From α = 10⁻³ it builds speed along the "
        "valley floor: L ≈ 0.01 after 300 steps, where gradient descent is at 3.",
        "himmelblau": "Which of the four minima a run ends in depends on the method: from (0, 0) at α = 0.01, gradient "
        "descent ends at (3, 2), and heavy ball, carried further by its velocity, at (3.58, −1.85).",
    },
    "nesterov": {
        "*": "Like heavy ball, but the gradient's correction looks one step ahead, which damps the overshoot.",
        "quadratic": "Looking ahead shrinks its stable range: on a quadratic it diverges for "
        "αλ_max > (2 + 2β)/(1 + 2β), that is α > 1.36 here at β = 0.9, where heavy ball is stable up to 3.8.",
        "rosenbrock": "As with heavy ball, the registry's α = 0.1 leaves the landscape at step 2 (λ_max = 1506 at "
        "the start). From α = 10⁻³ it reaches L ≈ 0.02 in 300 steps.",
    },
    "adam": {
        "*": "Each coordinate's step is its averaged gradient over its averaged size: roughly α per coordinate, "
        "whatever the scale. On a rotated valley that is a distortion, not a cure.",
        "quadratic": "Its first step is α in each coordinate, whatever the gradient's size. Near the minimum its "
        "steps shrink and it converges: at α = 0.05, L − L* is below 10⁻¹³ after 300 steps (‖θ − θ*‖ ≈ 4·10⁻⁷). "
        "RMSProp, without momentum and with a short memory of g², keeps jittering instead.",
        "rosenbrock": "Similar-sized steps in both coordinates follow the valley faster than gradient descent: "
        "at α = 0.05 it is at L ≈ 1.2 after 300 steps, where gradient descent at α = 10⁻³ is at 3.",
    },
    "rmsprop": {
        "*": "Adam without the momentum and bias correction: per-coordinate step sizes from a moving average of g².",
        "quadratic": "Its average ν of g² forgets within about 1/(1 − ρ) = 10 steps, so near the minimum √ν "
        "shrinks with the gradient and the steps do not: at α = 0.01 they still reach 0.03 in the last 100 of "
        "300 steps (L − L* ≈ 10⁻⁵), and at α = 0.1 it bounces by 0.1 per coordinate (L − L* ≈ 1.4·10⁻³).",
    },
    "adagrad": {"*": "The per-coordinate step shrinks as squared gradients accumulate: fast at first, then ever slower."},
    "newton": {
        "*": "It jumps to the stationary point of the local quadratic model, whatever its type.",
        "quadratic": "With α = 1 and λ = 0 it lands on the minimum in one step, whatever κ.",
        "noisy_quadratic": "It lands on each minibatch's own minimum, so it keeps the full noise of one batch: "
        "L − L* ≈ σ²n/(2B) = 0.0225 here (n = 2), however many steps it takes.",
        "saddle": "It is drawn into the saddle and stays there (Dauphin et al., 2014): at the start |y| = 0.3 is "
        "below 1/√3, where the curvature along y, 3y² − 1, is negative.",
        "pure_saddle": "One step lands exactly on the saddle.",
        "rosenbrock": "Fast near the minimum, but its first steps trust the model far away and jump uphill: L "
        "climbs from 24 to about 1400 at step 2, then it lands on the minimum.",
        "himmelblau": "From (0, 0), where both curvatures are negative (−42 and −26), its quadratic model is a cap: it "
        "climbs to the maximum (−0.27, −0.92), L = 181.6, within 3 steps and stays there.",
        "beale": "It lands on the saddle (0, 1) within 5 steps and stays there, on the plateau x = 0 where L = 14.2 "
        "whatever y.",
        "linear_net": "From the small start it lands on the saddle at the origin in two steps: near it L ≈ ½ − w₁w₂, "
        "whose only critical point is that saddle.",
    },
    "saddle_free_newton": {
        "*": "Newton with |H|: curvature magnitudes set the step sizes, and negative curvature pushes away.",
        "saddle": "It is repelled by the saddle and reaches a minimum within 7 steps.",
        "pure_saddle": "It moves away from the saddle along y, nearly doubling y every step: here |H| = I, so its "
        "step is about (−x, +y).",
    },
    "damped_ggn": {
        "*": "Gauss–Newton keeps only the positive semi-definite part of the curvature; λ blends it with gradient descent.",
        "rosenbrock": "λ ≈ 0 jumps; large λ is safe but slow; adaptive λ (Levenberg–Marquardt) gets both.",
        "saddle": "At the saddle its curvature along y is zero: damping alone decides the step there.",
        "pure_saddle": "It does not apply here: ½(x² − y²) has no convex outer loss ℓ∘f, so there is no "
        "Gauss–Newton matrix.",
        "rastrigin": "Its model keeps only the positive curvature of the sum of squares and ignores the ripples' "
        "negative curvature, so its steps are long: it crosses from the start's ripple to the mirror minimum "
        "(2.98, 1.99), as high, L = 12.93.",
        "custom": "With the default formula it is the only method here that reaches the minimum (3, 0.5) from the "
        "start; the others go down the valley towards y → −∞.",
    },
    "lbfgs": {
        "*": "It estimates the inverse curvature from the last m steps and gradient changes.",
        "noisy_quadratic": "Gradient differences of noisy minibatches are mostly noise: its curvature estimates, "
        "and steps, go wild, and at α = 1 some of the 8 seeds leave the landscape within 300 steps.",
        "quadratic": "On this 2-D quadratic it is at the minimum (L − L* < 10⁻¹²) within 7 steps at α = 1.",
    },
    "mlbfgs": {
        "*": "L-BFGS whose curvature pairs come from moving averages of θ and g, plus momentum on the direction.",
        "noisy_quadratic": "The averages filter the noise out of its curvature pairs: none of the 8 seeds climbs "
        "above its starting loss or leaves the landscape, where plain L-BFGS's do.",
        "rosenbrock": "Its registry defaults (β = 0.99 for both averages, a pair every T = 20 steps) are set for "
        "noise: the averages span about 1/(1 − β) = 100 steps and mix curvature from far-apart places of this "
        "curved valley, so it is still at L ≈ 0.8 after 300 steps and leaves the landscape at step 540. It "
        "starts here at β = 0 and T = 3, and converges.",
    },
    "adamqlr": {
        "*": "Adam's direction, with a step length from the curvature along it and Levenberg–Marquardt damping.",
        "pure_saddle": "It does not apply here: its curvature is the Gauss–Newton matrix, and ½(x² − y²) has no "
        "convex outer loss ℓ∘f.",
    },
    "yogi": {
        "*": "Adam with an additive second moment: v moves towards g² by at most (1 − β₂)g² a step (Zaheer et al., "
        "2018), so after a stretch of small gradients its steps grow back slowly and do not overshoot when the "
        "gradient jumps.",
    },
    "adadelta": {
        "*": "Each coordinate's step is the RMS of its recent steps over the RMS of its recent gradients (Zeiler, "
        "2012): it has the units of θ and needs no learning rate in principle, but its first steps are only "
        "√(ε/(1 − ρ)) per coordinate and grow as they succeed.",
        "quadratic": "At the registry's ε = 10⁻⁶ its first step is 0.003 per coordinate and L − L* is still 0.12 "
        "after 300 steps; from ε = 10⁻⁴, 0.03 per coordinate, where it starts here, it converges.",
    },
    "parabola": {
        "*": "Heavy ball, except along its momentum's direction: there it fits a parabola to the gradients it has "
        "seen and steps to the vertex, Newton's step in that one direction from gradients alone (Duda, 2019).",
    },
}


def look_for(optimizer: str, landscape: str) -> str:
    hints = LOOK_FOR.get(optimizer, {})
    return hints.get(landscape) or hints.get("*", "")
