"""The kernel IR's data model: buffers, statements, index and scalar expressions.

A :class:`Kernel` is a list of *nests*; each nest is a list of :class:`Stmt`
that share a schedule layout.  A statement has a rectangular iteration domain
(named dims with extents), one write ``buf[index...] (=|+=|max=|...) body`` and
a scalar ``body`` expression over reads of buffers.  Every buffer is dense and
row-major, so an access is also a flat offset: isl sees every access as the
affine (or quasi-affine: ``floor``/``mod``) map ``S[dims] -> Buf[flat offset]``,
or, for data-dependent indices (gather), the over-approximation "anywhere in
the buffer".

Index expressions: :class:`Aff` (integer-linear in the dims), :class:`Div`
(floor division by a positive constant), :class:`Mod`, :class:`Load` (a value
read from an integer tensor: gather's indices, with negative indices wrapped).
Scalar expressions: :class:`Read`, :class:`Const`, :class:`IndexValue` (an
index expression as an i64 value, for trilu) and :class:`Op` (an element-wise
graph op, one of :data:`ELEMENTWISE_OPS`; codegen prints it as C with its
``scalar_expr.c_expr``).

Everything serialises to plain JSON-able lists (:func:`expr_to_json`,
:func:`expr_from_json`), which the ``loop`` dialect stores in attributes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

from ..ir.types import DType, TensorType

# -- index expressions -------------------------------------------------------------------------------


class Index:
    def dims(self) -> set:
        raise NotImplementedError

    def isl(self) -> Optional[str]:
        """isl syntax, or None when the index is data-dependent (over-approximated)."""
        raise NotImplementedError

    def subst(self, env: dict) -> "Index":
        raise NotImplementedError


@dataclass(frozen=True)
class Aff(Index):
    terms: tuple = ()      # ((dim, coeff), ...) sorted by dim, no zero coefficients
    const: int = 0

    @staticmethod
    def of(terms: dict, const: int = 0) -> "Aff":
        return Aff(tuple(sorted((d, c) for d, c in terms.items() if c != 0)), int(const))

    @staticmethod
    def dim(name: str) -> "Aff":
        return Aff(((name, 1),), 0)

    @staticmethod
    def cst(v: int) -> "Aff":
        return Aff((), int(v))

    def dims(self) -> set:
        return {d for d, _ in self.terms}

    def isl(self) -> str:
        parts = [f"{c}*{d}" if c != 1 else d for d, c in self.terms]
        if self.const or not parts:
            parts.append(str(self.const))
        return " + ".join(parts).replace("+ -", "- ")

    def subst(self, env: dict) -> Index:
        out: Index = Aff.cst(self.const)
        for d, c in self.terms:
            out = add_index(out, scale_index(env.get(d, Aff.dim(d)), c))
        return out


@dataclass(frozen=True)
class Div(Index):
    arg: Index
    d: int

    def dims(self):
        return self.arg.dims()

    def isl(self):
        a = self.arg.isl()
        return None if a is None else f"floor(({a})/{self.d})"

    def subst(self, env):
        return Div(self.arg.subst(env), self.d)


@dataclass(frozen=True)
class Mod(Index):
    arg: Index
    d: int

    def dims(self):
        return self.arg.dims()

    def isl(self):
        a = self.arg.isl()
        return None if a is None else f"(({a}) mod {self.d})"

    def subst(self, env):
        return Mod(self.arg.subst(env), self.d)


@dataclass(frozen=True)
class Load(Index):
    """``buf[index]`` of an integer buffer used as an index; negatives count from ``wrap`` (0: none)."""
    buf: str
    index: tuple
    wrap: int = 0

    def dims(self):
        return set().union(*(i.dims() for i in self.index)) if self.index else set()

    def isl(self):
        return None

    def subst(self, env):
        return Load(self.buf, tuple(i.subst(env) for i in self.index), self.wrap)


@dataclass(frozen=True)
class IfLess(Index):
    """``then if a < bound else other`` (pad's edge and reflect modes); isl over-approximates it."""
    a: Index
    bound: int
    then: Index
    other: Index

    def dims(self):
        return self.a.dims() | self.then.dims() | self.other.dims()

    def isl(self):
        return None

    def subst(self, env):
        return IfLess(self.a.subst(env), self.bound, self.then.subst(env), self.other.subst(env))


def add_index(a: Index, b: Index) -> Index:
    if isinstance(a, Aff) and isinstance(b, Aff):
        t = dict(a.terms)
        for d, c in b.terms:
            t[d] = t.get(d, 0) + c
        return Aff.of(t, a.const + b.const)
    if isinstance(b, Aff) and not b.terms and b.const == 0:
        return a
    if isinstance(a, Aff) and not a.terms and a.const == 0:
        return b
    return Sum((a, b))


def scale_index(a: Index, c: int) -> Index:
    if c == 1:
        return a
    if isinstance(a, Aff):
        return Aff.of({d: k * c for d, k in a.terms}, a.const * c)
    if c == 0:
        return Aff.cst(0)
    return Scaled(a, c)


@dataclass(frozen=True)
class Sum(Index):
    args: tuple

    def dims(self):
        return set().union(*(a.dims() for a in self.args))

    def isl(self):
        parts = [a.isl() for a in self.args]
        return None if any(p is None for p in parts) else " + ".join(f"({p})" for p in parts)

    def subst(self, env):
        out: Index = Aff.cst(0)
        for a in self.args:
            out = add_index(out, a.subst(env))
        return out


@dataclass(frozen=True)
class Scaled(Index):
    arg: Index
    c: int

    def dims(self):
        return self.arg.dims()

    def isl(self):
        a = self.arg.isl()
        return None if a is None else f"{self.c}*({a})"

    def subst(self, env):
        return scale_index(self.arg.subst(env), self.c)


def linearize(index: Sequence[Index], shape: Sequence[int]) -> Index:
    """The row-major flat offset of ``index`` in ``shape``."""
    out: Index = Aff.cst(0)
    stride = 1
    for i, d in reversed(list(zip(index, shape))):
        out = add_index(out, scale_index(i, stride))
        stride *= d
    return out


def delinearize(flat: Index, shape: Sequence[int]) -> list:
    """The multi-index in ``shape`` of flat offset ``flat`` (quasi-affine: floor/mod)."""
    out = []
    stride = math.prod(shape)
    for k, d in enumerate(shape):
        stride //= d
        if d == 1:
            out.append(Aff.cst(0))
            continue
        q = flat if stride == 1 else _div(flat, stride)
        out.append(q if k == 0 else _mod(q, d))
    return out


def _div(a: Index, d: int) -> Index:
    if isinstance(a, Aff) and all(c % d == 0 for _, c in a.terms) and 0 <= a.const < d:
        return Aff.of({x: c // d for x, c in a.terms}, 0)
    return Div(a, d)


def _mod(a: Index, d: int) -> Index:
    return Mod(a, d)


# -- scalar expressions ----------------------------------------------------------------------------

class Expr:
    dtype: DType

    def children(self) -> list:
        return []


@dataclass(frozen=True)
class Read(Expr):
    buf: str
    index: tuple
    dtype: DType


@dataclass(frozen=True)
class Const(Expr):
    value: Union[int, float, bool]
    dtype: DType


@dataclass(frozen=True)
class IndexValue(Expr):
    index: Index
    dtype: DType = DType.i64


@dataclass(frozen=True)
class Op(Expr):
    name: str                 # element-wise graph op without the "graph." prefix
    attrs: tuple              # sorted (key, value) pairs, defaults filled
    args: tuple
    dtype: DType

    def children(self):
        return list(self.args)

    @property
    def attr_dict(self) -> dict:
        return dict(self.attrs)


#: the element-wise graph ops (names without "graph.") an :class:`Op` node may carry: lowering
#: (lpfc/poly/lower.py) inlines exactly these; codegen's scalar_expr.c_expr prints each of them and the
#: interpreter (lpfc/interp/kernels.py) runs them (tests/codegen/test_scalar_expr.py runs each through both)
ELEMENTWISE_OPS = frozenset(
    ["add", "sub", "mul", "div", "pow", "max", "min", "mod", "and", "or", "xor", "bitshift_left",
     "bitshift_right", "where", "neg", "reciprocal", "sigmoid", "relu", "gelu", "leaky_relu", "clip", "cast",
     "isnan", "isinf", "not", "bitwise_not", "sign", "softplus", "identity",
     "exp", "log", "sqrt", "tanh", "sin", "cos", "erf", "floor", "ceil", "round", "abs",
     "equal", "less", "less_equal", "greater", "greater_equal",
     "bitwise_and", "bitwise_or", "bitwise_xor"])

TRANSCENDENTAL = {"exp", "log", "erf", "tanh", "sigmoid", "gelu", "softplus", "sin", "cos", "pow", "sqrt", "div",
                  "reciprocal", "mod"}


def walk(e: Expr):
    yield e
    for c in e.children():
        yield from walk(c)


def index_of(e: Expr) -> list:
    """Every index expression inside ``e`` (reads and loads, recursively)."""
    out = []
    for x in walk(e):
        if isinstance(x, Read):
            out.extend(x.index)
        elif isinstance(x, IndexValue):
            out.append(x.index)
    return out


def expr_dims(e: Expr) -> set:
    return set().union(*(i.dims() for i in index_of(e))) if index_of(e) else set()


def subst_expr(e: Expr, env: dict) -> Expr:
    """``e`` with dims replaced by index expressions."""
    if isinstance(e, Read):
        return Read(e.buf, tuple(i.subst(env) for i in e.index), e.dtype)
    if isinstance(e, IndexValue):
        return IndexValue(e.index.subst(env), e.dtype)
    if isinstance(e, Op):
        return Op(e.name, e.attrs, tuple(subst_expr(a, env) for a in e.args), e.dtype)
    return e


def reads_of(e: Expr) -> list:
    """(buffer, index) of every access in ``e``, loads of index tensors included."""
    out = []

    def idx(i: Index):
        if isinstance(i, Load):
            out.append((i.buf, i.index))
            for j in i.index:
                idx(j)
        elif isinstance(i, (Div, Mod)):
            idx(i.arg)
        elif isinstance(i, Scaled):
            idx(i.arg)
        elif isinstance(i, Sum):
            for a in i.args:
                idx(a)
        elif isinstance(i, IfLess):
            for a in (i.a, i.then, i.other):
                idx(a)
    for x in walk(e):
        if isinstance(x, Read):
            out.append((x.buf, x.index))
            for i in x.index:
                idx(i)
        elif isinstance(x, IndexValue):
            idx(x.index)
    return out


def is_expensive(e: Expr) -> bool:
    return any(isinstance(x, Op) and x.name in TRANSCENDENTAL for x in walk(e))


def op_count(e: Expr) -> int:
    return sum(1 for x in walk(e) if isinstance(x, Op))


# -- buffers, statements, kernels ------------------------------------------------------------------

@dataclass
class Buffer:
    name: str
    shape: tuple
    dtype: DType
    kind: str                      # "in", "out", "temp"
    index: int = -1                # position in in[] / out[]
    alias: Optional[str] = None    # a view (reshape) of another buffer's storage

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def type(self) -> TensorType:
        return TensorType(self.shape, self.dtype)


REDUCE_KINDS = ("assign", "sum", "max", "min", "prod", "argmax", "argmin")


@dataclass
class Stmt:
    name: str
    dims: list                     # [(dim name, extent)]
    buf: str                       # written buffer
    index: tuple                   # write index (in the buffer's shape)
    body: Expr
    update: str = "assign"         # or a reduction: buf[index] = buf[index] <op> body
    #: argmax/argmin: the buffer holding the running best value (``buf`` holds the index)
    aux: Optional[str] = None
    arg_dim: Optional[str] = None  # argmax/argmin: the reduced dim whose value is the index
    select_last: bool = False
    #: the statement's place in its nest: one entry per schedule dimension, a dim name or an int
    sched: list = field(default_factory=list)
    #: dims that carry a reduction (never parallel)
    reduction_dims: tuple = ()

    @property
    def extents(self) -> dict:
        return dict(self.dims)

    def domain_isl(self) -> str:
        names = ", ".join(d for d, _ in self.dims)
        cons = " and ".join(f"0 <= {d} < {n}" for d, n in self.dims)
        return f"{{ {self.name}[{names}]" + (f" : {cons} }}" if cons else " }")


@dataclass
class Kernel:
    buffers: dict                  # name -> Buffer (ordered: ins, outs, temps)
    nests: list                    # [[Stmt]]
    name: str = "kernel"

    @property
    def stmts(self) -> list:
        return [s for n in self.nests for s in n]

    def storage(self, buf: str) -> Buffer:
        b = self.buffers[buf]
        while b.alias is not None:
            b = self.buffers[b.alias]
        return b

    def inputs(self) -> list:
        return sorted((b for b in self.buffers.values() if b.kind == "in"), key=lambda b: b.index)

    def outputs(self) -> list:
        return sorted((b for b in self.buffers.values() if b.kind == "out"), key=lambda b: b.index)


# -- JSON form ----------------------------------------------------------------------------------------

def index_to_json(i: Index):
    if isinstance(i, Aff):
        return ["aff", [[d, c] for d, c in i.terms], i.const]
    if isinstance(i, Div):
        return ["div", index_to_json(i.arg), i.d]
    if isinstance(i, Mod):
        return ["mod", index_to_json(i.arg), i.d]
    if isinstance(i, Load):
        return ["load", i.buf, [index_to_json(x) for x in i.index], i.wrap]
    if isinstance(i, Sum):
        return ["sum", [index_to_json(a) for a in i.args]]
    if isinstance(i, Scaled):
        return ["scaled", index_to_json(i.arg), i.c]
    if isinstance(i, IfLess):
        return ["ifless", index_to_json(i.a), i.bound, index_to_json(i.then), index_to_json(i.other)]
    raise TypeError(i)


def index_from_json(j) -> Index:
    k = j[0]
    if k == "aff":
        return Aff(tuple((d, c) for d, c in j[1]), j[2])
    if k == "div":
        return Div(index_from_json(j[1]), j[2])
    if k == "mod":
        return Mod(index_from_json(j[1]), j[2])
    if k == "load":
        return Load(j[1], tuple(index_from_json(x) for x in j[2]), j[3])
    if k == "sum":
        return Sum(tuple(index_from_json(x) for x in j[1]))
    if k == "scaled":
        return Scaled(index_from_json(j[1]), j[2])
    if k == "ifless":
        return IfLess(index_from_json(j[1]), j[2], index_from_json(j[3]), index_from_json(j[4]))
    raise ValueError(f"bad index {j!r}")


def _json_value(v):
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return ["float", repr(v)]
    if isinstance(v, DType):
        return ["dtype", v.value]
    return v


def _value_from_json(v):
    if isinstance(v, list) and len(v) == 2 and v[0] == "float":
        return float(v[1])
    if isinstance(v, list) and len(v) == 2 and v[0] == "dtype":
        return DType(v[1])
    return v


def expr_to_json(e: Expr):
    if isinstance(e, Read):
        return ["read", e.buf, [index_to_json(i) for i in e.index], e.dtype.value]
    if isinstance(e, Const):
        return ["const", _json_value(e.value), e.dtype.value]
    if isinstance(e, IndexValue):
        return ["index", index_to_json(e.index), e.dtype.value]
    if isinstance(e, Op):
        return ["op", e.name, [[k, _json_value(v)] for k, v in e.attrs], [expr_to_json(a) for a in e.args],
                e.dtype.value]
    raise TypeError(e)


def expr_from_json(j) -> Expr:
    k = j[0]
    if k == "read":
        return Read(j[1], tuple(index_from_json(i) for i in j[2]), DType(j[3]))
    if k == "const":
        return Const(_value_from_json(j[1]), DType(j[2]))
    if k == "index":
        return IndexValue(index_from_json(j[1]), DType(j[2]))
    if k == "op":
        return Op(j[1], tuple((a, _value_from_json(v)) for a, v in j[2]), tuple(expr_from_json(a) for a in j[3]),
                  DType(j[4]))
    raise ValueError(f"bad expression {j!r}")


def expr_text(e: Expr) -> str:
    """A readable one-line form (for printing and reports)."""
    if isinstance(e, Read):
        return f"{e.buf}[{', '.join(index_text(i) for i in e.index)}]"
    if isinstance(e, Const):
        return repr(e.value)
    if isinstance(e, IndexValue):
        return f"({index_text(e.index)})"
    if isinstance(e, Op):
        return f"{e.name}({', '.join(expr_text(a) for a in e.args)})"
    return "?"


def index_text(i: Index) -> str:
    if isinstance(i, Load):
        return f"{i.buf}[{', '.join(index_text(x) for x in i.index)}]"
    s = i.isl()
    return s if s is not None else "?"


# -- simplification of quasi-affine indices -----------------------------------------------------------

def _aff_range(a: Aff, ext: dict):
    lo = hi = a.const
    for d, c in a.terms:
        if d not in ext:
            return None
        n = ext[d]
        lo += min(0, c * (n - 1))
        hi += max(0, c * (n - 1))
    return lo, hi


def simplify_index(i: Index, ext: dict) -> Index:
    """``i`` with floor divisions and mods of affine expressions removed where the dims' ranges
    (``ext``: dim -> extent) make them exact, e.g. ``(16*h + 64*s + d) / 64 -> s`` for d < 16, h < 4."""
    if isinstance(i, Aff):
        return i
    if isinstance(i, (Div, Mod)):
        a = simplify_index(i.arg, ext)
        if isinstance(a, Aff):
            d = i.d
            keep = {x: c for x, c in a.terms if c % d == 0}
            rest = Aff.of({x: c for x, c in a.terms if c % d != 0}, a.const)
            r = _aff_range(rest, ext)
            if r is not None and 0 <= r[0] and r[1] < d:
                if isinstance(i, Div):
                    return Aff.of({x: c // d for x, c in keep.items()})
                return rest
            whole = _aff_range(a, ext)
            if whole is not None and whole[0] // d == whole[1] // d:
                if isinstance(i, Div):
                    return Aff.cst(whole[0] // d)
                return add_index(a, Aff.cst(-(whole[0] // d) * d))
        return Div(a, i.d) if isinstance(i, Div) else Mod(a, i.d)
    if isinstance(i, Sum):
        out: Index = Aff.cst(0)
        for x in i.args:
            out = add_index(out, simplify_index(x, ext))
        return out
    if isinstance(i, Scaled):
        return scale_index(simplify_index(i.arg, ext), i.c)
    if isinstance(i, Load):
        return Load(i.buf, tuple(simplify_index(x, ext) for x in i.index), i.wrap)
    if isinstance(i, IfLess):
        return IfLess(simplify_index(i.a, ext), i.bound, simplify_index(i.then, ext), simplify_index(i.other, ext))
    return i


def simplify_expr(e: Expr, ext: dict) -> Expr:
    if isinstance(e, Read):
        return Read(e.buf, tuple(simplify_index(i, ext) for i in e.index), e.dtype)
    if isinstance(e, IndexValue):
        return IndexValue(simplify_index(e.index, ext), e.dtype)
    if isinstance(e, Op):
        return Op(e.name, e.attrs, tuple(simplify_expr(a, ext) for a in e.args), e.dtype)
    return e
