"""Polynomial rewriting: the algebraic half of LP-Fusion (paper section 2.2).

A library, not a pass: the ``lp-fusion`` pass calls these functions, each of
which takes a :class:`~lpfc.ir.core.Function`, rewrites it in place and
returns the number of rewrites it made.

``elementwise_regions(fn, include=None)``
    Maximal connected element-wise regions, in program order.

``simplify_polynomials(fn, max_terms=64)``
    Reads each output of an add/sub/mul/neg/div-by-constant region as a
    polynomial over the region's leaves, simplifies it with the commutative,
    associative and distributive laws (like terms, constant folding, greedy
    factoring) and rebuilds it when that lowers the cost.  The paper's
    ``(A+F)*G + (A+F)*H`` becomes ``(A+F)*(G+H)``.

(``fold_scales_into_weights``, the other half of the algebra, lives in
:mod:`~lpfc.passes.lp_fusion.scale_folding`.)

The cost that decides whether a rewrite is worth it is, in order: the
computation count of :mod:`~lpfc.passes.lp_fusion.computation_count` (elements times
operations, expression trees expanded, so broadcasting is accounted for: an
op on a ``[1,N]`` row costs N, not M*N), then the number of operators, then
the bytes the operators read and write.  A rewrite never raises the first.
"""
from __future__ import annotations

import heapq
import math
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Union

import numpy as np

from ...ir.constants import constant_value
from ...ir.core import Function, Operation, Value
from ...ir.dialects.graph import broadcast_shapes
from .computation_count import is_elementwise_arith, op_computations
from ..fold_constants import make_constant
from ..rewrite import Rewriter, erase_dead

# ---------------------------------------------------------------------------------------------- regions


def _is_float_elementwise(op: Operation) -> bool:
    return (is_elementwise_arith(op) and len(op.results) == 1
            and op.results[0].type.dtype.is_float)


def elementwise_regions(fn: Function, include: Optional[Callable[[Operation], bool]] = None
                        ) -> list[list[Operation]]:
    """Maximal connected regions of element-wise ops in ``fn``'s body, in program order.

    An op belongs to a region when ``include(op)`` holds; by default that is
    an element-wise arithmetic op (the ``elementwise`` trait, less the data
    movement ops ``cast`` and ``identity``) with one floating-point result.
    Two included ops are connected when one uses a result of the other
    directly, so a region is a connected piece of the data-flow graph; the
    values it reads from outside (other ops' results, function arguments,
    constants) are its inputs, and the results used outside it or returned
    are its outputs.  Constants are never members.

    Each region lists its ops in program order; regions are ordered by their
    first op.  Only the top-level body is scanned (not the regions of nested
    ops such as ``graph.fused``).  With a narrower ``include`` a region may
    feed itself through an outside op: for polynomial ops only, GELU's
    ``x/c -> erf -> (erf + 1) * x`` is one region whose output ``x/c``
    comes back in as the leaf ``erf(x/c)``.
    """
    include = include or _is_float_elementwise
    members = [op for op in fn.body.ops if include(op)]
    index = {op: i for i, op in enumerate(members)}
    parent = list(range(len(members)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, op in enumerate(members):
        for v in op.operands:
            j = index.get(v.owner) if isinstance(v.owner, Operation) else None
            if j is not None:
                a, b = find(i), find(j)
                parent[max(a, b)] = min(a, b)  # the smallest index (earliest op) names the region
    groups: dict[int, list[Operation]] = {}
    for i, op in enumerate(members):
        groups.setdefault(find(i), []).append(op)
    return [groups[k] for k in sorted(groups)]


# ------------------------------------------------------------------------------ polynomial arithmetic
#
# A polynomial maps monomials to coefficients.  A monomial is a sorted tuple of
# leaf indices (x*x*y is (0, 0, 1)); a coefficient is a float64 numpy array,
# 0-d for a scalar or shaped like the constant tensor it came from (a bias row,
# say), so constant tensors fold into coefficients and broadcast like the ops
# they came through.  Terms whose coefficient is zero are dropped; the
# polynomial's value is then broadcast to the region output's shape.

Monomial = tuple
Poly = dict

_ZERO_RTOL = 1e-12   # a sum this small relative to its addends is a cancellation, not a value
_MATCH_RTOL = 1e-9   # coefficients this close are the same number computed two ways


def _is_zero(c: np.ndarray) -> bool:
    return not np.any(c)


def _cancels(a: np.ndarray, b: np.ndarray, total: np.ndarray) -> bool:
    return bool(np.all(np.abs(total) <= _ZERO_RTOL * np.maximum(np.abs(a), np.abs(b))))


def _accumulate(out: Poly, m: Monomial, c: np.ndarray) -> None:
    """out += c * m, in place, dropping the term when it cancels."""
    if m not in out:
        if not _is_zero(c):
            out[m] = c
        return
    total = out[m] + c
    if _cancels(out[m], c, total):
        del out[m]
    else:
        out[m] = total


def _p_add(p: Poly, q: Poly, sign: float = 1.0) -> Poly:
    out = dict(p)
    for m, c in q.items():
        _accumulate(out, m, c * sign)
    return out


def _p_scale(p: Poly, c: np.ndarray) -> Poly:
    out = {}
    for m, a in p.items():
        _accumulate(out, m, a * c)
    return out


def _mono_mul(a: Monomial, b: Monomial) -> Monomial:
    return tuple(sorted(a + b))


def _p_mul(p: Poly, q: Poly) -> Poly:
    out: Poly = {}
    for m1, c1 in p.items():
        for m2, c2 in q.items():
            _accumulate(out, _mono_mul(m1, m2), c1 * c2)
    return out


def _mono_div(m: Monomial, d: Monomial) -> Optional[Monomial]:
    """m / d when d divides m (as multisets), else None."""
    rest = Counter(m)
    rest.subtract(Counter(d))
    if any(n < 0 for n in rest.values()):
        return None
    return tuple(sorted(rest.elements()))


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=_MATCH_RTOL, atol=0.0))


