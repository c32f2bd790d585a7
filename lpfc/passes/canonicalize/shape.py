"""canonicalize patterns for data movement, identities and the attention mask.

Exporters spell one reshape many ways (Flatten + Gather with an arange index +
Reshape + Reshape; GatherND with an enumerating index; reshape-transpose-reshape
around a batched matmul).  These patterns bring all of them to the fewest
reshape/transpose/expand ops, so what the mask and head-split code *does* is
what later passes see.
"""
from __future__ import annotations

import numpy as np

from ...ir.constants import constant_value
from ...ir.core import Operation
from ...ir.dialects.graph import broadcast_shapes
from ...ir.opdef import BROADCASTING, COMMUTATIVE, ELEMENTWISE
from .common import is_splat, is_unit_reshape, producer, replace, splat_value
from ..fold_constants import make_constant
from ..rewrite import RewritePattern, Rewriter


def _to_shape(rewriter: Rewriter, anchor: Operation, v, shape):
    """``v`` brought to ``shape``: itself, a reshape (same size) or an expand (broadcast)."""
    shape = tuple(shape)
    if v.type.shape == shape:
        return v
    if v.type.num_elements == int(np.prod(shape, dtype=np.int64)):   # a broadcast that only adds unit dims
        return rewriter.create(anchor, "graph.reshape", [v], {"shape": list(shape)}).result
    return rewriter.create(anchor, "graph.expand", [v], {"shape": list(shape)}).result


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
            replace(rewriter, op, _to_shape(rewriter, op, x, op.result.type.shape))
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


# -- reshape / transpose chains --------------------------------------------------------------------
class ReshapeOfReshape(RewritePattern):
    """reshape(reshape(x)) -> reshape(x)."""

    roots = ("graph.reshape",)

    def match_and_rewrite(self, op, rewriter):
        inner = producer(op.operands[0], "graph.reshape")
        if inner is None:
            return False
        new = rewriter.create(op, "graph.reshape", [inner.operands[0]], {"shape": list(op.attributes["shape"])})
        replace(rewriter, op, new.result)
        return True


class TransposeOfTranspose(RewritePattern):
    """transpose(transpose(x, p1), p2) -> transpose(x, p1[p2])."""

    roots = ("graph.transpose",)

    def match_and_rewrite(self, op, rewriter):
        inner = producer(op.operands[0], "graph.transpose")
        if inner is None:
            return False
        p1, p2 = inner.attributes["perm"], op.attributes["perm"]
        perm = [p1[i] for i in p2]
        new = rewriter.create(op, "graph.transpose", [inner.operands[0]], {"perm": perm})
        replace(rewriter, op, new.result)
        return True


class TransposeAsReshape(RewritePattern):
    """A transpose that moves only unit dimensions (the others keep their order) is a reshape."""

    roots = ("graph.transpose",)

    def match_and_rewrite(self, op, rewriter):
        shape = op.operands[0].type.shape
        moved = [p for p in op.attributes["perm"] if shape[p] != 1]
        if moved != sorted(moved) or op.result.type == op.operands[0].type:
            return False
        new = rewriter.create(op, "graph.reshape", [op.operands[0]], {"shape": list(op.result.type.shape)})
        replace(rewriter, op, new.result)
        return True


class TransposeOfUnitReshape(RewritePattern):
    """transpose(reshape(x), p) where the reshape only adds/removes unit dims ->
    reshape(transpose(x, q)): the reshape moves below the transpose, where it meets (and merges with)
    the reshapes that follow.  Dynamo's ``k.transpose(-1, -2)`` on [1, H, S, D] is
    reshape [H, S, D] -> transpose [0, 2, 1] -> reshape [1, H, D, S]: one transpose of x afterwards.
    Unit dims of x keep their places in q; the other places take x's dims in p's order."""

    roots = ("graph.transpose",)

    def match_and_rewrite(self, op, rewriter):
        r = producer(op.operands[0], "graph.reshape")
        if r is None or len(r.result.uses) != 1:
            return False
        x = r.operands[0]
        mid = r.result.type.shape
        if not is_unit_reshape(x.type.shape, mid):
            return False
        # k-th non-unit dim of ``mid`` is the k-th non-unit dim of x.
        x_big = [i for i, d in enumerate(x.type.shape) if d != 1]
        mid_rank = {i: k for k, i in enumerate(j for j, d in enumerate(mid) if d != 1)}
        order = [x_big[mid_rank[p]] for p in op.attributes["perm"] if mid[p] != 1]
        it = iter(order)
        q = [i if d == 1 else next(it) for i, d in enumerate(x.type.shape)]
        t = x
        if q != list(range(len(q))):
            t = rewriter.create(op, "graph.transpose", [x], {"perm": q}).result
        new = rewriter.create(op, "graph.reshape", [t], {"shape": list(op.result.type.shape)})
        replace(rewriter, op, new.result)
        return True


