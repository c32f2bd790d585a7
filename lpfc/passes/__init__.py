"""Passes over the graph IR, the pass manager and textual pipelines."""
from .manager import DEFAULT_PIPELINE, Option, Pass, Pipeline, option
from .registry import get_all_passes, registered_passes
from .rewrite import RewritePattern, Rewriter, apply_patterns

__all__ = ["DEFAULT_PIPELINE", "Option", "Pass", "Pipeline", "RewritePattern", "Rewriter", "apply_patterns",
           "get_all_passes", "option", "registered_passes"]
