"""fold-constants: evaluate ops whose operands are all constants.

Folding runs the op through the reference interpreter.  An op is folded when
its result is no larger than its operands together (a transposed weight, a
scaled bias) or small (at most ``max-elements``): folding an Expand of a mask
to [1, 12, 128, 128] would trade one cheap op for megabytes of constant.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..interp import evaluate_op
from ..ir.attributes import DenseElements, DenseResource
from ..ir.constants import constant_value, grows_quantized_weight
from ..ir.core import Module, Operation
from .manager import Pass, option
from .rewrite import RewritePattern, Rewriter, apply_patterns

INLINE_LIMIT = 16


def make_constant(rewriter: Rewriter, before: Operation, array: np.ndarray, hint: str = "cst") -> Operation:
    array = np.require(array, requirements="C")
    if array.size > INLINE_LIMIT and not (array.size and np.all(array == array.flat[0])):
        attr = DenseResource(hint, array)
    else:
        attr = DenseElements(array)
    return rewriter.create(before, "graph.constant", [], {"value": attr}, result_names=[hint])


class FoldConstantOp(RewritePattern):
    def __init__(self, max_elements: int):
        self.max_elements = max_elements

    def match_and_rewrite(self, op: Operation, rewriter: Rewriter) -> bool:
        if op.name == "graph.constant" or op.regions or not op.results or not op.operands:
            return False
        if not op.name.startswith("graph."):
            return False
        arrays = [constant_value(v) for v in op.operands]
        if any(a is None for a in arrays):
            return False
        out_elems = sum(r.type.num_elements for r in op.results)
        if out_elems > max(self.max_elements, sum(a.size for a in arrays)):
            return False
        if grows_quantized_weight(arrays, op.result_types):   # keeps int8 weights int8 (issue #17)
            return False
        outs = evaluate_op(op, arrays)
        hint = (op.results[0].name_hint or "cst") if op.results else "cst"
        new = [make_constant(rewriter, op, a, hint).result for a in outs]
        rewriter.replace_op(op, new)
        return True


@dataclass
class FoldConstants(Pass):
    name = "fold-constants"
    summary = "evaluate ops whose operands are constants"
    max_elements: int = option(1 << 16, "fold results of any size up to this many elements")

    def run(self, module: Module) -> None:
        apply_patterns(module, [FoldConstantOp(self.max_elements)])
