"""Frontends: model formats to graph IR."""
from .onnx import import_onnx

__all__ = ["import_onnx"]
