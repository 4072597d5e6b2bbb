"""Lesson presets for the Landscape Explorer: data only.

Each preset sets the landscape, the runs and the run settings of one view that
shows one phenomenon; ``lesson`` says what to look for. A link opens one:
``/explorer?preset=<name>``. ``expect`` states the phenomenon as checks the
tests run (``tests/test_explorer.py``), so a preset that stops showing what it
promises fails the suite:

* ``("diverges", i)``: run i diverges (for a noisy run: at least one seed does);
* ``("converges", i, tol)``: run i ends within ``tol`` of the lowest loss (mean over seeds);
* ``("ends_near", i, point, tol)``: run i ends within ``tol`` of ``point``;
* ``("faster", i, j)``: run i ends at less than a tenth of run j's excess loss;
* ``("lower_at", i, j, step)``: run i's (mean) excess loss at ``step`` is below run j's (−1: the end);
* ``("overshoots", i)``: run i climbs at least ten times above its starting loss on some seed;
* ``("never_above_start", i)``: run i never climbs above its starting loss on any seed.

Learning rates and other values sit on the sliders' grid (24 values per
decade), so a preset's link is short and every value can be dialled back in.
"""

PRESETS: dict[str, dict] = {
    "zigzag": dict(
        title="Gradient descent zig-zags; momentum fixes it",
        lesson=(
            "A narrow valley (condition number 100, rotated). Gradient descent with a large step "
            "bounces from wall to wall across the valley and crawls along it: its step is limited "
            "by the steep direction, and the shallow one then shrinks by only 1 − α/κ per step. "
            "Heavy-ball momentum with the same kind of step averages the bouncing out and "
            "accelerates along the floor. Press ▶ and watch the arrows: the gradient points "
            "across the valley, momentum's update points along it."
        ),
        landscape="quadratic",
        landscape_params=dict(condition_number=100.0, angle=0.5),
        runs=[("gd", dict(learning_rate=1.8)), ("momentum", dict(learning_rate=1.0, momentum=0.8))],
        steps=100,
        expect=[("faster", 1, 0), ("converges", 1, 1e-6)],
    ),
    "d2l": dict(
        title="Too small crawls, too large diverges, momentum copes (d2l.ai)",
        lesson=(
            "The worked example of *Dive into Deep Learning*, L = 0.1x₁² + 2x₂², is this quadratic "
            "with κ = 20 scaled by 4, so its learning rates 0.4 and 0.6 are 1.6 and 2.4 here. "
            "With α = 1.6 gradient descent is stable but crawls along x₁; with α = 2.4 the steep "
            "direction has αλ = 2.4 > 2 and every step overshoots further until the run diverges. "
            "Momentum with the same α = 2.4 and β = 0.5 converges: it is stable up to αλ < 2 + 2β = 3."
        ),
        landscape="quadratic",
        landscape_params=dict(condition_number=20.0, angle=0.0),
        runs=[
            ("gd", dict(learning_rate=1.6)),
            ("gd", dict(learning_rate=2.4)),
            ("momentum", dict(learning_rate=2.4, momentum=0.5)),
        ],
        steps=20,
        expect=[("diverges", 1), ("faster", 2, 0), ("converges", 2, 1e-4)],
    ),
    "saddle": dict(
        title="Newton is drawn into the saddle; gradient descent and saddle-free Newton escape",
        lesson=(
            "Between two minima lies a saddle. Newton's step jumps to the critical point of the "
            "local quadratic model, whatever its type, so it converges to the saddle and stays "
            "there (Dauphin et al., 2014). Gradient descent slides off along the negative-curvature "
            "direction to a minimum; saddle-free Newton uses |H| and is repelled by the saddle, "
            "reaching the minimum in a few steps."
        ),
        landscape="saddle",
        landscape_params={},
        runs=[
            ("gd", dict(learning_rate=0.1)),
            ("newton", dict(learning_rate=1.0)),
            ("saddle_free_newton", dict(learning_rate=1.0)),
        ],
        steps=50,
        expect=[
            ("ends_near", 1, (0.0, 0.0), 1e-3),
            ("ends_near", 0, (0.0, 1.0), 1e-2),
            ("ends_near", 2, (0.0, 1.0), 1e-3),
        ],
    ),
    "adam_rosenbrock": dict(
        title="Adam against gradient descent in Rosenbrock's valley",
        lesson=(
            "Gradient descent's step must stay below 2/λ_max of the steep valley walls, so it "
            "creeps along the curved floor. Adam divides each coordinate's step by its running "
            "gradient scale: it takes similar-sized steps in both coordinates and follows the "
            "valley much faster, with some oscillation near the bend."
        ),
        landscape="rosenbrock",
        landscape_params=dict(a=1.0, b=100.0),
        runs=[("gd", dict(learning_rate=0.001)), ("adam", dict(learning_rate=0.05))],
        steps=1000,
        expect=[("faster", 1, 0)],
    ),
    "damping": dict(
        title="Damped Gauss–Newton and Newton on Rosenbrock: what λ does",
        lesson=(
            "Undamped second-order steps trust their local quadratic model far from where it holds: "
            "Newton and Gauss–Newton with λ ≈ 0 leap uphill on their first steps (the spikes in the "
            "loss curve) before landing on the minimum. A large damping λ = 10 makes every step "
            "short and safe, close to gradient descent with step α/λ, and slow. Adaptive damping "
            "(Levenberg–Marquardt: shrink λ when the model predicted the loss well, grow it when "
            "not) starts cautious and ends with fast Gauss–Newton steps."
        ),
        landscape="rosenbrock",
        landscape_params=dict(a=1.0, b=100.0),
        runs=[
            ("newton", dict(learning_rate=1.0, damping=0.0)),
            ("damped_ggn", dict(learning_rate=1.0, damping=0.001)),
            ("damped_ggn", dict(learning_rate=1.0, damping=10.0)),
            ("damped_ggn", dict(learning_rate=1.0, damping=10.0, adaptive=True)),
        ],
        steps=50,
        expect=[("overshoots", 0), ("overshoots", 1), ("never_above_start", 2), ("faster", 3, 2)],
    ),
    "mlbfgs": dict(
        title="L-BFGS, mL-BFGS and Newton on a noisy quadratic",
        lesson=(
            "Every step sees a fresh minibatch (batch size 4), and 16 runs with different seeds "
            "are drawn as a faint cloud with their mean on top. Plain L-BFGS builds its curvature "
            "pairs from differences of noisy gradients: some runs leap far out or diverge. "
            "mL-BFGS (Niu et al., 2023) builds them from moving averages and adds momentum: its "
            "cloud stays tight and ends below Newton's, whose exact-curvature steps jump to each "
            "minibatch's own minimum and so keep the full noise."
        ),
        landscape="noisy_quadratic",
        landscape_params=dict(condition_number=100.0, angle=0.0, noise_scale=0.3, batch_size=4),
        runs=[("lbfgs", dict(learning_rate=1.0)), ("mlbfgs", {}), ("newton", dict(learning_rate=1.0))],
        steps=300,
        seeds=16,
        expect=[("overshoots", 0), ("never_above_start", 1), ("lower_at", 1, 2, -1)],
    ),
    "noise_floor": dict(
        title="With noisy gradients a large step is fast, then stalls higher",
        lesson=(
            "On a noisy quadratic (Zhang et al., 2019) gradient descent first shrinks the error "
            "like on the exact loss, then hovers at a noise floor that grows with the learning "
            "rate, about α·σ²/(2B(2 − αλ)) per direction. The large step gets there first; the "
            "small step is slow but ends lower. Compare the loss curves, then try the batch size."
        ),
        landscape="noisy_quadratic",
        landscape_params=dict(condition_number=10.0, angle=0.5, noise_scale=0.3, batch_size=4),
        runs=[("gd", dict(learning_rate=1.0)), ("gd", dict(learning_rate=0.05))],
        steps=300,
        seeds=16,
        expect=[("lower_at", 0, 1, 30), ("lower_at", 1, 0, -1)],
    ),
}
