"""The GEMM plan: what the GEMM emitters (``cpp_gemm.py``, ``ocl_gemm.py``) print, read from a kernel op.

Recognises ``graph.fused`` blocks of kind ``gemm`` and ``gemm_layer_norm`` (and a bare ``graph.matmul`` /
``graph.gemm``, a one-op block) whose region is, in order (see ``cpp_gemm.py``'s docstring for the whole
contract):

1. an optional prologue: a row select (``graph.gather`` of one constant row: :func:`_row_select`) or
   ``graph.split``s of the activations along their last axis (column slices: :func:`_column_slices`);
2. the matmul/gemm with a constant weight (:func:`_matmul`);
3. the epilogue: element-wise f32 ops and reshapes on the result, at most one LayerNorm/RMSNorm
   (:class:`_EpilogueWalk`);
4. the yields (:func:`_yields`).

Each step declines (:func:`lpfc.codegen.plans.decline`) with a reason when the block is not of that shape.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple, Optional

import numpy as np

from ...ir.constants import constant_value
from ...ir.core import Operation, Value
from ...ir.types import DType
from .. import simd as _simd
from . import decline, plan_of
from .blocks import broadcast_mode, is_f32, kernel_view, normalised_axis, operand_is_constant

_RESHAPES = ("graph.reshape",)
_BARE = {"graph.matmul": "gemm", "graph.gemm": "gemm"}


@dataclass
class Epilogue:
    """Element-wise ops on an [M, N] tile, as straight-line statements over named temporaries."""
    n: int
    leaves: dict = field(default_factory=dict)     # (arg, mode) -> temp name
    steps: list = field(default_factory=list)      # (temp, op, [arg temps]) in order; op ("add",) / ("axpb", beta)
    names: dict = field(default_factory=dict)      # id(Value) -> temp name (tile values only)
    vector: bool = True                            # every step has a SIMD form (else the scalar epilogue)

    def leaf(self, arg: int, mode: str) -> str:
        key = (arg, mode)
        if key not in self.leaves:
            self.leaves[key] = f"l{len(self.leaves)}"
        return self.leaves[key]


@dataclass
class GemmNorm:
    """The LayerNorm (or RMSNorm) over each finished row of a ``gemm_layer_norm`` block."""
    x: str                   # the epilogue temp it normalises
    eps: float
    scale: Optional[int]     # argument index of the scale, or None
    bias: Optional[int]      # argument index of the bias, or None
    scale_scalar: bool       # the scale is one value broadcast over the row
    bias_scalar: bool
    rms: bool                # RMSNorm (scale only)
    out: Optional[int] = None  # the result index it is yielded as


class ColumnCopy(NamedTuple):
    """A split part yielded as it is: ``rows`` rows of ``width`` floats from column ``offset`` of ``arg``."""
    out: int
    arg: int
    offset: int
    width: int
    row_length: int
    rows: int


@dataclass
class GemmPlan:
    M: int
    N: int
    K: int
    a_arg: int
    a_row: int               # row offset into A (row select prologue), in rows of K
    b_arg: int
    trans_b: bool
    alpha: float
    epi: Epilogue
    yields: list             # [(out index, temp name)]
    ln: Optional[GemmNorm] = None
    lda: int = 0             # row stride of A (K, or the full row when A is a column slice)
    a_col: int = 0           # column offset into A's rows (a split prologue)
    copies: list = field(default_factory=list)   # [ColumnCopy]
    int8: bool = False       # the matmul's precision is "int8" (quantize-int8; cpp_gemm_int8.py)


class _Block:
    """The region being analysed: its kind, ops, arguments (by identity) and yielded values."""

    def __init__(self, op: Operation):
        view = kernel_view(op, _BARE)
        if view is None:
            decline("not a fused block nor a bare matmul/gemm")
        self.op = op
        self.kind, self.ops, args, self.yielded = view
        if self.kind not in ("gemm", "gemm_layer_norm"):
            decline(f"block kind {self.kind!r}")
        self.arg_index = {id(a): i for i, a in enumerate(args)}

    def is_arg(self, v: Value) -> bool:
        return id(v) in self.arg_index

    def arg(self, v: Value, what: str) -> int:
        if id(v) not in self.arg_index:
            decline(f"{what} is not a block argument")
        return self.arg_index[id(v)]


def _row_select(blk: _Block) -> tuple:
    """(row, the selected row's value) of a leading gather of one constant row (BERT's pooler), else (0, None)."""
    g = blk.ops[0]
    if g.name != "graph.gather":
        return 0, None
    data, idx = g.operands
    if not blk.is_arg(data) or not blk.is_arg(idx) or not is_f32(data):
        decline("row select of something other than f32 arguments")
    iv = constant_value(blk.op.operands[blk.arg_index[id(idx)]], through_reshapes=True)
    if iv is None or iv.ndim != 0 or not np.issubdtype(iv.dtype, np.integer):
        decline("row select with a non-constant or non-scalar index")
    shape = data.type.shape
    axis = normalised_axis(g.attributes.get("axis", 0), len(shape))
    if len(shape) < 2 or axis != len(shape) - 2 or any(d != 1 for d in shape[:-2]):
        decline("row select along another axis than the rows")
    rows = shape[-2]
    r = int(iv)
    r = r + rows if r < 0 else r
    if not 0 <= r < rows:
        decline("row select index out of range")
    return r, g.results[0]


def _column_slices(blk: _Block, pos: int) -> tuple:
    """(id(Value) -> ColumnCopy-like (arg, col offset, width, row length, rows), next op position): leading
    splits of arguments along their last axis (MobileBERT's bottlenecks) and reshapes of their parts."""
    colviews: dict = {}
    ops = blk.ops
    while pos < len(ops) and ops[pos].name in ("graph.split",) + _RESHAPES:
        o = ops[pos]
        src = o.operands[0]
        if o.name == "graph.split":
            if not blk.is_arg(src) or not is_f32(src) or src.type.rank < 1:
                decline("split of something other than an f32 argument")
            if normalised_axis(o.attributes["axis"], src.type.rank) != src.type.rank - 1:
                decline("split along another axis than the last")
            rowlen = src.type.shape[-1]
            rows = math.prod(src.type.shape[:-1])
            off = 0
            for r, size in zip(o.results, o.attributes["sizes"]):
                colviews[id(r)] = (blk.arg_index[id(src)], off, size, rowlen, rows)
                off += size
        elif id(src) in colviews:
            colviews[id(o.results[0])] = colviews[id(src)]
        else:
            decline("reshape before the matmul of something other than a split part")
        pos += 1
    return colviews, pos


@dataclass
class _Matmul:
    op: Operation
    a_arg: int
    a_col: int
    lda: int
    b_arg: int
    trans_b: bool
    alpha: float
    M: int
    N: int
    K: int


def _a_operand(blk: _Block, a: Value, row_select: Optional[Value], colviews: dict) -> tuple:
    """(argument, column offset, row stride) of the activations A."""
    lda = a.type.shape[-1] if a.type.rank else 0
    if row_select is not None:
        if a is not row_select:
            decline("the matmul does not read the selected row")
        return blk.arg_index[id(row_select.owner.operands[0])], 0, lda
    if id(a) in colviews:
        a_arg, a_col, width, lda, rows = colviews[id(a)]
        if a.type.rank < 2 or a.type.shape[-1] != width or math.prod(a.type.shape[:-1]) != rows:
            decline("the matmul reads a reshaped column slice")
        return a_arg, a_col, lda
    return blk.arg(a, "the matmul's A"), 0, lda


def _matmul(blk: _Block, mm: Operation, row_select: Optional[Value], colviews: dict) -> _Matmul:
    """The matmul/gemm: activations (argument, slice or selected row) x a constant f32 weight."""
    if mm.name not in ("graph.matmul", "graph.gemm"):
        decline(f"{mm.name} where the matmul should be")
    a, b = mm.operands[0], mm.operands[1]
    a_arg, a_col, lda = _a_operand(blk, a, row_select, colviews)
    b_arg = blk.arg(b, "the matmul's B")
    if not operand_is_constant(blk.op, b_arg) or operand_is_constant(blk.op, a_arg) or a_arg == b_arg:
        decline("the weight is not a constant (or the activations are)")
    if not (is_f32(a) and is_f32(b) and is_f32(mm.results[0])):
        decline("not f32")
    trans_b, alpha = False, 1.0
    if b.type.rank != 2 or a.type.rank < 1:
        decline("the weight is not a matrix")
    if mm.name == "graph.gemm":
        if mm.attributes.get("trans_a", False):
            decline("gemm with trans_a")
        trans_b = bool(mm.attributes.get("trans_b", False))
        alpha = float(mm.attributes.get("alpha", 1.0))
        if a.type.rank != 2:
            decline("gemm of a batched A")
    elif a.type.rank < 2:
        decline("matmul of a vector")
    K = a.type.shape[-1]
    Kb, N = b.type.shape[::-1] if trans_b else b.type.shape
    if K != Kb:
        decline("K of A and B differ")
    M = math.prod(a.type.shape[:-1])
    if math.prod(mm.results[0].type.shape) != M * N or M == 0 or N == 0 or K == 0:
        decline("an empty or broadcast product")
    return _Matmul(mm, a_arg, a_col, lda, b_arg, trans_b, alpha, M, N, K)


class _EpilogueWalk:
    """The ops after the matmul: reshapes, element-wise f32 ops on the tile, at most one LayerNorm/RMSNorm
    (``gemm_layer_norm`` blocks) followed only by reshapes."""

    def __init__(self, blk: _Block, mm: _Matmul, colviews: dict):
        self.blk, self.mm, self.colviews = blk, mm, colviews
        self.epi = Epilogue(n=mm.N)
        self.epi.names[id(mm.op.results[0])] = "acc"
        self.temps = 0
        self.ln: Optional[GemmNorm] = None
        self.ln_value: Optional[Value] = None

    def tile_temp(self) -> str:
        self.temps += 1
        return f"t{self.temps}"

    def gemm_bias(self) -> None:
        """graph.gemm's C operand, times beta: the first epilogue step."""
        mm = self.mm.op
        if mm.name != "graph.gemm" or len(mm.operands) != 3:
            return
        c = mm.operands[2]
        if not self.blk.is_arg(c) or not is_f32(c):
            decline("gemm's C is not an f32 argument")
        mode = broadcast_mode(c.type.shape, mm.results[0].type.shape, self.mm.N)
        if mode is None:
            decline("gemm's C does not broadcast along rows or columns")
        cl = self.epi.leaf(self.blk.arg_index[id(c)], mode)
        beta = float(mm.attributes.get("beta", 1.0))
        t = self.tile_temp()
        self.epi.steps.append((t, ("add",) if beta == 1.0 else ("axpb", beta), ["acc", cl]))
        self.epi.names[id(mm.results[0])] = t

    def walk(self, ops: list) -> None:
        for o in ops:
            if o.name in _RESHAPES:
                self.reshape(o)
            elif self.ln_value is not None:
                decline(f"{o.name} after the LayerNorm")
            elif o.name in ("graph.layer_norm", "graph.rms_norm"):
                self.norm(o)
            else:
                self.elementwise(o)
        if self.blk.kind == "gemm_layer_norm" and self.ln is None:
            decline("a gemm_layer_norm block without its LayerNorm")

    def reshape(self, o: Operation) -> None:
        src = o.operands[0]
        if id(src) in self.colviews:
            self.colviews[id(o.results[0])] = self.colviews[id(src)]
        elif self.ln_value is not None and src is self.ln_value:
            self.ln_value = o.results[0]
        elif id(src) in self.epi.names:
            self.epi.names[id(o.results[0])] = self.epi.names[id(src)]
        else:
            decline("a reshape of something outside the tile")

    def norm(self, o: Operation) -> None:
        blk, N = self.blk, self.mm.N
        if blk.kind != "gemm_layer_norm" or self.ln is not None:
            decline("a LayerNorm outside a gemm_layer_norm block, or two")
        x = o.operands[0]
        if id(x) not in self.epi.names or not is_f32(o.results[0]):
            decline("a LayerNorm of something outside the tile")
        if normalised_axis(o.attributes.get("axis", -1), x.type.rank) != x.type.rank - 1 or x.type.shape[-1] != N:
            decline("a LayerNorm over another axis than the last")
        extra = []
        for w in o.operands[1:]:
            if not blk.is_arg(w) or not is_f32(w) or math.prod(w.type.shape) not in (1, N):
                decline("a LayerNorm scale/bias that is not an f32 argument of N or 1 elements")
            extra.append(blk.arg_index[id(w)])
        self.ln = GemmNorm(x=self.epi.names[id(x)], eps=float(o.attributes.get("epsilon", 1e-5)),
                           scale=extra[0] if len(extra) > 0 else None, bias=extra[1] if len(extra) > 1 else None,
                           scale_scalar=len(extra) > 0 and math.prod(o.operands[1].type.shape) == 1 and N != 1,
                           bias_scalar=len(extra) > 1 and math.prod(o.operands[2].type.shape) == 1 and N != 1,
                           rms=o.name == "graph.rms_norm")
        self.ln_value = o.results[0]

    def elementwise(self, o: Operation) -> None:
        mn = self.mm.M * self.mm.N
        if not o.has_trait("elementwise") or len(o.results) != 1 or not is_f32(o.results[0]):
            decline(f"{o.name} in the epilogue is not an element-wise f32 op")
        rshape = o.results[0].type.shape
        if math.prod(rshape) != mn:
            decline(f"{o.name} in the epilogue is not of the tile's size")
        argt = [self.operand(v, rshape) for v in o.operands]
        if not any(id(v) in self.epi.names for v in o.operands):
            decline(f"{o.name} in the epilogue does not read the tile")
        if _simd.vector_expr(o, argt) is None:
            from ..scalar_expr import c_expr
            try:        # the scalar fallback must exist, or the block is declined now (never at emit)
                c_expr(o.name, dict(o.attributes), argt, [DType.f32] * len(argt), DType.f32)
            except Exception:
                decline(f"{o.name} has no C form")
            self.epi.vector = False
        t = self.tile_temp()
        self.epi.steps.append((t, o, argt))
        self.epi.names[id(o.results[0])] = t

    def operand(self, v: Value, rshape: tuple) -> str:
        """The temp an epilogue op reads: a tile value or a broadcast leaf of an argument."""
        if not is_f32(v):
            decline("an epilogue operand is not f32")
        if id(v) in self.epi.names:
            if tuple(v.type.shape) != tuple(rshape) and math.prod(v.type.shape) != self.mm.M * self.mm.N:
                decline("an epilogue operand of another size")
            return self.epi.names[id(v)]
        if self.blk.is_arg(v):
            mode = broadcast_mode(v.type.shape, rshape, self.mm.N)
            if mode is None:
                decline("an epilogue operand that does not broadcast over the tile")
            return self.epi.leaf(self.blk.arg_index[id(v)], mode)
        decline("an epilogue operand that is neither the tile nor an argument")


def _yields(walk: _EpilogueWalk) -> tuple:
    """([(out index, temp)], [ColumnCopy]); sets the LayerNorm's output index."""
    yields, copies = [], []
    ln, mn = walk.ln, walk.mm.M * walk.mm.N
    for j, v in enumerate(walk.blk.yielded):
        if id(v) in walk.colviews and is_f32(v):
            copies.append(ColumnCopy(j, *walk.colviews[id(v)]))
        elif not is_f32(v) or math.prod(v.type.shape) != mn:
            decline("a yielded value that is not an f32 tile")
        elif walk.ln_value is not None and v is walk.ln_value:
            if ln is None or ln.out is not None:
                decline("the LayerNorm yielded twice")
            ln.out = j
        elif id(v) not in walk.epi.names:
            decline("a yielded value outside the tile")
        else:
            yields.append((j, walk.epi.names[id(v)]))
    if ln is not None and ln.out is None:
        decline("the LayerNorm is not yielded")
    if not yields and ln is None:
        decline("nothing of the tile is yielded")
    return yields, copies


def _analyse(op: Operation) -> GemmPlan:
    blk = _Block(op)
    a_row, row_select = _row_select(blk)
    pos = 1 if row_select is not None else 0
    colviews: dict = {}
    if row_select is None:
        colviews, pos = _column_slices(blk, pos)
    if pos >= len(blk.ops):
        decline("no matmul")
    mm = _matmul(blk, blk.ops[pos], row_select, colviews)
    walk = _EpilogueWalk(blk, mm, colviews)
    walk.gemm_bias()
    walk.walk(blk.ops[pos + 1:])
    yields, copies = _yields(walk)
    return GemmPlan(mm.M, mm.N, mm.K, mm.a_arg, a_row, mm.b_arg, mm.trans_b, mm.alpha, walk.epi, yields, walk.ln,
                    mm.lda, mm.a_col, copies, mm.op.attributes.get("precision") == "int8")


def analyse(op: Operation):
    """The op's :class:`GemmPlan`, or a :class:`~lpfc.codegen.plans.Decline` (computed once per op)."""
    return plan_of(_analyse, op)


def oriented_weight(w, trans_b: bool, alpha: float) -> np.ndarray:
    """A GEMM's constant B as the kernels multiply it: [K, N] float32 (transposed back from [N, K] with
    ``trans_b``), times ``alpha`` (in float64, rounded once).  Every emitter's packing starts from this."""
    w = np.asarray(w, dtype=np.float32)
    if trans_b:
        w = w.T
    if alpha != 1.0:
        w = (w.astype(np.float64) * alpha).astype(np.float32)
    return w


__all__ = ["ColumnCopy", "Epilogue", "GemmNorm", "GemmPlan", "analyse", "oriented_weight"]