# ---------------------------------------------------------------------------------------- expressions
#
# The rewritten form of a polynomial, before it becomes ops.  Products and sums
# are n-ary: the emitter picks the order of the binary ops (smallest operands
# first, so row vectors are combined before they meet full tensors).


@dataclass(frozen=True)
class _Leaf:
    index: int


@dataclass(frozen=True, eq=False)
class _Const:
    array: np.ndarray


@dataclass(frozen=True)
class _Neg:
    arg: "Expr"


@dataclass(frozen=True)
class _Prod:
    factors: tuple


@dataclass(frozen=True)
class _Sum:
    items: tuple  # (sign, Expr) pairs, sign +1 or -1


Expr = Union[_Leaf, _Const, _Neg, _Prod, _Sum]


def _is_scalar(c: np.ndarray, value: float) -> bool:
    return c.ndim == 0 and float(c) == value


def _product(factors: Sequence[Expr]) -> Expr:
    """A product with nested products flattened, constants multiplied and signs pulled out."""
    flat: list[Expr] = []
    const: Optional[np.ndarray] = None
    negative = False
    stack = list(reversed(factors))
    while stack:
        f = stack.pop()
        if isinstance(f, _Neg):
            negative = not negative
            stack.append(f.arg)
        elif isinstance(f, _Prod):
            stack.extend(reversed(f.factors))
        elif isinstance(f, _Const):
            const = f.array if const is None else const * f.array
        else:
            flat.append(f)
    # A sign is free inside a constant factor; without one it stays a neg, which an enclosing
    # sum turns into a subtraction.
    if const is not None and const.ndim == 0:
        if float(const) < 0:
            const, negative = -const, not negative
        if float(const) == 1.0 and flat:
            const = None
    if negative and const is not None:
        const, negative = -const, False
    if const is not None:
        flat.append(_Const(const))
    if not flat:
        return _Const(np.array(-1.0 if negative else 1.0))
    expr = flat[0] if len(flat) == 1 else _Prod(tuple(flat))
    return _Neg(expr) if negative else expr


