"""The dialects: each registers its op definitions when its module is imported.

:data:`DIALECTS` is the one explicit table of them, dialect name -> the module that defines it, loaded
by name on the first op lookup (:func:`lpfc.ir.opdef.lookup`). The IR's own dialects live in this
package; a dialect that belongs to a higher layer (``loop``: the polyhedral kernel IR, lpfc/poly) is
named here, not imported, so lpfc/ir imports nothing above it (docs/design.md, "Layers"; issue #11).
"""
from __future__ import annotations

import importlib

#: dialect name -> module that registers its ops on import (a new dialect gets its line here)
DIALECTS = {
    "func": "lpfc.ir.dialects.func",
    "graph": "lpfc.ir.dialects.graph",
    "loop": "lpfc.poly.dialect",
}


def load_dialect(name: str):
    """Import the module of dialect ``name`` (registering its ops); KeyError for an unknown dialect."""
    return importlib.import_module(DIALECTS[name])


def load_all() -> None:
    for name in DIALECTS:
        load_dialect(name)


__all__ = ["DIALECTS", "load_all", "load_dialect"]
