"""Dialects register their op definitions on import."""
from . import func, graph  # noqa: F401
