"""canonicalize patterns for scalar factors: chained scalar factors merge, and a matmul's scalar
factors gather on its left operand (SDPA's q·√s @ kᵀ·√s and eager attention's (q @ kᵀ)·s both
become (q·s) @ kᵀ).
"""
from __future__ import annotations


import numpy as np

from ...ir.core import Operation, Value
from ..fold_constants import make_constant
from ..rewrite import RewritePattern
from .common import binary_with_constant, producer, replace

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
