"""numpy kernels for the ``graph`` dialect: the executable definition of each op.

A kernel takes ``(inputs, attrs, result_types)`` — numpy arrays, the op's
attributes with defaults filled in, and the op's result types — and returns
one array per result.  Semantics are ONNX's current ones (the importer converts
older op versions to them), integer and bool dtypes included, because the ONNX
backend tests are checked through here.

Every registered kernel is wrapped so that

* floating-point exceptions follow IEEE quietly (``log(0) = -inf``, ``x/0 = inf``,
  NaN casts): an interpreter must compute them, not warn about them;
* each result is an ndarray of exactly its result type's dtype (kernels may
  compute in a wider type — float16 in float32, float32 in float64 where
  accuracy matters — and leave the narrowing cast to the wrapper);
* a result whose shape disagrees with its type raises :class:`ShapeError`.
"""
from __future__ import annotations

import functools
import math
from typing import Callable

import numpy as np

from ..errors import InputError, ShapeError, UnsupportedError
from ..ir.attributes import constant_array
from ..ir.types import TensorType

Kernel = Callable[[list, dict, list], list]
KERNELS: dict[str, Kernel] = {}


def kernel(*names: str):
    """Register the decorated function as the kernel of each op in ``names``."""
    def register(fn):
        for name in names:
            KERNELS[name] = _conforming(name, fn)
        return fn
    return register


def _conforming(name: str, fn) -> Kernel:
    @functools.wraps(fn)
    def run(inputs, attrs, result_types):
        with np.errstate(all="ignore"):
            outs = fn(inputs, attrs, result_types)
            if len(outs) != len(result_types):
                raise ShapeError(f"kernel produced {len(outs)} results, the op has {len(result_types)}",
                                 op=name)
            return [_conform(name, out, t) for out, t in zip(outs, result_types)]
    return run


def _conform(name: str, out, t: TensorType) -> np.ndarray:
    a = np.asarray(out)
    if a.dtype != t.dtype.numpy:
        a = a.astype(t.dtype.numpy)
    if a.shape != t.shape:
        raise ShapeError(f"kernel produced shape {list(a.shape)}, the result type is {t}", op=name)
    return a


