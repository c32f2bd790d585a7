"""Every pass lpfc knows, in one ordered table: pipeline name -> loader (as xDSL's ``get_all_passes()``).

A loader imports its pass's module when called, so parsing ``cse,dce`` imports neither canonicalize
nor LP-Fusion, and no module registers itself as a side effect of being imported.  A new pass is one
line here (tests/passes/test_manager.py checks that each name, class and file agree).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .manager import Pass


def _canonicalize():
    from .canonicalize import Canonicalize
    return Canonicalize


def _fold_constants():
    from .fold_constants import FoldConstants
    return FoldConstants


def _cse():
    from .cse import CSE
    return CSE


def _dce():
    from .dce import DCE
    return DCE


def _quantize_int8():
    from .quantize_int8 import QuantizeInt8
    return QuantizeInt8


def _lp_fusion():
    from .lp_fusion import LPFusion
    return LPFusion


# In the order of the default pipeline.
PASSES: dict[str, Callable[[], type[Pass]]] = {
    "canonicalize": _canonicalize,
    "fold-constants": _fold_constants,
    "cse": _cse,
    "dce": _dce,
    "lp-fusion": _lp_fusion,
    "quantize-int8": _quantize_int8,     # not in the default pipeline: --precision int8 appends it
}


def get_all_passes() -> dict[str, Callable[[], type[Pass]]]:
    """Pass name -> loader, in table order (a copy)."""
    return dict(PASSES)


def registered_passes() -> dict[str, type[Pass]]:
    """Pass name -> pass class, every pass loaded, in table order."""
    return {name: load() for name, load in PASSES.items()}
