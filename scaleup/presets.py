"""Lesson presets for the Scale-up page: data only.

Each preset sets the task, the network, the optimizers (with any settings that
differ from ``training.MLP_DEFAULTS``), the batch size and the steps of one
comparison; ``lesson`` says what to look for. A link opens one:
``/scale_up?preset=<name>``; every control stays free to move afterwards.
Unset keys take the page's defaults (``PAGE_DEFAULTS``).
"""

PAGE_DEFAULTS = dict(task="spirals", depth=2, width=16, activation="tanh", batch=128, steps=500, seed=0, opt=["adam", "mlbfgs"])

PRESETS: dict[str, dict] = {
    "per_second": dict(
        title="Per step or per second? Adam against mL-BFGS on digits",
        lesson=(
            "A 64–64–10 network on the handwritten digits, minibatches of 128. Compare the two loss plots: "
            "against steps, the quasi-Newton direction of mL-BFGS may gain; against seconds, every step of it "
            "also pays for the two-loop recursion over its stored pairs (about 4m vector operations for m pairs). "
            "The table's ms / step column is the exchange rate between the two plots."
        ),
        task="digits",
        depth=1,
        width=64,
        batch=128,
        steps=1000,
        opt=["adam", "mlbfgs"],
        settings={"mlbfgs": {"learning_rate": 1.0}},
    ),
    "newton": dict(
        title="Newton on a tiny net: cheap in steps, dear in time and memory",
        lesson=(
            "A 2–8–8–2 network (114 parameters) on the whole spirals set. Newton forms the full Hessian from "
            "114 Hessian-vector products and solves with it on every step; saddle-free Newton uses |H| instead; "
            "the damped Gauss–Newton solves with G + λI by conjugate gradient, never forming a matrix. Compare "
            "the memory column, then raise the width: above "
            "2,000 parameters the dense methods refuse, since n² floats and n products per step no longer pay."
        ),
        task="spirals",
        depth=2,
        width=8,
        batch=0,
        steps=200,
        opt=["gd", "newton", "saddle_free_newton", "damped_ggn"],
    ),
    "gauss_newton": dict(
        title="Hessian-free Gauss–Newton and AdamQLR against Adam",
        lesson=(
            "Each damped Gauss–Newton step runs up to 20 conjugate-gradient iterations, each a Gauss–Newton-vector "
            "product (a forward-mode and a reverse-mode pass through the network), and adapts its damping λ "
            "Levenberg–Marquardt style. AdamQLR keeps Adam's direction and chooses only the step length from the "
            "same curvature. Look at how much each step buys against how long it takes."
        ),
        task="spirals",
        depth=2,
        width=32,
        batch=128,
        steps=1000,
        opt=["adam", "damped_ggn", "adamqlr"],
    ),
    "minibatch_pairs": dict(
        title="L-BFGS and mL-BFGS on minibatches",
        lesson=(
            "With minibatches of 64, plain L-BFGS takes its curvature pairs from differences of gradients of "
            "different minibatches, which are mostly noise; mL-BFGS takes them from moving averages of "
            "parameters and gradients every T steps. Compare the faint per-step losses and the held-out accuracy "
            "of the two; then set the batch size to the full set, where plain L-BFGS is in its element."
        ),
        task="spirals",
        depth=2,
        width=16,
        batch=64,
        steps=1000,
        opt=["lbfgs", "mlbfgs"],
    ),
}
