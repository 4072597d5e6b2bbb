"""The reader's own landscape: formulas against hand-written NumPy and finite differences, critical points
against hand-derived ones, and hostile inputs refused without anything of them being run."""

from __future__ import annotations

import ast
import builtins
import functools
import inspect
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscapes import ALL_LANDSCAPES, LANDSCAPES, MORE_LANDSCAPES, Custom, FormulaError, get_landscape, parse_formula
from landscapes import custom as custom_module
from landscapes import formula as formula_module

BEALE_2 = "(1.5 - x + x*y)**2 + (2.25 - x + x*y**2)**2"  # the default formula
HIMMELBLAU = "(x**2 + y - 11)**2 + (x + y**2 - 7)**2"


def points_of(ls, kind):
    return np.array([p.location for p in ls.critical_points() if p.kind == kind]).reshape(-1, 2)


def same_set(found, expected, atol):
    found, expected = np.asarray(found), np.asarray(expected)
    assert len(found) == len(expected), (found, expected)
    for point in expected:
        assert np.min(np.linalg.norm(found - point, axis=1)) < atol, (point, found)


def fd_gradient(f, p, h=1e-6):
    x, y = p
    return np.array([(f(x + h, y) - f(x - h, y)) / (2 * h), (f(x, y + h) - f(x, y - h)) / (2 * h)])


# --- values and derivatives ---------------------------------------------------------
FORMULAS = [
    ("sin(x)*cos(y) + tan(x/4) - exp(-y**2) + log(2 + x**2) + sqrt(1 + y**2) + abs(x - y)",
     lambda x, y: np.sin(x) * np.cos(y) + np.tan(x / 4) - np.exp(-y**2) + np.log(2 + x**2) + np.sqrt(1 + y**2)
     + np.abs(x - y)),
    ("tanh(x) + sinh(y/2) + cosh(x/3) + arctan(y) + atan(x*y) + atan2(y, 1 + x**2) + pi*e - x/y**2",
     lambda x, y: np.tanh(x) + np.sinh(y / 2) + np.cosh(x / 3) + np.arctan(y) + np.arctan(x * y)
     + np.arctan2(y, 1 + x**2) + np.pi * np.e - x / y**2),
    ("-x**-2 + +y - -x + 2**x + x**1.5 + max(x, y) - min(x, 2*y) + hypot(x, y) + softplus(y) + sigmoid(x)",
     lambda x, y: -(x**-2.0) + y + x + 2**x + x**1.5 + np.maximum(x, y) - np.minimum(x, 2 * y) + np.hypot(x, y)
     + np.log1p(np.exp(y)) + 1 / (1 + np.exp(-x))),
]


@pytest.mark.parametrize("text, reference", FORMULAS, ids=["trig-exp-log", "hyperbolic", "powers-and-pairs"])
def test_formulas_match_hand_written_numpy_and_their_gradients_match_finite_differences(text, reference):
    f = parse_formula(text)
    points = np.random.default_rng(0).uniform(0.3, 2.0, (6, 2))  # x > 0 for x**1.5
    loss = lambda t: f(t[0], t[1])  # noqa: E731
    with jax.enable_x64(True):
        values, grads = jax.jit(jax.vmap(jax.value_and_grad(loss)))(jnp.asarray(points))
    for (x, y), value, grad in zip(points, np.asarray(values), np.asarray(grads)):
        assert value == pytest.approx(reference(x, y), rel=1e-12)
        assert np.allclose(grad, fd_gradient(reference, (x, y)), rtol=1e-6, atol=1e-6)


def test_a_float32_theta_gives_a_float32_loss():
    ls = get_landscape("custom", formula="exp(-x**2) + 2.5*y**3 + pi")
    assert ls.loss(jnp.array([0.5, -1.0], jnp.float32)).dtype == jnp.float32


def test_integer_powers_of_negative_bases_have_exact_derivatives():
    f = parse_formula("x**3 + y**-2")
    g = jax.grad(lambda t: f(t[0], t[1]))(jnp.array([-2.0, -0.5]))
    assert np.allclose(g, [3 * 4.0, -2 * (-0.5) ** -3])  # 12, 16


