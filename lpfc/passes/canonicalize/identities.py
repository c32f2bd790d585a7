"""canonicalize patterns for identities: ops that return an operand, and neutral operands.

graph.identity, a same-shape reshape/expand, a same-dtype cast and an identity transpose forward their
operand; x+0, 0+x, x-0, x*1, 1*x, x/1, x**1 with splat constants, ``and`` with all-true / ``or`` with
all-false drop the neutral operand (a reshape or expand stays when the constant widened the result);
gemm with a zero C drops C.
"""
from __future__ import annotations


import numpy as np

from ...ir.constants import constant_value
from ..rewrite import RewritePattern
from .common import is_splat, replace, splat_value, to_shape

# -- identities ---------------------------------------------------------------------------------
class ForwardOperand(RewritePattern):
    """Ops that return their operand: graph.identity, a reshape/expand to the same shape, a cast to the
    same dtype, a transpose by the identity permutation."""

    roots = ("graph.identity", "graph.reshape", "graph.expand", "graph.cast", "graph.transpose")

    def match_and_rewrite(self, op, rewriter):
        x = op.operands[0]
        if x.type != op.result.type:
            return False
        if op.name == "graph.transpose" and list(op.attributes["perm"]) != list(range(x.type.rank)):
            return False
        replace(rewriter, op, x)
        return True


# Binary ops and the constant that leaves the other operand unchanged: (op, neutral, which side).
_NEUTRAL = {
    "graph.add": (0, "either"), "graph.sub": (0, "right"), "graph.mul": (1, "either"),
    "graph.div": (1, "right"), "graph.pow": (1, "right"), "graph.and": (True, "either"),
    "graph.or": (False, "either"), "graph.xor": (False, "either"),
}


class NeutralElement(RewritePattern):
    """x+0, 0+x, x-0, x*1, 1*x, x/1, x**1, x and true, x or false: x (expanded if the splat constant
    widened the result).  One liberty: for x = -0.0, x + 0.0 is +0.0 and the rewrite gives -0.0; no
    model tells the two zeros apart."""

    roots = tuple(_NEUTRAL)

    def match_and_rewrite(self, op, rewriter):
        neutral, side = _NEUTRAL[op.name]
        a, b = op.operands
        for x, c, ok in ((a, b, True), (b, a, side == "either")):
            if not ok or x.type.dtype != op.result.type.dtype:
                continue
            s = splat_value(c)
            if s is None or s != neutral or isinstance(s, bool) != isinstance(neutral, bool):
                continue
            replace(rewriter, op, to_shape(rewriter, op, x, op.result.type.shape))
            return True
        return False


class GemmZeroBias(RewritePattern):
    """gemm(a, b, 0) or gemm with beta = 0: gemm(a, b) (when C does not decide the result shape).
    A gemm without C carries no beta."""

    roots = ("graph.gemm",)

    def match_and_rewrite(self, op, rewriter):
        if len(op.operands) == 2 and "beta" in op.attributes:
            del op.attributes["beta"]
            rewriter.changed = True
            return True
        if len(op.operands) != 3:
            return False
        c = constant_value(op.operands[2])
        zero_c = is_splat(op.operands[2], 0)
        zero_beta = op.attributes.get("beta", 1.0) == 0.0 and c is not None and bool(np.all(np.isfinite(c)))
        if not (zero_c or zero_beta):              # (0 * inf would be NaN: beta = 0 needs a finite C)
            return False
        attrs = {k: v for k, v in op.attributes.items() if k != "beta"}
        new = rewriter.create(op, "graph.gemm", op.operands[:2], attrs)
        if new.result.type != op.result.type:
            rewriter.erase(new)
            return False
        replace(rewriter, op, new.result)
        return True
