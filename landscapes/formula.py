"""A reader's formula in x and y, checked against a whitelist and turned into a JAX function.

>>> f = parse_formula("(1.5 - x + x*y)**2 + sin(pi*y)")
>>> float(f(3.0, 0.5))
1.0

Nothing of the reader's text is ever executed: no ``eval``, ``exec``, or
bytecode. ``ast.parse`` only builds the syntax tree; the tree is checked node
by node against a whitelist and rewritten into a small program of nested
tuples (``("add", a, b)``, ``("call", "sin", (a,))``, ...), which ``evaluate``
walks, calling only the ``jax.numpy`` functions named in ``FUNCTIONS``.

What a formula may contain:

* the variables ``x`` and ``y``, the constants ``pi`` and ``e``, numeric
  literals (integers, decimals, ``1e-3``) up to ``MAX_LITERAL`` in size;
* ``+ - * / **``, unary ``-`` and ``+``, parentheses;
* calls of the functions in ``FUNCTIONS`` with positional arguments.

Everything else is refused with a ``FormulaError`` (a ``ValueError``) saying
why and at which column (1-based): attribute access, subscripts, other names
(builtins, dunders), strings, bytes, f-strings, lambdas, comprehensions,
keyword or starred arguments, walrus, comparisons, ``and``/``or``/``not`` and
``if``-``else`` (refused, not supported: a landscape here is a smooth formula,
and ``abs``, ``min``, ``max`` and ``relu`` give the piecewise shapes), ``^``
(with a hint to write ``**``), and any character outside printable ASCII.
Python would NFKC-normalise identifiers, so ``ｘ`` (fullwidth) and ``𝑥``
(mathematical italic) would silently mean ``x`` while the Cyrillic ``х``
would not; refusing every non-ASCII character keeps what the reader sees and
what is computed the same.

Limits, checked before anything is computed: ``MAX_LENGTH`` characters,
``MAX_DEPTH`` levels of nesting (the parser's own limits, a ``RecursionError``
or ``MemoryError``, are caught and refused too), ``MAX_NODES`` nodes,
literals up to ``MAX_LITERAL``, constant exponents up to ``MAX_EXPONENT`` in
size. Constant sub-expressions are folded in Python floats (which never take
long, unlike Python integers: ``9**9**9`` would), and one whose value is not
a finite float32 (``9**9**9``, ``1/0``, ``log(0)``, ``(-8)**(1/3)``) is
refused.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import math
import unicodedata
from typing import Callable, NamedTuple

import jax.numpy as jnp
from jax import lax

MAX_LENGTH = 500
MAX_DEPTH = 40
MAX_NODES = 400
MAX_LITERAL = 1e15
MAX_EXPONENT = 100
FLOAT32_MAX = 3.4028234663852886e38

VARIABLES = ("x", "y")
CONSTANTS = {"pi": math.pi, "e": math.e}


class Function(NamedTuple):
    arity: int
    jax: Callable
    python: Callable  # for folding constant arguments; raises on a domain error


def _relu(v):
    return jnp.maximum(v, 0.0)


def _softplus(v):
    return jnp.logaddexp(v, 0.0)


def _sigmoid(v):
    return 1.0 / (1.0 + jnp.exp(-v))


def _python_sigmoid(v):
    return 1.0 / (1.0 + math.exp(-v)) if v > -700 else 0.0


def _python_softplus(v):
    return v + math.log1p(math.exp(-v)) if v > 0 else math.log1p(math.exp(v))


_ONE_ARGUMENT = {
    "sin": (jnp.sin, math.sin),
    "cos": (jnp.cos, math.cos),
    "tan": (jnp.tan, math.tan),
    "arcsin": (jnp.arcsin, math.asin),
    "arccos": (jnp.arccos, math.acos),
    "arctan": (jnp.arctan, math.atan),
    "sinh": (jnp.sinh, math.sinh),
    "cosh": (jnp.cosh, math.cosh),
    "tanh": (jnp.tanh, math.tanh),
    "arcsinh": (jnp.arcsinh, math.asinh),
    "arccosh": (jnp.arccosh, math.acosh),
    "arctanh": (jnp.arctanh, math.atanh),
    "exp": (jnp.exp, math.exp),
    "expm1": (jnp.expm1, math.expm1),
    "log": (jnp.log, math.log),
    "log1p": (jnp.log1p, math.log1p),
    "log2": (jnp.log2, math.log2),
    "log10": (jnp.log10, math.log10),
    "sqrt": (jnp.sqrt, math.sqrt),
    "cbrt": (jnp.cbrt, lambda v: math.copysign(abs(v) ** (1 / 3), v)),
    "abs": (jnp.abs, abs),
    "sign": (jnp.sign, lambda v: float((v > 0) - (v < 0))),
    "relu": (_relu, lambda v: max(v, 0.0)),
    "softplus": (_softplus, _python_softplus),
    "sigmoid": (_sigmoid, _python_sigmoid),
}
_TWO_ARGUMENTS = {
    "arctan2": (jnp.arctan2, math.atan2),
    "hypot": (jnp.hypot, math.hypot),
    "min": (jnp.minimum, min),
    "max": (jnp.maximum, max),
}
_ALIASES = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "asinh": "arcsinh", "acosh": "arccosh",
            "atanh": "arctanh", "ln": "log", "atan2": "arctan2", "minimum": "min", "maximum": "max"}

FUNCTIONS: dict[str, Function] = {
    **{name: Function(1, *pair) for name, pair in _ONE_ARGUMENT.items()},
    **{name: Function(2, *pair) for name, pair in _TWO_ARGUMENTS.items()},
}
FUNCTIONS.update({alias: FUNCTIONS[name] for alias, name in _ALIASES.items()})

_BINARY = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}
_PYTHON_BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": math.pow,  # raises on (-8) ** (1/3) instead of returning a complex number
}
_JAX_BINARY = {"add": jnp.add, "sub": jnp.subtract, "mul": jnp.multiply, "div": jnp.divide, "pow": jnp.power}

# Refusals with a reason of their own (every other node type gets "... is not allowed").
_REFUSED = {
    ast.Attribute: "attribute access ('.') is not allowed",
    ast.Subscript: "subscripts (indexing with [...]) are not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.NamedExpr: "assignment expressions (:=) are not allowed",
    ast.Starred: "starred arguments (*...) are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.FormattedValue: "f-strings are not allowed",
    ast.Compare: "comparisons are not supported: write piecewise shapes with abs, min, max or relu",
    ast.BoolOp: "'and' / 'or' are not supported: write piecewise shapes with abs, min, max or relu",
    ast.IfExp: "'... if ... else ...' is not supported: write piecewise shapes with abs, min, max or relu",
    ast.Tuple: "tuples (a comma outside a function call) are not allowed",
    ast.List: "lists are not allowed",
    ast.Set: "sets are not allowed",
    ast.Dict: "dictionaries are not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.Slice: "slices are not allowed",
}
_OPERATOR_HINTS = {
    ast.BitXor: "'^' is not a power here: write x**2 for x squared",
    ast.FloorDiv: "'//' is not supported: write / for division",
    ast.Mod: "'%' is not supported",
    ast.MatMult: "'@' is not supported",
}


class FormulaError(ValueError):
    """A refused formula: ``reason`` and, where there is one, the 1-based ``column``."""

    def __init__(self, reason: str, column: int | None = None):
        self.reason, self.column = reason, column
        super().__init__(f"formula refused: {reason}" + (f" (column {column})" if column else ""))


def _column(node: ast.expr | ast.keyword) -> int:
    return node.col_offset + 1  # ASCII only, so bytes are characters


def _finite(value: float, what: str, node) -> float:
    if isinstance(value, complex) or not math.isfinite(value) or abs(value) > FLOAT32_MAX:
        raise FormulaError(f"{what} is not a finite number in float32", _column(node))
    return float(value)


def _characters(text) -> str:
    if not isinstance(text, str):
        raise FormulaError(f"the formula must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"the formula is {len(text)} characters long; the limit is {MAX_LENGTH}")
    for i, char in enumerate(text):
        if not (" " <= char <= "~"):
            name = unicodedata.name(char, f"U+{ord(char):04X}")
            hint = " (write the ASCII letter)" if char.isalpha() else ""
            raise FormulaError(f"only plain ASCII characters are allowed, not {char!r} ({name}){hint}", i + 1)
    if not text.strip():
        raise FormulaError("the formula is empty")
    return text


def _syntax_tree(text: str) -> ast.expr:
    """``ast.parse`` in expression mode, its own failures (syntax, nesting, recursion, memory) refused."""
    try:
        return ast.parse(text.strip(), mode="eval").body
    except SyntaxError as error:
        column = error.offset + (len(text) - len(text.lstrip())) if error.offset else None
        raise FormulaError(f"not a formula: {error.msg}", column) from None
    except (RecursionError, MemoryError):
        raise FormulaError("the formula is nested too deeply to parse") from None
    except ValueError as error:  # e.g. a literal beyond the interpreter's digit limit
        raise FormulaError(f"not a formula: {error}") from None


def _check_shape(tree: ast.expr) -> None:
    """Depth and size, measured without recursion (a deep tree would exhaust the stack)."""
    stack, nodes = [(tree, 1)], 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if depth > MAX_DEPTH:
            raise FormulaError(f"the formula is nested more than {MAX_DEPTH} levels deep", _column(node))
        if nodes > MAX_NODES:
            raise FormulaError(f"the formula has more than {MAX_NODES} parts", _column(node))
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr))


def _literal(node: ast.Constant):
    value = node.value
    if isinstance(value, bool) or value is None or value is Ellipsis:
        raise FormulaError(f"{value!r} is not a number", _column(node))
    if isinstance(value, (str, bytes)):
        raise FormulaError(f"{'strings' if isinstance(value, str) else 'bytes'} are not allowed", _column(node))
    if isinstance(value, complex):
        raise FormulaError("complex numbers are not supported", _column(node))
    if not isinstance(value, (int, float)):
        raise FormulaError(f"{type(value).__name__} constants are not allowed", _column(node))
    if abs(value) > MAX_LITERAL:
        raise FormulaError(f"the literal {value:.3g} is larger than {MAX_LITERAL:g}", _column(node))
    return ("num", float(value))


def _call(node: ast.Call):
    if isinstance(node.func, ast.Attribute):
        _refuse_attribute(node.func)
    if not isinstance(node.func, ast.Name):
        reason = _REFUSED.get(type(node.func), "only the listed functions can be called")
        raise FormulaError(reason, _column(node.func))
    name = node.func.id
    if name not in FUNCTIONS:
        what = "a variable" if name in VARIABLES else "a constant" if name in CONSTANTS else "not a known function"
        raise FormulaError(f"{name!r} is {what} and cannot be called; functions: {', '.join(sorted(FUNCTIONS))}",
                           _column(node.func))
    if node.keywords:
        raise FormulaError("keyword arguments are not allowed", _column(node.keywords[0].value))
    for argument in node.args:
        if isinstance(argument, ast.Starred):
            raise FormulaError(_REFUSED[ast.Starred], _column(argument))
    function = FUNCTIONS[name]
    if len(node.args) != function.arity:
        plural = "s" if function.arity > 1 else ""
        raise FormulaError(f"{name} takes {function.arity} argument{plural}, got {len(node.args)}", _column(node))
    arguments = tuple(_program(a) for a in node.args)
    if all(a[0] == "num" for a in arguments):
        try:
            value = function.python(*(a[1] for a in arguments))
        except (ValueError, OverflowError, ZeroDivisionError):
            raise FormulaError(f"{name}{tuple(a[1] for a in arguments)} is undefined or too large",
                               _column(node)) from None
        return ("num", _finite(value, f"{name}(...)", node))
    return ("call", name, arguments)


def _binary(node: ast.BinOp):
    kind = type(node.op)
    if kind not in _BINARY:
        raise FormulaError(_OPERATOR_HINTS.get(kind, f"the operator {kind.__name__} is not allowed"), _column(node))
    op = _BINARY[kind]
    left, right = _program(node.left), _program(node.right)
    if op == "div" and right == ("num", 0.0):
        raise FormulaError("division by zero", _column(node))
    if op == "pow" and right[0] == "num" and abs(right[1]) > MAX_EXPONENT:
        raise FormulaError(f"the exponent {right[1]:.6g} is larger than {MAX_EXPONENT} in size", _column(node.right))
    if left[0] == "num" and right[0] == "num":
        try:
            value = _PYTHON_BINARY[op](left[1], right[1])
        except ZeroDivisionError:
            raise FormulaError("division by zero", _column(node)) from None
        except (ValueError, OverflowError):
            raise FormulaError(f"({left[1]:.6g}) ** {right[1]:.6g} is undefined or too large", _column(node)) from None
        return ("num", _finite(value, "a constant part of the formula", node))
    if op == "pow" and right[0] == "num" and right[1] == int(right[1]):
        return ("ipow", left, int(right[1]))  # exact, and a well-defined derivative for negative bases
    return (op, left, right)


def _program(node: ast.expr) -> tuple:
    """The checked tree as nested tuples; refuses anything outside the whitelist."""
    if isinstance(node, ast.Constant):
        return _literal(node)
    if isinstance(node, ast.Name):
        if node.id in VARIABLES:
            return ("var", node.id)
        if node.id in CONSTANTS:
            return ("num", CONSTANTS[node.id])
        if node.id in FUNCTIONS:
            raise FormulaError(f"{node.id} is a function: call it, as in {node.id}(x)", _column(node))
        allowed = ", ".join([*VARIABLES, *CONSTANTS])
        raise FormulaError(f"unknown name {node.id!r}; the names allowed are {allowed} and the functions",
                           _column(node))
    if isinstance(node, ast.BinOp):
        return _binary(node)
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.USub):
            operand = _program(node.operand)
            return ("num", -operand[1]) if operand[0] == "num" else ("neg", operand)
        if isinstance(node.op, ast.UAdd):
            return _program(node.operand)
        word = {ast.Not: "'not'", ast.Invert: "'~'"}[type(node.op)]
        raise FormulaError(f"{word} is not supported", _column(node))
    if isinstance(node, ast.Call):
        return _call(node)
    reason = _REFUSED.get(type(node), f"{type(node).__name__} is not allowed in a formula")
    if isinstance(node, ast.Attribute):  # point at the dot
        return _refuse_attribute(node)
    raise FormulaError(reason, _column(node))


def _refuse_attribute(node: ast.Attribute):
    raise FormulaError(f"attribute access ('.{node.attr}') is not allowed", node.value.end_col_offset + 1)


def _variables(program: tuple) -> frozenset:
    if program[0] == "var":
        return frozenset([program[1]])
    if program[0] == "num":
        return frozenset()
    children = program[2] if program[0] == "call" else program[1:]
    return frozenset().union(*(_variables(c) for c in children if isinstance(c, tuple)))


def evaluate(program: tuple, x, y):
    """Walk the program, calling only whitelisted ``jax.numpy`` functions."""
    kind = program[0]
    if kind == "num":
        return program[1]  # a Python float: weakly typed, so float32 stays float32
    if kind == "var":
        return x if program[1] == "x" else y
    if kind == "neg":
        return -evaluate(program[1], x, y)
    if kind == "ipow":
        return lax.integer_pow(jnp.asarray(evaluate(program[1], x, y)), program[2])
    if kind == "call":
        return FUNCTIONS[program[1]].jax(*(evaluate(a, x, y) for a in program[2]))
    return _JAX_BINARY[kind](evaluate(program[1], x, y), evaluate(program[2], x, y))


def _terms(program: tuple):
    """The summands of a chain of ``+``."""
    if program[0] == "add":
        yield from _terms(program[1])
        yield from _terms(program[2])
    else:
        yield program


def _square_root_term(term: tuple):
    """(c, e) with term = c·e², c ≥ 0 (e None for a constant c), or None if the term is no such square."""
    kind = term[0]
    if kind == "num":
        return (term[1], None) if term[1] >= 0 else None
    if kind == "ipow" and term[2] >= 2 and term[2] % 2 == 0:
        half = term[1] if term[2] == 2 else ("ipow", term[1], term[2] // 2)
        return (1.0, half)
    if kind == "mul":
        for c, rest in ((term[1], term[2]), (term[2], term[1])):
            inner = _square_root_term(rest) if c[0] == "num" and c[1] >= 0 else None
            if inner and inner[1] is not None:
                return (c[1] * inner[0], inner[1])
    if kind == "div" and term[2][0] == "num" and term[2][1] > 0:
        inner = _square_root_term(term[1])
        if inner and inner[1] is not None:
            return (inner[0] / term[2][1], inner[1])
    return None


@dataclasses.dataclass(frozen=True)
class Formula:
    """A checked formula: its text as given, and its program (nested tuples, hashable)."""

    text: str
    program: tuple
    variables: frozenset
    squares: tuple | None  # ((c, e), ...) with L = Σ c·e²: the least-squares form r = (√(2c)·e, ...), if any

    def __call__(self, x, y):
        return evaluate(self.program, x, y)

    @property
    def has_residuals(self) -> bool:
        return self.squares is not None

    def residuals(self, x, y):
        """r with ½‖r‖² = the formula, for a formula that is a sum of squares with positive weights."""
        if self.squares is None:
            raise NotImplementedError(f"{self.text!r} is not written as a sum of squares")
        parts = [math.sqrt(2 * c) * (jnp.ones_like(x) if e is None else evaluate(e, x, y)) for c, e in self.squares]
        return jnp.stack(parts)


def parse_formula(text: str) -> Formula:
    """Check ``text`` and compile it to a program; raises ``FormulaError`` (a ``ValueError``) if refused."""
    return _parse(_characters(text))


@functools.lru_cache(maxsize=256)
def _parse(text: str) -> Formula:
    tree = _syntax_tree(text)
    _check_shape(tree)
    offset = len(text) - len(text.lstrip())
    if offset:  # columns count from the reader's text, not the stripped one
        for node in ast.walk(tree):
            if isinstance(node, (ast.expr, ast.keyword)):
                node.col_offset += offset
    program = _program(tree)
    variables = _variables(program)
    if not variables:
        raise FormulaError("the formula must depend on x or y")
    squares = tuple(_square_root_term(t) for t in _terms(program))
    squares = squares if all(squares) and any(e is not None for _, e in squares) else None
    return Formula(text.strip(), program, variables, squares)
