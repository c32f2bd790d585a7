"""Accuracy evaluators: ``evaluate(arch, **opts) -> float`` (higher is better), found by name or ``module:function``.

Built in:

- ``qa-distill`` (default): the sub-network inherits the QA app's fine-tuned MiniLM, is distilled from it
  for a bounded number of steps and scored by F1 on a fixed subset of SQuAD v1.1 dev (qa_distill.py).
- ``retrieval``: question -> paragraph retrieval accuracy on SQuAD v1.1 dev with the inherited
  all-MiniLM-L6-v2 sentence-embedding weights; no training (retrieval.py).
- ``synthetic``: a smooth made-up score of the architecture's size, no model at all (synthetic.py): for
  tests and for exercising the search machinery.

An evaluator module may also define ``export_model(arch, **opts)`` returning the torch model whose weights
``best.onnx`` carries (inherited or distilled); without one, the search exports the sub-network of the
all-MiniLM-L6-v2 weights. Evaluators take ``dry_run=True`` (the smallest setting that still exercises them).
"""
from __future__ import annotations

import importlib
from typing import Callable

from ...errors import NasError

REGISTRY = {
    "qa-distill": "lpfc.nas.evaluators.qa_distill:evaluate",
    "retrieval": "lpfc.nas.evaluators.retrieval:evaluate",
    "synthetic": "lpfc.nas.evaluators.synthetic:evaluate",
}


def spec_of(name: str) -> str:
    """The ``module:function`` of an evaluator name (or the ``module:function`` given)."""
    if not isinstance(name, str) or not name:
        raise NasError(f"an evaluator is a name ({', '.join(REGISTRY)}) or 'module:function', got {name!r}")
    if name in REGISTRY:
        return REGISTRY[name]
    if ":" not in name:
        raise NasError(f"unknown evaluator {name!r}", hint=f"use one of {', '.join(REGISTRY)} or 'module:function'")
    return name


def resolve(name: str) -> Callable:
    """The evaluator function itself; NasError when the module or function cannot be found."""
    spec = spec_of(name)
    mod_name, _, fn_name = spec.partition(":")
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as e:
        raise NasError(f"evaluator {name!r}: cannot import module {mod_name!r} ({e})") from None
    fn = getattr(mod, fn_name, None)
    if not callable(fn):
        raise NasError(f"evaluator {name!r}: module {mod_name!r} has no function {fn_name!r}")
    return fn


def export_hook(name: str):
    """The evaluator module's ``export_model(arch, **opts)``, or None."""
    mod = importlib.import_module(spec_of(name).partition(":")[0])
    fn = getattr(mod, "export_model", None)
    return fn if callable(fn) else None


__all__ = ["REGISTRY", "export_hook", "resolve", "spec_of"]
