"""What one step of each optimizer costs on a network with n parameters, in
units the page's table can be read against: one gradient is one forward and
one backward pass over the minibatch (about 3 forward passes of work).

The counts follow from the updates in each optimizer's docstring:

* a Hessian-vector product Hv is forward-over-reverse (``jvp`` of ``grad``),
  about 2 gradients; a Gauss–Newton-vector product Jᵀ H_ℓ J v is one ``jvp``
  and one ``vjp`` of the network, also about 2 gradients (Schraudolph 2002);
* the L-BFGS two-loop recursion over m pairs is 2m dot products and 2m
  vector updates of length n (Nocedal & Wright, *Numerical Optimization*,
  Algorithm 7.4), with no pass over the data.
"""

COST_PER_STEP: dict[str, str] = {
    "gd": "one gradient; no memory beyond the parameters.",
    "momentum": "one gradient and one velocity vector (n floats).",
    "nesterov": "one gradient and one velocity vector (n floats).",
    "adam": "one gradient and two moment vectors (2n floats); a handful of element-wise operations.",
    "rmsprop": "one gradient and one second-moment vector (n floats).",
    "adagrad": "one gradient and one accumulator (n floats).",
    "yogi": "one gradient and two moment vectors (2n floats), like Adam.",
    "adadelta": "one gradient and two running averages, of squared gradients and squared updates (2n floats).",
    "parabola": (
        "one gradient, the momentum vector and the parabola's running means of θ and g (3n floats), and a few "
        "dot products along the momentum direction."
    ),
    "newton": (
        "one gradient, n Hessian-vector products (≈ 2n gradients) to form H, and an n×n solve "
        "(≈ n³/3 multiply-adds); n² floats of memory. Hence the parameter limit."
    ),
    "saddle_free_newton": (
        "as Newton, with an n×n eigendecomposition (≈ 9n³ operations) in place of the solve; n² floats of memory."
    ),
    "damped_ggn": (
        "one gradient and one Gauss–Newton-vector product (≈ 2 gradients) per conjugate-gradient iteration; "
        "with adaptive damping one more loss evaluation and one more product. A few vectors of memory: "
        "no matrix is ever formed."
    ),
    "lbfgs": (
        "one gradient and the two-loop recursion over the m newest pairs (4m vector operations of length n); "
        "2·capacity·n floats for the pairs."
    ),
    "mlbfgs": (
        "one gradient, moving averages of parameters and gradients (4 vectors), and the two-loop recursion "
        "(4m vector operations); 2·capacity·n floats for the pairs. Block-diagonal: the same work split per "
        "layer, each with its own pairs and step clip."
    ),
    "adamqlr": "Adam's work, one Gauss–Newton-vector product (≈ 2 gradients) and one loss evaluation.",
    "kfac": (
        "one gradient; one more backward pass for the layers' output gradients g of the sampled loss (one per "
        "output with the exact Fisher); per layer of n_in inputs and n_out outputs, the factors A and G "
        "(B·(n_in² + n_out²) multiply-adds for a batch of B) and the preconditioned gradient A⁻¹∇W G⁻¹ "
        "(n_in·n_out·(n_in + n_out)); every T_inv steps, their inverses (≈ (n_in³ + n_out³)/3 each); with the "
        "adaptive step two Gauss–Newton-vector products (≈ 4 gradients), and a loss evaluation every T_λ steps. "
        "Memory: the factors and their inverses, 2·(n_in² + n_out²) floats per layer, and one velocity vector: "
        "far less than the n² of the dense curvature."
    ),
}
