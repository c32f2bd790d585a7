"""Fused-block formation: group graph ops into ``graph.fused`` kernels (LP-Fusion's second half).

Which producer/consumer pairs may share a kernel is decided by the ops'
DNNFusion mapping types (``lookup(name).mapping``), not by matching the
spelling of one exporter:

* one-to-one (element-wise) ops join their producer's block as an epilogue,
  or, when they have no computing producer, start a block that a consumer
  pulls in as a prologue;
* reorganize / shuffle / one-to-many ops (reshape, transpose, slice, split,
  gather, expand, ...) are access patterns: they go to the block that
  consumes them.  A reshape after a kernel is a view and stays with its
  producer; the head-merge transpose after attention is a write pattern of
  the attention block;
* many-to-many ops (matmul, gemm, softmax, layer_norm, reductions) anchor
  blocks.  Two of them share a block only in the combinations known to be
  legal row by row (:func:`_m2m_legal`): GEMM -> row-wise LayerNorm /
  reduction / softmax over the GEMM's full output row, reduction -> reduction
  over the same row (a decomposed LayerNorm), and Q.K^T -> softmax -> .V
  (attention).

Grouping walks the ops in program order, so a block is formed around each
anchor as it is met; every merge keeps the graph of blocks acyclic and the
block within ``max_ops`` ops.  Blocks are then materialised as isolated
``graph.fused`` ops: values from outside (weights and other constants
included) become block operands, values used outside are yielded.

Horizontal GEMM fusion, the graph rewrite that precedes grouping, is
:mod:`lpfc.passes.lp_fusion.horizontal`.
"""
from __future__ import annotations

import heapq
import re
from typing import Iterable, Optional

import numpy as np

from ...ir.core import Block, Function, Operation, Region, Value
from ...ir.opdef import ONE_TO_MANY, ONE_TO_ONE, REORGANIZE, SHUFFLE, lookup

MATMULS = ("graph.matmul", "graph.gemm")
ROW_NORMS = ("graph.layer_norm", "graph.rms_norm")  # rms_norm fuses exactly as layer_norm does
SOFTMAXES = ("graph.softmax", "graph.log_softmax")
VIEW_OPS = ("graph.reshape",)  # a reshape outside a block is a view, not a kernel
NOT_KERNELS = ("graph.constant", "func.return", "graph.reshape")


# -- op roles ----------------------------------------------------------------------------------------
def role(op: Operation) -> str:
    """constant | opaque | elementwise | movement | anchor | terminator, from the op's mapping type."""
    if op.name == "graph.constant":
        return "constant"
    if op.name in ("func.return", "graph.yield"):
        return "terminator"
    if op.regions:  # an existing graph.fused (or any region op): a kernel of its own
        return "opaque"
    d = lookup(op.name)
    mapping = d.mapping if d is not None else None
    if mapping == ONE_TO_ONE:
        return "elementwise"
    if mapping in (REORGANIZE, SHUFFLE, ONE_TO_MANY):
        return "movement"
    return "anchor"  # many-to-many, or unknown: a kernel that fuses only by the rules below


def _norm_axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


def _rows(shape) -> tuple[int, int]:
    """(number of rows, row length) of a shape taken as rows along its last axis."""
    n = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
    return n, int(shape[-1]) if shape else 1


def row_shape(op: Operation) -> Optional[tuple[int, int]]:
    """For an op that works row by row along the last axis: (rows, row length); else None.

    A GEMM computes whole output rows; softmax, layer_norm and reductions over
    the last axis read whole input rows.
    """
    if op.name in MATMULS:
        shape = op.results[0].type.shape
        return _rows(shape) if len(shape) >= 2 else None
    x = op.operands[0].type.shape if op.operands else ()
    rank = len(x)
    if rank == 0:
        return None
    if op.name in SOFTMAXES or op.name in ROW_NORMS:
        axis = _norm_axis(op.attributes.get("axis", -1), rank)
        return _rows(x) if axis == rank - 1 else None
    if op.name.startswith("graph.reduce_"):
        axes = sorted({_norm_axis(a, rank) for a in op.attributes.get("axes", [])})
        return _rows(x) if axes == [rank - 1] else None
    return None


def is_row_reduction(op: Operation) -> bool:
    return op.name.startswith("graph.reduce_") and row_shape(op) is not None