# --- critical points, view, L*, start --------------------------------------------------
def test_the_default_formula_has_exactly_the_three_hand_derived_critical_points():
    """r = (1.5 − x(1−y), 2.25 − x(1−y²)), det J = x(1−y)²: where J is invertible, ∇L = 2Jᵀr = 0 needs r = 0,
    i.e. (3, ½); on x = 0, ∂L/∂x = (y−1)(3 + 4.5(y+1)) vanishes at y = 1 and y = −5/3; on y = 1, ∂L/∂y = 12x."""
    ls = get_landscape("custom")
    assert ls.formula == BEALE_2
    same_set(points_of(ls, "minimum"), [[3.0, 0.5]], 1e-8)
    same_set(points_of(ls, "saddle"), [[0.0, 1.0], [0.0, -5 / 3]], 1e-8)
    assert len(ls.critical_points()) == 3
    # Hessians at (0, y): ∂²L/∂x² = 2[(y−1)² + (y²−1)²], ∂²L/∂x∂y = 2(1.5 + 4.5y), ∂²L/∂y² = 0
    for y in (1.0, -5 / 3):
        expected = np.array([[2 * ((y - 1) ** 2 + (y**2 - 1) ** 2), 2 * (1.5 + 4.5 * y)], [2 * (1.5 + 4.5 * y), 0]])
        with jax.enable_x64(True):
            h = jax.hessian(ls.loss)(jnp.array([0.0, y]))
        assert np.allclose(h, expected, atol=1e-9)
    assert ls.minimum_loss == pytest.approx(0.0, abs=1e-20)
    assert ls.has_residuals and ls.log_scale
    (x0, x1), (y0, y1) = ls.bounds  # the critical points' box, 1 wider each way
    assert (x0, x1, y0, y1) == pytest.approx((-1.0, 4.0, -5 / 3 - 1, 2.0))


def test_himmelblau_typed_in_finds_the_published_critical_points():
    """Himmelblau (1972): four minima at L = 0, one maximum, four saddles."""
    ls = get_landscape("custom", formula=HIMMELBLAU)
    minima = [[3.0, 2.0], [-2.805118, 3.131312], [-3.779310, -3.283186], [3.584428, -1.848126]]
    same_set(points_of(ls, "minimum"), minima, 2e-6)
    same_set(points_of(ls, "maximum"), [[-0.270845, -0.923039]], 2e-6)
    assert len(points_of(ls, "saddle")) == 4 and len(ls.critical_points()) == 9
    assert ls.bounds == ((-5.0, 5.0), (-5.0, 5.0))  # the margin reaches the search box
    assert ls.minimum_loss == pytest.approx(0.0, abs=1e-12)


def test_a_given_view_is_the_view_and_the_box_searched():
    ls = get_landscape("custom", formula=HIMMELBLAU, x_min=0.0, x_max=5.0, y_min=0.0, y_max=5.0)
    assert ls.bounds == ((0.0, 5.0), (0.0, 5.0))
    same_set(points_of(ls, "minimum"), [[3.0, 2.0]], 1e-6)
    assert len(points_of(ls, "saddle")) == 2 and len(ls.critical_points()) == 3  # near (3.39, 0.07), (0.09, 2.88)
    (x0, x1), (y0, y1) = ls.bounds
    assert x0 < ls.default_start[0] < x1 and y0 < ls.default_start[1] < y1


@pytest.mark.parametrize(
    "text, minima, saddles, lowest",
    [
        ("x**2 - y**2", [], [[0, 0]], -np.inf),  # no minimum
        ("x**3 - 3*x + y**2", [[1, 0]], [[-1, 0]], -np.inf),  # L(1, 0) = −2, but L(−5, 0) = −110
    ],
)
def test_minimum_loss_is_the_lowest_minimum_unless_the_loss_falls_lower_at_the_views_edge(text, minima, saddles, lowest):
    ls = get_landscape("custom", formula=text)
    same_set(points_of(ls, "minimum"), minima, 1e-7)
    same_set(points_of(ls, "saddle"), saddles, 1e-7)
    assert ls.minimum_loss == pytest.approx(lowest, abs=1e-12)


