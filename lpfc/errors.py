"""lpfc's one family of errors.

Every error a user can cause with bad input is an :class:`LpfcError`.  Its
message names *what* (the op, the ONNX node, the tensor) and *where*, and
says what to do; the command line prints it without a traceback.
"""
from __future__ import annotations

from typing import Optional


class LpfcError(Exception):
    """Base of every error lpfc reports for bad input or misuse."""

    def __init__(self, message: str, *, node: Optional[str] = None, op: Optional[str] = None,
                 hint: Optional[str] = None):
        self.node = node
        self.op = op
        self.hint = hint
        parts = []
        if op is not None or node is not None:
            where = []
            if op is not None:
                where.append(f"op {op}")
            if node is not None:
                where.append(f"node {node!r}")
            parts.append(" ".join(where) + ": ")
        parts.append(message)
        if hint:
            parts.append(f" ({hint})")
        self.bare_message = message
        super().__init__("".join(parts))


class ModelLoadError(LpfcError):
    """The model file cannot be read: missing, corrupt, not ONNX, unsafe external data."""


class UnsupportedError(LpfcError):
    """The model uses an op, attribute, dtype or opset that lpfc does not support."""


class ShapeError(LpfcError):
    """Shapes are inconsistent or cannot be resolved statically."""


class VerificationError(LpfcError):
    """The IR breaks a rule of its op definitions (types, shapes, dominance)."""


class ParseError(LpfcError):
    """Textual IR that cannot be parsed; names the line and column."""

    def __init__(self, message: str, line: int, column: int, source_line: str = ""):
        self.line = line
        self.column = column
        text = f"line {line}, column {column}: {message}"
        if source_line:
            text += f"\n  {source_line}\n  {' ' * (column - 1)}^"
        super().__init__(text)


class InputError(LpfcError):
    """Inputs given at run time do not match the model: missing, extra, wrong shape or dtype."""


class PipelineError(LpfcError):
    """A pass pipeline text that names an unknown pass or a bad option."""


class ToolchainError(LpfcError):
    """A target's compiler, cross tools or runner are missing or failed; says what to install or set."""


class InvalidModelError(ModelLoadError):
    """The file is ONNX but breaks ONNX's own rules (a tensor defined twice, an attribute of the wrong type, ...)."""


class LimitError(LpfcError):
    """A size (rank, dimension, element count, bytes) beyond a documented limit of lpfc/frontend/limits.py."""


class ArchitectureError(LpfcError):
    """An architecture dict (lpfc.estimate_latency, lpfc.cost) that makes no sense; names the key."""


class CalibrationError(LpfcError):
    """No latency calibration for the target (says which command makes one), or an unreadable one."""


class NasError(LpfcError):
    """An architecture search (lpfc nas) that cannot run: an empty space, an unreachable latency target,
    an unknown evaluator, or an output directory holding another search."""
