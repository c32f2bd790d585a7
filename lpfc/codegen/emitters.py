"""The kernel emitters, in one ordered table: :data:`EMITTERS` is tried in order and the first whose
``accepts`` says yes emits the kernel (the contract: :mod:`.kernel_source`).

The OpenCL emitters come first (they accept the opencl target only; what they decline runs on the host
through the emitters after them), then the structural C++ emitters (GEMM, attention, row-wise: every
target but opencl), and the generic polyhedral emitter last: it accepts every op it can lower.  Nothing
registers itself on import; a caller adds an emitter of its own with
:func:`lpfc.codegen.kernel_source.register_emitter` (tried before this table, or after it as a fallback:
tests, experiments).
"""
from __future__ import annotations

from ..ir.core import Operation
from .cpp_attention import ATTENTION_EMITTER
from .cpp_gemm import GEMM_EMITTER
from .cpp_rowwise import ROWWISE_EMITTER
from .generic import GENERIC
from .kernel_source import extra_emitters
from .ocl_attention import OCL_ATTENTION_EMITTER
from .ocl_elementwise import OCL_ELEMENTWISE_EMITTER
from .ocl_gemm import OCL_GEMM_EMITTER
from .ocl_rowwise import OCL_ROWWISE_EMITTER
from .targets import Target

EMITTERS = (
    OCL_GEMM_EMITTER,           # gemm / gemm_layer_norm blocks (plans.gemm) whose epilogue has an OpenCL form
    OCL_ATTENTION_EMITTER,      # attention blocks (plans.attention) whose rows fit the local memory
    OCL_ROWWISE_EMITTER,        # layer_norm / softmax / embedding blocks (plans.rowwise), no RMSNorm yet
    OCL_ELEMENTWISE_EMITTER,    # element-wise blocks of f32/i64/i32/i1 (the attention masks)
    GEMM_EMITTER,               # gemm / gemm_layer_norm blocks with a constant weight
    ATTENTION_EMITTER,          # attention blocks
    ROWWISE_EMITTER,            # layer_norm / softmax / embedding blocks
    GENERIC,                    # everything it can lower (the polyhedral path): last
)


def emitter_for(op: Operation, target: Target):
    """The first emitter that accepts ``op`` for ``target``: callers' extra emitters, :data:`EMITTERS`, then
    callers' fallbacks."""
    for e in (*extra_emitters(), *EMITTERS, *extra_emitters(fallback=True)):
        if e.accepts(op, target):
            return e
    raise LookupError(f"no kernel emitter accepts {op.name}")


__all__ = ["EMITTERS", "emitter_for"]
