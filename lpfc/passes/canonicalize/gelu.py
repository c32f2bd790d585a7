"""canonicalize patterns that recognise decomposed GELU (erf and tanh) as ``graph.gelu``.

The TorchScript exporter writes GELU out as element-wise ops; the dynamo exporter emits Gelu.
Products are matched as multisets of factors, so every association and order of the
multiplications (and x/c as x*(1/c)) matches.
"""
from __future__ import annotations

import math
from typing import Optional


from ...ir.core import Operation, Value
from ..rewrite import RewritePattern
from .common import binary_with_constant, close, other_operand, producer, replace, scalar_constant

_MAX_DEPTH = 8


# -- products as factor lists ------------------------------------------------------------------------
def factors(v: Value, depth: int = 0) -> tuple[list, float]:
    """``v`` as (non-constant factors, product of scalar constant factors).

    Looks through mul, div by a scalar constant and pow by a small integer constant (x**3 is x, x, x).
    A value that is not such a product is one factor itself.
    """
    op = producer(v)
    if op is not None and depth < _MAX_DEPTH:
        if op.name == "graph.mul" and op.result.type.dtype.is_float:
            (fa, ca), (fb, cb) = (_factor_or_constant(w, depth) for w in op.operands)
            return fa + fb, ca * cb
        if op.name == "graph.div":
            c = scalar_constant(op.operands[1])
            if c is not None and c != 0.0:
                f, k = _factor_or_constant(op.operands[0], depth)
                return f, k / c
        if op.name == "graph.pow":
            c = scalar_constant(op.operands[1])
            if c is not None and c in (2.0, 3.0):
                f, k = _factor_or_constant(op.operands[0], depth)
                return f * int(c), k ** int(c)
    return [v], 1.0


def _factor_or_constant(v: Value, depth: int) -> tuple[list, float]:
    c = scalar_constant(v)
    if c is not None:
        return [], c
    return factors(v, depth + 1)


def _same_factors(fs: list, want: list) -> bool:
    return sorted(map(id, fs)) == sorted(map(id, want))


def _plus_one(v: Value, inner: str) -> Optional[Operation]:
    """``inner(z) + 1`` (either order): the ``inner`` op."""
    add = producer(v, "graph.add")
    if add is None:
        return None
    m = binary_with_constant(add)
    if m is None or not close(m[1], 1.0):
        return None
    return producer(m[0], inner)


# -- GELU -----------------------------------------------------------------------------------------------
_INV_SQRT2 = 1 / math.sqrt(2)
_TANH_SCALE = math.sqrt(2 / math.pi)
_TANH_CUBIC = 0.044715


class GeluFromErf(RewritePattern):
    """0.5 * x * (1 + erf(x / sqrt 2)), in any association -> gelu(x)."""

    roots = ("graph.mul",)

    def match_and_rewrite(self, op, rewriter):
        x = _gelu_operand(op, "graph.erf", _erf_argument_is)
        if x is None:
            return False
        new = rewriter.create(op, "graph.gelu", [x], {})
        replace(rewriter, op, new.result)
        return True


class GeluFromTanh(RewritePattern):
    """0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3))) -> gelu(x, approximate = "tanh");
    x^3 may be pow(x, 3) or x * x * x."""

    roots = ("graph.mul",)

    def match_and_rewrite(self, op, rewriter):
        x = _gelu_operand(op, "graph.tanh", _tanh_argument_is)
        if x is None:
            return False
        new = rewriter.create(op, "graph.gelu", [x], {"approximate": "tanh"})
        replace(rewriter, op, new.result)
        return True


def _gelu_operand(op: Operation, inner: str, argument_is) -> Optional[Value]:
    """x when ``op`` is 0.5 * x * (1 + inner(arg)) and ``argument_is(arg, x)``."""
    if not op.result.type.dtype.is_float:
        return None
    fs, k = factors(op.result)
    if len(fs) != 2 or not close(k, 0.5):
        return None
    for t, x in ((fs[0], fs[1]), (fs[1], fs[0])):
        f = _plus_one(t, inner)
        if f is not None and x.type == op.result.type and argument_is(f.operands[0], x):
            return x
    return None


def _erf_argument_is(z: Value, x: Value) -> bool:
    fs, k = factors(z)
    return _same_factors(fs, [x]) and close(k, _INV_SQRT2)


def _tanh_argument_is(w: Value, x: Value) -> bool:
    fs, k = factors(w)
    if len(fs) != 1 or not close(k, _TANH_SCALE):
        return False
    s = producer(fs[0], "graph.add")
    if s is None or x not in s.operands:
        return False
    cubic, c = factors(other_operand(s, x))
    return _same_factors(cubic, [x, x, x]) and close(c, _TANH_CUBIC)