def test_a_curve_of_minima_is_sampled_and_called_degenerate():
    """½(1 − xy)²: the Hessian on xy = 1 is [[y², 1], [1, x²]], singular; the origin is a saddle."""
    ls = get_landscape("custom", formula="0.5*(1 - x*y)**2")
    curve = points_of(ls, "degenerate")
    assert len(curve) >= 8
    assert np.allclose(curve[:, 0] * curve[:, 1], 1.0, atol=1e-8)
    assert len(curve[curve[:, 0] > 0]) and len(curve[curve[:, 0] < 0])  # both branches
    same_set(points_of(ls, "saddle"), [[0.0, 0.0]], 1e-9)
    assert ls.minimum_loss == pytest.approx(0.0, abs=1e-15)


def test_a_flat_minimum_is_degenerate_but_still_sets_the_floor():
    ls = get_landscape("custom", formula="x**4 + y**4")
    assert [p.kind for p in ls.critical_points()] == ["degenerate"]
    assert np.allclose(ls.critical_points()[0].location, 0.0, atol=1e-8)
    assert ls.minimum_loss == pytest.approx(0.0, abs=1e-20)
    assert ls.bounds == ((-2.0, 2.0), (-2.0, 2.0))  # at least 4 wide about the one point


def test_nothing_found_gives_the_default_view_and_no_floor():
    ls = get_landscape("custom", formula="log(x) + y")
    assert ls.critical_points() == [] and ls.bounds == ((-3.0, 3.0), (-3.0, 3.0))
    assert ls.minimum_loss == -np.inf
    assert np.isfinite(ls.loss(jnp.asarray(ls.default_start)))  # a start where the loss is defined (x > 0)


def test_sums_of_squares_have_residuals_and_gauss_newton_runs_on_them():
    from optimizers import get_optimizer, run_trajectory

    ls = get_landscape("custom", formula="3*(x - 1)**2 + (y + x**2)**2/4 + (x*y)**4 + 2")
    rng = np.random.default_rng(1)
    for theta in rng.uniform(-2, 2, (5, 2)).astype(np.float32):
        r = ls.residuals(jnp.asarray(theta))
        assert r.shape == (4,)
        assert 0.5 * float(jnp.sum(r**2)) == pytest.approx(float(ls.loss(jnp.asarray(theta))), rel=1e-5)
    for text in ("x**2 - y**2", "(x - 1)**2 + sin(y)", "-(x**2) + y**2", "(x + y)**3 + x**2"):
        assert not get_landscape("custom", formula=text).has_residuals, text
    beale = get_landscape("custom")
    traj = run_trajectory(beale, get_optimizer("damped_ggn"), steps=60)
    assert traj.diverged_at is None and traj.loss[-1] < 1e-8
    assert np.allclose(traj.params[-1], [3.0, 0.5], atol=1e-3)


def test_the_default_start_is_inside_the_view_away_from_critical_points():
    ls = get_landscape("custom")
    start = ls.default_start
    (x0, x1), (y0, y1) = ls.bounds
    assert x0 < start[0] < x1 and y0 < start[1] < y1
    diagonal = np.hypot(x1 - x0, y1 - y0)
    assert all(np.linalg.norm(start - p.location) > 0.05 * diagonal for p in ls.critical_points())
    assert np.linalg.norm(jax.grad(ls.loss)(jnp.asarray(start))) > 0


# --- pytree, caching ------------------------------------------------------------------
def test_the_formula_is_static_so_one_formula_compiles_once_and_hashes_for_caches():
    traces = []

    @jax.jit
    def value(landscape, theta):
        traces.append(landscape.formula)
        return landscape.loss(theta)

    a = Custom("x**2 + 3*y**2")
    value(a, jnp.ones(2))
    value(Custom("x**2 + 3*y**2"), jnp.zeros(2))
    value(Custom("x**2 + 3*y**2", -1.0, 1.0, -2.0, 2.0), jnp.zeros(2))  # the view's ends are leaves
    value(Custom("x**2 + 3*y**2", -4.0, 1.0, -2.0, 9.0), jnp.zeros(2))  # ... so new ends compile nothing
    assert traces == ["x**2 + 3*y**2", "x**2 + 3*y**2"]  # once without, once with the view's leaves
    value(Custom("x**2 + 4*y**2"), jnp.zeros(2))
    assert len(traces) == 3
    assert a == Custom("x**2 + 3*y**2") and hash(a) == hash(Custom("x**2 + 3*y**2"))
    assert a != Custom("x**2 + 4*y**2") and jax.tree.leaves(a) == []
    assert "x**2 + 3*y**2" in str(jax.tree.structure(a))

    @functools.lru_cache
    def cached(landscape):
        return object()

    assert cached(a) is cached(Custom("x**2 + 3*y**2"))