# -- groups ------------------------------------------------------------------------------------------
class Group:
    """A set of ops that will become one kernel."""

    __slots__ = ("ops", "anchors", "min_idx", "max_idx", "closed", "opaque")

    def __init__(self, op: Operation, idx: int, anchor: bool = False, opaque: bool = False):
        self.ops = [op]
        self.anchors = [op] if anchor else []
        self.min_idx = self.max_idx = idx
        self.closed = False   # an attention block whose .V matmul is in: no more many-to-many ops
        self.opaque = opaque  # an existing kernel: never merged

    @property
    def anchored(self) -> bool:
        return bool(self.anchors)

    def anchor_names(self) -> set:
        return {a.name for a in self.anchors}


class Grouper:
    """Partitions a function body into fusion groups (see the module docstring)."""

    def __init__(self, fn: Function, max_ops: int = 64):
        self.fn = fn
        self.max_ops = max_ops
        self.idx: dict[int, int] = {}
        self.group: dict[int, Group] = {}
        for i, op in enumerate(fn.body.ops):
            self.idx[id(op)] = i

    # -- graph queries -------------------------------------------------------------------------------
    def group_of_value(self, v: Value) -> Optional[Group]:
        owner = v.owner
        if isinstance(owner, Operation):
            return self.group.get(id(owner))
        return None

    def producers(self, op: Operation) -> list[Group]:
        """Groups defining op's operands (no constants, no function arguments), latest first."""
        out, seen = [], set()
        for v in op.operands:
            g = self.group_of_value(v)
            if g is not None and id(g) not in seen:
                seen.add(id(g))
                out.append(g)
        return sorted(out, key=lambda g: -g.max_idx)

    def successors(self, g: Group) -> list[Group]:
        out, seen = [], {id(g)}
        for op in g.ops:
            for r in op.results:
                for u in r.uses:
                    s = self.group.get(id(u.operation))
                    if s is not None and id(s) not in seen:
                        seen.add(id(s))
                        out.append(s)
        return out

    def _reaches_indirectly(self, src: Group, dst: Group) -> bool:
        """A path src -> X -> ... -> dst through at least one other group X."""
        limit = dst.max_idx
        stack = [s for s in self.successors(src) if s is not dst]
        seen = {id(s) for s in stack} | {id(src)}
        while stack:
            g = stack.pop()
            if g.min_idx > limit:
                continue  # every group on a path into dst starts before dst ends
            for s in self.successors(g):
                if s is dst:
                    return True
                if id(s) not in seen:
                    seen.add(id(s))
                    stack.append(s)
        return False

    def can_merge(self, a: Group, b: Group) -> bool:
        if a is b:
            return True
        if a.opaque or b.opaque or len(a.ops) + len(b.ops) > self.max_ops:
            return False
        return not self._reaches_indirectly(a, b) and not self._reaches_indirectly(b, a)

    def merge(self, into: Group, other: Group) -> Group:
        if into is other:
            return into
        for op in other.ops:
            self.group[id(op)] = into
        into.ops.extend(other.ops)
        into.anchors.extend(other.anchors)
        into.min_idx = min(into.min_idx, other.min_idx)
        into.max_idx = max(into.max_idx, other.max_idx)
        into.closed = into.closed or other.closed
        return into

    def try_merge(self, into: Group, other: Group) -> bool:
        if not self.can_merge(into, other):
            return False
        self.merge(into, other)
        return True

    # -- legality --------------------------------------------------------------------------------------
    def _depends_on_anchor(self, v: Value, g: Group) -> bool:
        stack, seen = [v], set()
        while stack:
            x = stack.pop()
            op = x.owner
            if not isinstance(op, Operation) or self.group.get(id(op)) is not g or id(op) in seen:
                continue
            seen.add(id(op))
            if op in g.anchors:
                return True
            stack.extend(op.operands)
        return False

    def _row_sources(self, v: Value, g: Group) -> Optional[list[Operation]]:
        """Anchors of g that v is computed from row by row: through element-wise ops (operands that are
        whole rows or one value per row) and reshapes that keep the last dimension.  None when another
        access pattern (a transpose, a slice, a broadcast across rows) lies between an anchor and v;
        prologue values that depend on no anchor of g are read as they are."""
        found, stack, seen = [], [v], set()
        while stack:
            x = stack.pop()
            op = x.owner
            if not isinstance(op, Operation) or self.group.get(id(op)) is not g or id(x) in seen:
                continue
            seen.add(id(x))
            if op in g.anchors:
                found.append(op)
                continue
            if role(op) == "elementwise":
                lead = op.results[0].type.shape[:-1]
                for o in op.operands:
                    shape = (1,) * (len(lead) + 1 - o.type.rank) + tuple(o.type.shape)
                    if tuple(shape[:-1]) == tuple(lead):
                        stack.append(o)
                    elif self._depends_on_anchor(o, g):
                        return None
            elif op.name == "graph.reshape" and op.operands[0].type.shape[-1:] == x.type.shape[-1:]:
                stack.append(op.operands[0])
            elif self._depends_on_anchor(x, g):
                return None
        return found

    def m2m_legal(self, p: Group, op: Operation, operand_index: int) -> bool:
        """May the anchored group p, which defines operand #operand_index of the many-to-many op, share
        a kernel with it?  Only the combinations that stay legal row by row."""
        if p.opaque or p.closed:
            return False
        v = op.operands[operand_index]
        sources = self._row_sources(v, p)
        if not sources:
            return False
        names = p.anchor_names()
        if op.name in MATMULS:
            # attention: softmax(Q.K^T ...) as the left operand of .V; the softmax row is the contraction
            if operand_index != 0 or not (names & set(SOFTMAXES)) or not (names & set(MATMULS)):
                return False
            k = v.type.shape[-1]
            return all(s.name in SOFTMAXES and row_shape(s) == _rows(v.type.shape) and row_shape(s)[1] == k
                       for s in sources)
        rows = row_shape(op)
        if rows is None:
            return False
        if op.name in SOFTMAXES:
            # attention scores: Q.K^T (+ scale, + mask) -> softmax over the keys
            ok_anchor = lambda a: a.name in MATMULS
        else:
            # layer_norm / row reduction after a GEMM (+ bias + residual) or after row reductions
            ok_anchor = lambda a: a.name in MATMULS or a.name in ROW_NORMS or is_row_reduction(a)
        if names & set(SOFTMAXES):
            return False
        return all(ok_anchor(a) and row_shape(a) == rows for a in p.anchors)

    # -- the walk ----------------------------------------------------------------------------------------
    def _pullable(self, u: Group, consumer: Operation) -> bool:
        """May the anchor-free group u become a prologue of consumer's block?  Not when u's values are
        also read elsewhere and consumer broadcasts them (a mask shared by every attention block)."""
        if u.anchored:
            return False
        inside = {id(o) for o in u.ops}
        single = True
        for op in u.ops:
            for r in op.results:
                for use in r.uses:
                    if id(use.operation) not in inside and use.operation is not consumer:
                        single = False
        if single and not self._into_anchor(consumer):
            return True
        return not self._broadcast_into(u, consumer)

    def _into_anchor(self, consumer: Operation) -> bool:
        g = self.group.get(id(consumer))
        return g is not None and g.anchored

    def _broadcast_into(self, u: Group, consumer: Operation) -> bool:
        """Does the element-wise ``consumer`` broadcast a value of ``u``?  Such a prologue would be
        recomputed for every broadcast element, and inside an anchored block (the attention's mask, even
        when only one layer reads it) it hides the block's pattern from its emitter."""
        if role(consumer) != "elementwise":
            return False
        out_shape = consumer.results[0].type.shape
        return any(self.group_of_value(v) is u and v.type.shape != out_shape for v in consumer.operands)

    def _pull_unanchored(self, g: Group, op: Operation) -> None:
        for p in self.producers(op):
            if p is not g and not p.anchored and not p.opaque and self._pullable(p, op):
                self.try_merge(g, p)

    def run(self) -> list[Group]:
        for op in self.fn.body.ops:
            r = role(op)
            if r in ("constant", "terminator"):
                continue
            i = self.idx[id(op)]
            g = Group(op, i, anchor=(r in ("anchor", "opaque")), opaque=(r == "opaque"))
            self.group[id(op)] = g
            if r == "elementwise":
                self._visit_elementwise(op, g)
            elif r == "movement":
                self._visit_movement(op, g)
            elif r == "anchor":
                self._visit_anchor(op, g)
        self._finish()
        return self.groups()

    def _visit_elementwise(self, op: Operation, g: Group) -> None:
        prods = self.producers(op)
        target = None
        for p in [p for p in prods if p.anchored] + [p for p in prods if not p.anchored]:
            if not p.opaque and self.try_merge(p, g):
                target = p
                break
        self._pull_unanchored(target or g, op)

    def _visit_movement(self, op: Operation, g: Group) -> None:
        prods = self.producers(op)
        if len(prods) == 1 and prods[0].anchored:
            p = prods[0]
            # a view of a kernel's result, or attention's head merge (a write access pattern)
            if op.name in VIEW_OPS or (p.closed and op.name in ("graph.transpose", "graph.reshape")):
                if self.try_merge(p, g):
                    return
            return  # otherwise: a read access pattern for whichever block consumes it
        for p in prods:
            if not p.anchored and not p.opaque and self.try_merge(p, g):
                self._pull_unanchored(p, op)
                return

    def _visit_anchor(self, op: Operation, g: Group) -> None:
        for index, v in enumerate(op.operands):
            p = self.group_of_value(v)
            if p is None or p is g or not p.anchored:
                continue
            if self.m2m_legal(p, op, index) and self.can_merge(p, g):
                closes = op.name in MATMULS
                g = self.merge(p, g)
                g.closed = g.closed or closes
        self._pull_unanchored(g, op)

    def _finish(self) -> None:
        """Anchor-free groups left over: an epilogue of their one producer, a prologue of their one
        consumer, or a kernel of their own."""
        for g in sorted({id(g): g for g in self.group.values()}.values(), key=lambda g: g.min_idx):
            if g.anchored or self.group[id(g.ops[0])] is not g:
                continue
            if all(op.name in VIEW_OPS for op in g.ops):
                continue
            prods = {id(p): p for op in g.ops for p in self.producers(op) if p is not g}
            if len(prods) == 1:
                (p,) = prods.values()
                if p.anchored and not p.opaque and self.try_merge(p, g):
                    continue
            succ = self.successors(g)
            if len(succ) == 1 and not succ[0].opaque and not (
                    succ[0].anchored and any(self._broadcast_into(g, op) for op in succ[0].ops)):
                self.try_merge(succ[0], g)

    def groups(self) -> list[Group]:
        uniq = {id(g): g for g in self.group.values()}
        return sorted(uniq.values(), key=lambda g: g.min_idx)