# -- gathers that only reshape ---------------------------------------------------------------------
class GatherAsReshape(RewritePattern):
    """gather(x, idx, axis) with constant idx listing 0..n-1 in order (n = x.shape[axis]) is a reshape
    of that axis into idx's shape.  (TorchScript's mask: Flatten -> Gather(arange) -> Reshape.)"""

    roots = ("graph.gather",)

    def match_and_rewrite(self, op, rewriter):
        data, idx = op.operands
        a = constant_value(idx)
        if a is None or data.type.rank == 0:
            return False
        axis = op.attributes.get("axis", 0) % data.type.rank
        n = data.type.shape[axis]
        flat = a.reshape(-1).astype(np.int64)
        if flat.size != n or np.any((flat < -n) | (flat >= n)):
            return False
        if not np.array_equal(np.where(flat < 0, flat + n, flat), np.arange(n)):
            return False
        new = rewriter.create(op, "graph.reshape", [data], {"shape": list(op.result.type.shape)})
        replace(rewriter, op, new.result)
        return True


class GatherNDAsReshape(RewritePattern):
    """gather_nd(x, idx) with constant idx enumerating every index of x's leading idx.shape[-1] dims in
    row-major order is a reshape.  (Dynamo's mask: GatherND with an iota-built index.)"""

    roots = ("graph.gather_nd",)

    def match_and_rewrite(self, op, rewriter):
        data, idx = op.operands
        a = constant_value(idx)
        if a is None or op.attributes.get("batch_dims", 0) != 0 or a.shape[-1] == 0:
            return False
        depth = a.shape[-1]
        lead = data.type.shape[:depth]
        tuples = a.reshape(-1, depth).astype(np.int64)
        if tuples.shape[0] != int(np.prod(lead, dtype=np.int64)):
            return False
        dims = np.array(lead, dtype=np.int64)
        if np.any((tuples < -dims) | (tuples >= dims)):
            return False
        tuples = np.where(tuples < 0, tuples + dims, tuples)
        want = np.indices(lead).reshape(depth, -1).T
        if not np.array_equal(tuples, want):
            return False
        new = rewriter.create(op, "graph.reshape", [data], {"shape": list(op.result.type.shape)})
        replace(rewriter, op, new.result)
        return True


# -- expands ---------------------------------------------------------------------------------------
class ExpandOfExpand(RewritePattern):
    """expand(expand(x)) -> expand(x) to the outer shape."""

    roots = ("graph.expand",)

    def match_and_rewrite(self, op, rewriter):
        inner = producer(op.operands[0], "graph.expand")
        if inner is None:
            return False
        new = rewriter.create(op, "graph.expand", [inner.operands[0]], {"shape": list(op.result.type.shape)})
        replace(rewriter, op, new.result)
        return True


def _sinks_expand(op: Operation) -> bool:
    """An element-wise op that broadcasts its operands (or has just one)."""
    if not op.has_trait(ELEMENTWISE) or not op.results:
        return False
    return len(op.operands) == 1 or op.has_trait(BROADCASTING)


class SinkExpand(RewritePattern):
    """An element-wise op reading expand(x) reads x instead: the op broadcasts anyway.  When that
    leaves the op's result smaller, one expand follows the op (on the smaller tensor, and the next op
    down may drop it in turn).  Only when every user of the expand can do the same, so the expand
    goes and no op is duplicated for good."""

    def match_and_rewrite(self, op, rewriter):
        if not _sinks_expand(op):
            return False
        operands = list(op.operands)
        changed = False
        for i, v in enumerate(operands):
            e = producer(v, "graph.expand")
            if e is not None and all(_sinks_expand(u) for u in v.users):
                operands[i] = e.operands[0]
                changed = True
        if not changed:
            return False
        new = rewriter.create(op, op.name, operands, dict(op.attributes), result_names=[op.result.name_hint])
        replace(rewriter, op, _to_shape(rewriter, op, new.result, op.result.type.shape))
        return True


def patterns() -> list:
    return [ForwardOperand(), NeutralElement(), GemmZeroBias(), ReshapeOfReshape(), TransposeOfTranspose(),
            TransposeAsReshape(), TransposeOfUnitReshape(), GatherAsReshape(), GatherNDAsReshape(),
            ExpandOfExpand(), SinkExpand(), SplatToScalar(), ConstantOnRight()]