def test_the_registry_builds_the_custom_landscape_and_checks_its_parameters():
    assert "custom" in LANDSCAPES and "custom" in ALL_LANDSCAPES
    ls = get_landscape("custom", formula="x**2 + y**2")
    assert isinstance(ls, Custom) and ls.formula == "x**2 + y**2"
    with pytest.raises(FormulaError, match=r"unknown name 'z'.*\(column 5\)"):
        get_landscape("custom", formula="  x*z")  # columns count in the text as given
    with pytest.raises(ValueError, match="allowed: x_min, x_max, y_min, y_max, formula"):
        get_landscape("custom", z_min=0)
    with pytest.raises(ValueError, match="all four"):
        get_landscape("custom", x_min=-1.0, x_max=1.0)
    with pytest.raises(ValueError, match="x_min must be below x_max"):
        get_landscape("custom", x_min=1.0, x_max=-1.0, y_min=-1.0, y_max=1.0)
    with pytest.raises(ValueError, match=r"x_max must lie in \[-100, 100\]"):
        get_landscape("custom", x_min=1.0, x_max=1e3, y_min=-1.0, y_max=1.0)
    with pytest.raises(ValueError, match="must be a string"):
        get_landscape("custom", formula=3)
    noisy = get_landscape("custom", formula="x**2 + y**2", gradient_noise=0.5)
    assert noisy.is_stochastic and noisy.has_residuals


# --- hostile input ------------------------------------------------------------------------
HOSTILE = [
    ("x.__class__", "attribute access", 2),
    ("x + y.real", "attribute access", 6),
    ("__class__", "unknown name '__class__'", 1),
    ("x + __builtins__", "unknown name", 5),
    ("__import__('os')", "'__import__' is not a known function", 1),
    ("eval('1') + x", "'eval' is not a known function", 1),
    ("open('out.txt', 'w')", "'open' is not a known function", 1),
    ("os.system('ls')", "attribute access", 3),
    ("(lambda: x)()", "lambda is not allowed", 2),
    ("lambda: x", "lambda is not allowed", 1),
    ("[x for x in y]", "comprehensions", 1),
    ("sum(t for t in x)", "'sum' is not a known function", 1),
    ("{x: y}", "dictionaries", 1),
    ("sin(x=1)", "keyword arguments", 7),
    ("sin(*x)", "starred", 5),
    ("'x'", "strings are not allowed", 1),
    ("x + b'y'", "bytes are not allowed", 5),
    ("f'{x}'", "f-strings", 1),
    ("x[0]", "subscripts", 1),
    ("(y := 2) + x", "assignment expressions", 2),
    ("x < y", "comparisons are not supported", 1),
    ("x and y", "'and' / 'or' are not supported", 1),
    ("not x", "'not' is not supported", 1),
    ("x if y else 1", "if ... else", 1),
    ("x, y", "tuples", 1),
    ("x ^ 2", "write x\\*\\*2", 1),
    ("x // 2", "'//' is not supported", 1),
    ("x(1)", "'x' is a variable and cannot be called", 1),
    ("sin + x", "sin is a function", 1),
    ("sin(x, y)", "sin takes 1 argument, got 2", 1),
    ("2x", "not a formula", 1),
    ("x +* y", "not a formula", 4),
    ("", "empty", None),
    ("1 + 2", "must depend on x or y", None),
    ("True * x", "True is not a number", 1),
    ("1j * x", "complex numbers", 1),
    ("x * 1e16", "larger than 1e\\+15", 5),
    ("9**9**9 + x", "exponent 3.8742e\\+08 is larger than 100", 4),
    ("x**9**9", "exponent", 4),
    ("x**1000", "exponent 1000 is larger than 100", 4),
    ("10**39 * x", "not a finite number in float32", 1),
    ("exp(1000) * x", "undefined or too large", 1),
    ("x / (1 - 1)", "division by zero", 1),
    ("1 / 0 + x", "division by zero", 1),
    ("log(0) + x", "undefined", 1),
    ("(-8)**(1/3) + x", "undefined", 1),
    ("x\n+ y", "plain ASCII", 2),
    ("ｘ + 1", "FULLWIDTH LATIN SMALL LETTER X", 1),
    ("х + 1", "CYRILLIC SMALL LETTER HA", 1),
    ("y + 𝑥", "MATHEMATICAL ITALIC SMALL X", 5),
    ("x − y", "MINUS SIGN", 3),
    ("x" * 10_000, "10000 characters long; the limit is 500", None),
    ("(" * 10_000 + "x" + ")" * 10_000, "limit is 500", None),
    ("(" * 240 + "x" + ")" * 240, "too many nested parentheses", 201),
    ("-" * 400 + "x", "nested more than 40 levels", 41),  # the first level too deep
    ("x" + "+x" * 45, "nested more than 40 levels", ...),
]


