"""The textual form of the IR.

Every op prints in one generic form, so the parser needs no per-op code::

    %3 = graph.add %1, %2 {k = v} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> loc("node", "Add")

An op with regions prints them in parentheses after its attributes.  Value
names come from name hints, reduced to MLIR's identifier characters and made
unique, so print -> parse -> print is the identity.  Model strings (tensor
and node names) appear only as quoted, escaped string literals.
"""
from __future__ import annotations

import json
import re


import numpy as np

from .attributes import DenseElements, DenseResource
from .core import Block, Function, Location, Module, Operation, Value
from .types import DType, TensorType

_IDENT_BAD = re.compile(r"[^A-Za-z0-9_$.\-]")


def quote(s: str) -> str:
    """A string literal: JSON escaping keeps quotes, backslashes and newlines safe."""
    return json.dumps(s, ensure_ascii=False)


def sanitize_name(hint: str) -> str:
    """An identifier made of [A-Za-z0-9_$.-] that does not start with a digit."""
    name = _IDENT_BAD.sub("_", hint)
    if not name or name[0].isdigit():
        name = "v" + name
    return name


def format_scalar(x, dtype: DType) -> str:
    if dtype == DType.bool:
        return "true" if x else "false"
    if dtype.is_float:
        s = str(dtype.numpy.type(x))
        if s in ("inf", "-inf", "nan"):
            return s
        if not any(c in s for c in ".en"):
            s += ".0"
        return s
    return str(int(x))


