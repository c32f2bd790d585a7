"""The generic kernel emitter: any kernel op, through the polyhedral path (lpfc/poly).

A kernel op (a ``graph.fused`` block or a single graph op) is lowered to
kernel IR (:mod:`lpfc.poly.lower`), given a schedule variant
(:func:`lpfc.poly.schedule.apply_variant`), checked against its dependences
and printed to C++ from isl's AST (:func:`lpfc.codegen.poly_c.generate_c`).
Outer loops that carry no dependence and do enough work run their
iterations through ``lpfc_parallel::parallel_for`` on ``num_threads``
threads (the runtime's pool, lpfc/c_runtime/include/lpfc_parallel.hpp).

``variants()`` lists the schedule choices: for element-wise nests with a
broadcast term, ``recompute`` (fuse_add), ``hoist`` (fuse_add') and
``precompute``; for GEMM-like nests, tile sizes.  The first is the default
heuristic's (:func:`lpfc.poly.schedule.default_variant`).
"""
from __future__ import annotations

import json
from typing import Optional

from ..ir.core import Operation
from ..poly.lower import can_lower, lower
from ..poly import schedule as _sched
from . import poly_c
from . import scalar_expr as se
from .kernel_source import (KERNEL_SIGNATURE, KERNEL_SIGNATURE_CHECKED, MODEL_DESC_HEADER, PARALLEL_HEADER,
                            KernelSource)
from .signature import kernel_signature
from .targets import Target

HEADERS = ("<math.h>", "<stdint.h>", "<cmath>", "<memory>", "<algorithm>", PARALLEL_HEADER)


def choice_name(choice: Optional[dict]) -> str:
    choice = choice or {}
    name = choice.get("variant", "recompute")
    if choice.get("tile"):
        name += "+tile" + "x".join(str(t) for t in choice["tile"])
    return name


class GenericEmitter:
    name = "generic"

    def __init__(self):
        self._cache: dict = {}
        self._emitted: dict = {}      # (kernel signature, choice) -> (body, helpers): BERT's layers once

    def kernel(self, op: Operation):
        key = id(op)
        hit = self._cache.get(key)
        if hit is not None and hit[0] is op:
            return hit[1]
        k = lower(op)
        if len(self._cache) > 256:           # keeps ops (and their modules) alive: bound it
            self._cache.clear()
        self._cache[key] = (op, k)
        return k

    def accepts(self, op: Operation, target: Target) -> bool:
        if op.name in ("graph.constant", "graph.reshape") or not can_lower(op):
            return False
        if any(r.type.dtype.value == "f16" for r in op.results) or \
                any(v.type.dtype.value == "f16" for v in op.operands):
            return False
        return True

    def variants(self, op: Operation, target: Target) -> list:
        return _sched.variants(self.kernel(op))

    def emit(self, op: Operation, target: Target, symbol: str, choice: Optional[dict] = None) -> KernelSource:
        key = (kernel_signature(op), json.dumps(choice, sort_keys=True))
        hit = self._emitted.get(key)
        if hit is None:
            k = self.kernel(op)
            choice = choice if choice is not None else _sched.variants(k)[0]
            try:
                gen = poly_c.generate_c(_sched.apply_variant(k, choice),
                                         use_isl_scheduler=choice.get("variant") == "isl")
            except AssertionError:           # an illegal choice (e.g. a stale tuning entry): the default
                choice = _sched.variants(k)[0]
                gen = poly_c.generate_c(_sched.apply_variant(k, choice))
            helpers = [se.helper_code([h]) for h in se.C_HELPERS if h in gen.helpers] + gen.extra_helpers
            hit = (gen.body, tuple(helpers), choice)
            if len(self._emitted) > 4096:
                self._emitted.clear()
            self._emitted[key] = hit
        body, helpers, choice = hit
        checks = "lpfc_wrap(fault," in body      # loads indices from a tensor: reports them out of range
        sig = KERNEL_SIGNATURE_CHECKED if checks else KERNEL_SIGNATURE
        code = sig.format(symbol=symbol) + " {\n    (void)num_threads;\n" + body + "\n}\n"
        return KernelSource(symbol=symbol, code=code, headers=HEADERS + ((MODEL_DESC_HEADER,) if checks else ()),
                            helpers=helpers, variant=choice_name(choice),
                            index_checks=checks)


GENERIC = GenericEmitter()
