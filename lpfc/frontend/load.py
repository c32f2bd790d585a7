"""A model file as graph IR, whichever format it is in: what every command and library entry point
that takes a model path calls (``lpfc import/opt/run``, ``lpfc.compile``, ``lpfc explain``, the
latency oracle)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..errors import LpfcError
from ..progress import SILENT, Progress

#: Suffixes read as lpfc's textual IR; anything else is read as ONNX.
IR_SUFFIXES = (".mlir", ".lpfc")


def load_module(path: str, input_shapes=None, progress: Optional[Progress] = None):
    """A model file as graph IR: ONNX (.onnx) or lpfc's textual IR (.mlir / .lpfc), verified.

    ``input_shapes`` fixes an ONNX model's dynamic input shapes; ``progress`` hears one step
    (``parsing x.mlir`` / ``importing x.onnx``).
    """
    from ..ir.parser import parse_module
    from ..ir.verifier import verify
    from .onnx import import_onnx

    progress = progress or SILENT
    p = Path(path)
    if p.suffix in IR_SUFFIXES:
        if not p.is_file():
            raise LpfcError(f"IR file {path!r} does not exist")
        with progress.step(f"parsing {p.name}"):
            m = parse_module(p.read_text())
            verify(m)
        return m
    with progress.step(f"importing {p.name}"):
        return import_onnx(path, input_shapes=input_shapes)


__all__ = ["IR_SUFFIXES", "load_module"]