@pytest.mark.parametrize("text, message, column", HOSTILE, ids=[repr(h[0][:24]) for h in HOSTILE])
def test_hostile_formulas_are_refused_with_a_reason_and_a_column_before_anything_is_computed(text, message, column):
    start = time.perf_counter()
    with pytest.raises(FormulaError, match=message) as refused:
        get_landscape("custom", formula=text)
    assert time.perf_counter() - start < 0.2
    assert isinstance(refused.value, ValueError)
    if column is not ...:
        assert refused.value.column == column
    if column not in (None, ...):
        assert f"(column {column})" in str(refused.value)


@pytest.mark.parametrize(
    "text",
    ["(" * 10_000 + "x" + ")" * 10_000, "-" * 100_000 + "x", "x" + "+x" * 50_000, "sin(" * 5_000 + "x" + ")" * 5_000],
)
def test_what_would_crash_the_parser_is_refused_too(text):
    """Past the length limit, the parser's own failures (SyntaxError, MemoryError, RecursionError) are caught."""
    with pytest.raises(FormulaError, match="not a formula|nested too deeply"):
        formula_module._syntax_tree(text)


def test_nothing_of_a_refused_formula_runs(tmp_path, monkeypatch):
    """Formulas that would write a file or import a module if evaluated: refused, nothing written, and
    no eval, exec or bytecode compile is called (ast.parse's own compile only builds the syntax tree)."""
    calls = []
    real_compile = builtins.compile

    def spy_compile(source, filename, mode, flags=0, *args, **kwargs):
        calls.append(("compile", flags))
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "compile", spy_compile)
    monkeypatch.setattr(builtins, "eval", lambda *a, **k: calls.append(("eval",)))
    monkeypatch.setattr(builtins, "exec", lambda *a, **k: calls.append(("exec",)))
    target = tmp_path / "written"
    attempts = [
        f"open({str(target)!r}, 'w').write('x')",
        f"__import__('os').system('touch {target}')",
        f"__import__('pathlib').Path({str(target)!r}).touch()",
        "[c for c in ().__class__.__base__.__subclasses__()]",
        f"x + (lambda: open({str(target)!r}, 'w'))()",
        f"f'{{open({str(target)!r}, \"w\")}}'",
    ]
    for text in attempts:
        with pytest.raises(ValueError):
            get_landscape("custom", formula=text)
    assert not target.exists()
    accepted = Custom("x**2 + sin(y) + 0.123456789")  # a new text, not in the parse cache
    assert float(accepted.loss(jnp.array([1.0, 0.0]))) == pytest.approx(1.123456789)
    assert calls and all(c[0] == "compile" and c[1] & ast.PyCF_ONLY_AST for c in calls)


def test_the_formula_module_calls_no_evaluator():
    tree = ast.parse(inspect.getsource(formula_module))
    tree_custom = ast.parse(inspect.getsource(custom_module))
    forbidden = {"eval", "exec", "compile", "__import__", "getattr", "globals", "locals", "vars"}
    for node in [*ast.walk(tree), *ast.walk(tree_custom)]:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in forbidden, node.func.id
