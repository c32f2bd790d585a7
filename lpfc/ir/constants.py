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


#: Quantized weights (issue #17): folding an op that reads a 1-byte integer constant of more than this many
#: elements into a wider result (a dequantizing cast, its mul by the scale) is refused, so the library keeps
#: the int8 weight and dequantizes it at run time. The importer's folding and fold-constants both ask
#: :func:`grows_quantized_weight`.
QUANT_KEEP_ELEMENTS = 1024


def grows_quantized_weight(arrays, result_types) -> bool:
    """Whether folding an op over ``arrays`` into results of ``result_types`` would widen a large int8/uint8
    constant among them."""
    small = [a for a in arrays if a.dtype.itemsize == 1 and a.dtype.kind in "iu" and a.size > QUANT_KEEP_ELEMENTS]
    out_bytes = sum(t.num_elements * t.dtype.numpy.itemsize for t in result_types)
    return bool(small) and out_bytes > sum(a.nbytes for a in small)
