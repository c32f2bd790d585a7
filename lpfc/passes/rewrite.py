"""Rewrite patterns and the greedy driver that applies them to a fixpoint.

A pattern's ``match_and_rewrite(op, rewriter)`` returns True when it changed
the IR.  The driver keeps a worklist: ops whose operands or users changed are
revisited, and ops left without uses are erased (every graph op is pure), so a
pattern only has to say what replaces the op it matched.
"""
from __future__ import annotations

from typing import Iterable, Optional, Sequence

from ..ir.builder import create_op
from ..ir.core import Block, Function, Location, Module, Operation, Value
from ..ir.opdef import TERMINATOR


class RewritePattern:
    #: op names this pattern looks at (None: every op)
    roots: Optional[tuple] = None

    def match_and_rewrite(self, op: Operation, rewriter: "Rewriter") -> bool:
        raise NotImplementedError


def is_pure(op: Operation) -> bool:
    return op.name != "func.return" and not op.has_trait(TERMINATOR)


def erase_dead(op: Operation) -> None:
    """Erase ``op`` and whatever only it used.  (A dead element-wise op left behind would count as
    a region output of its own in the computation count.)"""
    work = [op]
    while work:
        o = work.pop()
        if o.parent is None or any(r.uses for r in o.results) or not is_pure(o) or o.regions:
            continue
        feeders = [v.owner for v in o.operands if isinstance(v.owner, Operation)]
        o.erase()
        work.extend(feeders)


class Rewriter:
    """IR mutations that keep the driver's worklist up to date."""

    def __init__(self):
        self.worklist: list[Operation] = []
        self._queued: set[int] = set()
        self.changed = False

    def push(self, op: Operation) -> None:
        if id(op) not in self._queued and op.parent is not None:
            self._queued.add(id(op))
            self.worklist.append(op)

    def pop(self) -> Operation:
        op = self.worklist.pop()
        self._queued.discard(id(op))
        return op

    def create(self, before: Operation, op_name: str, operands: Sequence[Value], attrs: Optional[dict] = None,
               location: Optional[Location] = None, result_names=None) -> Operation:
        """Create an op with inferred result types and insert it before ``before``."""
        op = create_op(op_name, operands, attrs, location or before.location, result_names)
        return self.insert(before, op)

    def insert(self, before: Operation, op: Operation) -> Operation:
        before.parent.insert_before(before, op)
        self.push(op)
        self.changed = True
        return op

    def replace_value(self, old: Value, new: Value) -> None:
        if old is new:
            return
        for user in old.users:
            self.push(user)
        old.replace_all_uses_with(new)
        self.changed = True

    def replace_op(self, op: Operation, new_values: Sequence[Value]) -> None:
        """Replace every result of ``op`` with ``new_values`` and erase it."""
        assert len(new_values) == len(op.results), f"{op.name}: {len(new_values)} values for {len(op.results)} results"
        for r, v in zip(op.results, new_values):
            if r.type != v.type:
                raise ValueError(f"replacing {op.name} result {r.type} with a value of type {v.type}")
            self.replace_value(r, v)
        self.erase(op)

    def erase(self, op: Operation) -> None:
        operands = [v for v in op.operands]
        op.erase()
        self.changed = True
        for v in operands:
            if isinstance(v.owner, Operation):
                self.push(v.owner)


def _blocks(fn: Function) -> Iterable[Block]:
    stack = [fn.body]
    while stack:
        b = stack.pop()
        yield b
        for op in b.ops:
            for r in op.regions:
                stack.extend(r.blocks)


def apply_patterns(target, patterns: Sequence[RewritePattern], max_iterations: int = 16) -> bool:
    """Apply ``patterns`` greedily to every op of a Module or Function until nothing changes."""
    functions = target.functions if isinstance(target, Module) else [target]
    by_root: dict[Optional[str], list[RewritePattern]] = {}
    for p in patterns:
        for root in (p.roots or (None,)):
            by_root.setdefault(root, []).append(p)
    any_change = False
    for fn in functions:
        for _ in range(max_iterations):
            rw = Rewriter()
            for b in _blocks(fn):
                for op in reversed(b.ops):  # popped from the end: program order
                    rw.push(op)
            while rw.worklist:
                op = rw.pop()
                if op.parent is None:
                    continue  # erased meanwhile
                if is_pure(op) and op.results and not any(r.uses for r in op.results):
                    rw.erase(op)
                    continue
                for p in by_root.get(op.name, []) + by_root.get(None, []):
                    if p.match_and_rewrite(op, rw):
                        break
            any_change |= rw.changed
            if not rw.changed:
                break
    return any_change
