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
}
