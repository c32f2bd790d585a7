"""The row-wise plan: what the row-wise emitters (``cpp_rowwise.py``, ``ocl_rowwise.py``) print.

Recognises ``layer_norm``, ``softmax`` and ``embedding`` blocks (and bare ``graph.layer_norm`` /
``graph.rms_norm`` / ``graph.softmax`` ops): a prologue of element-wise f32 ops, reshapes and row gathers
(:class:`_Prologue`), exactly one anchor - a LayerNorm, RMSNorm or softmax over the last axis
(:func:`_anchor`, :func:`_anchor_params`) - then only reshapes, and yields of the anchor's result and of
prologue values (:func:`_yields`).  See ``cpp_rowwise.py``'s docstring for the whole contract.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

from ...ir.core import Operation, Value
from ...ir.types import DType
from .. import simd as _simd
from . import decline, plan_of
from .blocks import broadcast_mode, kernel_view, normalised_axis

_INT = (DType.i64, DType.i32)
_ANCHORS = ("graph.layer_norm", "graph.rms_norm", "graph.softmax")
_BARE = {"graph.layer_norm": "layer_norm", "graph.rms_norm": "layer_norm", "graph.softmax": "softmax"}


@dataclass
class RowwisePlan:
    anchor: str              # graph.layer_norm, graph.rms_norm or graph.softmax
    N: int                   # row length
    R: int                   # rows
    x: str                   # the temp the anchor normalises
    #: key -> temp: ("gather", table arg, index arg), or (mode, arg) with mode scalar/row/col/full
    leaves: dict
    steps: list              # (temp, op, [arg temps]) in order
    gathers: dict            # index arg -> index temp name
    arg_types: list          # the block arguments' types
    out: int = 0             # the result index of the anchor's value
    yields: list = field(default_factory=list)   # [(out index, temp)] prologue values yielded
    eps: float = 0.0
    scale: Optional[tuple] = None   # (arg, broadcast scalar?) of a LayerNorm/RMSNorm scale
    bias: Optional[tuple] = None    # (arg, broadcast scalar?) of a LayerNorm bias
    nan_to_zero: bool = False       # softmax: NaN rows become 0


def _anchor(ops: list) -> tuple:
    """(anchor op, its input, N, R): the one normalisation, over the last axis of a non-empty f32 tensor."""
    anchors = [o for o in ops if o.name in _ANCHORS]
    if len(anchors) != 1:
        decline(f"{len(anchors)} LayerNorm/softmax ops (one expected)")
    anchor = anchors[0]
    x = anchor.operands[0]
    if x.type.dtype != DType.f32 or x.type.rank == 0:
        decline("the anchor's input is not an f32 tensor")
    N = x.type.shape[-1]
    R = math.prod(x.type.shape[:-1])
    if N == 0 or R == 0:
        decline("an empty row or no rows")
    if normalised_axis(anchor.attributes.get("axis", -1), x.type.rank) != x.type.rank - 1:
        decline("the anchor normalises another axis than the last")
    return anchor, x, N, R


class _Prologue:
    """The ops before the anchor: each row's values, a vector of columns at a time."""

    def __init__(self, ops: list, arg_index: dict, N: int, R: int):
        self.ops, self.arg_index, self.N, self.R = ops, arg_index, N, R
        self.leaves: dict = {}      # key -> temp
        self.steps: list = []       # (temp, op, args)
        self.names: dict = {}       # id(Value) -> temp
        self.gathers: dict = {}     # idx arg -> index temp name

    def leaf(self, key) -> str:
        if key not in self.leaves:
            self.leaves[key] = f"l{len(self.leaves)}"
        return self.leaves[key]

    def walk(self, ops: list) -> None:
        for o in ops:
            if o.name == "graph.reshape":
                self.reshape(o)
            elif o.name == "graph.gather":
                self.gather(o)
            else:
                self.elementwise(o)

    def reshape(self, o: Operation) -> None:
        src = o.operands[0]
        if id(src) in self.names:
            self.names[id(o.results[0])] = self.names[id(src)]
        elif id(src) not in self.arg_index:     # (a reshape of an argument: classified where it is used)
            decline("a reshape of something other than a row value or an argument")

    def gather(self, o: Operation) -> None:
        N, R = self.N, self.R
        tab, idx = o.operands
        if id(tab) not in self.arg_index or id(idx) not in self.arg_index or tab.type.dtype != DType.f32:
            decline("a gather of something other than an f32 table argument")
        if idx.type.dtype not in _INT or tab.type.rank != 2 or tab.type.shape[1] != N:
            decline("a gather that is not of rows of N from a [V, N] table by integer indices")
        if o.attributes.get("axis", 0) not in (0, -2) or math.prod(idx.type.shape) != R:
            decline("a gather along columns, or not one index per row")
        if math.prod(o.results[0].type.shape) != R * N or o.results[0].type.shape[-1] != N:
            decline("a gather result of another shape than the rows")
        ia = self.arg_index[id(idx)]
        self.gathers.setdefault(ia, f"g{len(self.gathers)}")
        self.names[id(o.results[0])] = self.leaf(("gather", self.arg_index[id(tab)], ia))

    def elementwise(self, o: Operation) -> None:
        N, R = self.N, self.R
        if not o.has_trait("elementwise") or len(o.results) != 1 or o.results[0].type.dtype != DType.f32:
            decline(f"{o.name} in the prologue is not an element-wise f32 op")
        rshape = o.results[0].type.shape
        if math.prod(rshape) != R * N or (rshape and rshape[-1] != N):
            decline(f"{o.name} in the prologue is not of the rows' shape")
        argt = [self.operand(v, rshape) for v in o.operands]
        if _simd.vector_expr(o, argt) is None:
            decline(f"{o.name} has no SIMD form")
        t = f"t{len(self.steps) + 1}"
        self.steps.append((t, o, argt))
        self.names[id(o.results[0])] = t

    def operand(self, v: Value, rshape: tuple) -> str:
        """A row value's temp, or a broadcast leaf of an argument (seen through reshapes in the block)."""
        if v.type.dtype != DType.f32:
            decline("a prologue operand is not f32")
        if id(v) in self.names:
            return self.names[id(v)]
        src = v
        while id(src) not in self.arg_index and getattr(src.owner, "name", None) == "graph.reshape" \
                and src.owner in self.ops:
            src = src.owner.operands[0]
        if id(src) not in self.arg_index:
            decline("a prologue operand that is neither a row value nor an argument")
        mode = broadcast_mode(v.type.shape, rshape, self.N)
        if mode is None or (src is not v and mode != "full"):
            decline("a prologue operand that does not broadcast over the rows")
        return self.leaf((mode, self.arg_index[id(src)]))