# -- kinds -------------------------------------------------------------------------------------------
def block_kind(ops: Iterable[Operation]) -> str:
    """What a block holds, for reports and code generation: attention, embedding, gemm_layer_norm,
    gemm, layer_norm, softmax, reduction, elementwise (or copy: data movement only)."""
    ops = list(ops)
    names = [o.name for o in ops]
    has_mm = any(n in MATMULS for n in names)
    has_softmax = any(n in SOFTMAXES for n in names)
    row_reductions = sum(1 for o in ops if is_row_reduction(o))
    has_ln = any(n in ROW_NORMS for n in names) or row_reductions >= 2
    embedding = any(o.name == "graph.gather" and _is_constant(o.operands[0]) and not _is_constant(o.operands[1])
                    for o in ops)
    if has_softmax and has_mm:
        return "attention"
    if embedding:
        return "embedding"
    if has_mm and has_ln:
        return "gemm_layer_norm"
    if has_mm:
        return "gemm"
    if has_ln:
        return "layer_norm"
    if has_softmax:
        return "softmax"
    if any(role(o) == "anchor" for o in ops):
        return "reduction"
    if all(role(o) == "movement" for o in ops):
        return "copy"
    return "elementwise"


def _is_constant(v: Value) -> bool:
    return isinstance(v.owner, Operation) and v.owner.name == "graph.constant"


