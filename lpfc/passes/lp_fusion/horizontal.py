"""Horizontal GEMM fusion (LP-Fusion's second half, before fused blocks are formed).

:func:`fuse_horizontal_gemms` is the graph rewrite that precedes grouping
(:mod:`lpfc.passes.lp_fusion.blocks`): matmuls with constant weights that share
one input become one GEMM over the concatenated weight (and bias), followed by
a split.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ...ir.constants import constant_value
from ...ir.core import Function, Operation, Value
from .blocks import role

# -- horizontal fusion ---------------------------------------------------------------------------------
def _as_row(bias: np.ndarray, n: int) -> Optional[np.ndarray]:
    """A bias that varies only along the last axis, as a [n] vector; else None."""
    if bias.ndim and any(d != 1 for d in bias.shape[:-1]):
        return None
    if bias.ndim and bias.shape[-1] not in (1, n):
        return None
    return np.broadcast_to(bias.reshape(-1) if bias.ndim else bias, (n,))


class _Member:
    """One of the sibling GEMMs: x @ weight (+ bias), whose final value is ``result``."""

    def __init__(self, ops, weight, weight_value, bias, bias_value, result):
        self.ops, self.weight, self.weight_value = ops, weight, weight_value
        self.bias, self.bias_value, self.result = bias, bias_value, result


def _sibling_member(x: Value, op: Operation) -> Optional[_Member]:
    if not x.type.dtype.is_float:
        return None
    if op.name == "graph.matmul":
        if op.operands[0] is not x or op.operands[1] is x or x.type.rank < 2:
            return None
        w = constant_value(op.operands[1])
        if w is None or w.ndim != 2:
            return None
        out = op.results[0]
        users = out.users
        if len(out.uses) == 1 and users[0].name == "graph.add":
            add = users[0]
            other = add.operands[1] if add.operands[0] is out else add.operands[0]
            b = constant_value(other)
            if (b is not None and other is not out and add.results[0].type == out.type
                    and b.ndim <= out.type.rank):
                row = _as_row(b, w.shape[1])
                if row is not None:
                    return _Member([op, add], w, op.operands[1], row, other, add.results[0])
        return _Member([op], w, op.operands[1], None, None, out)
    if op.name == "graph.gemm":
        a = op.attributes
        if (op.operands[0] is not x or a.get("trans_a", False) or a.get("alpha", 1.0) != 1.0
                or a.get("beta", 1.0) != 1.0):
            return None
        w = constant_value(op.operands[1])
        if w is None:
            return None
        if a.get("trans_b", False):
            w = w.T
        bias, bias_value = None, None
        if len(op.operands) == 3:
            b = constant_value(op.operands[2])
            if b is None:
                return None
            bias = _as_row(b, w.shape[1])
            if bias is None:
                return None
            bias_value = op.operands[2]
        return _Member([op], w, op.operands[1], bias, bias_value, op.results[0])
    return None


def fuse_horizontal_gemms(fn: Function) -> int:
    """Sibling GEMMs on one input -> one GEMM over the concatenated weight, then a split.

    ``x @ Wq + bq, x @ Wk + bk, x @ Wv + bv`` (constant weights) becomes
    ``split(x @ concat(Wq, Wk, Wv) + concat(bq, bk, bv))``.  The concatenations
    are ``graph.concat`` ops on constants, left for fold-constants to fold.
    When only some siblings have a bias, each keeps its own bias add after the
    split, so the computation count never grows.  Returns the number of
    fusions.
    """
    from ..rewrite import Rewriter

    count = 0
    changed = True
    while changed:  # a fusion's split outputs may feed the next siblings (MobileBERT's bottleneck -> Q, K)
        changed = False
        index = {id(o): i for i, o in enumerate(fn.body.ops)}
        for x in list(fn.args) + [r for op in fn.body.ops for r in op.results]:
            if x.owner is not fn.body and (not isinstance(x.owner, Operation) or x.owner.parent is None):
                continue  # erased by an earlier fusion in this round
            members = [m for m in (_sibling_member(x, u) for u in x.users) if m is not None]
            members = _without_gated_pairs(members)
            if len(members) < 2:
                continue
            dtype = x.type.dtype
            if any(m.weight.dtype != dtype.numpy or m.weight.shape[0] != x.type.shape[-1] for m in members):
                continue
            members.sort(key=lambda m: index.get(id(m.ops[0]), 0))
            _fuse_siblings(fn, x, members, Rewriter())
            count += 1
            changed = True
            index = {id(o): i for i, o in enumerate(fn.body.ops)}
    return count


#: how many element-wise ops a gate may pass through before it meets its partner (SiLU: sigmoid, mul)
_GATE_DEPTH = 3


def _elementwise_reach(v: Value) -> set:
    """ids of the element-wise ops that read v directly or through up to _GATE_DEPTH element-wise ops."""
    seen, frontier = set(), [v]
    for _ in range(_GATE_DEPTH):
        nxt = []
        for w in frontier:
            for u in w.users:
                if role(u) == "elementwise" and id(u) not in seen:
                    seen.add(id(u))
                    nxt.extend(u.results)
        frontier = nxt
    return seen


def _without_gated_pairs(members: list) -> list:
    """Siblings whose results meet again in one element-wise op (Llama's SiLU-gated MLP:
    ``silu(x @ Wg) * (x @ Wu)``) stay separate GEMMs: then the gate's activation is the first GEMM's
    epilogue and the gating product the second's (both GEMM kernels), where one concatenated GEMM would
    leave split + SiLU + product to a kernel of their own or to the next GEMM's prologue."""
    if len(members) < 2:
        return members
    reach = [_elementwise_reach(m.result) for m in members]
    gated = {i for i in range(len(members)) for j in range(len(members)) if i != j and reach[i] & reach[j]}
    return [m for i, m in enumerate(members) if i not in gated]


