"""Reading constants out of the graph: the one accessor passes, lowerings and emitters share."""
from __future__ import annotations

from typing import Optional

import numpy as np

from .attributes import constant_array
from .core import Operation, Value

#: How many reshapes :func:`constant_root` looks through (a bound, so a cycle in broken IR cannot hang it).
_MAX_RESHAPES = 16


def constant_root(v: Value) -> Optional[Operation]:
    """The ``graph.constant`` op that ``v`` is, looking through ``graph.reshape`` chains; else None."""
    for _ in range(_MAX_RESHAPES + 1):
        op = getattr(v, "owner", None)
        if not isinstance(op, Operation):
            return None
        if op.name == "graph.constant":
            return op
        if op.name != "graph.reshape" or not op.operands:
            return None
        v = op.operands[0]
    return None


def constant_value(v: Value, *, through_reshapes: bool = False) -> Optional[np.ndarray]:
    """The array ``v`` holds when it is a constant, else None.

    By default only the result of a ``graph.constant`` counts (what folding may rewrite). With
    ``through_reshapes`` a reshape chain of a constant counts too, and the array comes in ``v``'s shape
    (what an emitter that bakes the values into code needs).
    """
    op = constant_root(v) if through_reshapes else getattr(v, "owner", None)
    if not isinstance(op, Operation) or op.name != "graph.constant":
        return None
    array = constant_array(op.attributes["value"])
    if through_reshapes and op.result is not v:
        return array.reshape(v.type.shape)
    return array