# -- materialisation ---------------------------------------------------------------------------------
_KERNEL_NAME = re.compile(r"k(\d+)")


def _next_kernel_number(fn: Function) -> int:
    """The first free kernel number: names are unique across the module (they become symbols)."""
    n = 0
    functions = fn.module.functions if fn.module is not None else [fn]
    for op in (o for f in functions for o in f.walk()):
        if op.name == "graph.fused":
            m = _KERNEL_NAME.fullmatch(str(op.attributes.get("name", "")))
            if m:
                n = max(n, int(m.group(1)) + 1)
    return n


def outline(fn: Function, ops: list[Operation], kind: str) -> Operation:
    """Move ``ops`` (in program order) into a new isolated ``graph.fused`` op; returns it (detached)."""
    inside = {id(o) for o in ops}
    inputs: list[Value] = []
    position: dict[int, int] = {}
    for o in ops:
        for v in o.operands:
            if isinstance(v.owner, Operation) and id(v.owner) in inside:
                continue
            if id(v) not in position:
                position[id(v)] = len(inputs)
                inputs.append(v)
    outputs = [r for o in ops for r in o.results if any(id(u.operation) not in inside for u in r.uses)]
    block = Block([v.type for v in inputs], [v.name_hint for v in inputs])
    for o in ops:
        o.parent.remove(o)
        block.append(o)
        for i, v in enumerate(o.operands):
            if id(v) in position:
                o.set_operand(i, block.args[position[id(v)]])
    anchor = next((o for o in ops if role(o) == "anchor"), ops[0])
    fused = Operation("graph.fused", inputs, [r.type for r in outputs], {"kind": kind, "name": ""},
                      regions=[Region([block])], location=anchor.location,
                      result_names=[r.name_hint for r in outputs])
    for r, new in zip(outputs, fused.results):
        for use in list(r.uses):
            if id(use.operation) not in inside:
                use.operation.set_operand(use.index, new)
    block.append(Operation("graph.yield", outputs, []))
    return fused