def _anchor_params(plan: RowwisePlan, anchor: Operation, arg_index: dict) -> None:
    """The LayerNorm/RMSNorm's epsilon, scale and bias, or the softmax's nan_to_zero."""
    N = plan.N
    if anchor.name not in ("graph.layer_norm", "graph.rms_norm"):
        plan.nan_to_zero = bool(anchor.attributes.get("nan_to_zero", False))
        return
    extra = []
    for w in anchor.operands[1:]:
        if id(w) not in arg_index or w.type.dtype != DType.f32 or math.prod(w.type.shape) not in (1, N):
            decline("a scale/bias that is not an f32 argument of N or 1 elements")
        extra.append((arg_index[id(w)], math.prod(w.type.shape) == 1 and N != 1))
    plan.eps = float(anchor.attributes.get("epsilon", 1e-5))
    plan.scale = extra[0] if extra else None
    plan.bias = extra[1] if len(extra) > 1 else None


def _yields(plan: RowwisePlan, out_val: Value, yielded: list, names: dict) -> None:
    """The anchor's (reshaped) value once, and prologue values of the rows' size."""
    y_anchor = None
    for j, v in enumerate(yielded):
        if v is out_val and y_anchor is None:
            y_anchor = j
        elif id(v) in names and v.type.dtype == DType.f32 and math.prod(v.type.shape) == plan.R * plan.N:
            plan.yields.append((j, names[id(v)]))
        else:
            decline("a yielded value that is neither the anchor's nor a row value")
    if y_anchor is None:
        decline("the anchor's value is not yielded")
    plan.out = y_anchor


def _analyse(op: Operation) -> RowwisePlan:
    view = kernel_view(op, _BARE)
    if view is None:
        decline("not a fused block nor a bare layer_norm/softmax")
    kind, ops, args, yielded = view
    if kind not in ("layer_norm", "softmax", "embedding"):
        decline(f"block kind {kind!r}")
    arg_index = {id(a): i for i, a in enumerate(args)}
    anchor, x, N, R = _anchor(ops)
    pro = _Prologue(ops, arg_index, N, R)
    a_pos = ops.index(anchor)
    pro.walk(ops[:a_pos])
    if id(x) in pro.names:
        xt = pro.names[id(x)]
    elif id(x) in arg_index:
        xt = pro.leaf(("full", arg_index[id(x)]))
    else:
        decline("the anchor's input is neither a row value nor an argument")
    plan = RowwisePlan(anchor=anchor.name, N=N, R=R, x=xt, leaves=pro.leaves, steps=pro.steps, gathers=pro.gathers,
                       arg_types=[a.type for a in args])
    _anchor_params(plan, anchor, arg_index)
    out_val = anchor.results[0]
    for o in ops[a_pos + 1:]:
        if o.name != "graph.reshape" or o.operands[0] is not out_val:
            decline(f"{o.name} after the anchor (only reshapes of its value)")
        out_val = o.results[0]
    _yields(plan, out_val, yielded, pro.names)
    return plan


def analyse(op: Operation):
    """The op's :class:`RowwisePlan`, or a :class:`~lpfc.codegen.plans.Decline` (computed once per op)."""
    return plan_of(_analyse, op)


__all__ = ["RowwisePlan", "analyse"]
