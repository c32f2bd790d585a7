"""canonicalize patterns for constant placement: constants go second in commutative ops, and splat
constants that do not decide a result's shape become rank-0.
"""
from __future__ import annotations


import numpy as np

from ...ir.constants import constant_value
from ...ir.dialects.graph import broadcast_shapes
from ...ir.opdef import BROADCASTING, COMMUTATIVE, ELEMENTWISE
from ..fold_constants import make_constant
from ..rewrite import RewritePattern
from .common import splat_value

class ConstantOnRight(RewritePattern):
    """Commutative binary ops take a constant operand second: add(c, x) -> add(x, c)."""

    def match_and_rewrite(self, op, rewriter):
        if len(op.operands) != 2 or not op.has_trait(COMMUTATIVE):
            return False
        a, b = op.operands
        if constant_value(a) is None or constant_value(b) is not None:
            return False
        op.set_operands([b, a])
        rewriter.changed = True
        rewriter.push(op)
        return True


class SplatToScalar(RewritePattern):
    """A splat constant operand of a broadcasting element-wise op whose shape does not decide the
    result's shape becomes a rank-0 constant (exporters write 0.0 as tensor<f32>, tensor<1xf32>, ...)."""

    def match_and_rewrite(self, op, rewriter):
        if not (op.has_trait(ELEMENTWISE) and op.has_trait(BROADCASTING)) or not op.results:
            return False
        for i, v in enumerate(op.operands):
            if v.type.rank == 0 or splat_value(v) is None:
                continue
            others = [w.type.shape for j, w in enumerate(op.operands) if j != i]
            if broadcast_shapes(*others) != op.result.type.shape:
                continue
            a = constant_value(v)
            c = make_constant(rewriter, op, np.array(a.flat[0], dtype=a.dtype), v.name_hint or "cst")
            op.set_operand(i, c.result)
            rewriter.push(op)
            rewriter.push(v.owner)
            return True
        return False
