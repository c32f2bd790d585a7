"""Kernel plans: what a structural emitter found in a kernel op, as typed data, apart from the code it prints.

An *analysis* (``plans.gemm.analyse``, ``plans.attention.analyse``, ``plans.rowwise.analyse``) reads a
kernel op (a ``graph.fused`` block or a bare graph op) and returns either a plan (a dataclass: shapes,
operand indices, the epilogue's steps) or a :class:`Decline` that says why the op is not one of its
kernels.  The renderers (``cpp_*.py`` for C++/NEON, ``ocl_*.py`` for OpenCL C) read plans and never the
IR's structure again, so the C++ and OpenCL emitters of one kind of kernel share one analysis.

* :func:`plan_of` computes a kernel op's plan once (``accepts``, ``variants`` and ``emit`` all ask for it)
  and keeps it for the op; renderers must treat a plan as read-only (it is shared between variants).
* A decline is explicit: the analysis calls :func:`decline` with a reason.  Anything else it raises is a
  bug in the analysis; with ``LPFC_STRICT_ANALYSIS=1`` (the test suite sets it, ``tests/conftest.py``) it
  is raised as :class:`AnalysisError`, otherwise the op is declined with the error as reason, as before
  (the generic emitter is exact, so a user's compile still succeeds).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, NoReturn

from ...ir.core import Operation

#: set to 1 to make an analysis's unexpected exception an AnalysisError instead of a decline
STRICT_ENV = "LPFC_STRICT_ANALYSIS"


@dataclass(frozen=True)
class Decline:
    """Not a kernel of this analysis, and why (e.g. ``"the weight is not a constant"``)."""
    reason: str


class NotThisKernel(Exception):
    """Raised inside an analysis by :func:`decline`; :func:`run_analysis` turns it into a :class:`Decline`."""


class AnalysisError(Exception):
    """An analysis failed on something it did not expect (a bug in the analysis, not in the model)."""


def decline(reason: str) -> NoReturn:
    raise NotThisKernel(reason)


def strict() -> bool:
    return os.environ.get(STRICT_ENV, "") not in ("", "0")


def run_analysis(analysis: Callable, op: Operation):
    """``analysis(op)``: its plan, or a :class:`Decline` (stated, or - outside strict mode - an unexpected error)."""
    try:
        return analysis(op)
    except NotThisKernel as e:
        return Decline(str(e))
    except Exception as e:      # noqa: BLE001  (a bug in the analysis: strict mode says so, else the exact fallback)
        if strict():
            raise AnalysisError(f"{getattr(analysis, '__module__', '')}.{getattr(analysis, '__name__', analysis)} "
                                f"on {op.name}: {type(e).__name__}: {e}") from e
        return Decline(f"unexpected {type(e).__name__}: {e}")


def _types_stamp(op: Operation) -> tuple:
    """What a plan reads that can change in place: the types of the op and of the ops in its regions (the
    latency oracle retypes a probe model's kernels to price new sizes, and must never see a stale plan)."""
    stamp = [tuple(v.type for v in op.operands), tuple(op.result_types)]
    for region in op.regions:
        for inner in region.block.ops:
            stamp.append(tuple(inner.result_types))
    return tuple(stamp)


def plan_of(analysis: Callable, op: Operation):
    """The plan (or Decline) of ``op`` under ``analysis``, computed once per op and kept on the op itself, so it
    lives exactly as long as the op (a global cache would keep whole modules and their weights alive) and is
    recomputed when the op's types change."""
    cache = op.__dict__.setdefault("_plans", {})
    stamp = _types_stamp(op)
    hit = cache.get(analysis)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    plan = run_analysis(analysis, op)
    cache[analysis] = (stamp, plan)
    return plan


__all__ = ["AnalysisError", "Decline", "NotThisKernel", "STRICT_ENV", "decline", "plan_of", "run_analysis", "strict"]
