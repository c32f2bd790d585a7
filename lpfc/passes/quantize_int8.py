"""quantize-int8: post-training int8 quantization of the GEMM weights (``--precision int8``; docs/int8.md).

Marks each ``graph.matmul`` / ``graph.gemm`` whose weight ``B`` is a constant f32 matrix (activations f32,
not constant; no ``trans_a``) with ``precision = "int8"``: the op then means the product of
:mod:`lpfc.ir.int8` — weights symmetric per output channel, activations quantized per row at run time
(7-bit asymmetric), exact int32 sums — which the interpreter computes and the C++ GEMM kernels run with
int8 micro-kernels.  The weight stays f32 in the IR (its int8 panels, scales and column sums are made when
the GEMM packs it), so every pass before this one sees the fp32 model; run it last (``lpfc.compile(...,
precision="int8")`` appends it to the pipeline), after ``lp-fusion`` has merged and rescaled the weights.
Matmuls inside ``graph.fused`` blocks are marked where the block's operand for ``B`` is such a constant.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..ir.constants import constant_root
from ..ir.core import BlockArgument, Module, Operation, Value
from ..ir.types import DType
from .manager import Pass, option

_GEMMS = ("graph.matmul", "graph.gemm")


def _outer(v: Value) -> Optional[Value]:
    """``v`` seen from outside the graph.fused blocks it is an argument of (None when no op owns the block)."""
    for _ in range(64):
        if not isinstance(v, BlockArgument):
            return v
        region = v.block.parent
        op = region.parent if region is not None else None
        if op is None or op.name != "graph.fused" or v.index >= len(op.operands):
            return None
        v = op.operands[v.index]
    return None


def _constant(v: Value) -> bool:
    o = _outer(v)
    return o is not None and constant_root(o) is not None


def quantizable(op: Operation, min_elements: int = 0) -> bool:
    """Whether the int8 scheme applies to ``op``: a matmul/gemm of f32 activations by a constant f32 matrix."""
    if op.name not in _GEMMS or len(op.operands) < 2:
        return False
    a, b = op.operands[0], op.operands[1]
    if op.name == "graph.gemm" and op.attributes.get("trans_a", False):
        return False
    if a.type.dtype != DType.f32 or b.type.dtype != DType.f32 or op.results[0].type.dtype != DType.f32:
        return False
    if b.type.rank != 2 or a.type.rank < 1 or b.type.num_elements < max(1, min_elements):
        return False
    return _constant(b) and not _constant(a)


@dataclass
class QuantizeInt8(Pass):
    name = "quantize-int8"
    summary = "int8 GEMMs: constant weights per output channel, activations per row at run time"
    min_elements: int = option(0, "weights with fewer elements stay fp32")

    def run(self, module: Module) -> None:
        for fn in module.functions:
            for op in fn.walk():
                if quantizable(op, self.min_elements):
                    op.attributes["precision"] = "int8"


__all__ = ["QuantizeInt8", "quantizable"]
