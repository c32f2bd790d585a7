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
in the order of the table in :mod:`lpfc.codegen.emitters` (specialised ones, e.g.
GEMM micro-kernels, before the generic polyhedral one, which accepts every op);
the first whose ``accepts`` says yes emits the kernel.  Kernels whose code is identical (BERT's 12 layers)
are emitted once by the model generator, which deduplicates on ``code``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Protocol

import numpy as np

from ..ir.core import Operation
from .plans import Decline
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
    """An emitter for the kernel ops its analysis recognises by structure (op kinds, shapes, which operands
    are constant); it declines everything else, so the next emitter (in the end the generic one) takes it.

    Subclasses set ``name``, ``what`` (for messages), ``analyse(op)`` (a plan of :mod:`lpfc.codegen.plans`
    or a :class:`~lpfc.codegen.plans.Decline`; computed once per op) and ``render_plan(plan, target,
    symbol, choice)``; ``supported(plan)`` may decline plans the renderer cannot print.  ``opencl``:
    the emitter is for the opencl target only (else for every other target).
    """

    name = ""
    what = "a block"
    opencl = False

    @staticmethod
    def analyse(op: Operation):
        raise NotImplementedError

    @staticmethod
    def render_plan(plan, target: Target, symbol: str, choice: Optional[dict]) -> "KernelSource":
        raise NotImplementedError

    def supported(self, plan) -> bool:
        return True

    def plan(self, op: Operation, symbol: str = ""):
        """The op's plan; a ValueError if this emitter does not take the op."""
        plan = self.analyse(op)
        if isinstance(plan, Decline) or not self.supported(plan):
            why = plan.reason if isinstance(plan, Decline) else "not supported by this renderer"
            raise ValueError(f"{symbol or op.name}: not {self.what} the {self.name} emitter accepts ({why})")
        return plan

    def accepts(self, op: Operation, target: Target) -> bool:
        if target.opencl != self.opencl:
            return False
        plan = self.analyse(op)
        return not isinstance(plan, Decline) and self.supported(plan)

    def variants(self, op: Operation, target: Target) -> list:
        return [{}]

    def emit(self, op: Operation, target: Target, symbol: str, choice: Optional[dict] = None) -> "KernelSource":
        return self.render_plan(self.plan(op, symbol), target, symbol, choice)


_EXTRA: list = []      # (priority, emitter) added by callers; the built-in table is lpfc/codegen/emitters.py

#: an extra emitter of at least this priority is tried after the built-in table (behind the generic emitter)
FALLBACK_PRIORITY = 1000


def register_emitter(emitter, priority: int = 0) -> None:
    """Adds an emitter of the caller's own (a test, an experiment): tried before the built-in table
    (:data:`lpfc.codegen.emitters.EMITTERS`), or after it from ``priority`` :data:`FALLBACK_PRIORITY` on
    (a stand-in for ops no real emitter takes); among such emitters, lower ``priority`` first."""
    _EXTRA.append((priority, emitter))
    _EXTRA.sort(key=lambda pe: pe[0])


def extra_emitters(fallback: bool = False) -> tuple:
    """The callers' emitters tried before the table (or, with ``fallback``, after it)."""
    return tuple(e for p, e in _EXTRA if (p >= FALLBACK_PRIORITY) == fallback)


def emitter_for(op: Operation, target: Target):
    """:func:`lpfc.codegen.emitters.emitter_for` (the table imports every emitter module, each of which imports
    this one: hence the import here)."""
    from .emitters import emitter_for as _emitter_for

    return _emitter_for(op, target)


PackFn = Callable[[np.ndarray], np.ndarray]