def _sum(items: Sequence[Expr]) -> Expr:
    """A sum with nested sums flattened, negations turned into subtractions, constants added."""
    flat: list[tuple[int, Expr]] = []
    const: Optional[np.ndarray] = None
    stack = [(1, e) for e in reversed(items)]
    while stack:
        sign, e = stack.pop()
        if isinstance(e, _Neg):
            stack.append((-sign, e.arg))
        elif isinstance(e, _Sum):
            stack.extend((sign * s, x) for s, x in reversed(e.items))
        elif isinstance(e, _Const):
            const = sign * e.array if const is None else const + sign * e.array
        else:
            flat.append((sign, e))
    if const is not None and not _is_zero(const):
        flat.append((1, _Const(const)))
    if not flat:
        return _Const(np.array(0.0))
    if len(flat) == 1:
        sign, e = flat[0]
        return e if sign > 0 else _Neg(e)
    return _Sum(tuple(flat))


def _term(m: Monomial, c: np.ndarray) -> Expr:
    return _product([_Leaf(i) for i in m] + [_Const(c)])


def _flat(p: Poly) -> Expr:
    """The polynomial as a plain sum of products."""
    return _sum([_term(m, c) for m, c in p.items()])


# ------------------------------------------------------------------------------------------ factoring


class _Factorizer:
    """Greedy algebraic factoring (Brayton's kernel-based GFACTOR, with coefficients).

    ``factor(P)`` pulls out the factor common to all terms, then looks for a
    multi-term divisor: starting from the leaf that appears in most terms it
    divides down to a kernel K (a quotient with no common factor), divides P
    by K to get Q, and by Q to get the largest co-factor D, so that
    ``P = Q*D + R`` - the step that turns ``AG + AH + FG + FH`` into
    ``(A+F)*(G+H)``.  When no multi-term divisor exists it factors out the
    most frequent leaf alone (Horner's rule).  Every step is an identity, so
    the result equals P whatever the choices; the cost decides whether to use it.
    """

    def __init__(self, leaf_sizes: Sequence[int]):
        self.leaf_sizes = leaf_sizes

    def factor(self, p: Poly) -> Expr:
        if len(p) <= 1:
            return _flat(p)
        cube, coef, rest = self._split_common(p)
        if cube or coef is not None:
            factors = [_Leaf(i) for i in cube] + ([_Const(coef)] if coef is not None else [])
            return _product(factors + [self.factor(rest)])
        lit = self._most_frequent_leaf(p)
        if lit is None:
            return _flat(p)
        kernel = self._kernel(p, lit)
        q, _ = _divide(p, kernel)
        if len(q) > 1:
            q = self._split_common(q)[2]
            d, r = _divide(p, q)
            if len(d) > 1:
                return _sum([_product([self.factor(q), self.factor(d)]), self.factor(r)])
        q, r = _divide_by_leaf(p, lit)
        return _sum([_product([_Leaf(lit), self.factor(q)]), self.factor(r)])

    def _most_frequent_leaf(self, p: Poly) -> Optional[int]:
        """The leaf found in most terms (at least two); ties go to the larger leaf, whose
        multiplications cost most, then to the earlier one."""
        counts = Counter(i for m in p for i in set(m))
        best = [(n, self.leaf_sizes[i], -i) for i, n in counts.items() if n >= 2]
        return -max(best)[2] if best else None

    def _kernel(self, p: Poly, lit: int) -> Poly:
        """Divide by ``lit`` and then by further frequent leaves while two or more terms remain."""
        k = self._split_common(_divide_by_leaf(p, lit)[0])[2]
        while True:
            nxt = self._most_frequent_leaf(k)
            if nxt is None:
                return k
            k2 = self._split_common(_divide_by_leaf(k, nxt)[0])[2]
            if len(k2) < 2:
                return k
            k = k2

    @staticmethod
    def _split_common(p: Poly) -> tuple[Monomial, Optional[np.ndarray], Poly]:
        """(the leaves common to every term, the coefficient common to every term up to sign or
        None, P divided by both)."""
        cube = Counter(next(iter(p)))
        for m in p:
            cube &= Counter(m)
        common = tuple(sorted(cube.elements()))
        coef, signs = _common_coefficient(list(p.values()))
        if not common and coef is None:
            return (), None, p
        if coef is None:
            return common, None, {_mono_div(m, common): c for m, c in p.items()}
        return common, coef, {_mono_div(m, common): np.array(sign) for m, sign in zip(p, signs)}


