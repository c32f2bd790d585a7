"""The attention plan: what the attention emitters (``cpp_attention.py``, ``ocl_attention.py``) print.

Recognises ``attention`` blocks (see ``cpp_attention.py``'s docstring for the whole contract) in five
steps, each a function: strided views of the arguments made by split/reshape/transpose
(:func:`_access_views`), ``Q·Kᵀ`` (:func:`_scores`), element-wise ops of the scores with broadcast
arguments (:func:`_score_steps`), the softmax and ``·V`` (:func:`_softmax_pv`), and the head merge back
to the yielded value (:func:`_head_merge`).  Q, Kᵀ, V, the step operands and the output are
:class:`View`s: an argument, an offset and strides, so no transpose is ever materialised.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from ...ir.core import Operation
from ...ir.types import DType
from . import decline, plan_of
from .blocks import body_ops, normalised_axis


@dataclass(frozen=True)
class View:
    arg: int
    offset: int
    shape: tuple
    strides: tuple


def contiguous_strides(shape) -> tuple:
    st, acc = [], 1
    for d in reversed(shape):
        st.append(acc)
        acc *= d
    return tuple(reversed(st))


def reshape_strides(shape, strides, new_shape) -> Optional[tuple]:
    """Strides of ``new_shape`` viewing the same elements as (shape, strides) without a copy, or None."""
    if math.prod(shape) != math.prod(new_shape):
        return None
    old = [(d, s) for d, s in zip(shape, strides) if d != 1]
    new_st = [0] * len(new_shape)
    oi = 0
    ni = 0
    new_nz = [i for i, d in enumerate(new_shape) if d != 1]
    while oi < len(old) or ni < len(new_nz):
        if oi >= len(old) or ni >= len(new_nz):
            return None
        # grow a chunk of old dims and new dims with equal products
        o_end, n_end = oi + 1, ni + 1
        po, pn = old[oi][0], new_shape[new_nz[ni]]
        while po != pn:
            if po < pn:
                if o_end >= len(old):
                    return None
                po *= old[o_end][0]
                o_end += 1
            else:
                if n_end >= len(new_nz):
                    return None
                pn *= new_shape[new_nz[n_end]]
                n_end += 1
        for k in range(oi, o_end - 1):       # old dims of a chunk must be mutually contiguous
            if old[k][1] != old[k + 1][1] * old[k + 1][0]:
                return None
        st = old[o_end - 1][1]
        for k in range(n_end - 1, ni - 1, -1):
            new_st[new_nz[k]] = st
            st *= new_shape[new_nz[k]]
        oi, ni = o_end, n_end
    return tuple(new_st)


def broadcast_view(arg: int, shape, target_shape) -> Optional[View]:
    if len(shape) > len(target_shape):
        return None
    s = (1,) * (len(target_shape) - len(shape)) + tuple(shape)
    cs = contiguous_strides(s)
    st = []
    for d, t, c in zip(s, target_shape, cs):
        if d == t:
            st.append(c if d != 1 else 0)
        elif d == 1:
            st.append(0)
        else:
            return None
    return View(arg, 0, tuple(target_shape), tuple(st))


@dataclass
class AttentionPlan:
    batch: tuple             # the batch dimensions (batch, heads)
    S: int                   # queries
    D: int                   # head size of Q and K
    T: int                   # keys
    DV: int                  # head size of V
    q: View                  # Q [..., S, D]
    kt: View                 # Kᵀ [..., D, T]
    v: View                  # V [..., T, DV]
    steps: list              # (op name, View of the other operand over the scores, scores first?)
    out: View                # the output [..., S, DV] as a view of the yielded value (arg -1)
    nan_to_zero: bool


_ACCESS = ("graph.split", "graph.reshape", "graph.transpose", "graph.expand")
_SCORE_OPS = ("graph.add", "graph.sub", "graph.mul", "graph.div")


def _access_views(block, ops: list) -> tuple:
    """(id(Value) -> View, position of the first other op): the f32 arguments and the split/reshape/transpose
    views made of them."""
    views: dict = {}
    for i, a in enumerate(block.args):
        if a.type.dtype == DType.f32:
            views[id(a)] = View(i, 0, a.type.shape, contiguous_strides(a.type.shape))
    idx = 0
    while idx < len(ops) and ops[idx].name in _ACCESS:
        o = ops[idx]
        v = views.get(id(o.operands[0]))
        if v is None:
            decline(f"{o.name} of something other than an f32 argument view")
        if o.name == "graph.split":
            axis = normalised_axis(o.attributes["axis"], len(v.shape))
            start = 0
            for r, size in zip(o.results, o.attributes["sizes"]):
                sh = list(v.shape)
                sh[axis] = size
                views[id(r)] = View(v.arg, v.offset + start * v.strides[axis], tuple(sh), v.strides)
                start += size
        elif o.name == "graph.expand":     # grouped-query attention: a key/value head read by G query heads
            v = _expanded(v, o.results[0].type.shape)
            if v is None:
                decline("an expand that is not a broadcast of size-1 axes")
            views[id(o.results[0])] = v
        elif o.name == "graph.reshape":
            st = reshape_strides(v.shape, v.strides, o.results[0].type.shape)
            if st is None:
                decline("a reshape that is not a strided view")
            views[id(o.results[0])] = View(v.arg, v.offset, o.results[0].type.shape, st)
        else:
            perm = o.attributes["perm"]
            views[id(o.results[0])] = View(v.arg, v.offset, tuple(v.shape[p] for p in perm),
                                           tuple(v.strides[p] for p in perm))
        idx += 1
    return views, idx


def _expanded(v: View, shape) -> Optional[View]:
    """``v`` broadcast to ``shape`` (same rank, only size-1 axes grow): those axes get stride 0."""
    shape = tuple(shape)
    if len(shape) != len(v.shape) or any(d != t and d != 1 for d, t in zip(v.shape, shape)):
        return None
    return View(v.arg, v.offset, shape, tuple(0 if d != t else s for d, t, s in zip(v.shape, shape, v.strides)))


def _scores(ops: list, idx: int, views: dict) -> tuple:
    """(Q, Kᵀ, the matmul) of ``Q·Kᵀ`` at ``idx``."""
    if idx >= len(ops) or ops[idx].name != "graph.matmul":
        decline("no Q·Kᵀ matmul after the access ops")
    mm1 = ops[idx]
    q, kt = views.get(id(mm1.operands[0])), views.get(id(mm1.operands[1]))
    if q is None or kt is None or len(q.shape) < 2 or len(q.shape) != len(kt.shape):
        decline("Q·Kᵀ of something other than argument views of one rank")
    if kt.shape[:-2] != q.shape[:-2] or q.shape[-1] != kt.shape[-2]:
        decline("Q and Kᵀ of different batch dimensions or head sizes")
    return q, kt, mm1


def _score_steps(block, ops: list, idx: int, cur, scores_shape: tuple) -> tuple:
    """([(op name, View, scores first?)], the scores' last value, next position): add/sub/mul/div of the scores
    with block arguments broadcast over them, contiguous or broadcast along the keys (a mask, a scale)."""
    steps = []
    while idx < len(ops) and ops[idx].name in _SCORE_OPS:
        o = ops[idx]
        if o.results[0].type.shape != scores_shape or o.results[0].type.dtype != DType.f32:
            decline(f"{o.name} of the scores changes their shape or dtype")
        a, b = o.operands
        if a is cur and b is not cur:
            other, first = b, True
        elif b is cur and a is not cur:
            other, first = a, False
        else:
            decline(f"{o.name} does not combine the scores with one other value")
        if other.owner is not block or other.type.dtype != DType.f32:
            decline(f"{o.name} of the scores with something other than an f32 argument")
        ov = broadcast_view(other.index, other.type.shape, scores_shape)
        if ov is None or ov.strides[-1] not in (0, 1):
            decline(f"{o.name}'s other operand is not contiguous or broadcast along the keys")
        steps.append((o.name, ov, first))
        cur = o.results[0]
        idx += 1
    return steps, cur, idx


def _softmax_pv(ops: list, idx: int, cur, views: dict, batch: tuple, T: int) -> tuple:
    """(nan_to_zero, V, the P·V matmul, next position): the softmax over the keys, then ``·V``."""
    scores_rank = len(batch) + 2
    if idx >= len(ops) or ops[idx].name != "graph.softmax":
        decline("no softmax after the scores")
    sm = ops[idx]
    if normalised_axis(sm.attributes.get("axis", -1), scores_rank) != scores_rank - 1 or sm.operands[0] is not cur:
        decline("a softmax over another axis than the keys, or of another value")
    nan_to_zero = bool(sm.attributes.get("nan_to_zero", False))
    idx += 1
    if idx >= len(ops) or ops[idx].name != "graph.matmul":
        decline("no P·V matmul after the softmax")
    mm2 = ops[idx]
    if mm2.operands[0] is not sm.results[0]:
        decline("the second matmul does not read the softmax")
    vv = views.get(id(mm2.operands[1]))
    if vv is None or len(vv.shape) != scores_rank or vv.shape[:-2] != batch or vv.shape[-2] != T:
        decline("V is not an argument view of the keys' batch and length")
    return nan_to_zero, vv, mm2, idx + 1


def _head_merge(block, chain: list, res) -> View:
    """The output as a strided view of the yielded value: walk back from the yield through transposes and
    reshapes to the P·V result."""
    term = block.ops[-1]
    if len(term.operands) != 1 or term.operands[0].type.dtype != DType.f32:
        decline("not exactly one f32 value yielded")
    y = term.operands[0]
    ov = View(-1, 0, y.type.shape, contiguous_strides(y.type.shape))
    for o in reversed(chain):
        if o.results[0] is not y or o.name not in ("graph.reshape", "graph.transpose"):
            decline(f"{o.name} in the head merge (only reshapes and transposes of the result)")
        src = o.operands[0]
        if o.name == "graph.reshape":
            st = reshape_strides(ov.shape, ov.strides, src.type.shape)
            if st is None:
                decline("a head merge reshape that is not a strided view")
            ov = View(-1, 0, src.type.shape, st)
        else:
            perm = o.attributes["perm"]
            st = [0] * len(perm)
            for i, p in enumerate(perm):
                st[p] = ov.strides[i]
            ov = View(-1, 0, src.type.shape, tuple(st))
        y = src
    if y is not res:
        decline("the yielded value is not the P·V result")
    return ov


def _analyse(op: Operation) -> AttentionPlan:
    if op.attributes.get("kind") != "attention":
        decline("not an attention block")
    ops = body_ops(op)
    if not ops:
        decline("not a fused block with a body")
    block = op.regions[0].block
    views, idx = _access_views(block, ops)
    q, kt, mm1 = _scores(ops, idx, views)
    batch = q.shape[:-2]
    S, D, T = q.shape[-2], q.shape[-1], kt.shape[-1]
    steps, cur, idx = _score_steps(block, ops, idx + 1, mm1.results[0], batch + (S, T))
    nan_to_zero, vv, mm2, idx = _softmax_pv(ops, idx, cur, views, batch, T)
    DV = vv.shape[-1]
    ov = _head_merge(block, ops[idx:], mm2.results[0])
    if ov.shape != batch + (S, DV):
        decline("the output view is not [..., S, DV]")
    if any(s < 0 for v in (q, kt, vv) for s in v.strides):
        decline("a negative stride")
    return AttentionPlan(batch=batch, S=S, D=D, T=T, DV=DV, q=q, kt=kt, v=vv, steps=steps, out=ov,
                         nan_to_zero=nan_to_zero)


def analyse(op: Operation):
    """The op's :class:`AttentionPlan`, or a :class:`~lpfc.codegen.plans.Decline` (computed once per op)."""
    return plan_of(_analyse, op)


__all__ = ["AttentionPlan", "View", "analyse", "broadcast_view", "contiguous_strides", "reshape_strides"]
