"""Structural views of kernel ops that every analysis shares: the region's ops, a bare op as a one-op
block, which operands are constants, how an operand broadcasts over an ``[M, N]`` row-major tile."""
from __future__ import annotations

import math
from typing import Optional

from ...ir.constants import constant_root
from ...ir.core import Operation, Value
from ...ir.types import DType


def operand_is_constant(op: Operation, index: int) -> bool:
    return constant_root(op.operands[index]) is not None


def is_f32(v: Value) -> bool:
    return v.type.dtype == DType.f32


def body_ops(op: Operation) -> Optional[list]:
    """The region's ops without the terminator, or None when the op is not a one-block fused region."""
    if op.name != "graph.fused" or len(op.regions) != 1:
        return None
    block = op.regions[0].block
    ops = list(block.ops)
    if not ops or ops[-1].name != "graph.yield":
        return None
    return ops[:-1]


def kernel_view(op: Operation, bare_kinds: dict) -> Optional[tuple]:
    """(kind, ops, args, yielded values) of a kernel op: a fused block's region, or a bare graph op (a kernel
    of its own outside blocks, e.g. with --no-fusion) seen as a one-op block whose arguments are its operands.
    ``bare_kinds`` maps the bare op names an emitter takes to the block kind they stand for."""
    if op.name == "graph.fused":
        ops = body_ops(op)
        if not ops:
            return None
        block = op.regions[0].block
        return op.attributes.get("kind"), ops, list(block.args), list(block.ops[-1].operands)
    if op.name not in bare_kinds or op.regions or len({id(v) for v in op.operands}) != len(op.operands):
        return None
    return bare_kinds[op.name], [op], list(op.operands), list(op.results)


def broadcast_mode(shape: tuple, value_shape: tuple, n: int) -> Optional[str]:
    """How an operand of ``shape`` broadcast to ``value_shape`` (a row-major view of [M, N]) is indexed:
    ``scalar``, ``col`` (by column n: a bias), ``row`` (by row m), ``full`` (by m*N + n), or None."""
    if len(shape) > len(value_shape):
        if any(d != 1 for d in shape[:len(shape) - len(value_shape)]):
            return None
        shape = shape[len(shape) - len(value_shape):]
    s = (1,) * (len(value_shape) - len(shape)) + tuple(shape)
    if all(d == 1 for d in s):
        return "scalar"
    if tuple(s) == tuple(value_shape):
        return "full"
    # the split point j with prod(value_shape[j:]) == n
    for j in range(len(value_shape) + 1):
        if math.prod(value_shape[j:]) == n:
            head, tail = s[:j], s[j:]
            if all(d == 1 for d in head) and tuple(tail) == tuple(value_shape[j:]):
                return "col"
            if all(d == 1 for d in tail) and tuple(head) == tuple(value_shape[:j]):
                return "row"
    return None


def normalised_axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


__all__ = ["body_ops", "broadcast_mode", "is_f32", "kernel_view", "normalised_axis", "operand_is_constant"]