def _constant(rw, before: Operation, array: np.ndarray, hint: str) -> Value:
    from ..fold_constants import make_constant

    return make_constant(rw, before, np.ascontiguousarray(array), hint).result


def _hoist_constants(first: Operation, values: list) -> None:
    """Move the constant ops defining ``values`` before ``first`` (constants have no operands)."""
    block = first.parent
    for v in values:
        op = v.owner if v is not None else None
        if isinstance(op, Operation) and op.name == "graph.constant" and op.parent is block:
            if block.index_of(op) > block.index_of(first):
                block.remove(op)
                block.insert_before(first, op)


def _fuse_siblings(fn: Function, x: Value, members: list[_Member], rw) -> None:
    from ...ir.core import Location

    first = members[0].ops[0]
    names = list(dict.fromkeys(m.ops[0].location.name for m in members if m.ops[0].location.name))
    loc = Location(", ".join(names), first.location.op_type) if names else first.location
    _hoist_constants(first, [m.weight_value for m in members])
    sizes = [m.weight.shape[1] for m in members]
    # Weights as constants in [K, N] layout, then one graph.concat that fold-constants folds.
    ws = []
    for m in members:
        if m.ops[0].name == "graph.gemm" and m.ops[0].attributes.get("trans_b", False):
            ws.append(_constant(rw, first, m.weight, "w_t"))
        else:
            ws.append(m.weight_value)
    wcat = rw.create(first, "graph.concat", ws, {"axis": 1}, location=loc, result_names=["w_cat"]).result
    y = rw.create(first, "graph.matmul", [x, wcat], location=loc, result_names=["mm_cat"]).result
    rank = y.type.rank
    all_bias = all(m.bias is not None for m in members)
    if all_bias:
        bs = [_constant(rw, first, m.bias.astype(x.type.dtype.numpy), "b") for m in members]
        bcat = rw.create(first, "graph.concat", bs, {"axis": 0}, location=loc, result_names=["b_cat"]).result
        y = rw.create(first, "graph.add", [y, bcat], location=loc, result_names=["mm_cat_bias"]).result
    parts = rw.create(first, "graph.split", [y], {"axis": rank - 1, "sizes": sizes}, location=loc,
                      result_names=["part"] * len(members)).results
    values = []
    for m, part in zip(members, parts):
        value = part
        if not all_bias and m.bias is not None:
            b = _constant(rw, first, m.bias.astype(x.type.dtype.numpy), "b")
            value = rw.create(first, "graph.add", [part, b], location=m.ops[-1].location).result
        if value.type != m.result.type:  # gemm on a 2-D x gives the same shape; matmul keeps x's batch dims
            value = rw.create(first, "graph.reshape", [value], {"shape": list(m.result.type.shape)}).result
        values.append(value)
    for m, value in zip(members, values):  # erase only now: ``first`` is the insertion point above
        m.result.replace_all_uses_with(value)
        for op in reversed(m.ops):
            op.erase()
