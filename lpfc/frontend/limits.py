"""The sizes lpfc accepts from a model, checked before anything is allocated.

A model file is untrusted input: a few bytes can declare a tensor of 2^40
elements or ask ConstantOfShape for a gigabyte.  Every size the importer is
about to allocate or hand to the code generator is checked here first, against
one documented limit each (docs/reliability.md, "Untrusted models").  A size
beyond a limit is a :class:`~lpfc.errors.LimitError` naming the tensor.
"""
from __future__ import annotations

from typing import Optional, Sequence

from ..errors import LimitError

#: Most dimensions of any tensor (the C runtime's LPFC_MAX_RANK).
MAX_RANK = 8
#: Largest single dimension (the generated code indexes with 32-bit loop bounds per dimension).
MAX_DIM = 2**31 - 1
#: Most elements of any one tensor (graph input, intermediate, constant).
MAX_ELEMENTS = 2**31 - 1
#: Most bytes of one constant (initializer, Constant node, external data).
MAX_CONSTANT_BYTES = 2 * 2**30
#: Most bytes one constant *computed at import* may take (ConstantOfShape, Range, EyeLike, OneHot,
#: windows, folded Expand/Tile): a tiny model must not make the importer allocate gigabytes.
MAX_COMPUTED_BYTES = 256 * 2**20
#: Largest model file read into memory (protobuf cannot parse a message of 2 GiB or more).
MAX_MODEL_FILE_BYTES = 2 * 2**30


def check_shape(shape: Sequence[int], what: str, *, itemsize: int = 0, max_bytes: Optional[int] = None) -> int:
    """Check a shape against the limits; return its number of elements.

    ``itemsize``/``max_bytes`` also bound the bytes.  Raises :class:`LimitError` naming ``what``.
    """
    shape = list(shape)
    if len(shape) > MAX_RANK:
        raise LimitError(f"{what} has rank {len(shape)}; lpfc supports at most rank {MAX_RANK}")
    n = 1
    for k, d in enumerate(shape):
        if d < 0:
            raise LimitError(f"{what} has a negative dimension {k} ({d})")
        if d > MAX_DIM:
            raise LimitError(f"{what} has dimension {k} of size {d}; the largest lpfc supports is {MAX_DIM} (2^31-1)")
        n *= d
    if n > MAX_ELEMENTS:
        raise LimitError(f"{what} of shape {shape} has {n} elements; lpfc supports at most {MAX_ELEMENTS} (2^31-1) "
                         "per tensor")
    if max_bytes is not None and n * itemsize > max_bytes:
        raise LimitError(f"{what} of shape {shape} would take {n * itemsize} bytes; the limit is {max_bytes} "
                         f"({_human(max_bytes)})")
    return n


def check_computed(shape: Sequence[int], itemsize: int, what: str) -> int:
    """A constant the importer is about to compute: bounded by MAX_COMPUTED_BYTES."""
    return check_shape(shape, what, itemsize=itemsize, max_bytes=MAX_COMPUTED_BYTES)


def check_constant(shape: Sequence[int], itemsize: int, what: str) -> int:
    """A constant stored in the model (initializer, Constant, external data): bounded by MAX_CONSTANT_BYTES."""
    return check_shape(shape, what, itemsize=itemsize, max_bytes=MAX_CONSTANT_BYTES)


def _human(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"