def _common_coefficient(coefs: list) -> tuple[Optional[np.ndarray], list]:
    """(c, signs) when every coefficient is +c or -c (c not 1, so there is something to pull out)."""
    first = coefs[0]
    if _is_scalar(first, 1.0) or not np.all(first != 0):
        return None, []
    signs = []
    for c in coefs:
        if _close(c, first):
            signs.append(1.0)
        elif _close(c, -first):
            signs.append(-1.0)
        else:
            return None, []
    return first, signs


def _divide_by_leaf(p: Poly, lit: int) -> tuple[Poly, Poly]:
    q, r = {}, {}
    for m, c in p.items():
        if lit in m:
            q[_mono_div(m, (lit,))] = c
        else:
            r[m] = c
    return q, r


def _divide(p: Poly, d: Poly) -> tuple[Poly, Poly]:
    """Weak (algebraic) division: the largest Q with P = D*Q + R, Q sharing no leaf with D.

    Q's terms are the monomials n such that m*n is a term of P for every term m
    of D, with the same ratio of coefficients; keeping Q's leaves apart from
    D's makes the products m*n distinct, so R is P less exactly those terms.
    """
    if not d or any(np.any(c == 0) for c in d.values()):
        return {}, p
    support = {i for m in d for i in m}
    quotient: Optional[Poly] = None
    for m_d, c_d in d.items():
        candidates = {}
        for m, c in p.items():
            n = _mono_div(m, m_d)
            if n is not None and not support.intersection(n):
                candidates[n] = c / c_d
        if quotient is None:
            quotient = candidates
        else:
            quotient = {n: c for n, c in quotient.items() if n in candidates and _close(c, candidates[n])}
        if not quotient:
            return {}, p
    rest = dict(p)
    for n in quotient:
        for m_d in d:
            del rest[_mono_mul(m_d, n)]
    return quotient, rest


# ----------------------------------------------------------------------------------- cost and emission


@dataclass(frozen=True, order=True)
class Cost:
    """What a rewrite is judged by, compared in this order."""

    computations: int
    operators: int
    bytes_moved: int


def _size(shape) -> int:
    return math.prod(shape)


class _CostEmitter:
    """Emits nothing; adds up what the ops would cost.  Handles are shapes."""

    def __init__(self, leaf_shapes: Sequence[tuple], leaf_costs: Sequence[int], dtype):
        self.leaf_shapes, self.leaf_costs = leaf_shapes, leaf_costs
        self.dtype, self.itemsize = dtype.numpy, dtype.itemsize
        self.computations = self.operators = self.bytes = 0
        self.representable = True  # every folded constant fits the dtype (f16 overflows early)

    def shape(self, h) -> tuple:
        return h

    def leaf(self, i: int) -> tuple:
        # The computation count expands element-wise leaves into each use, so a leaf's own
        # element-wise computations are paid again at every occurrence.
        self.computations += self.leaf_costs[i]
        return self.leaf_shapes[i]

    def const(self, array: np.ndarray) -> tuple:
        with np.errstate(over="ignore"):
            self.representable &= bool(np.all(np.isfinite(array.astype(self.dtype))))
        return array.shape

    def op(self, name: str, args: Sequence[tuple], shape: Optional[tuple] = None) -> tuple:
        out = shape if shape is not None else broadcast_shapes(*args)
        if name not in ("expand", "reshape"):
            self.computations += _size(out)
        self.operators += 1
        self.bytes += (sum(_size(a) for a in args) + _size(out)) * self.itemsize
        return out

    @property
    def cost(self) -> Cost:
        return Cost(self.computations, self.operators, self.bytes)


