"""canonicalize patterns that recognise decomposed LayerNorm as ``graph.layer_norm``.

The TorchScript exporter writes LayerNorm out as element-wise ops (pow(d,2) or d*d, division or
reciprocal); the dynamo exporter emits LayerNormalization.  gamma/beta fold in when the norm is their
only user, and a ones scale / zero bias is dropped.
"""
from __future__ import annotations


import numpy as np

from ...ir.core import Operation, Value
from ...ir.dialects.graph import broadcast_shapes
from ..fold_constants import make_constant
from ..rewrite import RewritePattern
from .common import binary_with_constant, is_splat, producer, replace

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
