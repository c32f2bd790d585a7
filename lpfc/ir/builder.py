"""Creating ops whose result types follow from their definition's type rule."""
from __future__ import annotations

from typing import Optional, Sequence

from ..errors import LpfcError, ShapeError, VerificationError
from .core import UNKNOWN_LOC, Location, Operation, Value
from .opdef import lookup, with_defaults


def create_op(op_name: str, operands: Sequence[Value], attrs: Optional[dict] = None,
              location: Location = UNKNOWN_LOC, result_names: Optional[Sequence[Optional[str]]] = None) -> Operation:
    """A detached op with inferred result types; ``None``-valued attributes are dropped."""
    attrs = {k: v for k, v in (attrs or {}).items() if v is not None}
    d = lookup(op_name)
    if d is None or d.infer is None:
        raise VerificationError("cannot infer result types: no type rule", op=op_name)
    try:
        types = d.infer([v.type for v in operands], with_defaults(op_name, attrs))
    except LpfcError as e:
        raise ShapeError(e.bare_message, op=op_name, node=location.name or None) from None
    return Operation(op_name, operands, types, attrs, location=location, result_names=result_names)