class _IREmitter:
    """Emits graph ops before ``anchor``; handles are Values."""

    def __init__(self, anchor: Operation, leaves: Sequence[Value], dtype):
        self.anchor, self.leaves, self.dtype = anchor, leaves, dtype
        self.rewriter = Rewriter()

    def shape(self, h: Value) -> tuple:
        return h.type.shape

    def leaf(self, i: int) -> Value:
        return self.leaves[i]

    def const(self, array: np.ndarray) -> Value:
        return make_constant(self.rewriter, self.anchor, array.astype(self.dtype.numpy), "coef").result

    def op(self, name: str, args: Sequence[Value], shape: Optional[tuple] = None) -> Value:
        attrs = {"shape": list(shape)} if name in ("expand", "reshape") else None
        return self.rewriter.create(self.anchor, f"graph.{name}", list(args), attrs).result


def _combine_smallest(handles: list, shape_of, combine):
    """Fold ``handles`` pairwise, always joining the two smallest: row vectors and scalars meet
    each other before they meet full tensors, which is what broadcasting makes cheap."""
    heap = [(_size(shape_of(h)), k, h) for k, h in enumerate(handles)]
    heapq.heapify(heap)
    seq = len(heap)
    while len(heap) > 1:
        a = heapq.heappop(heap)[2]
        b = heapq.heappop(heap)[2]
        c = combine(a, b)
        heapq.heappush(heap, (_size(shape_of(c)), seq, c))
        seq += 1
    return heap[0][2]


def _emit(e: Expr, em):
    if isinstance(e, _Leaf):
        return em.leaf(e.index)
    if isinstance(e, _Const):
        return em.const(e.array)
    if isinstance(e, _Neg):
        return em.op("neg", [_emit(e.arg, em)])
    if isinstance(e, _Prod):
        return _combine_smallest([_emit(f, em) for f in e.factors], em.shape,
                                 lambda a, b: em.op("mul", [a, b]))
    return _emit_sum(e, em)


def _emit_sum(e: _Sum, em):
    """Signed terms are joined smallest first: +a +b -> add, +a -b -> sub, -a -b -> add (negative);
    only a sum left negative at the end needs a neg."""
    def combine(a: tuple, b: tuple) -> tuple:
        if a[0] == b[0]:
            return a[0], em.op("add", [a[1], b[1]])
        pos, neg = (a, b) if a[0] > 0 else (b, a)
        return 1, em.op("sub", [pos[1], neg[1]])

    items = [(sign, _emit(x, em)) for sign, x in e.items]
    sign, h = _combine_smallest(items, lambda item: em.shape(item[1]), combine)
    return h if sign > 0 else em.op("neg", [h])


def _emit_root(e: Expr, em, shape: tuple):
    """Emit ``e`` and bring it to the root's shape (a pure view when only the rank differs)."""
    h = _emit(e, em)
    got = em.shape(h)
    if got == tuple(shape):
        return h
    return em.op("reshape" if _size(got) == _size(shape) else "expand", [h], tuple(shape))


# --------------------------------------------------------------------------------- reading a region


def _is_polynomial_op(op: Operation) -> bool:
    """add/sub/mul/neg, and div by a finite non-zero constant, on floats."""
    if len(op.results) != 1 or not op.results[0].type.dtype.is_float:
        return False
    if op.name in ("graph.add", "graph.sub", "graph.mul", "graph.neg"):
        return True
    if op.name == "graph.div":
        d = constant_value(op.operands[1])
        return d is not None and bool(np.all(np.isfinite(d)) and np.all(d != 0))
    return False


def _coefficient(v: Value) -> Optional[np.ndarray]:
    """The array of a finite float constant, as a coefficient (splats collapse to scalars)."""
    a = constant_value(v)
    if a is None or not a.dtype.kind == "f" or not np.all(np.isfinite(a)):
        return None  # non-finite constants (an -inf mask) stay opaque leaves
    a = a.astype(np.float64)
    if a.size and np.all(a == a.flat[0]):
        return np.array(a.flat[0])  # the shape it broadcast to is restored at the root
    return a


