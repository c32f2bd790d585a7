"""A kernel's signature: equal for kernels identical up to their buffers (BERT's 12 layers have one).

Codegen keys its emitted-kernel cache by it and the tuning database (lpfc/tune/database.py) its entries;
it lives here, below both, so codegen does not import tune (docs/design.md, "Layers"; issue #11 item 2).
"""
from __future__ import annotations

import hashlib
import re

from ..ir.core import Operation
from ..ir.printer import print_op

_VALUE = re.compile(r"%[A-Za-z0-9_$.\-]+")
_LOC = re.compile(r'\s*loc\("(?:[^"\\]|\\.)*", "(?:[^"\\]|\\.)*"\)')
_NAME_ATTR = re.compile(r'(, )?name = "(?:[^"\\]|\\.)*"(, )?')


def canonical_text(op: Operation) -> str:
    """The op's IR with value names, locations and block names replaced by positional ones."""
    text = print_op(op)
    text = _LOC.sub("", text)
    text = _NAME_ATTR.sub(lambda m: ", " if m.group(1) and m.group(2) else "", text)
    names: dict = {}

    def rename(m):
        return names.setdefault(m.group(0), f"%v{len(names)}")
    return _VALUE.sub(rename, text)


def kernel_signature(op: Operation) -> str:
    """sha256 of the op's canonical IR and its operand types: equal for kernels identical up to buffers."""
    text = canonical_text(op) + "|" + ",".join(str(v.type) for v in op.operands)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
