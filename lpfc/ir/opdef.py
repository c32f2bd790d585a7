"""Op definitions: what an operation name means.

An :class:`OpDef` carries an op's traits, its attribute schema, its mapping
type (used by fusion legality, after DNNFusion) and a type-inference rule.
The verifier checks every op against its definition; the importer uses the
same rules to compute result types, so the two can never disagree.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

from ..errors import VerificationError
from .types import TensorType

# Traits ---------------------------------------------------------------------
ELEMENTWISE = "elementwise"      # result[i] depends only on operand[i] (after broadcasting)
BROADCASTING = "broadcasting"    # operands broadcast numpy-style to the result shape
COMMUTATIVE = "commutative"      # f(a, b) == f(b, a)
ASSOCIATIVE = "associative"      # f(f(a, b), c) == f(a, f(b, c))
REDUCTION = "reduction"          # reduces one or more axes
SHAPE_ONLY = "shape_only"        # changes only the shape, not the data order
TERMINATOR = "terminator"        # ends a block
CONSTANT_LIKE = "constant_like"  # produces a constant

ALL_TRAITS = {ELEMENTWISE, BROADCASTING, COMMUTATIVE, ASSOCIATIVE, REDUCTION, SHAPE_ONLY,
              TERMINATOR, CONSTANT_LIKE}

# Mapping types (DNNFusion, PLDI'21): how output elements map to input elements.
ONE_TO_ONE = "one-to-one"
ONE_TO_MANY = "one-to-many"
MANY_TO_MANY = "many-to-many"
REORGANIZE = "reorganize"
SHUFFLE = "shuffle"


class AttrSpec:
    """An attribute's expected Python type and default (``REQUIRED`` if none)."""

    REQUIRED = object()

    def __init__(self, kind: Any, default: Any = REQUIRED):
        self.kind = kind
        self.default = default

    @property
    def required(self) -> bool:
        return self.default is AttrSpec.REQUIRED


@dataclass
class OpDef:
    name: str
    traits: frozenset = frozenset()
    attrs: dict = field(default_factory=dict)          # name -> AttrSpec
    num_operands: Any = None                            # int, (min, max) or None (any)
    mapping: Optional[str] = None
    infer: Optional[Callable[[Sequence[TensorType], dict], list]] = None
    #: extra checks for what ``infer`` cannot see (e.g. an op's regions); raises ShapeError
    verify: Optional[Callable[[Any], None]] = None
    doc: str = ""


_REGISTRY: dict[str, OpDef] = {}


def register(opdef: OpDef) -> OpDef:
    if opdef.name in _REGISTRY:
        raise ValueError(f"op {opdef.name} registered twice")
    unknown = set(opdef.traits) - ALL_TRAITS
    if unknown:
        raise ValueError(f"{opdef.name}: unknown traits {unknown}")
    _REGISTRY[opdef.name] = opdef
    return opdef


def lookup(name: str) -> Optional[OpDef]:
    _ensure_dialects_loaded()
    return _REGISTRY.get(name)


def registered_ops() -> list[str]:
    _ensure_dialects_loaded()
    return sorted(_REGISTRY)


_dialects_loaded = False


def _ensure_dialects_loaded():
    global _dialects_loaded
    if not _dialects_loaded:
        from .dialects import load_all  # every dialect of lpfc.ir.dialects.DIALECTS registers on import
        load_all()
        _dialects_loaded = True


def with_defaults(op_name: str, attrs: Mapping) -> dict:
    """``attrs`` with the op definition's defaults filled in for the optional attributes it leaves out.

    The one place defaults are filled: type rules, the interpreter's kernels, lowerings and emitters all
    read attributes through it, so a default declared in an :class:`OpDef` means the same everywhere.
    """
    d = lookup(op_name)
    if d is None:
        raise VerificationError("unknown op (no definition registered)", op=op_name)
    full = dict(attrs)
    for key, spec in d.attrs.items():
        if key not in full and not spec.required:
            full[key] = spec.default
    return full
