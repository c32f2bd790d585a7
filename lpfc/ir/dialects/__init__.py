"""Dialects register their op definitions on import."""
from . import func, graph, loop  # noqa: F401
