"""The static memory plan: every intermediate tensor gets an offset in one arena, at compile time.

A compiled model allocates one block of memory (the *arena*) when the C
runtime creates it, and never allocates again.  Two intermediates may share
bytes when their lifetimes do not overlap.  The planner here is the "greedy by
size" heuristic of TFLite's arena planner (Lee et al., *On-Device Neural Net
Inference with Mobile GPUs*, 2019), with best fit: the largest tensors are placed
first, each in the smallest gap between already placed tensors that are alive
at the same time, or above all of them when no gap fits.

Two layers:

* :func:`plan_arena` places abstract :class:`Buffer` s (size, lifetime,
  alignment); it knows nothing of the IR.
* :func:`plan_function` derives the buffers of a graph-IR function.  Its
  decisions (documented in ``docs/runtime.md``):

  - Lifetimes count top-level ops in program order: a value lives from the op
    that writes it to the last op that reads it, both inclusive, so an op's
    result never shares bytes with its own operands.
  - Function inputs live in the caller's buffers and constants in the
    library's read-only data; neither is in the arena.
  - Function outputs are written straight into the caller's output buffers
    (the C API hands them to the generated code), so they are not in the arena
    either, and no copy is made at the end.  Only an output that is also an
    input, a constant or another output needs a copy (``output_copies``).
  - ``graph.reshape`` is a view: its result is the same bytes as its operand
    (row-major data does not move), so the two form one *alias class* with one
    storage and a lifetime that covers both.
  - Values inside the regions of ``graph.fused`` ops are the kernel's own
    business (registers, tiles); only the results of top-level ops are planned.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

from ..ir.core import BlockArgument, Function, Operation, Value

#: Alignment of every arena offset (a cache line; also the widest SIMD register, AVX-512).
ARENA_ALIGNMENT = 64


def align_up(n: int, alignment: int) -> int:
    return (n + alignment - 1) // alignment * alignment


@dataclass(frozen=True)
class Buffer:
    """A block of bytes the program needs from op ``first`` to op ``last`` (inclusive)."""

    size: int
    first: int
    last: int
    alignment: int = ARENA_ALIGNMENT
    name: str = ""

    def __post_init__(self):
        if self.size < 0:
            raise ValueError(f"buffer {self.name!r}: negative size {self.size}")
        if self.first < 0 or self.last < self.first:
            raise ValueError(f"buffer {self.name!r}: lifetime [{self.first}, {self.last}] is empty or negative")
        if self.alignment <= 0 or self.alignment & (self.alignment - 1):
            raise ValueError(f"buffer {self.name!r}: alignment {self.alignment} is not a power of two")

    def overlaps_in_time(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass(frozen=True)
class ArenaPlan:
    """Offsets for a list of buffers (same order) and the arena size they need."""

    offsets: tuple[int, ...]
    peak_bytes: int          # the arena size: max(offset + size)
    naive_bytes: int         # every buffer in its own slot, slots aligned to the largest alignment
    lower_bound_bytes: int   # the most bytes alive at one time: no plan can use less

    def check(self, buffers: Sequence[Buffer]) -> None:
        """Raises ValueError if two buffers alive at the same time share a byte, or one is misaligned."""
        if len(buffers) != len(self.offsets):
            raise ValueError(f"{len(self.offsets)} offsets for {len(buffers)} buffers")
        placed = [(b, o) for b, o in zip(buffers, self.offsets) if b.size > 0]
        for b, o in placed:
            if o % b.alignment:
                raise ValueError(f"buffer {b.name!r} at offset {o} is not {b.alignment}-byte aligned")
            if o + b.size > self.peak_bytes:
                raise ValueError(f"buffer {b.name!r} ends at {o + b.size}, past the arena's {self.peak_bytes}")
        # Sweep in offset order so only neighbours in space are compared.
        placed.sort(key=lambda bo: bo[1])
        for i, (a, oa) in enumerate(placed):
            for b, ob in placed[i + 1:]:
                if ob >= oa + a.size:
                    break
                if a.overlaps_in_time(b):
                    raise ValueError(f"buffers {a.name!r} [{oa}, {oa + a.size}) and {b.name!r} "
                                     f"[{ob}, {ob + b.size}) overlap while both are alive")


def live_bytes_lower_bound(buffers: Sequence[Buffer]) -> int:
    """The largest sum of sizes of buffers alive at one op index."""
    events: dict[int, int] = {}
    for b in buffers:
        events[b.first] = events.get(b.first, 0) + b.size
        events[b.last + 1] = events.get(b.last + 1, 0) - b.size
    best = live = 0
    for t in sorted(events):
        live += events[t]
        best = max(best, live)
    return best


def plan_arena(buffers: Sequence[Buffer]) -> ArenaPlan:
    """Greedy by size, best fit.  O(n^2) in the number of buffers (hundreds for a transformer)."""
    n = len(buffers)
    offsets = [0] * n
    order = sorted(range(n), key=lambda i: (-buffers[i].size, buffers[i].first, i))
    placed: list[int] = []  # indices of placed buffers, kept sorted by offset
    for i in order:
        b = buffers[i]
        if b.size == 0:
            continue
        best_offset: Optional[int] = None
        best_gap = None
        candidate = 0  # lowest aligned offset above everything alive-together seen so far
        for j in placed:
            p = buffers[j]
            if not b.overlaps_in_time(p):
                continue
            gap = offsets[j] - candidate
            if gap >= b.size and (best_gap is None or gap < best_gap):
                best_offset, best_gap = candidate, gap
            candidate = max(candidate, align_up(offsets[j] + p.size, b.alignment))
        offsets[i] = candidate if best_offset is None else best_offset
        # Insert keeping ``placed`` sorted by offset (stable for equal offsets).
        k = len(placed)
        while k > 0 and offsets[placed[k - 1]] > offsets[i]:
            k -= 1
        placed.insert(k, i)
    peak = max((offsets[i] + buffers[i].size for i in range(n) if buffers[i].size), default=0)
    max_align = max((b.alignment for b in buffers), default=1)
    naive = sum(align_up(b.size, max_align) for b in buffers)
    return ArenaPlan(tuple(offsets), peak, naive, live_bytes_lower_bound(buffers))


# -- graph IR functions ------------------------------------------------------------------------

@dataclass(frozen=True)
class Storage:
    """Where a value's bytes are at run time.

    kind: ``"arena"`` (``offset`` into the arena; ``buffer`` indexes
    :attr:`FunctionMemoryPlan.buffers`), ``"input"`` / ``"output"`` (the caller's
    buffer number ``index``) or ``"weight"`` (the constant produced by ``op``).
    """

    kind: str
    index: int = -1
    offset: int = 0
    buffer: int = -1
    op: Optional[Operation] = field(default=None, compare=False)


@dataclass
class FunctionMemoryPlan:
    function: Function
    buffers: list[Buffer]                 # one per arena alias class, in definition order
    arena: ArenaPlan
    storage: dict[Value, Storage]         # every top-level value (args and op results)
    output_copies: list[tuple[int, Value]]  # (output position, value): copy value's bytes there at the end

    @property
    def arena_bytes(self) -> int:
        return self.arena.peak_bytes

    def storage_of(self, value: Value) -> Storage:
        return self.storage[value]

    def summary(self) -> str:
        a = self.arena
        saved = 1 - a.peak_bytes / a.naive_bytes if a.naive_bytes else 0.0
        return (f"arena {_human(a.peak_bytes)} for {len(self.buffers)} intermediate tensors "
                f"(without reuse {_human(a.naive_bytes)}, {saved:.0%} saved; "
                f"lower bound {_human(a.lower_bound_bytes)})")


def _human(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _is_view(op: Operation) -> bool:
    return op.name == "graph.reshape"


def _is_constant(op: Operation) -> bool:
    return op.has_trait("constant_like")


def plan_function(fn: Function, alignment: int = ARENA_ALIGNMENT) -> FunctionMemoryPlan:
    """Plans the arena of a graph-IR function (see the module docstring for the rules)."""
    ops = fn.ops
    index = {id(op): i for i, op in enumerate(ops)}

    def top_level(op: Operation) -> Operation:
        # A use inside a region counts as a use by the top-level op that holds the region.
        while op.parent is not None and op.parent is not fn.body:
            region = op.parent.parent
            if region is None or region.parent is None:
                break
            op = region.parent
        return op

    root: dict[Value, Value] = {}
    for a in fn.args:
        root[a] = a
    for op in ops:
        for r in op.results:
            root[r] = root[op.operands[0]] if _is_view(op) else r

    members: dict[Value, list[Value]] = {}
    for v, r in root.items():
        members.setdefault(r, []).append(v)

    outputs = fn.outputs
    first_output: dict[Value, int] = {}  # alias root -> the first output position holding a member
    for j, v in enumerate(outputs):
        first_output.setdefault(root[v], j)

    storage: dict[Value, Storage] = {}
    buffers: list[Buffer] = []
    buffer_root: list[Value] = []
    for r, vs in members.items():
        if isinstance(r, BlockArgument):
            st = Storage("input", index=r.index)
        elif _is_constant(r.op):
            st = Storage("weight", op=r.op)
        elif r in first_output:
            st = Storage("output", index=first_output[r])
        else:
            first = index[id(r.op)]
            last = first
            for v in vs:
                for use in v.uses:
                    holder = top_level(use.operation)
                    if id(holder) in index:
                        last = max(last, index[id(holder)])
            name = r.name_hint or f"{r.op.name}#{index[id(r.op)]}"
            st = Storage("arena", buffer=len(buffers))
            buffers.append(Buffer(r.type.nbytes, first, last, alignment, name))
            buffer_root.append(r)
        for v in vs:
            storage[v] = st

    arena = plan_arena(buffers)
    for b, r in enumerate(buffer_root):
        st = Storage("arena", offset=arena.offsets[b], buffer=b)
        for v in members[r]:
            storage[v] = st

    copies = []
    for j, v in enumerate(outputs):
        st = storage[v]
        if not (st.kind == "output" and st.index == j):
            copies.append((j, v))
    return FunctionMemoryPlan(fn, buffers, arena, storage, copies)


__all__ = ["ARENA_ALIGNMENT", "ArenaPlan", "Buffer", "FunctionMemoryPlan", "Storage", "align_up",
           "live_bytes_lower_bound", "plan_arena", "plan_function"]
