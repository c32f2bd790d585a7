"""Polyhedral kernel IR, scheduling and loop variants (islpy).

* :mod:`.model` - the kernel IR: buffers, statements, index and scalar expressions.
* :mod:`.lower` - graph ops and fused blocks to kernel IR.
* :mod:`.execute` - the kernel IR's reference semantics (numpy).
* :mod:`.schedule` - dependences, legal schedules, variants, tiling (printed as C by
  :mod:`lpfc.codegen.poly_c`: poly never imports codegen).
* :mod:`.dialect` - the ``loop`` dialect (``loop.kernel``) and kernel IR <-> ``loop.kernel`` ops.

See ``docs/poly.md``.
"""
from .lower import can_lower, lower
from .model import Kernel, Stmt
from .execute import run_kernel
from .dialect import kernel_from_attributes, to_loop_op

__all__ = ["Kernel", "Stmt", "can_lower", "kernel_from_attributes", "lower", "run_kernel", "to_loop_op"]
