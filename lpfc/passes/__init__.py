"""Passes over the graph IR, the pass manager and textual pipelines."""
from .manager import DEFAULT_PIPELINE, Option, Pass, Pipeline, register_pass, registered_passes
from .rewrite import RewritePattern, Rewriter, apply_patterns

__all__ = ["DEFAULT_PIPELINE", "Option", "Pass", "Pipeline", "RewritePattern", "Rewriter", "apply_patterns",
           "register_pass", "registered_passes"]