def _postorder(root: Value, children: Callable[[Value], Sequence[Value]]) -> list[Value]:
    """Values reachable from ``root`` through ``children``, each after its children, once."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        v, done = stack.pop()
        if done:
            order.append(v)
            continue
        if v in seen:
            continue
        seen.add(v)
        stack.append((v, True))
        stack.extend((c, False) for c in reversed(children(v)) if c not in seen)
    return order


class _TooManyTerms(Exception):
    pass


class _Reader:
    """Reads region values as polynomials over leaves.

    Expansion stops at ``materialized`` values (region outputs and cut points),
    at non-polynomial ops and at arguments; those are leaves, numbered in the
    order they are met.  Finite constants become coefficients.
    """

    def __init__(self, materialized: set, max_terms: int):
        self.materialized = materialized
        self.max_terms = max_terms
        self.leaves: list[Value] = []
        self.leaf_index: dict[Value, int] = {}
        self.memo: dict[Value, Poly] = {}

    def expands(self, v: Value) -> bool:
        op = v.owner
        return isinstance(op, Operation) and v not in self.materialized and _is_polynomial_op(op)

    def children(self, v: Value) -> Sequence[Value]:
        return v.owner.operands if self.expands(v) else ()

    def poly(self, v: Value, cut: Optional[Callable[[Value], None]] = None) -> Poly:
        for u in _postorder(v, self.children):
            if u not in self.memo:
                self.memo[u] = self._combine(u, cut) if self.expands(u) else self._atom(u)
        return self.memo[v]

    def _atom(self, v: Value) -> Poly:
        c = _coefficient(v)
        if c is not None:
            return {(): c} if not _is_zero(c) else {}
        if v not in self.leaf_index:
            self.leaf_index[v] = len(self.leaves)
            self.leaves.append(v)
        return {(self.leaf_index[v],): np.array(1.0)}

    def _combine(self, v: Value, cut) -> Poly:
        """The polynomial of ``v``'s op from its operands'.  Too many terms: with ``cut``, make the
        operand with most terms a leaf and retry (``cut`` records it as materialized)."""
        op = v.owner
        while True:
            args = [self.memo[a] for a in op.operands]
            if op.name == "graph.mul" and len(args[0]) * len(args[1]) > self.max_terms ** 2:
                result = None  # would take too long to find out
            else:
                result = self._apply(op, args)
            if result is not None and len(result) <= self.max_terms:
                return result
            big = max((a for a in op.operands if self.expands(a)), key=lambda a: len(self.memo[a]),
                      default=None)
            if cut is not None and big is None and result is not None:
                return result  # its operands are leaves already: nothing left to cut
            if cut is None or big is None:
                raise _TooManyTerms(op.name)
            cut(big)
            self.memo[big] = self._atom(big)

    @staticmethod
    def _apply(op: Operation, args: list[Poly]) -> Poly:
        if op.name == "graph.add":
            return _p_add(args[0], args[1])
        if op.name == "graph.sub":
            return _p_add(args[0], args[1], -1.0)
        if op.name == "graph.mul":
            return _p_mul(args[0], args[1])
        if op.name == "graph.neg":
            return _p_scale(args[0], np.array(-1.0))
        divisor = constant_value(op.operands[1]).astype(np.float64)  # graph.div by a constant
        return _p_scale(args[0], 1.0 / divisor)


def _tree_cost(v: Value, memo: dict) -> int:
    """The computation count of ``v``'s element-wise expression tree (as computation_count sees it)."""
    for u in _postorder(v, lambda x: x.owner.operands if _counts_as_tree(x) else ()):
        if u not in memo:
            memo[u] = (op_computations(u.owner) + sum(memo[a] for a in u.owner.operands)
                       if _counts_as_tree(u) else 0)
    return memo[v]


