"""cse: common-subexpression elimination.

Two ops are the same computation when they have the same name, operands,
attributes and result types (constants: the same bytes).  Walks each block in
order and replaces later duplicates by the first one.  Ops with regions are
left alone.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir.core import Block, Module, Operation
from .manager import Pass
from .rewrite import is_pure


def _hashable(v):
    if isinstance(v, (list, tuple)):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, float) and np.isnan(v):
        return ("nan",)
    return v


def op_key(op: Operation):
    attrs = tuple(sorted((k, _hashable(v)) for k, v in op.attributes.items()))
    return (op.name, tuple(id(v) for v in op.operands), attrs, tuple(op.result_types))


@dataclass
class CSE(Pass):
    name = "cse"
    summary = "merge identical computations"

    def run(self, module: Module) -> None:
        for f in module.functions:
            self._block(f.body)

    def _block(self, block: Block) -> None:
        seen: dict = {}
        for op in list(block.ops):
            for r in op.regions:
                for b in r.blocks:
                    self._block(b)
            if op.regions or not is_pure(op) or not op.results:
                continue
            key = op_key(op)
            first = seen.get(key)
            if first is None:
                seen[key] = op
                continue
            for old, new in zip(op.results, first.results):
                old.replace_all_uses_with(new)
            op.erase()
