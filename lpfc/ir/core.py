"""The core IR data structures: values, operations, blocks, regions, functions, modules.

The model follows MLIR: SSA values with explicit use lists, operations that
own their results and may hold regions, blocks with arguments.  Operations
are generic (a name, operands, results, attributes, regions and a location);
what an operation *means* - its traits, verification and shape rules - lives
in its :class:`~lpfc.ir.opdef.OpDef`, looked up by name.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Optional, Sequence

from .types import TensorType


@dataclass(frozen=True)
class Location:
    """Where an operation came from: the ONNX node name (and its op type)."""

    name: str
    op_type: str = ""

    def __str__(self) -> str:
        return f"{self.name!r} ({self.op_type})" if self.op_type else repr(self.name)


UNKNOWN_LOC = Location("")


class Use:
    __slots__ = ("operation", "index")

    def __init__(self, operation: "Operation", index: int):
        self.operation = operation
        self.index = index

    def __eq__(self, other):
        return isinstance(other, Use) and self.operation is other.operation and self.index == other.index

    def __hash__(self):
        return hash((id(self.operation), self.index))

    def __repr__(self):
        return f"Use({self.operation.name}, {self.index})"


class Value:
    """An SSA value: defined once (op result or block argument), used many times."""

    __slots__ = ("type", "name_hint", "uses")

    def __init__(self, type: TensorType, name_hint: Optional[str] = None):
        self.type = type
        self.name_hint = name_hint
        self.uses: list[Use] = []

    @property
    def users(self) -> list["Operation"]:
        seen, out = set(), []
        for u in self.uses:
            if id(u.operation) not in seen:
                seen.add(id(u.operation))
                out.append(u.operation)
        return out

    @property
    def has_uses(self) -> bool:
        return bool(self.uses)

    def replace_all_uses_with(self, new: "Value") -> None:
        if new is self:
            return
        for use in list(self.uses):
            use.operation.set_operand(use.index, new)

    @property
    def owner(self):
        raise NotImplementedError


class OpResult(Value):
    __slots__ = ("op", "index")

    def __init__(self, type: TensorType, op: "Operation", index: int, name_hint=None):
        super().__init__(type, name_hint)
        self.op = op
        self.index = index

    @property
    def owner(self) -> "Operation":
        return self.op

    def __repr__(self):
        return f"<OpResult #{self.index} of {self.op.name}: {self.type}>"


class BlockArgument(Value):
    __slots__ = ("block", "index")

    def __init__(self, type: TensorType, block: "Block", index: int, name_hint=None):
        super().__init__(type, name_hint)
        self.block = block
        self.index = index

    @property
    def owner(self) -> "Block":
        return self.block

    def __repr__(self):
        return f"<BlockArgument #{self.index}: {self.type}>"


class Operation:
    """A generic operation.  ``name`` is ``dialect.op`` (e.g. ``graph.matmul``)."""

    def __init__(
        self,
        name: str,
        operands: Sequence[Value] = (),
        result_types: Sequence[TensorType] = (),
        attributes: Optional[dict[str, Any]] = None,
        regions: Sequence["Region"] = (),
        location: Location = UNKNOWN_LOC,
        result_names: Optional[Sequence[Optional[str]]] = None,
    ):
        self.name = name
        self._operands: list[Value] = []
        self.attributes: dict[str, Any] = dict(attributes or {})
        self.location = location
        self.parent: Optional[Block] = None
        names = list(result_names) if result_names is not None else [None] * len(result_types)
        self.results: list[OpResult] = [
            OpResult(t, self, i, names[i]) for i, t in enumerate(result_types)
        ]
        self.regions: list[Region] = []
        for v in operands:
            self._append_operand(v)
        for r in regions:
            self.add_region(r)

    # -- operands -----------------------------------------------------------
    @property
    def operands(self) -> tuple[Value, ...]:
        return tuple(self._operands)

    def _append_operand(self, v: Value) -> None:
        if not isinstance(v, Value):
            raise TypeError(f"operand of {self.name} must be a Value, got {type(v).__name__}")
        v.uses.append(Use(self, len(self._operands)))
        self._operands.append(v)

    def set_operand(self, index: int, new: Value) -> None:
        old = self._operands[index]
        old.uses.remove(Use(self, index))
        self._operands[index] = new
        new.uses.append(Use(self, index))

    def set_operands(self, values: Sequence[Value]) -> None:
        self.drop_operands()
        for v in values:
            self._append_operand(v)

    def drop_operands(self) -> None:
        for i, v in enumerate(self._operands):
            v.uses.remove(Use(self, i))
        self._operands = []

    # -- results ------------------------------------------------------------
    @property
    def result(self) -> OpResult:
        if len(self.results) != 1:
            raise ValueError(f"{self.name} has {len(self.results)} results, not one")
        return self.results[0]

    @property
    def result_types(self) -> list[TensorType]:
        return [r.type for r in self.results]

    # -- regions ------------------------------------------------------------
    def add_region(self, region: "Region") -> None:
        if region.parent is not None:
            raise ValueError("region already belongs to an operation")
        region.parent = self
        self.regions.append(region)

    # -- structure ----------------------------------------------------------
    @property
    def opdef(self):
        from .opdef import lookup

        return lookup(self.name)

    def has_trait(self, trait: str) -> bool:
        d = self.opdef
        return d is not None and trait in d.traits

    def walk(self) -> Iterator["Operation"]:
        """Pre-order walk: this op, then every op nested in its regions."""
        yield self
        for r in self.regions:
            for b in r.blocks:
                for op in list(b.ops):
                    yield from op.walk()

    def erase(self) -> None:
        """Remove from its block; its results must be unused."""
        for r in self.results:
            if r.uses:
                raise ValueError(f"cannot erase {self.name}: result #{r.index} still has uses")
        self.drop_operands()
        for region in self.regions:
            for b in region.blocks:
                for op in list(reversed(b.ops)):
                    op.drop_all_references()
        if self.parent is not None:
            self.parent.remove(self)

    def drop_all_references(self) -> None:
        self.drop_operands()
        for region in self.regions:
            for b in region.blocks:
                for op in b.ops:
                    op.drop_all_references()

    def __repr__(self):
        return f"<Operation {self.name} at {self.location}>"


class Block:
    """A list of operations with typed arguments."""

    def __init__(self, arg_types: Sequence[TensorType] = (), arg_names: Optional[Sequence[Optional[str]]] = None):
        names = list(arg_names) if arg_names is not None else [None] * len(arg_types)
        self.args: list[BlockArgument] = [BlockArgument(t, self, i, names[i]) for i, t in enumerate(arg_types)]
        self.ops: list[Operation] = []
        self.parent: Optional[Region] = None

    def add_arg(self, type: TensorType, name: Optional[str] = None) -> BlockArgument:
        a = BlockArgument(type, self, len(self.args), name)
        self.args.append(a)
        return a

    def append(self, op: Operation) -> Operation:
        if op.parent is not None:
            raise ValueError(f"{op.name} already belongs to a block")
        op.parent = self
        self.ops.append(op)
        return op

    def insert_before(self, anchor: Operation, op: Operation) -> Operation:
        if op.parent is not None:
            raise ValueError(f"{op.name} already belongs to a block")
        op.parent = self
        self.ops.insert(self.index_of(anchor), op)
        return op

    def index_of(self, op: Operation) -> int:
        for i, o in enumerate(self.ops):
            if o is op:
                return i
        raise ValueError(f"{op.name} is not in this block")

    def remove(self, op: Operation) -> None:
        del self.ops[self.index_of(op)]
        op.parent = None

    @property
    def terminator(self) -> Optional[Operation]:
        return self.ops[-1] if self.ops else None

    def __iter__(self):
        return iter(list(self.ops))


class Region:
    def __init__(self, blocks: Iterable[Block] = ()):
        self.blocks: list[Block] = []
        self.parent: Optional[Operation] = None
        for b in blocks:
            self.add_block(b)

    def add_block(self, block: Block) -> Block:
        block.parent = self
        self.blocks.append(block)
        return block

    @property
    def block(self) -> Block:
        if len(self.blocks) != 1:
            raise ValueError(f"region has {len(self.blocks)} blocks, not one")
        return self.blocks[0]


class Function:
    """A function: a named single-block body whose arguments are the model inputs.

    ``input_names``/``output_names`` keep the model's own tensor names exactly
    (they may contain any characters); they are what users feed and fetch by.
    The body ends with ``func.return``.
    """

    def __init__(self, name: str, arg_types: Sequence[TensorType] = (), input_names: Sequence[str] = (),
                 arg_name_hints: Optional[Sequence[Optional[str]]] = None):
        self.name = name
        hints = arg_name_hints if arg_name_hints is not None else list(input_names) or None
        self.body = Block(arg_types, hints)
        self.body_region = Region([self.body])
        self.input_names: list[str] = list(input_names) or [f"arg{i}" for i in range(len(arg_types))]
        self.output_names: list[str] = []
        self.module: Optional[Module] = None

    @property
    def args(self) -> list[BlockArgument]:
        return self.body.args

    @property
    def return_op(self) -> Optional[Operation]:
        t = self.body.terminator
        return t if t is not None and t.name == "func.return" else None

    @property
    def outputs(self) -> tuple[Value, ...]:
        r = self.return_op
        return r.operands if r is not None else ()

    @property
    def input_types(self) -> list[TensorType]:
        return [a.type for a in self.args]

    @property
    def output_types(self) -> list[TensorType]:
        return [v.type for v in self.outputs]

    def set_return(self, values: Sequence[Value], names: Sequence[str]) -> Operation:
        if self.return_op is not None:
            self.return_op.erase()
        op = Operation("func.return", values)
        self.body.append(op)
        self.output_names = list(names)
        return op

    def walk(self) -> Iterator[Operation]:
        for op in list(self.body.ops):
            yield from op.walk()

    @property
    def ops(self) -> list[Operation]:
        return list(self.body.ops)


class Module:
    """A compilation unit: a list of functions.

    Large constants are held by their ``graph.constant`` ops as
    :class:`~lpfc.ir.attributes.DenseResource` (a named array); the printer
    gathers them into the module's resource section.
    """

    def __init__(self, functions: Sequence[Function] = ()):
        self.functions: list[Function] = []
        for f in functions:
            self.add_function(f)

    def add_function(self, f: Function) -> Function:
        f.module = self
        self.functions.append(f)
        return f

    def function(self, name: Optional[str] = None) -> Function:
        if name is None:
            if not self.functions:
                raise KeyError("module has no functions")
            return self.functions[0]
        for f in self.functions:
            if f.name == name:
                return f
        raise KeyError(f"no function @{name} in module")

    @property
    def main(self) -> Function:
        return self.function()
