"""Structural equality of IR: equal up to the names of SSA values (as TVM's ``assert_structural_equal``).

Two modules (or functions, or ops) are structurally equal when they hold the same functions (names,
``input_names``, ``output_names``, argument types) and, block by block in program order, the same ops:
the same op names, operands wired to corresponding values, result types, attributes (constant arrays
by dtype, shape and bytes; a resource's generated name does not count) and regions. SSA names,
name hints and locations do not count.

Pass tests use :func:`assert_ir_equal` in the ``before`` / ``expected`` form::

    m = parse_module(BEFORE)
    Pipeline.parse("cse").run(m)
    assert_ir_equal(m, EXPECTED)

It lives with the IR (it needs nothing else), so every layer and lpfc's tests may use it.
"""
from __future__ import annotations

import difflib
import math
from typing import Optional, Union

import numpy as np

from .attributes import DenseElements
from .core import Block, Function, Module, Operation, Region, Value
from .parser import parse_module
from .printer import Printer

IR = Union[Module, Function, Operation, str]


class _Mismatch(Exception):
    def __init__(self, where: str, what: str):
        super().__init__(f"{where}: {what}")


class _Comparer:
    def __init__(self):
        self.values: dict[int, Value] = {}  # id(actual value) -> the expected value it stands for

    def bind(self, actual: Value, expected: Value, where: str) -> None:
        if actual.type != expected.type:
            raise _Mismatch(where, f"type {actual.type} != {expected.type}")
        self.values[id(actual)] = expected

    def module(self, a: Module, b: Module) -> None:
        names_a, names_b = [f.name for f in a.functions], [f.name for f in b.functions]
        if names_a != names_b:
            raise _Mismatch("module", f"functions {names_a} != {names_b}")
        for fa, fb in zip(a.functions, b.functions):
            self.function(fa, fb)

    def function(self, a: Function, b: Function) -> None:
        where = f"func @{a.name}"
        if a.name != b.name:
            raise _Mismatch(where, f"name @{a.name} != @{b.name}")
        for what in ("input_names", "output_names"):
            if list(getattr(a, what)) != list(getattr(b, what)):
                raise _Mismatch(where, f"{what} {getattr(a, what)} != {getattr(b, what)}")
        self.block(a.body, b.body, where)

    def block(self, a: Block, b: Block, where: str) -> None:
        if len(a.args) != len(b.args):
            raise _Mismatch(where, f"{len(a.args)} block arguments != {len(b.args)}")
        for i, (x, y) in enumerate(zip(a.args, b.args)):
            self.bind(x, y, f"{where}, argument {i}")
        for i, (x, y) in enumerate(zip(a.ops, b.ops)):
            self.op(x, y, f"{where}, op {i} ({x.name})")
        if len(a.ops) != len(b.ops):
            extra, side = (a.ops[len(b.ops):], "actual") if len(a.ops) > len(b.ops) else (b.ops[len(a.ops):],
                                                                                          "expected")
            raise _Mismatch(where, f"{len(a.ops)} ops != {len(b.ops)}; only the {side} has "
                                   + ", ".join(o.name for o in extra))

    def op(self, a: Operation, b: Operation, where: str) -> None:
        if a.name != b.name:
            raise _Mismatch(where, f"op {a.name} != {b.name}")
        if len(a.operands) != len(b.operands):
            raise _Mismatch(where, f"{len(a.operands)} operands != {len(b.operands)}")
        for i, (x, y) in enumerate(zip(a.operands, b.operands)):
            if self.values.get(id(x)) is not y:
                raise _Mismatch(where, f"operand {i} is not the corresponding value")
        if sorted(a.attributes) != sorted(b.attributes):  # their order does not count
            raise _Mismatch(where, f"attributes {sorted(a.attributes)} != {sorted(b.attributes)}")
        for k in a.attributes:
            if not attr_equal(a.attributes[k], b.attributes[k]):
                raise _Mismatch(where, f"attribute {k!r}: {_show(a.attributes[k])} != {_show(b.attributes[k])}")
        if len(a.results) != len(b.results):
            raise _Mismatch(where, f"{len(a.results)} results != {len(b.results)}")
        for i, (x, y) in enumerate(zip(a.results, b.results)):
            self.bind(x, y, f"{where}, result {i}")
        if len(a.regions) != len(b.regions):
            raise _Mismatch(where, f"{len(a.regions)} regions != {len(b.regions)}")
        for i, (ra, rb) in enumerate(zip(a.regions, b.regions)):
            self.region(ra, rb, f"{where}, region {i}")

    def region(self, a: Region, b: Region, where: str) -> None:
        if len(a.blocks) != len(b.blocks):
            raise _Mismatch(where, f"{len(a.blocks)} blocks != {len(b.blocks)}")
        for i, (x, y) in enumerate(zip(a.blocks, b.blocks)):
            self.block(x, y, f"{where}, block {i}")


