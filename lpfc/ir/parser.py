"""Parser for the textual IR written by :mod:`lpfc.ir.printer`.

A regex tokenizer and a recursive-descent parser over the one generic op
form.  Errors are :class:`~lpfc.errors.ParseError` with line and column.
"""
from __future__ import annotations

import json
import re
from typing import Optional

import numpy as np

from ..errors import ParseError
from .attributes import DenseElements, DenseResource
from .core import Block, Function, Location, Module, Operation, Region, Value, UNKNOWN_LOC
from .types import DType, TensorType

_DTYPES = "|".join(d.value for d in DType)
_TOKEN = re.compile(r"""
    (?P<ws>\s+|//[^\n]*)
  | (?P<type>tensor<(?P<dims>(?:\d+x)*)(?P<dt>""" + _DTYPES + r""")>)
  | (?P<resource>dense_resource<(?P<rname>[A-Za-z_$.\-][A-Za-z0-9_$.\-]*)>)
  | (?P<dense>dense<)
  | (?P<value>%[A-Za-z0-9_$.\-]+)
  | (?P<symbol>@[A-Za-z0-9_$.\-]+)
  | (?P<label>\^[A-Za-z0-9_]+)
  | (?P<arrow>->)
  | (?P<number>-?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|inf\b))
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.$]*)
  | (?P<punct>[{}()\[\]<>,:=])
""", re.VERBOSE)

_RESOURCE_SECTION = re.compile(r"^\{-# resources: \{\n(?P<body>.*?)^\} #-\}\s*\Z", re.M | re.S)
_RESOURCE_ENTRY = re.compile(r'^\s*(?P<name>[A-Za-z0-9_$.\-]+): "0x(?P<hex>[0-9a-fA-F]*)",?\s*$')


class Token:
    __slots__ = ("kind", "text", "pos", "match")

    def __init__(self, kind, text, pos, match):
        self.kind, self.text, self.pos, self.match = kind, text, pos, match

    def __repr__(self):
        return f"{self.kind}:{self.text!r}"


