"""canonicalize patterns for data movement: reshape / transpose / gather / expand chains.

Exporters spell one reshape many ways (Flatten + Gather with an arange index +
Reshape + Reshape; GatherND with an enumerating index; reshape-transpose-reshape
around a batched matmul).  These patterns bring all of them to the fewest
reshape/transpose/expand ops, so what the mask and head-split code *does* is
what later passes see.  A transpose of trailing dims moves above a reshape that only
regroups leading dims (GQA's repeat_kv before kᵀ, docs/llama.md).
"""
from __future__ import annotations


import numpy as np

from ...ir.constants import constant_value
from ...ir.core import Operation
from ...ir.opdef import BROADCASTING, ELEMENTWISE
from ..rewrite import RewritePattern
from .common import is_unit_reshape, producer, replace, to_shape

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
        replace(rewriter, op, to_shape(rewriter, op, new.result, op.result.type.shape))
        return True


class TransposeOfLeadingReshape(RewritePattern):
    """transpose(reshape(x), p) where the reshape only regroups leading dims (x and the reshape keep the
    same trailing dims) and p permutes only those trailing dims -> reshape(transpose(x, q)).

    GQA's repeat_kv feeds kᵀ: TorchScript writes reshape [1, Hkv, G, T, D] -> [1, H, T, D] then a
    transpose of the last two, dynamo reshape -> [H, T, D], transpose [0, 2, 1], reshape [1, H, D, T].
    With the transpose first, both become transpose [.., T, D -> D, T] of the expanded K and one reshape
    (reshapes merge), so the exporters meet.  (Unit-dim-only reshapes are TransposeOfUnitReshape's.)"""

    roots = ("graph.transpose",)

    def match_and_rewrite(self, op, rewriter):
        r = producer(op.operands[0], "graph.reshape")
        if r is None or len(r.result.uses) != 1:
            return False
        x = r.operands[0]
        xs, mid = x.type.shape, r.result.type.shape
        if is_unit_reshape(xs, mid):
            return False
        k = 0
        while k < min(len(xs), len(mid)) and xs[-1 - k] == mid[-1 - k]:
            k += 1
        lead = len(mid) - k
        perm = op.attributes["perm"]
        if k < 2 or any(perm[i] != i for i in range(lead)):
            return False
        xl = len(xs) - k
        q = list(range(xl)) + [xl + perm[j] - lead for j in range(lead, len(mid))]
        t = rewriter.create(op, "graph.transpose", [x], {"perm": q}).result
        new = rewriter.create(op, "graph.reshape", [t], {"shape": list(op.result.type.shape)})
        replace(rewriter, op, new.result)
        return True