def _counts_as_tree(v: Value) -> bool:
    return isinstance(v.owner, Operation) and is_elementwise_arith(v.owner)


# ------------------------------------------------------------------------------ simplify_polynomials


def simplify_polynomials(fn: Function, max_terms: int = 64) -> int:
    """Rewrite the outputs of add/sub/mul/neg/div-by-constant regions into cheaper polynomials.

    Each region output (a value used outside the region or returned) is read
    as a polynomial over the region's leaves; internal values used twice are
    expanded at each use, as the computation count does.  Like terms are
    collected and constant sub-terms folded into coefficients (numpy, at
    compile time); then the polynomial is factored greedily
    (:class:`_Factorizer`) and also written as a plain sum of products.  The
    cheapest of those and the original wins (:class:`Cost`), so nothing gets
    more expensive.  A value whose expansion would exceed ``max_terms`` terms
    is kept as it is and becomes a leaf of its users.  Outputs keep their
    exact types: rebuilt ops get theirs from the dialect's type rules and a
    reshape or expand restores the output shape when terms that carried it
    cancelled.  Returns the number of outputs rewritten.
    """
    rewrites = 0
    for region in elementwise_regions(fn, _is_polynomial_op):
        rewrites += _simplify_region(region, max_terms)
    return rewrites


def _simplify_region(region: list[Operation], max_terms: int) -> int:
    region = [op for op in region if op.parent is not None]  # rewriting an earlier region may erase dead ops
    in_region = set(region)
    materialized = {op.result for op in region
                    if any(u not in in_region for u in op.result.users)}
    # Find the cut points once, in program order, so later values see earlier cuts as leaves.
    pre = _Reader(materialized, max_terms)
    for op in region:
        pre.poly(op.result, cut=materialized.add)
    rewrites = 0
    for op in region:
        if op.parent is not None and op.result in materialized:
            new = _simplify_root(op, materialized, max_terms)
            if new is not None:
                materialized.add(new)
                rewrites += 1
    return rewrites


def _simplify_root(op: Operation, materialized: set, max_terms: int) -> Optional[Value]:
    """Rewrite one region output if a cheaper form exists; returns the value that replaced it."""
    root = op.result
    reader = _Reader(materialized - {root}, max_terms)
    try:
        p = reader.poly(root)
    except _TooManyTerms:
        return None
    memo: dict = {}
    shapes = [v.type.shape for v in reader.leaves]
    costs = [_tree_cost(v, memo) for v in reader.leaves]
    dtype = root.type.dtype

    best, best_cost = None, _original_cost(root, reader, costs, dtype.itemsize)
    factorizer = _Factorizer([_size(s) for s in shapes])
    for candidate in (factorizer.factor(p), _flat(p)):
        em = _CostEmitter(shapes, costs, dtype)
        _emit_root(candidate, em, root.type.shape)
        if em.representable and em.cost < best_cost:
            best, best_cost = candidate, em.cost
    if best is None:
        return None
    new = _emit_root(best, _IREmitter(op, reader.leaves, dtype), root.type.shape)
    assert new.type == root.type, f"rebuilt {new.type}, expected {root.type}"
    root.replace_all_uses_with(new)
    erase_dead(op)
    return new


def _original_cost(root: Value, reader: _Reader, leaf_costs: Sequence[int], itemsize: int) -> Cost:
    """The cost of the region's own expression tree for ``root``: the same accounting as
    :class:`_CostEmitter`, with values used twice paid at each use, as the computation count does."""
    costs: dict[Value, tuple] = {}
    for v in _postorder(root, reader.children):
        if not reader.expands(v):  # a leaf, or a constant folded into a coefficient
            costs[v] = (leaf_costs[reader.leaf_index[v]], 0, 0) if v in reader.leaf_index else (0, 0, 0)
            continue
        operands = v.owner.operands
        n = _size(v.type.shape)
        own = (n, 1, (sum(_size(a.type.shape) for a in operands) + n) * itemsize)
        costs[v] = tuple(map(sum, zip(own, *(costs[a] for a in operands))))
    return Cost(*costs[root])