# -- helpers ----------------------------------------------------------------------
def _axis(axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise ShapeError(f"axis {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def _is_int(x: np.ndarray) -> bool:
    return x.dtype.kind in "iu"


def _wide(x: np.ndarray) -> np.ndarray:
    """float64 for accuracy-sensitive math (transcendentals, reductions, normalisations)."""
    return x.astype(np.float64, copy=False)


def _f32_at_least(x: np.ndarray) -> np.ndarray:
    """float16 computed in float32 (numpy's float16 loops are slow and, for BLAS, missing)."""
    return x.astype(np.float32) if x.dtype == np.float16 else x


def _unary(fn):
    return lambda ins, attrs, rts: [fn(ins[0])]


def _binary(fn):
    return lambda ins, attrs, rts: [fn(ins[0], ins[1])]


# -- element-wise binary ------------------------------------------------------------
for _name, _fn in {"add": np.add, "sub": np.subtract, "mul": np.multiply, "max": np.maximum,
                   "min": np.minimum, "and": np.logical_and, "or": np.logical_or,
                   "xor": np.logical_xor, "bitwise_and": np.bitwise_and, "bitwise_or": np.bitwise_or,
                   "bitwise_xor": np.bitwise_xor, "bitshift_left": np.left_shift,
                   "bitshift_right": np.right_shift, "equal": np.equal, "less": np.less,
                   "less_equal": np.less_equal, "greater": np.greater,
                   "greater_equal": np.greater_equal}.items():
    kernel(f"graph.{_name}")(_binary(_fn))


def trunc_divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integer division rounding toward zero (C, ONNX), exact for all of int64."""
    q = np.floor_divide(a, b)
    inexact = (np.remainder(a, b) != 0) & ((a < 0) != (b < 0))
    return q + inexact.astype(q.dtype)


@kernel("graph.div")
def _div(ins, attrs, rts):
    a, b = ins
    return [trunc_divide(a, b) if _is_int(a) else np.divide(a, b)]


@kernel("graph.mod")
def _mod(ins, attrs, rts):
    a, b = ins
    # fmod=False: the result takes the divisor's sign (Python %); fmod=True: the dividend's (C fmod).
    return [np.fmod(a, b) if attrs["fmod"] else np.mod(a, b)]


@kernel("graph.pow")
def _pow(ins, attrs, rts):
    base, exp = ins
    if _is_int(base) and _is_int(exp):
        return [_int_pow(base, exp)]
    if _is_int(base):
        return [np.power(_wide(base), exp)]       # e.g. int32 ** float32: truncated afterwards
    return [np.power(_f32_at_least(base), exp)]


def _int_pow(base: np.ndarray, exp: np.ndarray) -> np.ndarray:
    """Integer power; a negative exponent gives trunc(1 / base**-e) instead of numpy's error."""
    if exp.size == 0 or exp.min() >= 0:
        return np.power(base, exp)
    pos = np.power(base, np.maximum(exp, 0))
    odd = (exp % 2) != 0
    neg = np.where(base == 1, 1, np.where(base == -1, np.where(odd, -1, 1), 0))
    return np.where(exp < 0, neg, pos)


@kernel("graph.where")
def _where(ins, attrs, rts):
    return [np.where(ins[0], ins[1], ins[2])]


# -- element-wise unary ---------------------------------------------------------------
for _name, _fn in {"neg": np.negative, "abs": np.abs, "exp": np.exp, "log": np.log, "sqrt": np.sqrt,
                   "tanh": np.tanh, "sin": np.sin, "cos": np.cos, "sign": np.sign,
                   "not": np.logical_not, "bitwise_not": np.invert,
                   "isnan": np.isnan, "isinf": np.isinf}.items():
    kernel(f"graph.{_name}")(_unary(_fn))


for _name, _fn in {"floor": np.floor, "ceil": np.ceil, "round": np.round}.items():  # round: half to even
    kernel(f"graph.{_name}")(_unary(lambda x, _fn=_fn: x if _is_int(x) else _fn(x)))


@kernel("graph.identity")
def _identity(ins, attrs, rts):
    return [ins[0]]


@kernel("graph.reciprocal")
def _reciprocal(ins, attrs, rts):
    return [np.divide(1.0, _wide(ins[0])) if _is_int(ins[0]) else np.divide(1, ins[0])]


@kernel("graph.relu")
def _relu(ins, attrs, rts):
    return [np.maximum(ins[0], 0)]


@kernel("graph.leaky_relu")
def _leaky_relu(ins, attrs, rts):
    x = ins[0]
    return [np.where(x < 0, x * attrs["alpha"], x)]


@kernel("graph.sigmoid")
def _sigmoid(ins, attrs, rts):
    x = _f32_at_least(ins[0])
    e = np.exp(-np.abs(x))                     # never overflows
    return [np.where(x >= 0, 1 / (1 + e), e / (1 + e))]


@kernel("graph.softplus")
def _softplus(ins, attrs, rts):
    return [np.logaddexp(0, _f32_at_least(ins[0]))]   # log(1 + exp(x)) without overflow


@kernel("graph.erf")
def _erf(ins, attrs, rts):
    return [erf(ins[0])]


@kernel("graph.gelu")
def _gelu(ins, attrs, rts):
    x = _wide(ins[0])
    mode = attrs["approximate"]
    if mode == "none":
        return [0.5 * x * (1 + erf(x * math.sqrt(0.5)))]
    if mode == "tanh":
        return [0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))]
    raise UnsupportedError(f"gelu approximate={mode!r} (expected 'none' or 'tanh')", op="graph.gelu")


@kernel("graph.clip")
def _clip(ins, attrs, rts):
    x = ins[0]
    lo, hi = attrs["min"], attrs["max"]
    if _is_int(x):
        lo, hi = _int_bound(lo, x.dtype, math.ceil), _int_bound(hi, x.dtype, math.floor)
    # max(min(...)) order: when min > max every element becomes max, as ONNX specifies.
    if lo is not None:
        x = np.maximum(x, lo)
    if hi is not None:
        x = np.minimum(x, hi)
    return [x]


