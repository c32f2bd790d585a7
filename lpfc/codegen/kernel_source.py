"""The contract between kernel emitters and the model code generator.

Every kernel of a compiled model is one C++ function with one signature::

    static void SYMBOL(const void *const *in, void *const *out, int num_threads);

``in[i]`` points to the data of the kernel op's operand ``i`` and ``out[j]`` to
result ``j``: dense, row-major, with the operand's static shape and dtype
(``in`` may point into the arena, at a weight, or at a caller's input; ``out``
into the arena or at a caller's output).  A kernel op is a ``graph.fused``
block or, for ops left outside blocks (or ``--no-fusion``), a single graph op.
Reshapes are views and constants are weights: neither gets a kernel.

An emitter turns a kernel op into a :class:`KernelSource`.  Emitters are tried
in priority order (specialised ones, e.g. GEMM micro-kernels, before the
generic polyhedral one, which accepts every op); the first whose ``accepts``
says yes emits the kernel.  Kernels whose code is identical (BERT's 12 layers)
are emitted once by the model generator, which deduplicates on ``code``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Protocol

import numpy as np

from ..ir.core import Operation
from .targets import Target

KERNEL_SIGNATURE = "static void {symbol}(const void *const *in, void *const *out, int num_threads)"

#: the signature of a kernel that loads indices from a tensor (gathers, scatters): it reports an index out of
#: range through ``fault`` (``lpfc_check_index`` / ``lpfc_index_fault`` of lpfc_model_desc.h; NULL: nowhere);
#: the model code then returns LPFC_ERR_EXECUTION naming the op and the index.  KernelSource.index_checks says so.
KERNEL_SIGNATURE_CHECKED = ("static void {symbol}(const void *const *in, void *const *out, int num_threads, "
                            "int64_t *fault = nullptr)")

#: what a kernel that runs on ``num_threads`` threads includes: ``lpfc_parallel::parallel_for``, the
#: runtime's header-only thread pool (lpfc/c_runtime/include/lpfc_parallel.hpp; the build puts it on the include path)
PARALLEL_HEADER = '"lpfc_parallel.hpp"'

#: what a kernel with index checks includes: lpfc_check_index / lpfc_index_fault (the runtime's include directory)
MODEL_DESC_HEADER = '"lpfc_model_desc.h"'


@dataclass
class KernelSource:
    symbol: str                                   # the C++ function name (generated; never a model string)
    code: str                                     # defines the function with KERNEL_SIGNATURE
    headers: tuple = ()                           # e.g. ("<math.h>", "<immintrin.h>")
    helpers: tuple = ()                           # shared C++ snippets it needs, each emitted once per model
    #: operand index -> compile-time layout transform of a constant operand (e.g. GEMM weight packing);
    #: the kernel then receives the transformed array in ``in[index]``
    packed: dict = field(default_factory=dict)
    variant: str = ""                             # which schedule variant / tiling was chosen (reports, tuning)
    emitter: str = ""                             # the emitter's name (set by lpfc.compile; profiles)
    #: the opencl target's device kernels: ``code`` (and ``helpers``) are then OpenCL C defining
    #: ``__kernel void SYMBOL<suffix>(...)`` functions, run by these launches in order (lpfc/codegen/ocl_common.py)
    launches: tuple = ()
    #: the kernel checks indices it loads and takes the fault slot (KERNEL_SIGNATURE_CHECKED; for device
    #: kernels, one more launch argument ``("fault", 0)``, an int flag and a long index in the device buffer)
    index_checks: bool = False

    @property
    def is_device(self) -> bool:
        return bool(self.launches)


def headers_and_helpers(sources) -> tuple[list, list]:
    """The headers and the shared helper snippets a set of KernelSources needs, each once, in first-use order."""
    headers: dict = {}
    helpers: dict = {}
    for src in sources:
        headers.update(dict.fromkeys(src.headers))
        helpers.update(dict.fromkeys(src.helpers))
    return list(headers), list(helpers)


class KernelEmitter(Protocol):
    name: str

    def accepts(self, op: Operation, target: Target) -> bool: ...

    def variants(self, op: Operation, target: Target) -> list[dict]:
        """Tunable choices (variant name, tile sizes, ...); the first is the default heuristic's."""
        ...

    def emit(self, op: Operation, target: Target, symbol: str, choice: Optional[dict] = None) -> KernelSource: ...


class StructuralEmitter:
    """An emitter for the kernel ops its ``analyse`` recognises by structure (op kinds, shapes,
    which operands are constant); it declines everything else, so the generic emitter takes it.

    Subclasses set ``name`` and the module-level functions ``analyse(op)`` (a description of the
    op, or None) and ``emit_fn(op, target, symbol, choice)``.
    """

    name = ""

    @staticmethod
    def analyse(op: Operation):
        raise NotImplementedError

    @staticmethod
    def emit_fn(op: Operation, target: Target, symbol: str, choice: Optional[dict]) -> "KernelSource":
        raise NotImplementedError

    def accepts(self, op: Operation, target: Target) -> bool:
        if target.opencl:
            return False
        try:
            return self.analyse(op) is not None
        except Exception:  # an unexpected shape of block: decline it, the generic emitter is exact
            return False

    def variants(self, op: Operation, target: Target) -> list:
        return [{}]

    def emit(self, op: Operation, target: Target, symbol: str, choice: Optional[dict] = None) -> "KernelSource":
        return self.emit_fn(op, target, symbol, choice)


_EMITTERS: list = []


def register_emitter(emitter, priority: int) -> None:
    """Lower ``priority`` is tried first; the generic emitter registers last (priority 1000)."""
    _EMITTERS.append((priority, emitter))
    _EMITTERS.sort(key=lambda pe: pe[0])


def emitter_for(op: Operation, target: Target):
    from . import emitters  # noqa: F401  (registers every emitter)

    for _, e in _EMITTERS:
        if e.accepts(op, target):
            return e
    raise LookupError(f"no kernel emitter accepts {op.name}")


PackFn = Callable[[np.ndarray], np.ndarray]
