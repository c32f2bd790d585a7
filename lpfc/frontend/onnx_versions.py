"""Which version of each ONNX op a model uses, and which versions lpfc knows.

An ONNX model names one opset; each op's meaning is that of its newest schema
version at or below it (``since_version``).  The converters branch on that
version where an op's semantics changed (Softmax before 13 coerces its input to
2-D, Clip/Pad/Slice/Split took attributes that later became inputs, ...).  Every
schema version up to ``REVIEWED_OPSET`` of every op lpfc imports was checked
against its predecessor (attributes, inputs, documented semantics); versions
that only add element types are accepted as they are.  A newer installed onnx
can define a version lpfc has never seen: that node is refused by name, never
converted with a meaning it may not have.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Optional

import onnx

# The newest opset whose op versions lpfc's converters were checked against (onnx 1.23).
REVIEWED_OPSET = 28


@lru_cache(maxsize=None)
def op_version(op_type: str, opset: int) -> Optional[int]:
    """The since_version of ``op_type``'s schema in effect at ``opset``; None if the op is not defined there."""
    try:
        return int(onnx.defs.get_schema(op_type, opset, "").since_version)
    except Exception:       # onnx raises SchemaError (not exported under one name across versions)
        return None
