"""canonicalize patterns that recognise decomposed layers: LayerNorm and GELU (erf and tanh).

The TorchScript exporter writes LayerNorm and GELU out as element-wise ops; the
dynamo exporter emits LayerNormalization and Gelu.  These patterns turn the
decompositions into ``graph.layer_norm`` and ``graph.gelu`` so both exporters
reach one form.  Products are matched as multisets of factors, so every
association and order of the multiplications (and x/c as x*(1/c)) matches.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ...ir.core import Operation, Value
from ...ir.dialects.graph import broadcast_shapes
from .common import (binary_with_constant, close, is_splat, other_operand, producer, replace,
                                        scalar_constant)
from ..fold_constants import make_constant
from ..rewrite import RewritePattern

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


# -- LayerNorm ------------------------------------------------------------------------------------------
class LayerNormFromParts(RewritePattern):
    """(x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) over trailing axes -> layer_norm(x).

    The square may be pow(d, 2) or d * d, the division a multiplication by reciprocal(sqrt(...)).
    The scale and bias that follow are folded in by LayerNormAffine.
    """

    roots = ("graph.div", "graph.mul")

    def match_and_rewrite(self, op, rewriter):
        m = _match_layer_norm(op)
        if m is None:
            return False
        x, axis, eps = m
        new = rewriter.create(op, "graph.layer_norm", [x], {"axis": axis, "epsilon": eps})
        replace(rewriter, op, new.result)
        return True


def _match_layer_norm(op: Operation):
    if not op.result.type.dtype.is_float:
        return None
    for d, den in ((op.operands[0], op.operands[1]),) if op.name == "graph.div" else \
            ((op.operands[0], op.operands[1]), (op.operands[1], op.operands[0])):
        if op.name == "graph.mul":
            r = producer(den, "graph.reciprocal")
            if r is None:
                continue
            den = r.operands[0]
        m = _match_centered_over_std(d, den)
        if m is not None and m[0].type == op.result.type:
            return m
    return None


def _match_centered_over_std(d: Value, den: Value):
    sub = producer(d, "graph.sub")
    sqrt = producer(den, "graph.sqrt")
    if sub is None or sqrt is None:
        return None
    add = producer(sqrt.operands[0], "graph.add")
    if add is None:
        return None
    m = binary_with_constant(add)
    if m is None or m[1] < 0:
        return None
    var, eps = m
    var_op = producer(var, "graph.reduce_mean")
    x, mean = sub.operands
    mean_op = producer(mean, "graph.reduce_mean")
    if var_op is None or mean_op is None or mean_op.operands[0] is not x:
        return None
    sq_op = producer(var_op.operands[0])
    if sq_op is None or not ((sq_op.name == "graph.pow" and sq_op.operands[0] is d
                              and is_splat(sq_op.operands[1], 2.0))
                             or (sq_op.name == "graph.mul" and sq_op.operands[0] is d and sq_op.operands[1] is d)):
        return None
    rank = x.type.rank
    axes = sorted(a % rank for a in mean_op.attributes["axes"])
    if not axes or axes != list(range(axes[0], rank)):
        return None
    if sorted(a % rank for a in var_op.attributes["axes"]) != axes:
        return None
    if not (mean_op.attributes.get("keepdims", True) and var_op.attributes.get("keepdims", True)):
        return None
    # The epsilon attribute as the model wrote it: the shortest decimal of the constant in its own dtype
    # (1e-12, not float32(1e-12) = 9.999999960041972e-13), as the importer reads ONNX float attributes.
    return x, axes[0], float(str(np.asarray(eps, dtype=x.type.dtype.numpy)[()]))


class LayerNormAffine(RewritePattern):
    """layer_norm(x) * gamma -> layer_norm(x, gamma); layer_norm(x, gamma) + beta -> layer_norm(x, gamma, beta),
    when the layer_norm has no other user and gamma/beta broadcast within the normalised shape."""

    roots = ("graph.mul", "graph.add")

    def match_and_rewrite(self, op, rewriter):
        for ln_v, p in ((op.operands[0], op.operands[1]), (op.operands[1], op.operands[0])):
            ln = producer(ln_v, "graph.layer_norm")
            if ln is None or len(ln_v.uses) != 1 or ln_v.type != op.result.type:
                continue
            x = ln.operands[0]
            axis = ln.attributes.get("axis", -1) % x.type.rank
            norm_shape = x.type.shape[axis:]
            if p.type.rank > len(norm_shape) or broadcast_shapes(p.type.shape, norm_shape) != norm_shape:
                continue
            operands = list(ln.operands)
            if op.name == "graph.mul":
                if len(operands) != 1:
                    continue
                operands.append(p)
            else:
                if len(operands) == 3:
                    continue
                if len(operands) == 1:
                    ones = make_constant(rewriter, op, np.ones((1,), x.type.dtype.numpy), "ones")
                    operands.append(ones.result)
                operands.append(p)
            new = rewriter.create(op, "graph.layer_norm", operands, dict(ln.attributes))
            replace(rewriter, op, new.result)
            return True
        return False


class LayerNormTrivialAffine(RewritePattern):
    """layer_norm(x, gamma, 0) -> layer_norm(x, gamma); layer_norm(x, 1) -> layer_norm(x)."""

    roots = ("graph.layer_norm",)

    def match_and_rewrite(self, op, rewriter):
        operands = list(op.operands)
        if len(operands) == 3 and is_splat(operands[2], 0):
            operands.pop()
        if len(operands) == 2 and is_splat(operands[1], 1):
            operands.pop()
        if len(operands) == len(op.operands):
            return False
        new = rewriter.create(op, "graph.layer_norm", operands, dict(op.attributes))
        replace(rewriter, op, new.result)
        return True


# -- scalar factors ---------------------------------------------------------------------------------------
def _scalar_mul(v: Value):
    """``(x, c)`` when v = x * c (either order) for a scalar float constant c and v has one use."""
    op = producer(v, "graph.mul")
    if op is None or len(v.uses) != 1:
        return None
    m = binary_with_constant(op)
    if m is None or m[0].type != op.result.type:
        return None
    return m


def _scaled(rewriter, anchor: Operation, x: Value, c: float, location=None) -> Value:
    k = make_constant(rewriter, anchor, np.array(c, dtype=x.type.dtype.numpy), "scale")
    name = f"{x.name_hint}_scaled" if x.name_hint else None
    return rewriter.create(anchor, "graph.mul", [x, k.result], location=location, result_names=[name]).result


class MergeScalarMuls(RewritePattern):
    """(x * c1) * c2 -> x * (c1 * c2) for scalar constants, when x * c1 has no other user."""

    roots = ("graph.mul",)

    def match_and_rewrite(self, op, rewriter):
        m = binary_with_constant(op)
        if m is None or m[0].type != op.result.type:
            return False
        inner = _scalar_mul(m[0])
        if inner is None:
            return False
        replace(rewriter, op, _scaled(rewriter, op, inner[0], inner[1] * m[1], m[0].owner.location))
        return True


class ScaleOnLeftMatmulOperand(RewritePattern):
    """Scalar factors of a matmul gather on its left operand: matmul(a, y * c) -> matmul(a * c, y) and
    matmul(a, b) * c -> matmul(a * c, b).  SDPA scales q and kᵀ by sqrt(scale) each, eager attention
    scales the scores; both become matmul(q * scale, kᵀ), the cheapest place (a [S, D] operand, not the
    [S, S] scores), where LP-Fusion can fold it into q's weights."""

    roots = ("graph.mul", "graph.matmul")

    def match_and_rewrite(self, op, rewriter):
        if op.name == "graph.mul":
            m = binary_with_constant(op)
            mm = producer(m[0], "graph.matmul") if m is not None else None
            if mm is None or len(mm.result.uses) != 1 or mm.result.type != op.result.type:
                return False
            a, b = mm.operands
            new = rewriter.create(op, "graph.matmul", [_scaled(rewriter, op, a, m[1], op.location), b],
                                  location=mm.location)
            replace(rewriter, op, new.result)
            return True
        a, b = op.operands
        m = _scalar_mul(b)
        if m is None:
            return False
        new = rewriter.create(op, "graph.matmul", [_scaled(rewriter, op, a, m[1], b.owner.location), m[0]])
        replace(rewriter, op, new.result)
        return True


def patterns() -> list:
    return [GeluFromErf(), GeluFromTanh(), LayerNormFromParts(), LayerNormAffine(), LayerNormTrivialAffine(),
            MergeScalarMuls(), ScaleOnLeftMatmulOperand()]
