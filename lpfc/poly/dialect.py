"""The ``loop`` dialect: kernel IR, one ``loop.kernel`` op per kernel (see docs/poly.md), and the
kernel IR <-> ``loop.kernel`` conversions.

``loop.kernel`` takes the kernel's inputs and returns its outputs.  Its
attributes describe the polyhedral model of :mod:`lpfc.poly.model`:

* ``buffers`` - ``[name, type, kind, index]`` per buffer (kind ``in``/``out``/``temp``);
* ``stmts`` - per statement ``[nest, name, domain, accesses, body]``: the iteration
  domain as an isl set, the write and read access relations as isl maps (for
  the reader; recomputed from the body), and the statement itself as JSON
  (dims, write, update kind, schedule entries, the scalar body expression).

All attribute values are strings, types and lists, so the generic printer and
parser carry the op unchanged; the reference interpreter runs it with
:func:`lpfc.poly.execute.run_kernel` (registered below).

The dialect lives with poly, whose model it describes; lpfc/ir names it in its dialect table
(``lpfc.ir.dialects.DIALECTS``) and loads this module by name on the first op lookup, so the IR
imports nothing above it (docs/design.md, "Layers"; issue #11 item 2).
"""
from __future__ import annotations

import json

from ..errors import ShapeError
from ..interp import kernels
from ..ir.core import Operation
from ..ir.opdef import MANY_TO_MANY, AttrSpec, OpDef, register
from ..ir.types import DType, TensorType
from .execute import run_kernel
from .model import Buffer, Kernel, Stmt, expr_from_json, expr_to_json, index_from_json, index_to_json, reads_of


def _infer_kernel(ts, attrs):
    outs = sorted((b for b in attrs["buffers"] if b[2] == "out"), key=lambda b: b[3])
    ins = sorted((b for b in attrs["buffers"] if b[2] == "in"), key=lambda b: b[3])
    if [b[1] for b in ins] != list(ts):
        raise ShapeError("loop.kernel operand types differ from its input buffers")
    for b in outs:
        if not isinstance(b[1], TensorType):
            raise ShapeError(f"loop.kernel buffer {b[0]!r} has no tensor type")
    return [b[1] for b in outs]


register(OpDef("loop.kernel", frozenset(),
               attrs={"buffers": AttrSpec(list), "stmts": AttrSpec(list), "name": AttrSpec(str, "kernel")},
               num_operands=(0, None), mapping=MANY_TO_MANY, infer=_infer_kernel,
               doc="A kernel as statements with iteration domains, access relations and scalar bodies."))


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


@kernels.kernel("loop.kernel")
def _run(ins, attrs, rts):
    """The reference interpreter runs loop.kernel with poly's executor."""
    return run_kernel(kernel_from_attributes(attrs), ins)


__all__ = ["kernel_attributes", "kernel_from_attributes", "stmt_from_json", "stmt_to_json", "to_loop_op",
           "DType", "TensorType"]