def _topological_order(body: Block, extra: list[Operation], position: dict[int, float]) -> list[Operation]:
    units = [o for o in body.ops if o.name != "func.return"] + extra
    ret = body.terminator if body.terminator is not None and body.terminator.name == "func.return" else None
    defined_by = {id(r): u for u in units for r in u.results}
    indeg = {id(u): 0 for u in units}
    users: dict[int, list[Operation]] = {id(u): [] for u in units}
    for u in units:
        deps = {id(defined_by[id(v)]) for v in u.operands if id(v) in defined_by}
        deps.discard(id(u))
        indeg[id(u)] = len(deps)
        for d in deps:
            users[d].append(u)
    heap = [(position[id(u)], k, u) for k, u in enumerate(units) if indeg[id(u)] == 0]
    heapq.heapify(heap)
    order, tiebreak = [], len(units)
    while heap:
        _, _, u = heapq.heappop(heap)
        order.append(u)
        for w in users[id(u)]:
            indeg[id(w)] -= 1
            if indeg[id(w)] == 0:
                tiebreak += 1
                heapq.heappush(heap, (position[id(w)], tiebreak, w))
    if len(order) != len(units):
        raise AssertionError("fusion produced a cycle between blocks")
    return order + ([ret] if ret is not None else [])


def form_blocks(fn: Function, max_ops: int = 64) -> list[Operation]:
    """Group ``fn``'s body into fused kernels and outline each; returns the new graph.fused ops."""
    grouper = Grouper(fn, max_ops)
    groups = grouper.run()
    position = {id(o): float(i) for i, o in enumerate(fn.body.ops)}
    new_ops = []
    for g in groups:
        if g.opaque or all(o.name in VIEW_OPS for o in g.ops):
            continue
        ops = sorted(g.ops, key=lambda o: grouper.idx[id(o)])
        kind = block_kind(ops)
        fused = outline(fn, ops, kind)
        position[id(fused)] = float(grouper.idx[id(ops[0])])
        new_ops.append(fused)
    if not new_ops:
        return []
    order = _topological_order(fn.body, new_ops, position)
    fn.body.ops = []
    for o in order:
        o.parent = None
        fn.body.append(o)
    n = _next_kernel_number(fn)
    for o in order:
        if o.name == "graph.fused" and not o.attributes.get("name"):
            o.attributes["name"] = f"k{n}"
            n += 1
    return new_ops


# -- counting ----------------------------------------------------------------------------------------
def kernels(fn: Function) -> list[Operation]:
    """The kernels a function runs: its graph.fused ops and every other op that computes something
    (constants and reshapes - views - are not kernels)."""
    return [op for op in fn.body.ops if op.name not in NOT_KERNELS]


def kernel_count(target) -> int:
    from ...ir.core import Module

    functions = target.functions if isinstance(target, Module) else [target]
    return sum(len(kernels(f)) for f in functions)
