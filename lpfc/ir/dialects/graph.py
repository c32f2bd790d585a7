"""The ``graph`` dialect: named tensor ops with static shapes.

This is the level the ONNX importer produces and LP-Fusion rewrites.  Each
op's ``infer`` rule computes result types from operand types and attributes;
it raises :class:`~lpfc.errors.ShapeError` when they are inconsistent.
Semantics follow ONNX (and numpy broadcasting) unless a docstring says
otherwise; the reference interpreter (:mod:`lpfc.interp`) is the executable
definition.
"""
from __future__ import annotations

from typing import Sequence

from ...errors import ShapeError
from ..opdef import (ASSOCIATIVE, BROADCASTING, COMMUTATIVE, CONSTANT_LIKE, ELEMENTWISE, MANY_TO_MANY,
                     ONE_TO_MANY, ONE_TO_ONE, REDUCTION, REORGANIZE, SHAPE_ONLY, SHUFFLE, AttrSpec, OpDef,
                     register)
from ..types import DType, TensorType

T = Sequence[TensorType]
REQ = AttrSpec.REQUIRED


# -- shape helpers -------------------------------------------------------------
def broadcast_shapes(*shapes) -> tuple:
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(rank):
        dims = {s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0}
        dims.discard(1)
        if len(dims) > 1:
            raise ShapeError(f"shapes {' and '.join(str(list(s)) for s in shapes)} do not broadcast")
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def normalize_axis(axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise ShapeError(f"axis {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def _same_dtype(ts: T, what: str):
    dts = {t.dtype for t in ts}
    if len(dts) > 1:
        raise ShapeError(f"{what} operands have different dtypes: {', '.join(sorted(str(d) for d in dts))}")


# -- element-wise ----------------------------------------------------------------
def _infer_binary(ts: T, attrs):
    _same_dtype(ts, "element-wise")
    return [TensorType(broadcast_shapes(*(t.shape for t in ts)), ts[0].dtype)]


def _infer_logical(ts: T, attrs):
    for t in ts:
        if t.dtype != DType.bool:
            raise ShapeError(f"logical operands must be i1, got {t.dtype} (bitwise ops on integers are "
                             "graph.bitwise_*)")
    return _infer_binary(ts, attrs)


def _infer_bitwise(ts: T, attrs):
    for t in ts:
        if not t.dtype.is_int:
            raise ShapeError(f"bitwise operands must be integers, got {t.dtype}")
    return _infer_binary(ts, attrs)


def _infer_bitshift(ts: T, attrs):
    for t in ts:
        if not t.dtype.is_unsigned:
            raise ShapeError(f"bitshift operands must be unsigned integers, got {t.dtype}")
    return _infer_binary(ts, attrs)


def _infer_pow(ts: T, attrs):
    return [TensorType(broadcast_shapes(ts[0].shape, ts[1].shape), ts[0].dtype)]


def _infer_compare(ts: T, attrs):
    _same_dtype(ts, "comparison")
    return [TensorType(broadcast_shapes(*(t.shape for t in ts)), DType.bool)]


def _infer_where(ts: T, attrs):
    if ts[0].dtype != DType.bool:
        raise ShapeError(f"condition must be i1, got {ts[0].dtype}")
    _same_dtype(ts[1:], "where")
    return [TensorType(broadcast_shapes(*(t.shape for t in ts)), ts[1].dtype)]


def _infer_unary(ts: T, attrs):
    return [ts[0]]


def _infer_not(ts: T, attrs):
    if ts[0].dtype != DType.bool:
        raise ShapeError(f"not needs an i1 operand, got {ts[0].dtype} (bitwise not on integers is graph.bitwise_not)")
    return [ts[0]]


def _infer_bitwise_not(ts: T, attrs):
    if not ts[0].dtype.is_int:
        raise ShapeError(f"bitwise_not needs an integer operand, got {ts[0].dtype}")
    return [ts[0]]


def _require_float(t: TensorType, what: str):
    if not t.dtype.is_float:
        raise ShapeError(f"{what} needs a floating-point operand, got {t.dtype}")


def _infer_predicate(ts: T, attrs):
    return [ts[0].with_dtype(DType.bool)]


def _infer_cast(ts: T, attrs):
    return [ts[0].with_dtype(attrs["to"])]


_CA = {COMMUTATIVE, ASSOCIATIVE}
BINARY_ARITH = {
    # name: (traits, type rule, doc)
    "add": (_CA, _infer_binary, ""), "sub": (set(), _infer_binary, ""), "mul": (_CA, _infer_binary, ""),
    "div": (set(), _infer_binary, "Integer division truncates toward zero."),
    "max": (_CA, _infer_binary, ""), "min": (_CA, _infer_binary, ""),
    "mod": (set(), _infer_binary, "fmod=False: the result takes the divisor's sign; fmod=True: the dividend's."),
    "and": (_CA, _infer_logical, "Logical, on i1."), "or": (_CA, _infer_logical, "Logical, on i1."),
    "xor": (_CA, _infer_logical, "Logical, on i1."),
    "bitwise_and": (_CA, _infer_bitwise, "On integers."), "bitwise_or": (_CA, _infer_bitwise, "On integers."),
    "bitwise_xor": (_CA, _infer_bitwise, "On integers."),
    "bitshift_left": (set(), _infer_bitshift, "On unsigned integers; bits shifted out are lost."),
    "bitshift_right": (set(), _infer_bitshift, "On unsigned integers (logical shift)."),
}
for _n, (_tr, _rule, _doc) in BINARY_ARITH.items():
    register(OpDef(f"graph.{_n}", frozenset({ELEMENTWISE, BROADCASTING} | _tr),
                   attrs={"fmod": AttrSpec(bool, False)} if _n == "mod" else {},
                   num_operands=2, mapping=ONE_TO_ONE, infer=_rule, doc=_doc))
register(OpDef("graph.pow", frozenset({ELEMENTWISE, BROADCASTING}), num_operands=2, mapping=ONE_TO_ONE,
               infer=_infer_pow, doc="Base and exponent may differ in dtype; the result has the base's."))
for _n, _tr in {"equal": {COMMUTATIVE}, "less": set(), "less_equal": set(), "greater": set(),
                "greater_equal": set()}.items():
    register(OpDef(f"graph.{_n}", frozenset({ELEMENTWISE, BROADCASTING} | _tr), num_operands=2,
                   mapping=ONE_TO_ONE, infer=_infer_compare))
register(OpDef("graph.where", frozenset({ELEMENTWISE, BROADCASTING}), num_operands=3, mapping=ONE_TO_ONE,
               infer=_infer_where, doc="where(cond, x, y): x where cond else y."))

UNARY = ["neg", "abs", "exp", "log", "sqrt", "reciprocal", "erf", "tanh", "sigmoid", "relu",
         "floor", "ceil", "round", "sign", "sin", "cos", "softplus", "identity"]
for _n in UNARY:
    register(OpDef(f"graph.{_n}", frozenset({ELEMENTWISE}), num_operands=1, mapping=ONE_TO_ONE,
                   infer=_infer_unary))
register(OpDef("graph.not", frozenset({ELEMENTWISE}), num_operands=1, mapping=ONE_TO_ONE, infer=_infer_not,
               doc="Logical not, on i1."))
register(OpDef("graph.bitwise_not", frozenset({ELEMENTWISE}), num_operands=1, mapping=ONE_TO_ONE,
               infer=_infer_bitwise_not, doc="On integers."))
register(OpDef("graph.gelu", frozenset({ELEMENTWISE}), attrs={"approximate": AttrSpec(str, "none")},
               num_operands=1, mapping=ONE_TO_ONE, infer=_infer_unary,
               doc='approximate = "none" (erf) or "tanh".'))
register(OpDef("graph.leaky_relu", frozenset({ELEMENTWISE}), attrs={"alpha": AttrSpec(float, 0.01)},
               num_operands=1, mapping=ONE_TO_ONE, infer=_infer_unary))
register(OpDef("graph.clip", frozenset({ELEMENTWISE}),
               attrs={"min": AttrSpec((int, float), None), "max": AttrSpec((int, float), None)},
               num_operands=1, mapping=ONE_TO_ONE, infer=_infer_unary,
               doc="Bounds are attributes (absent = unbounded), so fusion sees them as constants."))
for _n in ["isnan", "isinf"]:
    register(OpDef(f"graph.{_n}", frozenset({ELEMENTWISE}), num_operands=1, mapping=ONE_TO_ONE,
                   infer=_infer_predicate))
register(OpDef("graph.cast", frozenset({ELEMENTWISE}), attrs={"to": AttrSpec(DType)}, num_operands=1,
               mapping=ONE_TO_ONE, infer=_infer_cast))


# -- constants -------------------------------------------------------------------
def _infer_constant(ts: T, attrs):
    return [attrs["value"].type]


register(OpDef("graph.constant", frozenset({CONSTANT_LIKE}), attrs={"value": AttrSpec(object)},
               num_operands=0, infer=_infer_constant))


# -- linear algebra ----------------------------------------------------------------
# precision "int8": the product of lpfc/ir/int8.py (set by the quantize-int8 pass; docs/int8.md)
_PRECISION = ("fp32", "int8")


def _check_precision(attrs, what: str):
    if attrs.get("precision", "fp32") not in _PRECISION:
        raise ShapeError(f"{what} precision {attrs['precision']!r} is not one of {', '.join(_PRECISION)}")


def _infer_matmul(ts: T, attrs):
    a, b = ts
    _check_precision(attrs, "matmul")
    _same_dtype(ts, "matmul")
    if a.rank == 0 or b.rank == 0:
        raise ShapeError("matmul operands must have rank >= 1")
    ash = a.shape if a.rank > 1 else (1,) + a.shape
    bsh = b.shape if b.rank > 1 else b.shape + (1,)
    if ash[-1] != bsh[-2]:
        raise ShapeError(f"matmul contraction mismatch: {list(a.shape)} x {list(b.shape)}")
    batch = broadcast_shapes(ash[:-2], bsh[:-2])
    out = batch + (ash[-2], bsh[-1])
    if a.rank == 1:
        out = out[:-2] + out[-1:]
    if b.rank == 1:
        out = out[:-1]
    return [TensorType(out, a.dtype)]


def _infer_gemm(ts: T, attrs):
    a, b = ts[0], ts[1]
    _check_precision(attrs, "gemm")
    if a.rank != 2 or b.rank != 2:
        raise ShapeError("gemm operands must be 2-D")
    m, k = a.shape[::-1] if attrs.get("trans_a", False) else a.shape
    k2, n = b.shape[::-1] if attrs.get("trans_b", False) else b.shape
    if k != k2:
        raise ShapeError(f"gemm contraction mismatch: {k} vs {k2}")
    _same_dtype(ts, "gemm")
    if len(ts) == 3:
        if broadcast_shapes(ts[2].shape, (m, n)) != (m, n):
            raise ShapeError(f"gemm C of shape {list(ts[2].shape)} does not broadcast to {[m, n]}")
    return [TensorType((m, n), a.dtype)]


register(OpDef("graph.matmul", frozenset(), attrs={"precision": AttrSpec(str, "fp32")},
               num_operands=2, mapping=MANY_TO_MANY, infer=_infer_matmul,
               doc="numpy.matmul semantics (batched, broadcasting batch dimensions)."))
register(OpDef("graph.gemm", frozenset(),
               attrs={"alpha": AttrSpec(float, 1.0), "beta": AttrSpec(float, 1.0),
                      "trans_a": AttrSpec(bool, False), "trans_b": AttrSpec(bool, False),
                      "precision": AttrSpec(str, "fp32")},
               num_operands=(2, 3), mapping=MANY_TO_MANY, infer=_infer_gemm,
               doc="alpha * op(A) @ op(B) + beta * C."))


# -- normalisations and reductions --------------------------------------------------
def _infer_softmax(ts: T, attrs):
    _require_float(ts[0], "softmax")
    normalize_axis(attrs["axis"], ts[0].rank)
    return [ts[0]]


def _infer_cumsum(ts: T, attrs):
    if ts[0].dtype == DType.bool:
        raise ShapeError("cumsum needs a numeric operand, got i1")
    normalize_axis(attrs["axis"], ts[0].rank)
    return [ts[0]]


def _infer_layer_norm(ts: T, attrs):
    x = ts[0]
    _require_float(x, "layer_norm")
    axis = normalize_axis(attrs["axis"], x.rank)
    norm_shape = x.shape[axis:]
    for t in ts[1:]:
        if broadcast_shapes(t.shape, norm_shape) != norm_shape:
            raise ShapeError(f"layer_norm scale/bias shape {list(t.shape)} does not broadcast to "
                             f"{list(norm_shape)}")
    _same_dtype(ts, "layer_norm")
    return [x]


register(OpDef("graph.softmax", frozenset(), attrs={"axis": AttrSpec(int, -1), "nan_to_zero": AttrSpec(bool, False)},
               num_operands=1, mapping=MANY_TO_MANY, infer=_infer_softmax,
               doc="nan_to_zero = true: NaN results become 0, so rows that are all -inf (fully masked) or hold "
                   "NaN/+inf give 0 instead of NaN.  It is the SDPA exporters' where(isnan(s), 0, s) guard as "
                   "one op (see passes/canonicalize/nan_guard.py)."))
register(OpDef("graph.log_softmax", frozenset(), attrs={"axis": AttrSpec(int, -1)}, num_operands=1,
               mapping=MANY_TO_MANY, infer=_infer_softmax))
register(OpDef("graph.cumsum", frozenset(),
               attrs={"axis": AttrSpec(int), "exclusive": AttrSpec(bool, False), "reverse": AttrSpec(bool, False)},
               num_operands=1, mapping=MANY_TO_MANY, infer=_infer_cumsum,
               doc="Running sum along axis; exclusive leaves out the element itself, reverse runs from the end."))
register(OpDef("graph.layer_norm", frozenset(),
               attrs={"axis": AttrSpec(int, -1), "epsilon": AttrSpec(float, 1e-5)},
               num_operands=(1, 3), mapping=MANY_TO_MANY, infer=_infer_layer_norm,
               doc="layer_norm(x, [scale, [bias]]) over axes axis..rank-1."))
register(OpDef("graph.rms_norm", frozenset(),
               attrs={"axis": AttrSpec(int, -1), "epsilon": AttrSpec(float, 1e-5)},
               num_operands=(1, 2), mapping=MANY_TO_MANY, infer=_infer_layer_norm,
               doc="rms_norm(x, [scale]) = x / sqrt(mean(x^2) + epsilon) * scale over axes axis..rank-1 "
                   "(Llama's RMSNorm, ONNX RMSNormalization; no centring, no bias)."))


def _infer_reduce(ts: T, attrs):
    x = ts[0]
    axes = sorted({normalize_axis(a, x.rank) for a in attrs["axes"]})
    keep = attrs.get("keepdims", True)
    shape = []
    for i, d in enumerate(x.shape):
        if i in axes:
            if keep:
                shape.append(1)
        else:
            shape.append(d)
    return [TensorType(tuple(shape), x.dtype)]


for _n in ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod", "reduce_l2",
           "reduce_sum_square", "reduce_log_sum_exp"]:
    register(OpDef(f"graph.{_n}", frozenset({REDUCTION}),
                   attrs={"axes": AttrSpec(list), "keepdims": AttrSpec(bool, True)}, num_operands=1,
                   mapping=MANY_TO_MANY, infer=_infer_reduce,
                   doc="axes is the explicit list of reduced axes; [] reduces nothing (each element is "
                       "reduced alone: x for sum/mean/max/min/prod/log_sum_exp, x*x for sum_square, |x| for "
                       "l2).  The importer writes every axis out when the model means 'all axes'."))


def _infer_arg(ts: T, attrs):
    x = ts[0]
    axis = normalize_axis(attrs["axis"], x.rank)
    shape = list(x.shape)
    if attrs.get("keepdims", True):
        shape[axis] = 1
    else:
        del shape[axis]
    return [TensorType(tuple(shape), DType.i64)]


for _n in ["argmax", "argmin"]:
    register(OpDef(f"graph.{_n}", frozenset({REDUCTION}),
                   attrs={"axis": AttrSpec(int, 0), "keepdims": AttrSpec(bool, True),
                          "select_last_index": AttrSpec(bool, False)},
                   num_operands=1, mapping=MANY_TO_MANY, infer=_infer_arg))


# -- data movement ---------------------------------------------------------------------
def _infer_reshape(ts: T, attrs):
    shape = tuple(attrs["shape"])
    out = TensorType(shape, ts[0].dtype)
    if out.num_elements != ts[0].num_elements:
        raise ShapeError(f"cannot reshape {list(ts[0].shape)} ({ts[0].num_elements} elements) to "
                         f"{list(shape)} ({out.num_elements} elements)")
    return [out]


def _infer_transpose(ts: T, attrs):
    perm = list(attrs["perm"])
    if sorted(perm) != list(range(ts[0].rank)):
        raise ShapeError(f"perm {perm} is not a permutation of rank {ts[0].rank}")
    return [ts[0].with_shape(ts[0].shape[p] for p in perm)]


def _infer_expand(ts: T, attrs):
    shape = broadcast_shapes(ts[0].shape, tuple(attrs["shape"]))
    return [ts[0].with_shape(shape)]


def _infer_concat(ts: T, attrs):
    _same_dtype(ts, "concat")
    rank = ts[0].rank
    axis = normalize_axis(attrs["axis"], rank)
    for t in ts:
        if t.rank != rank or any(t.shape[i] != ts[0].shape[i] for i in range(rank) if i != axis):
            raise ShapeError(f"concat operands {', '.join(str(list(t.shape)) for t in ts)} differ "
                             f"outside axis {axis}")
    shape = list(ts[0].shape)
    shape[axis] = sum(t.shape[axis] for t in ts)
    return [ts[0].with_shape(shape)]


def _infer_split(ts: T, attrs):
    x = ts[0]
    axis = normalize_axis(attrs["axis"], x.rank)
    sizes = list(attrs["sizes"])
    if sum(sizes) != x.shape[axis]:
        raise ShapeError(f"split sizes {sizes} do not add up to dimension {x.shape[axis]}")
    outs = []
    for s in sizes:
        shape = list(x.shape)
        shape[axis] = s
        outs.append(x.with_shape(shape))
    return outs


def slice_output_shape(shape, starts, ends, axes, steps):
    out = list(shape)
    for st, en, ax, sp in zip(starts, ends, axes, steps):
        out[ax] = len(range(*slice(st, en, sp).indices(shape[ax])))
    return tuple(out)


def _infer_slice(ts: T, attrs):
    x = ts[0]
    n = len(attrs["starts"])
    if not (len(attrs["ends"]) == len(attrs["axes"]) == len(attrs["steps"]) == n):
        raise ShapeError("slice starts/ends/axes/steps differ in length")
    axes = [normalize_axis(a, x.rank) for a in attrs["axes"]]
    if len(set(axes)) != len(axes):
        raise ShapeError(f"slice repeats an axis: {attrs['axes']}")
    if 0 in attrs["steps"]:
        raise ShapeError("slice step 0")
    return [x.with_shape(slice_output_shape(x.shape, attrs["starts"], attrs["ends"], axes, attrs["steps"]))]


def _infer_gather(ts: T, attrs):
    data, idx = ts
    if not idx.dtype.is_int:
        raise ShapeError(f"gather indices must be integers, got {idx.dtype}")
    axis = normalize_axis(attrs["axis"], data.rank)
    return [data.with_shape(data.shape[:axis] + idx.shape + data.shape[axis + 1:])]


def _infer_gather_elements(ts: T, attrs):
    data, idx = ts
    normalize_axis(attrs["axis"], data.rank)
    if idx.rank != data.rank:
        raise ShapeError("gather_elements indices must have the data's rank")
    return [data.with_shape(idx.shape)]


def _infer_gather_nd(ts: T, attrs):
    data, idx = ts
    if not idx.dtype.is_int:
        raise ShapeError(f"gather_nd indices must be integers, got {idx.dtype}")
    b = attrs.get("batch_dims", 0)
    if b < 0 or idx.rank < b + 1 or data.rank < b + 1:
        raise ShapeError(f"gather_nd batch_dims {b} needs data and indices of rank > {b}, got ranks "
                         f"{data.rank} and {idx.rank}")
    if data.shape[:b] != idx.shape[:b]:
        raise ShapeError(f"gather_nd batch dimensions differ: data {list(data.shape[:b])}, "
                         f"indices {list(idx.shape[:b])}")
    last = idx.shape[-1]
    if b + last > data.rank:
        raise ShapeError(f"gather_nd index depth {last} too large for data rank {data.rank}")
    return [data.with_shape(idx.shape[:-1] + data.shape[b + last:])]


SCATTER_REDUCTIONS = ("none", "add", "mul", "max", "min")


def _check_scatter(ts: T, attrs, what: str):
    data, idx, upd = ts
    if not idx.dtype.is_int:
        raise ShapeError(f"{what} indices must be integers, got {idx.dtype}")
    if upd.dtype != data.dtype:
        raise ShapeError(f"{what} updates are {upd.dtype}, the data {data.dtype}")
    if attrs.get("reduction", "none") not in SCATTER_REDUCTIONS:
        raise ShapeError(f"{what} reduction {attrs['reduction']!r} is not one of {', '.join(SCATTER_REDUCTIONS)}")


def _infer_scatter_elements(ts: T, attrs):
    data, idx, upd = ts
    _check_scatter(ts, attrs, "scatter_elements")
    normalize_axis(attrs["axis"], data.rank)
    if idx.rank != data.rank or upd.shape != idx.shape:
        raise ShapeError(f"scatter_elements needs indices and updates of one shape and the data's rank; got data "
                         f"{list(data.shape)}, indices {list(idx.shape)}, updates {list(upd.shape)}")
    return [data]


def _infer_scatter_nd(ts: T, attrs):
    data, idx, upd = ts
    _check_scatter(ts, attrs, "scatter_nd")
    if idx.rank < 1 or idx.shape[-1] > data.rank:
        raise ShapeError(f"scatter_nd index depth {idx.shape[-1] if idx.rank else '?'} does not fit data rank "
                         f"{data.rank}")
    want = idx.shape[:-1] + data.shape[idx.shape[-1]:]
    if upd.shape != want:
        raise ShapeError(f"scatter_nd updates have shape {list(upd.shape)}, indices {list(idx.shape)} into data "
                         f"{list(data.shape)} need {list(want)}")
    return [data]


def _infer_trilu(ts: T, attrs):
    if ts[0].rank < 2:
        raise ShapeError("trilu needs rank >= 2")
    return [ts[0]]


def _infer_tile(ts: T, attrs):
    reps = list(attrs["repeats"])
    if len(reps) != ts[0].rank:
        raise ShapeError(f"tile repeats {reps} do not match rank {ts[0].rank}")
    return [ts[0].with_shape(d * r for d, r in zip(ts[0].shape, reps))]


PAD_MODES = ("constant", "reflect", "edge", "wrap")


def _infer_pad(ts: T, attrs):
    pads = list(attrs["pads"])
    mode = attrs.get("mode", "constant")
    if mode not in PAD_MODES:
        raise ShapeError(f"pad mode {mode!r} is not one of {', '.join(PAD_MODES)}")
    x = ts[0]
    r = x.rank
    if len(pads) != 2 * r:
        raise ShapeError(f"pad needs {2 * r} pads, got {len(pads)}")
    shape = []
    for i, d in enumerate(x.shape):
        begin, end = pads[i], pads[i + r]
        cropped = d + min(begin, 0) + min(end, 0)      # negative pads crop first
        if cropped < 0 or cropped + max(begin, 0) + max(end, 0) < 0:
            raise ShapeError(f"pads {begin}, {end} on dimension {i} of size {d} crop more than it has")
        if mode != "constant" and cropped == 0 and (begin > 0 or end > 0):
            raise ShapeError(f"{mode} padding of dimension {i} needs it non-empty")
        if mode == "reflect" and max(begin, end) >= cropped and (begin > 0 or end > 0):
            raise ShapeError(f"reflect pads {begin}, {end} on dimension {i} must be smaller than its size {cropped}")
        shape.append(d + begin + end)
    return [x.with_shape(shape)]


register(OpDef("graph.reshape", frozenset({SHAPE_ONLY}), attrs={"shape": AttrSpec(list)}, num_operands=1,
               mapping=REORGANIZE, infer=_infer_reshape,
               doc="Row-major reshape to a static shape (covers Reshape, Flatten, Squeeze, Unsqueeze)."))
register(OpDef("graph.transpose", frozenset(), attrs={"perm": AttrSpec(list)}, num_operands=1,
               mapping=SHUFFLE, infer=_infer_transpose))
register(OpDef("graph.expand", frozenset({BROADCASTING}), attrs={"shape": AttrSpec(list)}, num_operands=1,
               mapping=ONE_TO_MANY, infer=_infer_expand))
register(OpDef("graph.concat", frozenset(), attrs={"axis": AttrSpec(int)}, num_operands=(1, None),
               mapping=REORGANIZE, infer=_infer_concat))
register(OpDef("graph.split", frozenset(), attrs={"axis": AttrSpec(int), "sizes": AttrSpec(list)},
               num_operands=1, mapping=REORGANIZE, infer=_infer_split))
register(OpDef("graph.slice", frozenset(),
               attrs={"starts": AttrSpec(list), "ends": AttrSpec(list), "axes": AttrSpec(list),
                      "steps": AttrSpec(list)},
               num_operands=1, mapping=REORGANIZE, infer=_infer_slice,
               doc="Static slice; starts/ends are clamped Python-style, as ONNX does."))
register(OpDef("graph.gather", frozenset(), attrs={"axis": AttrSpec(int, 0)}, num_operands=2,
               mapping=REORGANIZE, infer=_infer_gather, doc="Negative indices count from the end."))
register(OpDef("graph.gather_elements", frozenset(), attrs={"axis": AttrSpec(int, 0)}, num_operands=2,
               mapping=REORGANIZE, infer=_infer_gather_elements))
register(OpDef("graph.gather_nd", frozenset(), attrs={"batch_dims": AttrSpec(int, 0)}, num_operands=2,
               mapping=REORGANIZE, infer=_infer_gather_nd))
register(OpDef("graph.scatter_elements", frozenset(),
               attrs={"axis": AttrSpec(int, 0), "reduction": AttrSpec(str, "none")}, num_operands=3,
               mapping=REORGANIZE, infer=_infer_scatter_elements,
               doc="scatter_elements(data, indices, updates): a copy of data with updates written (or combined, "
                   "reduction = add/mul/max/min) at indices along axis; negative indices count from the end."))
register(OpDef("graph.scatter_nd", frozenset(), attrs={"reduction": AttrSpec(str, "none")}, num_operands=3,
               mapping=REORGANIZE, infer=_infer_scatter_nd,
               doc="scatter_nd(data, indices, updates): a copy of data with slices indices[..., :] replaced by (or "
                   "combined with) updates."))
register(OpDef("graph.trilu", frozenset(), attrs={"upper": AttrSpec(bool, True), "k": AttrSpec(int, 0)},
               num_operands=1, mapping=ONE_TO_ONE, infer=_infer_trilu))
register(OpDef("graph.tile", frozenset(), attrs={"repeats": AttrSpec(list)}, num_operands=1,
               mapping=ONE_TO_MANY, infer=_infer_tile))
register(OpDef("graph.pad", frozenset(),
               attrs={"pads": AttrSpec(list), "mode": AttrSpec(str, "constant"), "value": AttrSpec((int, float), 0)},
               num_operands=1, mapping=REORGANIZE, infer=_infer_pad,
               doc="pads = [begin_0, ..., begin_n, end_0, ..., end_n], static."))


# -- structure -------------------------------------------------------------------------------
register(OpDef("graph.yield", frozenset({"terminator"}), infer=lambda ts, a: [],
               doc="Ends a region of a graph op (e.g. a fused block), yielding its results."))


def _verify_fused(op) -> None:
    """A fused block is its region applied to its operands, isolated from above."""
    if len(op.regions) != 1 or len(op.regions[0].blocks) != 1:
        raise ShapeError("graph.fused needs exactly one region with one block")
    block = op.regions[0].blocks[0]
    if [a.type for a in block.args] != [v.type for v in op.operands]:
        raise ShapeError("graph.fused block argument types differ from its operand types")
    term = block.terminator
    if term is None or term.name != "graph.yield":
        raise ShapeError("graph.fused region must end with graph.yield")
    if [v.type for v in term.operands] != op.result_types:
        raise ShapeError("graph.fused yields types that differ from its result types")
    inside = {id(a) for a in block.args} | {id(r) for o in block.ops for r in o.results}
    for inner in block.ops:
        for v in inner.operands:
            if id(v) not in inside:
                raise ShapeError(f"{inner.name} inside graph.fused uses a value from outside the block "
                                 "(fused blocks are isolated: pass it as an operand)")


register(OpDef("graph.fused", frozenset(), attrs={"kind": AttrSpec(str, "elementwise"), "name": AttrSpec(str, "")},
               num_operands=(0, None), mapping=MANY_TO_MANY, verify=_verify_fused,
               doc="A fused kernel: its single-block region, applied to its operands, computes its results. "
                   "kind says what the block holds (gemm, attention, layer_norm, embedding, elementwise, ...)."))
