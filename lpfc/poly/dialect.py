"""Kernel IR <-> ``loop.kernel`` ops (the op's interpreter kernel is registered by the loop dialect)."""
from __future__ import annotations

import json

from ..ir.core import Operation
from ..ir.types import DType, TensorType
from .model import Buffer, Kernel, Stmt, expr_from_json, expr_to_json, index_from_json, index_to_json, reads_of


def _sched_json(e):
    return list(e) if isinstance(e, tuple) else e


def _sched_from(e):
    return tuple(e) if isinstance(e, list) else e


def stmt_to_json(s: Stmt) -> str:
    return json.dumps({
        "dims": [[d, n] for d, n in s.dims], "buf": s.buf, "index": [index_to_json(i) for i in s.index],
        "update": s.update, "aux": s.aux, "arg_dim": s.arg_dim, "select_last": s.select_last,
        "sched": [_sched_json(e) for e in s.sched], "reduction_dims": list(s.reduction_dims),
        "body": expr_to_json(s.body)}, separators=(",", ":"))


def stmt_from_json(name: str, text: str) -> Stmt:
    j = json.loads(text)
    return Stmt(name, [(d, n) for d, n in j["dims"]], j["buf"], tuple(index_from_json(i) for i in j["index"]),
                expr_from_json(j["body"]), j["update"], j["aux"], j["arg_dim"], j["select_last"],
                [_sched_from(e) for e in j["sched"]], tuple(j["reduction_dims"]))


def _accesses_text(k: Kernel, s: Stmt) -> str:
    from .schedule import _access
    parts = [f"write {_access(k, s, s.buf, s.index)}"]
    for buf, index in reads_of(s.body):
        parts.append(f"read {_access(k, s, buf, index)}")
    return "; ".join(parts)


def kernel_attributes(k: Kernel) -> dict:
    buffers = [[b.name, b.type, b.kind, b.index] for b in k.buffers.values()]
    stmts = []
    for ni, nest in enumerate(k.nests):
        for s in nest:
            stmts.append([ni, s.name, s.domain_isl(), _accesses_text(k, s), stmt_to_json(s)])
    return {"buffers": buffers, "stmts": stmts, "name": k.name}


def kernel_from_attributes(attrs: dict) -> Kernel:
    buffers = {}
    for name, t, kind, index in attrs["buffers"]:
        buffers[name] = Buffer(name, tuple(t.shape), t.dtype, kind, index)
    nests: list = []
    for ni, name, _domain, _acc, body in attrs["stmts"]:
        while len(nests) <= ni:
            nests.append([])
        nests[ni].append(stmt_from_json(name, body))
    return Kernel(buffers, nests, attrs.get("name", "kernel"))


def to_loop_op(op: Operation, k: Kernel) -> Operation:
    """A ``loop.kernel`` op computing what kernel op ``op`` computes, over the same operands (a new
    op that uses them: insert it, or ``drop_operands()`` it when done)."""
    return Operation("loop.kernel", op.operands, [r.type for r in op.results], kernel_attributes(k),
                     location=op.location)


__all__ = ["kernel_attributes", "kernel_from_attributes", "stmt_from_json", "stmt_to_json", "to_loop_op",
           "DType", "TensorType"]
