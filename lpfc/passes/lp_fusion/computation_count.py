"""Computation count: the scalar arithmetic a function performs per inference.

This is LP-Fusion's cost measure (``../shared/reference/canao-paper.md`` 2.2).
The paper counts the operators of an expression *as written*:
``(A+F)*G + (A+F)*H`` has 5 computations (the shared ``A+F`` counts at each
use), ``(A+F)*(G+H)`` has 3.  So the count expands every maximal element-wise
region into expression trees whose leaves are the region's inputs: a value
used twice inside a region is counted twice.  Each operation counts once per
element of its result; other ops count their arithmetic per element as
listed in ``PER_ELEMENT`` (matmul: 2*M*N*K).  Data movement (reshape,
transpose, gather, slice, concat, expand, ...) and constants count 0.
"""
from __future__ import annotations

from ...ir.core import Module, Operation, Value
from ...ir.opdef import ELEMENTWISE

# Arithmetic per result element of non-element-wise ops.
PER_ELEMENT = {
    "graph.softmax": 4,        # max, subtract+exp, sum, divide
    "graph.log_softmax": 4,
    "graph.rms_norm": 3,       # square-sum, rsqrt, scale (+1 for gamma)
    "graph.layer_norm": 5,     # mean, centre, variance, rsqrt, scale (+1 for each of gamma, beta)
}
MOVEMENT = {"graph.constant", "graph.reshape", "graph.transpose", "graph.expand", "graph.concat", "graph.split",
            "graph.slice", "graph.gather", "graph.gather_elements", "graph.gather_nd", "graph.tile", "graph.pad",
            "graph.identity", "graph.cast", "graph.scatter_elements", "graph.scatter_nd", "graph.trilu",
            "func.return", "graph.yield"}


def is_elementwise_arith(op: Operation) -> bool:
    return op.has_trait(ELEMENTWISE) and op.name not in MOVEMENT


def op_computations(op: Operation) -> int:
    """Scalar operations of one op on its own (no expression expansion)."""
    if op.name in MOVEMENT:
        return 0
    if op.name == "graph.fused":
        return block_computations(op.regions[0].block.ops)
    n = op.results[0].type.num_elements if op.results else 0
    if op.name in ("graph.matmul", "graph.gemm"):
        a = op.operands[0].type
        k = a.shape[0] if op.name == "graph.gemm" and op.attributes.get("trans_a") else a.shape[-1]
        extra = n if op.name == "graph.gemm" and len(op.operands) == 3 else 0
        return 2 * n * k + extra
    if op.name in ("graph.layer_norm", "graph.rms_norm"):
        return n * (PER_ELEMENT[op.name] + len(op.operands) - 1)
    if op.name in PER_ELEMENT:
        return n * PER_ELEMENT[op.name]
    if op.name.startswith("graph.reduce_") or op.name in ("graph.argmax", "graph.argmin", "graph.cumsum"):
        return op.operands[0].type.num_elements
    return n


def block_computations(ops) -> int:
    """Computation count of a sequence of ops (a function body or a fused block)."""
    ops = list(ops)
    total = 0
    for op in ops:
        if is_elementwise_arith(op):
            # Counted through the expression trees rooted at region outputs, below.
            if _is_region_root(op):
                total += _tree_count(op.results[0])
        else:
            total += op_computations(op)
    return total


def _is_region_root(op: Operation) -> bool:
    """An element-wise op whose result leaves the element-wise region (or is unused)."""
    users = op.results[0].users
    return not users or any(not is_elementwise_arith(u) for u in users)


def _tree_count(v: Value) -> int:
    op = v.owner
    if not isinstance(op, Operation) or not is_elementwise_arith(op):
        return 0
    return op_computations(op) + sum(_tree_count(x) for x in op.operands)


def computations(target) -> int:
    """Computation count of a Module (all functions) or a Function."""
    functions = target.functions if isinstance(target, Module) else [target]
    return sum(block_computations(f.body.ops) for f in functions)