class Printer:
    def __init__(self, resources: str = "inline", inline_limit: int = 16):
        """``resources``: "inline" writes the resource section with every large
        constant's bytes in hex; "none" writes only references (parse such
        text back with the module's arrays, see :func:`collect_resources`)."""
        if resources not in ("inline", "none"):
            raise ValueError(f"resources must be 'inline' or 'none', not {resources!r}")
        self.resources_mode = resources
        self.inline_limit = inline_limit
        self._names: dict[int, str] = {}
        self._used: set[str] = set()
        self._counter = 0
        self._resources: dict[int, tuple[str, DenseResource]] = {}
        self._resource_names: set[str] = set()
        self._lines: list[str] = []

    # -- names --------------------------------------------------------------
    def _unique(self, base: str, used: set) -> str:
        name, k = base, 1
        while name in used:
            name = f"{base}_{k}"
            k += 1
        used.add(name)
        return name

    def name_of(self, v: Value) -> str:
        key = id(v)
        if key not in self._names:
            if v.name_hint:
                self._names[key] = self._unique(sanitize_name(v.name_hint), self._used)
            else:
                while str(self._counter) in self._used:
                    self._counter += 1
                self._names[key] = str(self._counter)
                self._used.add(self._names[key])
                self._counter += 1
        return "%" + self._names[key]

    def ref(self, v: Value) -> str:
        if id(v) not in self._names:
            raise ValueError(f"value {v!r} is used before it is defined (or is defined outside the printed IR)")
        return "%" + self._names[id(v)]

    # -- attributes ------------------------------------------------------------
    def attr(self, a) -> str:
        if isinstance(a, bool):
            return "true" if a else "false"
        if isinstance(a, (int, np.integer)):
            return str(int(a))
        if isinstance(a, (float, np.floating)):
            s = repr(float(a))
            return s
        if isinstance(a, str):
            return quote(a)
        if isinstance(a, DType):
            return a.value
        if isinstance(a, TensorType):
            return str(a)
        if isinstance(a, (list, tuple)):
            return "[" + ", ".join(self.attr(x) for x in a) + "]"
        if isinstance(a, DenseResource) or (isinstance(a, DenseElements) and not self._fits_inline(a)):
            return f"dense_resource<{self._resource_name(a)}> : {a.type}"
        if isinstance(a, DenseElements):
            return f"dense<{self._dense_body(a)}> : {a.type}"
        raise TypeError(f"cannot print attribute {a!r}")

    def _fits_inline(self, a: DenseElements) -> bool:
        arr = a.array
        return arr.size <= self.inline_limit or (arr.size > 0 and bool(np.all(arr == arr.flat[0]))
                                                 and not (arr.dtype.kind == "f" and np.isnan(arr.flat[0])))

    def _dense_body(self, a: DenseElements) -> str:
        arr, dt = a.array, a.type.dtype
        flat = arr.reshape(-1)
        if flat.size >= 1 and np.all(flat == flat[0]) and not (arr.dtype.kind == "f" and np.isnan(flat[0])):
            return format_scalar(flat[0], dt)
        return "[" + ", ".join(format_scalar(x, dt) for x in flat) + "]"

    def _resource_name(self, a: DenseElements) -> str:
        key = id(a)
        if key not in self._resources:
            base = sanitize_name(a.name) if isinstance(a, DenseResource) else "cst"
            self._resources[key] = (self._unique(base, self._resource_names), a)
        return self._resources[key][0]

    def attr_dict(self, attrs: dict) -> str:
        items = [(k, v) for k, v in attrs.items() if v is not None]
        if not items:
            return ""
        parts = []
        for k, v in items:
            key = k if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.$]*", k) else quote(k)
            parts.append(f"{key} = {self.attr(v)}")
        return " {" + ", ".join(parts) + "}"

    @staticmethod
    def loc(loc: Location) -> str:
        if not loc.name and not loc.op_type:
            return ""
        if loc.op_type:
            return f" loc({quote(loc.name)}, {quote(loc.op_type)})"
        return f" loc({quote(loc.name)})"

    # -- structure --------------------------------------------------------------
    def emit(self, indent: int, text: str) -> None:
        self._lines.append("  " * indent + text)

    def op(self, op: Operation, indent: int) -> None:
        text = ""
        if op.results:
            text = ", ".join(self.name_of(r) for r in op.results) + " = "
        text += op.name
        if op.operands:
            text += " " + ", ".join(self.ref(v) for v in op.operands)
        text += self.attr_dict(op.attributes)
        ins = ", ".join(str(v.type) for v in op.operands)
        outs = ", ".join(str(t) for t in op.result_types)
        outs = outs if len(op.results) == 1 else f"({outs})"
        sig = f" : ({ins}) -> {outs}{self.loc(op.location)}"
        if not op.regions:
            self.emit(indent, text + sig)
            return
        self.emit(indent, text + " ({")
        for i, region in enumerate(op.regions):
            if i:
                self.emit(indent, "}, {")
            for k, b in enumerate(region.blocks):
                args = ", ".join(f"{self.name_of(a)}: {a.type}" for a in b.args)
                self.emit(indent + 1, f"^bb{k}({args}):")
                self.block(b, indent + 2)
        self.emit(indent, "})" + sig)

    def block(self, b: Block, indent: int) -> None:
        for op in b.ops:
            self.op(op, indent)

    def function(self, f: Function, indent: int) -> None:
        args = ", ".join(f"{self.name_of(a)}: {a.type}" for a in f.args)
        outs = ", ".join(str(t) for t in f.output_types)
        attrs = self.attr_dict({"input_names": list(f.input_names), "output_names": list(f.output_names)})
        self.emit(indent, f"func @{sanitize_name(f.name)}({args}) -> ({outs}) attributes{attrs} {{")
        self.block(f.body, indent + 1)
        self.emit(indent, "}")

    def module(self, m: Module) -> str:
        self.emit(0, "module {")
        for f in m.functions:
            self.function(f, 1)
        self.emit(0, "}")
        if self._resources and self.resources_mode == "inline":
            self.emit(0, "{-# resources: {")
            for name, a in sorted(self._resources.values(), key=lambda x: x[0]):
                self.emit(1, f"{name}: \"0x{a.array.astype(a.array.dtype.newbyteorder('<')).tobytes().hex()}\",")
            self.emit(0, "} #-}")
        return "\n".join(self._lines) + "\n"


def print_module(m: Module, resources: str = "inline", inline_limit: int = 16) -> str:
    return Printer(resources, inline_limit).module(m)


def print_op(op: Operation) -> str:
    """One op, for error messages: operands named by their position if not printed before."""
    p = Printer(resources="none")
    for i, v in enumerate(op.operands):
        p._names.setdefault(id(v), f"arg{i}")
    p.op(op, 0)
    return "\n".join(p._lines)


def collect_resources(m: Module) -> dict[str, np.ndarray]:
    """The arrays that ``print_module(m, resources="none")`` refers to, by printed name."""
    p = Printer(resources="none")
    p.module(m)
    return {name: a.array for name, a in p._resources.values()}