def attr_equal(a, b) -> bool:
    """Attribute values equal: arrays by dtype, shape and bytes (so NaN equals NaN), floats NaN-aware."""
    if isinstance(a, DenseElements) or isinstance(b, DenseElements):
        return isinstance(a, DenseElements) and isinstance(b, DenseElements) and a == b
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b)
                and all(attr_equal(x, y) for x, y in zip(a, b)))
    a, b = (x.item() if isinstance(x, np.generic) else x for x in (a, b))
    if isinstance(a, (bool, int, float)) or isinstance(b, (bool, int, float)):  # 1, 1.0 and true print apart
        return type(a) is type(b) and (a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)))
    return a == b


def _show(a) -> str:
    if isinstance(a, DenseElements):
        flat = a.array.reshape(-1)
        body = np.array2string(flat[:8], separator=", ") + (" ..." if flat.size > 8 else "")
        return f"{type(a).__name__}({a.type}, {body})"
    return repr(a)


def structural_diff(actual: IR, expected: IR) -> Optional[str]:
    """None when ``actual`` and ``expected`` are structurally equal, else what differs first.

    Either side may be IR text (parsed with :func:`lpfc.ir.parser.parse_module`)."""
    actual, expected = _as_ir(actual), _as_ir(expected)
    if type(actual) is not type(expected):
        return f"a {type(actual).__name__} is compared with a {type(expected).__name__}"
    c = _Comparer()
    try:
        if isinstance(actual, Module):
            c.module(actual, expected)
        elif isinstance(actual, Function):
            c.function(actual, expected)
        else:  # one op: its operands, defined outside it, correspond by position
            for x, y in zip(actual.operands, expected.operands):
                c.values.setdefault(id(x), y)
            c.op(actual, expected, f"op {actual.name}")
    except _Mismatch as e:
        return str(e)
    return None


def structural_equal(actual: IR, expected: IR) -> bool:
    return structural_diff(actual, expected) is None


def assert_ir_equal(actual: IR, expected: IR) -> None:
    """Raise AssertionError unless ``actual`` equals ``expected`` up to SSA names.

    The message names the first difference and shows a unified diff of both sides printed with
    canonical names (%0, %1, ... in definition order; no locations)."""
    actual, expected = _as_ir(actual), _as_ir(expected)
    first = structural_diff(actual, expected)
    if first is None:
        return
    a, b = canonical_text(actual), canonical_text(expected)
    diff = "\n".join(difflib.unified_diff(b.splitlines(), a.splitlines(), "expected", "actual", lineterm=""))
    raise AssertionError(f"IR differs: {first}\n{diff or '(the canonical texts agree; see the difference above)'}")


class _CanonicalPrinter(Printer):
    """Values print as %0, %1, ... in definition order, large constants as dense_resource<cst...>, and
    locations not at all, so that two structurally equal IRs print the same text."""

    def name_of(self, v: Value) -> str:
        if id(v) not in self._names:
            self._names[id(v)] = str(len(self._names))
        return "%" + self._names[id(v)]

    def _resource_name(self, a: DenseElements) -> str:
        if id(a) not in self._resources:
            self._resources[id(a)] = (self._unique("cst", self._resource_names), a)
        return self._resources[id(a)][0]

    @staticmethod
    def loc(loc) -> str:
        return ""


def canonical_text(ir: IR) -> str:
    """``ir`` printed with canonical names: what :func:`assert_ir_equal` diffs."""
    ir = _as_ir(ir)
    p = _CanonicalPrinter(resources="none")
    if isinstance(ir, Module):
        return p.module(ir)
    if isinstance(ir, Function):
        p.function(ir, 0)
    else:
        for v in ir.operands:
            p.name_of(v)
        p.op(ir, 0)
    return "\n".join(p._lines) + "\n"


def _as_ir(ir: IR):
    if isinstance(ir, str):
        return parse_module(ir)
    if not isinstance(ir, (Module, Function, Operation)):
        raise TypeError(f"expected a Module, Function, Operation or IR text, not {type(ir).__name__}")
    return ir
