"""Small matching helpers shared by the canonicalize patterns."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ...ir.constants import constant_value
from ...ir.core import Operation, Value
from ..rewrite import Rewriter

#: relative tolerance for matching a pattern's numeric constants (sqrt(2), 0.044715, ...)
CONST_RTOL = 1e-5


def producer(v: Value, name: Optional[str] = None) -> Optional[Operation]:
    """The op defining ``v`` (None for block arguments, or when it is not a ``name`` op)."""
    op = v.owner
    if not isinstance(op, Operation):
        return None
    if name is not None and op.name != name:
        return None
    return op


def splat_value(v: Value):
    """The element of a non-empty constant whose elements are all equal, else None."""
    a = constant_value(v)
    if a is None or a.size == 0:
        return None
    first = a.flat[0]
    if a.dtype.kind == "f" and math.isnan(first):
        return None
    if a.size > 1 and not np.all(a == first):
        return None
    return first.item()


def scalar_constant(v: Value) -> Optional[float]:
    """A splat floating-point constant with at most one element per broadcast: its value."""
    a = constant_value(v)
    if a is None or a.size != 1 or a.dtype.kind != "f":
        return None
    x = float(a.flat[0])
    return x if math.isfinite(x) else None


def is_splat(v: Value, value) -> bool:
    s = splat_value(v)
    return s is not None and s == value


def close(x: Optional[float], want: float, rtol: float = CONST_RTOL) -> bool:
    return x is not None and math.isclose(x, want, rel_tol=rtol, abs_tol=0.0)


def other_operand(op: Operation, v: Value) -> Value:
    a, b = op.operands
    return b if a is v else a


def binary_with_constant(op: Operation):
    """``(x, constant_value)`` for a binary op with exactly one scalar float constant operand."""
    a, b = op.operands
    ca, cb = scalar_constant(a), scalar_constant(b)
    if cb is not None and ca is None:
        return a, cb
    if ca is not None and cb is None:
        return b, ca
    return None


def unit_free(shape) -> tuple:
    return tuple(d for d in shape if d != 1)


def is_unit_reshape(src_shape, dst_shape) -> bool:
    """A reshape that only inserts or removes dimensions of size 1."""
    return unit_free(src_shape) == unit_free(dst_shape)


def replace(rewriter, op: Operation, value: Value) -> None:
    """Replace ``op``'s single result by ``value``; a value the pattern just made takes the op's name."""
    if value.name_hint is None:
        value.name_hint = op.result.name_hint
    rewriter.replace_op(op, [value])


def to_shape(rewriter: Rewriter, anchor: Operation, v, shape):
    """``v`` brought to ``shape``: itself, a reshape (same size) or an expand (broadcast)."""
    shape = tuple(shape)
    if v.type.shape == shape:
        return v
    if v.type.num_elements == int(np.prod(shape, dtype=np.int64)):   # a broadcast that only adds unit dims
        return rewriter.create(anchor, "graph.reshape", [v], {"shape": list(shape)}).result
    return rewriter.create(anchor, "graph.expand", [v], {"shape": list(shape)}).result
