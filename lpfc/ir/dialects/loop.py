"""The ``loop`` dialect: kernel IR, one ``loop.kernel`` op per kernel (see docs/poly.md).

``loop.kernel`` takes the kernel's inputs and returns its outputs.  Its
attributes describe the polyhedral model of :mod:`lpfc.poly.model`:

* ``buffers`` - ``[name, type, kind, index]`` per buffer (kind ``in``/``out``/``temp``);
* ``stmts`` - per statement ``[nest, name, domain, accesses, body]``: the iteration
  domain as an isl set, the write and read access relations as isl maps (for
  the reader; recomputed from the body), and the statement itself as JSON
  (dims, write, update kind, schedule entries, the scalar body expression).

All attribute values are strings, types and lists, so the generic printer and
parser carry the op unchanged; the reference interpreter runs it with
:func:`lpfc.poly.execute.run_kernel` (registered below, imported on first use).
"""
from __future__ import annotations

from ...errors import ShapeError
from ..opdef import MANY_TO_MANY, AttrSpec, OpDef, register
from ..types import TensorType


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


def _register_interpreter_kernel():
    """The reference interpreter runs loop.kernel with lpfc.poly's executor (imported on first use)."""
    from ...interp import kernels

    @kernels.kernel("loop.kernel")
    def _run(ins, attrs, rts):
        from ...poly.dialect import kernel_from_attributes
        from ...poly.execute import run_kernel
        return run_kernel(kernel_from_attributes(attrs), ins)


_register_interpreter_kernel()
