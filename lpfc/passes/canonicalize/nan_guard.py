"""canonicalize: the SDPA exporters' NaN guard after softmax, and the bound analysis that may drop it.

``torch.nn.functional.scaled_dot_product_attention`` exports as
``s = softmax(x); where(isnan(s), 0, s)``: a row of x that is all -inf (a fully
masked query) gives a NaN row, which the guard turns into zeros.  The guard is
dead when no row of x can be all -inf or hold NaN/+inf, i.e. when x is finite.
:class:`FiniteBounds` proves that by bounding |v| for every value of a function
in float arithmetic (overflow to inf included); when x's bound is finite the
guard goes.  Otherwise it is live - TorchScript's -inf mask makes an all-masked
row give NaN - and becomes one op, ``softmax {nan_to_zero = true}``, which
computes exactly what the guard did.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ...ir.constants import constant_value
from ...ir.core import Function, Operation, Value
from ...ir.types import DType
from .common import is_splat, producer, replace
from ..rewrite import Rewriter


def match_nan_guard(op: Operation) -> Optional[Operation]:
    """The softmax of ``where(isnan(s), 0, s)`` with s = softmax(x) (no broadcast), else None."""
    if op.name != "graph.where":
        return None
    cond, zero, s = op.operands
    isnan = producer(cond, "graph.isnan")
    sm = producer(s, "graph.softmax")
    if isnan is None or sm is None or isnan.operands[0] is not s or not is_splat(zero, 0):
        return None
    if op.result.type != s.type:
        return None
    return sm


def rewrite_nan_guards(fn: Function, rewriter: Rewriter) -> int:
    """Drop provably dead guards, fold the others into their softmax; returns how many changed."""
    bounds = None
    n = 0
    for op in list(fn.body.ops):
        if op.parent is None:
            continue
        sm = match_nan_guard(op)
        if sm is None:
            continue
        if bounds is None:
            bounds = FiniteBounds(fn)
        if bounds.of(sm.operands[0]) is not None:
            rewriter.replace_op(op, [sm.result])                     # dead: x is finite
        else:
            attrs = dict(sm.attributes, nan_to_zero=True)
            new = rewriter.create(op, "graph.softmax", [sm.operands[0]], attrs, location=sm.location)
            replace(rewriter, op, new.result)
        n += 1
    return n


# -- bounds -----------------------------------------------------------------------------------------------
_F32_MAX = float(np.finfo(np.float32).max)
# (largest finite value, the magnitude from which a result rounds to inf, unit roundoff)
_FLOAT = {
    DType.f16: (65504.0, 65520.0, 2.0 ** -11),
    DType.f32: (_F32_MAX, 2.0 ** 128 - 2.0 ** 103, 2.0 ** -24),
    DType.f64: (float(np.finfo(np.float64).max), float(np.finfo(np.float64).max), 2.0 ** -53),
}
_SLACK = 1 + 2.0 ** -40     # the bound arithmetic itself runs in float64
_MOVEMENT = {"graph.reshape", "graph.transpose", "graph.expand", "graph.slice", "graph.split", "graph.concat",
             "graph.gather", "graph.gather_nd", "graph.gather_elements", "graph.tile", "graph.identity",
             "graph.trilu", "graph.neg", "graph.abs", "graph.relu", "graph.max", "graph.min", "graph.where",
             "graph.pad"}
_UNIT = {"graph.tanh", "graph.erf", "graph.sigmoid", "graph.softmax"}
_BOOL = {"graph.isnan", "graph.isinf", "graph.equal", "graph.less", "graph.less_equal", "graph.greater",
         "graph.greater_equal", "graph.and", "graph.or", "graph.xor", "graph.not"}


def _max_abs_sum(w: np.ndarray, axis: int) -> float:
    """max over the other axes of sum |w| along ``axis`` (float64 accumulation)."""
    return float(np.max(np.sum(np.abs(w), axis=axis, dtype=np.float64)))


class FiniteBounds:
    """For every value v of ``fn``: ``of(v)`` is B with |v| <= B and no NaN in any run, or None.

    Integers and booleans are bounded by their type (or their constant); float arguments are unknown.
    Float results are checked against overflow in their own dtype: a result whose exact value could
    reach the rounding threshold to inf gets None.  The bounds are loose (matmul: the input bound times
    the largest column of |W|), which is enough to see that an attention score plus the dynamo
    exporter's finfo.min mask cannot reach -inf.
    """

    def __init__(self, fn: Function):
        self.bounds: dict = {}
        for a in fn.args:
            self.bounds[a] = self._type_bound(a)
        for op in fn.body.ops:
            for r, b in zip(op.results, self._op(op)):
                self.bounds[r] = b

    def of(self, v: Value) -> Optional[float]:
        return self.bounds.get(v)

    @staticmethod
    def _type_bound(v: Value) -> Optional[float]:
        dt = v.type.dtype
        if dt == DType.bool:
            return 1.0
        if dt.is_int:
            info = np.iinfo(dt.numpy)
            return float(max(abs(int(info.min)), int(info.max)))
        return None

    def _finish(self, v: Value, exact: Optional[float], rel: float = 0.0) -> Optional[float]:
        """The bound of v's computed value, given a bound on the exact result (rel: extra relative error)."""
        if exact is None or not math.isfinite(exact):
            return None
        dt = v.type.dtype
        if dt not in _FLOAT:
            return self._type_bound(v)
        top, overflow, unit = _FLOAT[dt]
        b = exact * (1 + rel) * _SLACK
        if b >= overflow:
            return None
        return min(b * (1 + 2 * unit), top)

    def _op(self, op: Operation) -> list:
        n = len(op.results)
        try:
            return self._op_bounds(op) if op.results else []
        except (KeyError, TypeError, ValueError, IndexError, OverflowError):
            return [None] * n

    def _op_bounds(self, op: Operation) -> list:
        name = op.name
        n = len(op.results)
        ins = [self.bounds.get(v) for v in op.operands]
        out = op.results[0]
        if name in _BOOL:
            return [1.0] * n
        if name == "graph.constant":
            a = op.attributes["value"].array
            if a.dtype.kind == "b":
                return [1.0]
            if a.size == 0:
                return [0.0]
            m = max(abs(float(np.max(a))), abs(float(np.min(a))))     # NaN anywhere makes max NaN
            return [m if math.isfinite(m) else None]
        if op.regions:
            return [None] * n
        if name == "graph.gather" or name == "graph.gather_nd" or name == "graph.gather_elements":
            return [ins[0]]
        if name in ("graph.where",):
            ins = ins[1:]
        if name == "graph.pad":
            ins = ins + [abs(float(op.attributes.get("value", 0)))]
        if name == "graph.clip":       # clip can lift values to its bounds
            ins = ins + [abs(float(op.attributes[k])) for k in ("min", "max") if op.attributes.get(k) is not None]
            name = "graph.max"
        if name in _MOVEMENT:
            return [None if any(b is None for b in ins) else max(ins, default=0.0)] * n
        if any(b is None for b in ins):
            return [None] * n
        if name == "graph.cast":
            return [self._finish(out, ins[0])]
        if name in _UNIT:
            return [1.0]
        if name == "graph.gelu":
            return [self._finish(out, ins[0])]
        if name in ("graph.add", "graph.sub"):
            return [self._finish(out, ins[0] + ins[1])]
        if name == "graph.mul":
            return [self._finish(out, ins[0] * ins[1])]
        if name == "graph.div":
            c = constant_value(op.operands[1])
            if c is None or c.size == 0 or not out.type.dtype.is_float:
                return [None]
            low = float(np.min(np.abs(c.astype(np.float64))))
            return [self._finish(out, ins[0] / low) if low > 0 else None]
        if name == "graph.exp":
            return [self._finish(out, math.exp(ins[0])) if ins[0] < 700 else None]
        if name == "graph.pow":
            c = constant_value(op.operands[1])
            if c is None or c.size != 1 or float(c.flat[0]) not in (1.0, 2.0, 3.0, 4.0):
                return [None]
            return [self._finish(out, ins[0] ** int(c.flat[0]))]
        if name in ("graph.reduce_mean", "graph.reduce_sum", "graph.reduce_max", "graph.reduce_min"):
            x = op.operands[0].type
            count = math.prod(x.shape[a % x.rank] for a in op.attributes["axes"]) if x.rank else 1
            if count == 0 and name != "graph.reduce_sum":    # empty reductions: NaN or -inf/+inf
                return [None]
            scale = count if name == "graph.reduce_sum" else 1
            return [self._finish(out, ins[0] * scale, rel=count * 2.0 ** -23)]
        if name == "graph.matmul":
            return [self._matmul(op, ins)]
        if name == "graph.gemm":
            return [self._gemm(op, ins)]
        if name == "graph.layer_norm":
            return [self._layer_norm(op, ins)]
        return [None] * n

    def _matmul(self, op: Operation, ins: list) -> Optional[float]:
        a, b = op.operands
        k = a.type.shape[-1]
        wb, wa = constant_value(b), constant_value(a)
        if wb is not None and b.type.rank >= 2:
            exact = ins[0] * _max_abs_sum(wb, -2)
        elif wa is not None and a.type.rank >= 2:
            exact = ins[1] * _max_abs_sum(wa, -1)
        else:
            exact = ins[0] * ins[1] * k
        return self._finish(op.results[0], exact, rel=k * 2.0 ** -22)

    def _gemm(self, op: Operation, ins: list) -> Optional[float]:
        a, b = op.operands[:2]
        attrs = op.attributes
        k = a.type.shape[0] if attrs.get("trans_a") else a.type.shape[1]
        wb = constant_value(b)
        if wb is not None:
            col_axis = 1 if attrs.get("trans_b") else 0
            exact = ins[0] * _max_abs_sum(wb, col_axis)
        else:
            exact = ins[0] * ins[1] * k
        exact *= abs(float(attrs.get("alpha", 1.0)))
        if len(ins) == 3:
            exact += abs(float(attrs.get("beta", 1.0))) * ins[2]
        return self._finish(op.results[0], exact, rel=k * 2.0 ** -22)

    def _layer_norm(self, op: Operation, ins: list) -> Optional[float]:
        x = op.operands[0].type
        if ins[0] > 1e18:          # (x - mean)^2 must not overflow in f32
            return None
        axis = op.attributes.get("axis", -1) % x.rank
        count = math.prod(x.shape[axis:])
        gamma = ins[1] if len(ins) > 1 else 1.0
        beta = ins[2] if len(ins) > 2 else 0.0
        # |x_i - mean| <= sqrt(sum_j (x_j - mean)^2) = sqrt(count * var), so the normalised value is
        # at most sqrt(count) in magnitude.
        return self._finish(op.results[0], math.sqrt(count) * gamma + beta, rel=1e-3)