def _int_bound(v, dtype, to_int):
    """A clip bound for an integer tensor, within the dtype's range (None = unbounded)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    info = np.iinfo(dtype)
    if math.isinf(v):
        return info.min if v < 0 else info.max
    return min(max(to_int(v), info.min), info.max)


@kernel("graph.cast")
def _cast(ins, attrs, rts):
    # astype is ONNX Cast: float -> int truncates toward zero, anything -> bool is x != 0.
    # Out-of-range and NaN float -> int are undefined in ONNX; numpy's value is kept silently.
    return [ins[0].astype(rts[0].dtype.numpy)]


# -- erf ---------------------------------------------------------------------------------
# |x| < 2: the Maclaurin series 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)); 32 terms
# bring the truncation below 1e-17 at |x| = 2, and cancellation costs < 1 digit there.
# |x| >= 2: 1 - erfc(x), erfc from its continued fraction
#   erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
# evaluated bottom-up with 80 terms.  Max error against math.erf is ~1e-15 everywhere.
_ERF_SERIES = [(-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in reversed(range(32))]
_ERFC_TERMS = 80
_ERF_SPLIT = 2.0


def erf(x) -> np.ndarray:
    """Vectorised error function in float64 (callers cast to the result dtype)."""
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    out = np.empty_like(a)
    near = a < _ERF_SPLIT
    s = a[near]
    z = s * s
    p = np.full_like(z, _ERF_SERIES[0])
    for c in _ERF_SERIES[1:]:
        p = p * z + c
    out[near] = (2 / math.sqrt(math.pi)) * s * p
    far = ~near                                # includes inf and NaN
    t = a[far]
    f = t.copy()
    for k in range(_ERFC_TERMS, 0, -1):
        f = t + (k / 2) / f
    with np.errstate(all="ignore"):
        out[far] = 1 - np.exp(-t * t) / (math.sqrt(math.pi) * f)
    return np.copysign(out, x)


# -- constants ---------------------------------------------------------------------------
@kernel("graph.constant")
def _constant(ins, attrs, rts):
    return [constant_array(attrs["value"])]


# -- linear algebra ----------------------------------------------------------------------
@kernel("graph.matmul")
def _matmul(ins, attrs, rts):
    if attrs.get("precision") == "int8":       # quantize-int8 (lpfc/ir/int8.py): the kernels' exact integers
        from ..ir.int8 import int8_matmul
        return [int8_matmul(ins[0], ins[1])]
    return [np.matmul(_f32_at_least(ins[0]), _f32_at_least(ins[1]))]


@kernel("graph.gemm")
def _gemm(ins, attrs, rts):
    a, b = (_f32_at_least(t) for t in ins[:2])
    a = a.T if attrs["trans_a"] else a
    b = b.T if attrs["trans_b"] else b
    if attrs.get("precision") == "int8":       # alpha is folded into the weight before it is quantized
        from ..ir.int8 import int8_matmul
        w = b if attrs["alpha"] == 1.0 else (b.astype(np.float64) * attrs["alpha"]).astype(np.float32)
        y = int8_matmul(a, w)
    else:
        y = a @ b
        if attrs["alpha"] != 1.0:                  # skipped at 1 so int64 stays exact
            y = y * attrs["alpha"]
    if len(ins) == 3:
        c = _f32_at_least(ins[2])
        y = y + (c * attrs["beta"] if attrs["beta"] != 1.0 else c)
    return [y]


# -- normalisations ----------------------------------------------------------------------
@kernel("graph.softmax")
def _softmax(ins, attrs, rts):
    x = _wide(ins[0])
    axis = _axis(attrs["axis"], x.ndim)
    if x.size == 0:
        return [x]
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    y = e / np.sum(e, axis=axis, keepdims=True)
    if attrs["nan_to_zero"]:                   # the SDPA guard where(isnan(y), 0, y), folded in
        y = np.where(np.isnan(y), 0.0, y)
    return [y]


@kernel("graph.log_softmax")
def _log_softmax(ins, attrs, rts):
    x = _wide(ins[0])
    axis = _axis(attrs["axis"], x.ndim)
    if x.size == 0:
        return [x]
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return [shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))]


@kernel("graph.cumsum")
def _cumsum(ins, attrs, rts):
    x = ins[0]
    axis = _axis(attrs["axis"], x.ndim)
    if attrs["reverse"]:
        x = np.flip(x, axis)
    # Integers wrap in their own dtype; floats accumulate in float64 (the wrapper narrows).
    y = np.cumsum(x, axis=axis, dtype=x.dtype if _is_int(x) else np.float64)
    if attrs["exclusive"]:                     # shift by one along axis, 0 first
        shifted = np.zeros_like(y)
        dst, src = [slice(None)] * y.ndim, [slice(None)] * y.ndim
        dst[axis], src[axis] = slice(1, None), slice(None, -1)
        shifted[tuple(dst)] = y[tuple(src)]
        y = shifted
    return [np.flip(y, axis) if attrs["reverse"] else y]


@kernel("graph.layer_norm")
def _layer_norm(ins, attrs, rts):
    x = _wide(ins[0])
    axes = tuple(range(_axis(attrs["axis"], x.ndim), x.ndim))
    centered = x - np.mean(x, axis=axes, keepdims=True)
    var = np.mean(centered * centered, axis=axes, keepdims=True)
    y = centered / np.sqrt(var + attrs["epsilon"])
    if len(ins) > 1:
        y = y * _wide(ins[1])
    if len(ins) > 2:
        y = y + _wide(ins[2])
    return [y]


@kernel("graph.rms_norm")
def _rms_norm(ins, attrs, rts):
    x = _wide(ins[0])
    axes = tuple(range(_axis(attrs["axis"], x.ndim), x.ndim))
    y = x / np.sqrt(np.mean(x * x, axis=axes, keepdims=True) + attrs["epsilon"])
    if len(ins) > 1:
        y = y * _wide(ins[1])
    return [y]


# -- reductions ----------------------------------------------------------------------------
# ``axes`` lists the reduced axes.  An empty list reduces over no axes, so each output
# element is the reduction of a single element: the identity for sum/mean/max/min/prod,
# and x*x, |x|, x for sum_square, l2, log_sum_exp (ONNX's noop_with_empty_axes=1, as
# onnx.reference computes it).  Reducing an axis of length 0 gives the reduction's
# identity element: 0 for sums, 1 for prod, -inf (or the dtype's minimum) for max, etc.
def _reduce_axes(x: np.ndarray, attrs) -> tuple:
    return tuple(sorted({_axis(a, x.ndim) for a in attrs["axes"]}))


def _reduction(fn):
    def run(ins, attrs, rts):
        x = ins[0]
        return [fn(x, _reduce_axes(x, attrs), bool(attrs["keepdims"]))]
    return run


def _lowest(dtype):
    if dtype == np.bool_:
        return False
    return np.iinfo(dtype).min if dtype.kind in "iu" else -np.inf


def _highest(dtype):
    if dtype == np.bool_:
        return True
    return np.iinfo(dtype).max if dtype.kind in "iu" else np.inf


def _sum_dtype(x):
    return x.dtype if _is_int(x) or x.dtype == np.bool_ else np.float64


def _reduce_sum(x, axes, keep):
    return np.sum(x, axis=axes, keepdims=keep, dtype=_sum_dtype(x))


def _reduce_mean(x, axes, keep):
    # sum / count rather than np.mean, which warns on an empty axis (0/0 is NaN, quietly).
    count = math.prod(x.shape[a] for a in axes)
    return np.sum(_wide(x), axis=axes, keepdims=keep) / count    # ints: truncated by the final cast


def _reduce_max(x, axes, keep):
    return np.max(x, axis=axes, keepdims=keep, initial=_lowest(x.dtype))


def _reduce_min(x, axes, keep):
    return np.min(x, axis=axes, keepdims=keep, initial=_highest(x.dtype))


def _reduce_prod(x, axes, keep):
    return np.prod(x, axis=axes, keepdims=keep, dtype=_sum_dtype(x))


def _reduce_sum_square(x, axes, keep):
    w = x if _is_int(x) else _wide(x)
    return np.sum(w * w, axis=axes, keepdims=keep)


def _reduce_l2(x, axes, keep):
    w = _wide(x)
    return np.sqrt(np.sum(w * w, axis=axes, keepdims=keep))


def _reduce_log_sum_exp(x, axes, keep):
    w = _wide(x)
    # Shift by the largest finite element: +inf inputs then give +inf, all -inf gives -inf.
    m = np.max(np.where(np.isfinite(w), w, -np.inf), axis=axes, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, 0.0)
    y = np.log(np.sum(np.exp(w - m), axis=axes, keepdims=True)) + m
    return y if keep else np.squeeze(y, axis=axes)


for _name, _fn in {"reduce_sum": _reduce_sum, "reduce_mean": _reduce_mean, "reduce_max": _reduce_max,
                   "reduce_min": _reduce_min, "reduce_prod": _reduce_prod,
                   "reduce_sum_square": _reduce_sum_square, "reduce_l2": _reduce_l2,
                   "reduce_log_sum_exp": _reduce_log_sum_exp}.items():
    kernel(f"graph.{_name}")(_reduction(_fn))


def _arg_reduce(fn):
    def run(ins, attrs, rts):
        x = ins[0]
        axis = _axis(attrs["axis"], x.ndim)
        if attrs["select_last_index"]:
            idx = x.shape[axis] - 1 - fn(np.flip(x, axis=axis), axis=axis)
        else:
            idx = fn(x, axis=axis)
        return [np.expand_dims(idx, axis) if attrs["keepdims"] else idx]
    return run


kernel("graph.argmax")(_arg_reduce(np.argmax))
kernel("graph.argmin")(_arg_reduce(np.argmin))


# -- data movement ----------------------------------------------------------------------------
@kernel("graph.reshape")
def _reshape(ins, attrs, rts):
    return [np.reshape(ins[0], tuple(attrs["shape"]))]


@kernel("graph.transpose")
def _transpose(ins, attrs, rts):
    return [np.transpose(ins[0], tuple(attrs["perm"]))]


@kernel("graph.expand")
def _expand(ins, attrs, rts):
    return [np.array(np.broadcast_to(ins[0], rts[0].shape))]   # a copy: no zero-stride views


@kernel("graph.tile")
def _tile(ins, attrs, rts):
    return [np.tile(ins[0], tuple(attrs["repeats"]))]


@kernel("graph.concat")
def _concat(ins, attrs, rts):
    return [np.concatenate(ins, axis=_axis(attrs["axis"], ins[0].ndim))]


@kernel("graph.split")
def _split(ins, attrs, rts):
    x = ins[0]
    return np.split(x, np.cumsum(attrs["sizes"])[:-1], axis=_axis(attrs["axis"], x.ndim))


@kernel("graph.slice")
def _slice(ins, attrs, rts):
    x = ins[0]
    index = [slice(None)] * x.ndim
    # Python slices clamp starts/ends exactly as ONNX Slice does, for either step sign.
    for start, end, axis, step in zip(attrs["starts"], attrs["ends"], attrs["axes"], attrs["steps"]):
        index[_axis(axis, x.ndim)] = slice(int(start), int(end), int(step))
    return [x[tuple(index)]]


def _check_indices(op: str, idx: np.ndarray, n: int):
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx[(idx < -n) | (idx >= n)].flat[0]
        raise InputError(f"index {bad} is out of range for an axis of length {n}", op=op,
                         hint=f"indices must lie in [{-n}, {n - 1}]")


@kernel("graph.gather")
def _gather(ins, attrs, rts):
    data, idx = ins
    axis = _axis(attrs["axis"], data.ndim)
    _check_indices("graph.gather", idx, data.shape[axis])
    return [np.take(data, idx.astype(np.int64, copy=False), axis=axis)]


@kernel("graph.gather_elements")
def _gather_elements(ins, attrs, rts):
    data, idx = ins
    axis = _axis(attrs["axis"], data.ndim)
    n = data.shape[axis]
    _check_indices("graph.gather_elements", idx, n)
    idx = idx.astype(np.int64, copy=False)
    return [np.take_along_axis(data, np.where(idx < 0, idx + n, idx), axis=axis)]


@kernel("graph.gather_nd")
def _gather_nd(ins, attrs, rts):
    data, idx = ins
    b = attrs["batch_dims"]
    depth = idx.shape[-1]
    for j in range(depth):
        _check_indices("graph.gather_nd", idx[..., j], data.shape[b + j])
    # Flatten the batch dims to one (B) and the index dims to one (M), then index per batch.
    batch, count = math.prod(data.shape[:b]), math.prod(idx.shape[b:-1])
    flat_data = data.reshape((batch,) + data.shape[b:])
    flat_idx = idx.reshape(batch, count, depth).astype(np.int64, copy=False)
    rows = np.arange(batch).reshape(batch, 1)
    picked = flat_data[(rows,) + tuple(flat_idx[..., j] for j in range(depth))]
    picked = np.broadcast_to(picked, (batch, count) + data.shape[b + depth:])   # depth 0: whole rows
    return [picked.reshape(rts[0].shape)]


_SCATTER_UFUNCS = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}


def _scatter(op: str, out: np.ndarray, where: tuple, updates: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "none":
        out[where] = updates               # duplicate indices: the last update wins (as onnx.reference)
    elif reduction in _SCATTER_UFUNCS:
        _SCATTER_UFUNCS[reduction].at(out, where, updates)
    else:
        raise UnsupportedError(f"scatter reduction {reduction!r}", op=op)
    return out


@kernel("graph.scatter_elements")
def _scatter_elements(ins, attrs, rts):
    data, idx, upd = ins
    axis = _axis(attrs["axis"], data.ndim)
    n = data.shape[axis]
    _check_indices("graph.scatter_elements", idx, n)
    idx = idx.astype(np.int64, copy=False)
    where = list(np.indices(idx.shape, sparse=True))
    where[axis] = np.where(idx < 0, idx + n, idx)
    return [_scatter("graph.scatter_elements", data.copy(), tuple(where), upd, attrs["reduction"])]


@kernel("graph.scatter_nd")
def _scatter_nd(ins, attrs, rts):
    data, idx, upd = ins
    depth = idx.shape[-1]
    flat = idx.reshape(-1, depth).astype(np.int64, copy=False)
    cols = []
    for j in range(depth):
        _check_indices("graph.scatter_nd", flat[:, j], data.shape[j])
        cols.append(np.where(flat[:, j] < 0, flat[:, j] + data.shape[j], flat[:, j]))
    upd = upd.reshape((flat.shape[0],) + data.shape[depth:])
    return [_scatter("graph.scatter_nd", data.copy(), tuple(cols), upd, attrs["reduction"])]


@kernel("graph.trilu")
def _trilu(ins, attrs, rts):
    x = ins[0]
    limit = x.shape[-2] + x.shape[-1]
    k = min(max(attrs["k"], -limit), limit)    # ONNX allows any int64 k
    return [np.triu(x, k) if attrs["upper"] else np.tril(x, k)]


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "edge", "wrap": "wrap"}


@kernel("graph.pad")
def _pad(ins, attrs, rts):
    x = ins[0]
    mode = attrs["mode"]
    if mode not in _PAD_MODES:
        raise UnsupportedError(f"pad mode {mode!r} (expected one of {', '.join(_PAD_MODES)})",
                               op="graph.pad")
    r = x.ndim
    begins, ends = attrs["pads"][:r], attrs["pads"][r:]
    # Negative pads crop; do that first, then pad by the non-negative amounts.
    x = x[tuple(slice(max(-b, 0), d - max(-e, 0)) for b, e, d in zip(begins, ends, x.shape))]
    widths = [(max(b, 0), max(e, 0)) for b, e in zip(begins, ends)]
    if mode == "constant":
        return [np.pad(x, widths, mode="constant", constant_values=attrs["value"])]
    return [np.pad(x, widths, mode=_PAD_MODES[mode])]