class Parser:
    def __init__(self, text: str, resources: Optional[dict] = None):
        self.text = text
        self.resources: dict = dict(resources or {})
        body_end = self._split_resources()
        self.tokens = self._tokenize(body_end)
        self.i = 0
        self.scopes: list[dict[str, Value]] = []

    # -- lexing ---------------------------------------------------------------
    def _split_resources(self) -> int:
        start = self.text.find("\n{-# resources:")
        if start < 0:
            return len(self.text)
        m = _RESOURCE_SECTION.match(self.text, start + 1)
        if not m:
            self._fail_at(start + 1, "malformed resource section (expected '{-# resources: {' ... '} #-}' at the end)")
        offset = m.start("body")
        for line in m.group("body").splitlines(keepends=True):
            e = _RESOURCE_ENTRY.match(line)
            if not e:
                self._fail_at(offset, "malformed resource entry (expected 'name: \"0x<hex>\",')")
            try:
                self.resources[e.group("name")] = bytes.fromhex(e.group("hex"))
            except ValueError:
                self._fail_at(offset, f"resource {e.group('name')} is not valid hex")
            offset += len(line)
        return start + 1

    def _tokenize(self, end: int) -> list[Token]:
        toks, pos = [], 0
        while pos < end:
            m = _TOKEN.match(self.text, pos, end)
            if not m:
                self._fail_at(pos, f"unexpected character {self.text[pos]!r}")
            kind = next(k for k in ("ws", "type", "resource", "dense", "value", "symbol", "label", "arrow",
                                    "number", "string", "ident", "punct") if m.group(k) is not None)
            if kind != "ws":
                toks.append(Token(kind, m.group(0), pos, m))
            pos = m.end()
        toks.append(Token("eof", "", end, None))
        return toks

    # -- errors ---------------------------------------------------------------
    def _fail_at(self, pos: int, msg: str):
        line = self.text.count("\n", 0, pos) + 1
        line_start = self.text.rfind("\n", 0, pos) + 1
        line_end = self.text.find("\n", pos)
        src = self.text[line_start: line_end if line_end >= 0 else len(self.text)]
        raise ParseError(msg, line, pos - line_start + 1, src[:200])

    def fail(self, msg: str, tok: Optional[Token] = None):
        tok = tok or self.peek()
        self._fail_at(tok.pos, msg)

    # -- token helpers ----------------------------------------------------------
    def peek(self, k: int = 0) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def next(self) -> Token:
        t = self.peek()
        self.i += 1
        return t

    def at(self, text: str) -> bool:
        t = self.peek()
        return t.text == text and t.kind in ("punct", "ident", "arrow")

    def accept(self, text: str) -> bool:
        if self.at(text):
            self.i += 1
            return True
        return False

    def expect(self, text: str) -> Token:
        if not self.at(text):
            t = self.peek()
            self.fail(f"expected '{text}', found {t.text!r}" if t.kind != "eof" else f"expected '{text}', found end of input")
        return self.next()

    def expect_kind(self, kind: str, what: str) -> Token:
        t = self.peek()
        if t.kind != kind:
            self.fail(f"expected {what}, found {t.text!r}" if t.kind != "eof" else f"expected {what}, found end of input")
        return self.next()

    # -- values -------------------------------------------------------------------
    def define(self, name: str, v: Value, tok: Token) -> None:
        scope = self.scopes[-1]
        if name in scope:
            self.fail(f"value {name} is defined twice", tok)
        scope[name] = v
        bare = name[1:]
        v.name_hint = None if bare.isdigit() else bare

    def lookup(self, tok: Token) -> Value:
        for scope in reversed(self.scopes):
            if tok.text in scope:
                return scope[tok.text]
        self.fail(f"use of undefined value {tok.text}", tok)

    # -- types and attributes ---------------------------------------------------------
    def parse_type(self) -> TensorType:
        t = self.expect_kind("type", "a tensor type like tensor<2x3xf32>")
        dims = [int(d) for d in t.match.group("dims").split("x") if d]
        return TensorType(tuple(dims), DType(t.match.group("dt")))

    def parse_type_list(self) -> list[TensorType]:
        self.expect("(")
        types = []
        if not self.at(")"):
            types.append(self.parse_type())
            while self.accept(","):
                types.append(self.parse_type())
        self.expect(")")
        return types

    def parse_attr_dict(self) -> dict:
        attrs = {}
        self.expect("{")
        if self.accept("}"):
            return attrs
        while True:
            t = self.next()
            if t.kind == "ident":
                key = t.text
            elif t.kind == "string":
                key = json.loads(t.text)
            else:
                self.fail(f"expected an attribute name, found {t.text!r}", t)
            if key in attrs:
                self.fail(f"attribute {key!r} given twice", t)
            self.expect("=")
            attrs[key] = self.parse_attr()
            if self.accept("}"):
                return attrs
            self.expect(",")

    def parse_attr(self):
        t = self.peek()
        if t.kind == "number":
            self.i += 1
            return self._number(t)
        if t.kind == "string":
            self.i += 1
            return json.loads(t.text)
        if t.kind == "type":
            return self.parse_type()
        if t.kind == "ident":
            self.i += 1
            if t.text in ("true", "false"):
                return t.text == "true"
            if t.text == "nan":
                return float("nan")
            try:
                return DType(t.text)
            except ValueError:
                self.fail(f"unknown attribute value {t.text!r}", t)
        if t.text == "[":
            self.i += 1
            items = []
            if not self.accept("]"):
                items.append(self.parse_attr())
                while self.accept(","):
                    items.append(self.parse_attr())
                self.expect("]")
            return items
        if t.kind == "dense":
            return self.parse_dense()
        if t.kind == "resource":
            self.i += 1
            self.expect(":")
            ty = self.parse_type()
            return self._resource(t, ty)
        self.fail(f"expected an attribute value, found {t.text!r}", t)

    def _number(self, t: Token):
        s = t.text
        if any(c in s for c in ".eEn"):
            return float(s)
        return int(s)

    def _scalar(self):
        t = self.next()
        if t.kind == "number":
            return self._number(t)
        if t.kind == "ident" and t.text in ("true", "false", "nan", "inf"):
            return {"true": True, "false": False, "nan": float("nan"), "inf": float("inf")}[t.text]
        self.fail(f"expected a number, found {t.text!r}", t)

    def parse_dense(self) -> DenseElements:
        start = self.next()
        if self.accept("["):
            vals = []
            if not self.at("]"):
                vals.append(self._scalar())
                while self.accept(","):
                    vals.append(self._scalar())
            self.expect("]")
            splat = False
        else:
            vals, splat = [self._scalar()], True
        self.expect(">")
        self.expect(":")
        ty = self.parse_type()
        if not splat and len(vals) != ty.num_elements:
            self.fail(f"dense literal has {len(vals)} elements, its type {ty} needs {ty.num_elements}", start)
        # Integers go through Python ints (dtype=object), exact for all of u64 and i64.
        with np.errstate(over="ignore", invalid="ignore"):
            arr = np.array(vals[0] if splat else vals,
                           dtype=np.float64 if ty.dtype.is_float else object if ty.dtype.is_int else None)
            try:
                arr = arr.astype(ty.dtype.numpy)
            except OverflowError as e:
                self.fail(f"dense literal does not fit {ty.dtype}: {e}", start)
        arr = np.broadcast_to(arr, ty.shape) if splat else arr.reshape(ty.shape)
        return DenseElements(np.array(arr))

    def _resource(self, tok: Token, ty: TensorType) -> DenseResource:
        name = tok.match.group("rname")
        if name not in self.resources:
            self.fail(f"resource {name} is not in the resource section (nor given to the parser)", tok)
        data = self.resources[name]
        if isinstance(data, (bytes, bytearray)):
            if len(data) != ty.nbytes:
                self.fail(f"resource {name} has {len(data)} bytes, its type {ty} needs {ty.nbytes}", tok)
            arr = np.frombuffer(data, dtype=ty.dtype.numpy.newbyteorder("<")).astype(ty.dtype.numpy).reshape(ty.shape)
        else:
            arr = np.asarray(data)
            if TensorType.of(arr) != ty:
                self.fail(f"resource {name} is {TensorType.of(arr)}, the attribute says {ty}", tok)
        return DenseResource(name, arr)

    def parse_loc(self) -> Location:
        if not (self.peek().kind == "ident" and self.peek().text == "loc"):
            return UNKNOWN_LOC
        self.i += 1
        self.expect("(")
        name = json.loads(self.expect_kind("string", "a location string").text)
        op_type = ""
        if self.accept(","):
            op_type = json.loads(self.expect_kind("string", "an op type string").text)
        self.expect(")")
        return Location(name, op_type)

    # -- operations -----------------------------------------------------------------------
    def parse_op(self, block: Block) -> Operation:
        result_toks = []
        if self.peek().kind == "value":
            result_toks.append(self.next())
            while self.accept(","):
                result_toks.append(self.expect_kind("value", "a result name"))
            self.expect("=")
        name_tok = self.expect_kind("ident", "an op name")
        if "." not in name_tok.text:
            self.fail(f"expected an op name like 'graph.add', found {name_tok.text!r}", name_tok)
        operands, operand_toks = [], []
        if self.peek().kind == "value":
            operand_toks.append(self.next())
            while self.accept(","):
                operand_toks.append(self.expect_kind("value", "an operand"))
            operands = [self.lookup(t) for t in operand_toks]
        attrs = self.parse_attr_dict() if self.at("{") else {}
        regions = []
        if self.at("("):
            self.i += 1
            regions.append(self.parse_region())
            while self.accept(","):
                regions.append(self.parse_region())
            self.expect(")")
        self.expect(":")
        in_types = self.parse_type_list()
        self.expect("->")
        out_types = self.parse_type_list() if self.at("(") else [self.parse_type()]
        loc = self.parse_loc()
        if len(in_types) != len(operands):
            self.fail(f"{name_tok.text} has {len(operands)} operands but its signature lists {len(in_types)} types", name_tok)
        for tok, v, ty in zip(operand_toks, operands, in_types):
            if v.type != ty:
                self.fail(f"operand {tok.text} has type {v.type}, the signature says {ty}", tok)
        if len(result_toks) != len(out_types):
            self.fail(f"{name_tok.text} defines {len(result_toks)} results but its signature lists {len(out_types)}", name_tok)
        op = Operation(name_tok.text, operands, out_types, attrs, regions, loc)
        for tok, r in zip(result_toks, op.results):
            self.define(tok.text, r, tok)
        block.append(op)
        return op

    def parse_region(self) -> Region:
        self.expect("{")
        region = Region()
        self.scopes.append({})
        while not self.at("}"):
            label = self.expect_kind("label", "a block label like ^bb0")
            self.expect("(")
            block = Block()
            if not self.at(")"):
                while True:
                    tok = self.expect_kind("value", "a block argument")
                    self.expect(":")
                    self.define(tok.text, block.add_arg(self.parse_type()), tok)
                    if not self.accept(","):
                        break
            self.expect(")")
            self.expect(":")
            region.add_block(block)
            while self.peek().kind != "label" and not self.at("}"):
                if self.peek().kind == "eof":
                    self.fail(f"region of block {label.text} is not closed")
                self.parse_op(block)
        self.expect("}")
        self.scopes.pop()
        return region

    def parse_function(self) -> Function:
        self.expect("func")
        name = self.expect_kind("symbol", "a function name like @main").text[1:]
        self.expect("(")
        arg_toks, arg_types = [], []
        if not self.at(")"):
            while True:
                arg_toks.append(self.expect_kind("value", "an argument"))
                self.expect(":")
                arg_types.append(self.parse_type())
                if not self.accept(","):
                    break
        self.expect(")")
        self.expect("->")
        out_types = self.parse_type_list()
        attrs = {}
        if self.accept("attributes"):
            attrs = self.parse_attr_dict()
        input_names = attrs.get("input_names", [t.text[1:] for t in arg_toks])
        if len(input_names) != len(arg_toks):
            self.fail(f"@{name} has {len(arg_toks)} arguments but {len(input_names)} input_names")
        f = Function(name, arg_types, input_names)
        self.scopes.append({})
        for tok, a in zip(arg_toks, f.args):
            self.define(tok.text, a, tok)
        self.expect("{")
        while not self.at("}"):
            if self.peek().kind == "eof":
                self.fail(f"body of @{name} is not closed")
            self.parse_op(f.body)
        self.expect("}")
        self.scopes.pop()
        ret = f.return_op
        if ret is None:
            self.fail(f"@{name} does not end with func.return")
        if [v.type for v in ret.operands] != out_types:
            self.fail(f"@{name} returns {[str(v.type) for v in ret.operands]}, its signature says "
                      f"{[str(t) for t in out_types]}")
        f.output_names = list(attrs.get("output_names", [f"out{i}" for i in range(len(out_types))]))
        return f

    def parse_module(self) -> Module:
        m = Module()
        self.expect("module")
        self.expect("{")
        while not self.at("}"):
            if self.peek().kind == "eof":
                self.fail("module is not closed: expected '}'")
            m.add_function(self.parse_function())
        self.expect("}")
        if self.peek().kind != "eof":
            self.fail(f"unexpected {self.peek().text!r} after the module")
        return m


def parse_module(text: str, resources: Optional[dict] = None) -> Module:
    """Parse a module.  ``resources`` supplies arrays (or raw bytes) for
    ``dense_resource<...>`` references that the text's own section lacks."""
    return Parser(text, resources).parse_module()
