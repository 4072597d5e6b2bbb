"""What to look for when an optimizer runs on a landscape: data for the explorer's
explanations (the update rule and the citation come from each optimizer's
module docstring, ``OptimizerInfo.explanation``)."""

LOOK_FOR: dict[str, dict[str, str]] = {
    "gd": {
        "*": "Each step goes straight downhill, as long as α‖g‖. Its speed is set by α times the curvature.",
        "quadratic": "Stable only for α < 2 (the largest curvature is 1). Near α = 2 it bounces across the "
        "valley; along the valley it shrinks the error by 1 − α/κ per step, so large κ means a crawl.",
        "noisy_quadratic": "It settles into a cloud around the minimum whose size grows with α and shrinks with the batch size.",
        "rosenbrock": "The steep walls force a small α; along the curved floor it then crawls.",
        "saddle": "It slides off the saddle along the negative-curvature direction, slowly at first.",
        "pure_saddle": "Near the ridge the gradient is tiny, so it leaves slowly, then accelerates away.",
    },
    "momentum": {
        "*": "The velocity accumulates past gradients: consistent directions speed up, oscillating ones cancel.",
        "quadratic": "Stable up to αλ < 2 + 2β. With β near (√κ − 1)²/(√κ + 1)² it needs about √κ steps instead of κ.",
        "rosenbrock": "It builds speed along the valley floor and overshoots at the bend.",
    },
    "nesterov": {
        "*": "Like heavy ball, but the gradient's correction looks one step ahead, which damps the overshoot.",
    },
    "adam": {
        "*": "Each coordinate's step is its averaged gradient over its averaged size: roughly α per coordinate, "
        "whatever the scale. On a rotated valley that is a distortion, not a cure.",
        "quadratic": "Steps of about α per coordinate: it never diverges the way gradient descent does, but "
        "near the minimum it keeps jittering at the scale of α unless α shrinks.",
        "rosenbrock": "It follows the valley much faster than gradient descent, with oscillations near the bend.",
    },
    "rmsprop": {"*": "Adam without the momentum and bias correction: per-coordinate step sizes from a moving average of g²."},
    "adagrad": {"*": "The per-coordinate step shrinks as squared gradients accumulate: fast at first, then ever slower."},
    "newton": {
        "*": "It jumps to the stationary point of the local quadratic model, whatever its type.",
        "quadratic": "With α = 1 and λ = 0 it lands on the minimum in one step, whatever κ.",
        "noisy_quadratic": "It lands on each minibatch's own minimum, so it keeps the full noise of one batch.",
        "saddle": "It is drawn into the saddle and stays there (Dauphin et al., 2014).",
        "pure_saddle": "One step lands exactly on the saddle.",
        "rosenbrock": "Fast near the minimum, but its first steps trust the model far away and jump uphill.",
    },
    "saddle_free_newton": {
        "*": "Newton with |H|: curvature magnitudes set the step sizes, and negative curvature pushes away.",
        "saddle": "It is repelled by the saddle and reaches a minimum in a few steps.",
        "pure_saddle": "It moves away from the saddle along y with growing steps.",
    },
    "damped_ggn": {
        "*": "Gauss–Newton keeps only the positive semi-definite part of the curvature; λ blends it with gradient descent.",
        "rosenbrock": "λ ≈ 0 jumps; large λ is safe but slow; adaptive λ (Levenberg–Marquardt) gets both.",
        "saddle": "At the saddle its curvature along y is zero: damping alone decides the step there.",
    },
    "lbfgs": {
        "*": "It estimates the inverse curvature from the last m steps and gradient changes.",
        "noisy_quadratic": "Gradient differences of noisy minibatches are mostly noise: its curvature estimates, and steps, go wild.",
        "quadratic": "After a few steps it knows the curvature of the whole 2-D quadratic.",
    },
    "mlbfgs": {
        "*": "L-BFGS whose curvature pairs come from moving averages of θ and g, plus momentum on the direction.",
        "noisy_quadratic": "The averages filter the noise out of its curvature pairs: the cloud of seeds stays tight.",
        "rosenbrock": "Averaging mixes curvature from different places of a curved valley; β = 0 works better here.",
    },
    "adamqlr": {
        "*": "Adam's direction, with a step length from the curvature along it and Levenberg–Marquardt damping.",
    },
}


def look_for(optimizer: str, landscape: str) -> str:
    hints = LOOK_FOR.get(optimizer, {})
    return hints.get(landscape) or hints.get("*", "")
