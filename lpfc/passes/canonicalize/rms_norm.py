"""canonicalize patterns for the decoder layers of Llama-family models: RMSNorm and its scale.

Llama's ``LlamaRMSNorm`` is ``w * (x * rsqrt(mean(x^2, -1) + eps))``; both torch exporters write it out
as element-wise ops (pow or x*x, ReduceMean, Add, Sqrt, then Div(1, .)/Reciprocal and Mul, or a Div).
These patterns make it one ``graph.rms_norm`` op, the same op ONNX opset 23's RMSNormalization imports
to, which LP-Fusion then treats like ``graph.layer_norm`` (a row-wise anchor: GEMM + residual +
RMSNorm is one ``gemm_layer_norm`` kernel).  One rewrite law per class; each is exact up to rounding.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ...ir.core import Operation, Value
from ...ir.dialects.graph import broadcast_shapes
from ..rewrite import RewritePattern
from .common import binary_with_constant, close, is_splat, producer, replace, scalar_constant

def _is_square_of(sq: Optional[Operation], x: Value) -> bool:
    """sq is pow(x, 2) or x * x."""
    if sq is None:
        return False
    if sq.name == "graph.pow":
        return sq.operands[0] is x and is_splat(sq.operands[1], 2.0)
    return sq.name == "graph.mul" and sq.operands[0] is x and sq.operands[1] is x


def _rms_of(den: Value, x: Value):
    """(axis, epsilon) when den = sqrt(mean(x^2 over trailing axes, keepdims) + eps), else None."""
    sqrt = producer(den, "graph.sqrt")
    add = producer(sqrt.operands[0], "graph.add") if sqrt is not None else None
    m = binary_with_constant(add) if add is not None else None
    if m is None or m[1] < 0:
        return None
    ms, eps = m
    mean = producer(ms, "graph.reduce_mean")
    if mean is None or not mean.attributes.get("keepdims", True):
        return None
    if not _is_square_of(producer(mean.operands[0]), x):
        return None
    rank = x.type.rank
    axes = sorted(a % rank for a in mean.attributes["axes"]) if rank else []
    if not axes or axes != list(range(axes[0], rank)):
        return None
    # epsilon as the model wrote it: the shortest decimal of the constant in its own dtype (as for LayerNorm)
    return axes[0], float(str(np.asarray(eps, dtype=x.type.dtype.numpy)[()]))


def _inverse_of(v: Value) -> Optional[Value]:
    """d when v = reciprocal(d) or v = 1 / d."""
    r = producer(v, "graph.reciprocal")
    if r is not None:
        return r.operands[0]
    div = producer(v, "graph.div")
    if div is not None and close(scalar_constant(div.operands[0]), 1.0):
        return div.operands[1]
    return None


class RMSNormFromParts(RewritePattern):
    """x / sqrt(mean(x^2) + eps), or x * (1 / sqrt(...)) in either operand order, over trailing axes
    -> rms_norm(x).  x^2 may be pow(x, 2) or x * x; 1/s may be reciprocal(s) or div(1, s)."""

    roots = ("graph.mul", "graph.div")

    def match_and_rewrite(self, op, rewriter):
        if not op.result.type.dtype.is_float:
            return False
        a, b = op.operands
        if op.name == "graph.div":
            pairs = [(a, b)]
        else:
            pairs = [(x, d) for x, inv in ((a, b), (b, a)) if (d := _inverse_of(inv)) is not None]
        for x, den in pairs:
            m = _rms_of(den, x)
            if m is not None and x.type == op.result.type:
                new = rewriter.create(op, "graph.rms_norm", [x], {"axis": m[0], "epsilon": m[1]})
                replace(rewriter, op, new.result)
                return True
        return False


class RMSNormScale(RewritePattern):
    """rms_norm(x) * w (either order) -> rms_norm(x, w), when the rms_norm has no other user and w
    broadcasts within the normalised shape; a ones scale is dropped: rms_norm(x, 1) -> rms_norm(x)."""

    roots = ("graph.mul", "graph.rms_norm")

    def match_and_rewrite(self, op, rewriter):
        if op.name == "graph.rms_norm":
            if len(op.operands) == 2 and is_splat(op.operands[1], 1):
                new = rewriter.create(op, "graph.rms_norm", [op.operands[0]], dict(op.attributes))
                replace(rewriter, op, new.result)
                return True
            return False
        for v, w in ((op.operands[0], op.operands[1]), (op.operands[1], op.operands[0])):
            rms = producer(v, "graph.rms_norm")
            if rms is None or len(rms.operands) != 1 or len(v.uses) != 1 or v.type != op.result.type:
                continue
            x = rms.operands[0]
            norm_shape = x.type.shape[rms.attributes.get("axis", -1) % x.type.rank:]
            if w.type.rank > len(norm_shape) or broadcast_shapes(w.type.shape, norm_shape) != norm_shape:
                continue
            new = rewriter.create(op, "graph.rms_norm", [x, w], dict(rms.attributes))
            replace(rewriter, op, new.result)
            return True
        return False
