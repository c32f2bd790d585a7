"""The verifier: every op against its definition, plus SSA dominance.

Errors are :class:`~lpfc.errors.VerificationError` naming the op and its
source location (the ONNX node it came from).
"""
from __future__ import annotations

from ..errors import LpfcError, VerificationError
from .core import Block, Function, Module, Operation
from .opdef import TERMINATOR, lookup


def _err(op: Operation, msg: str) -> VerificationError:
    return VerificationError(msg, op=op.name, node=op.location.name or None)


def verify_op(op: Operation) -> None:
    """Check one op's operands, attributes and result types against its OpDef."""
    d = lookup(op.name)
    if d is None:
        raise _err(op, "unknown op (no definition registered)")
    n = len(op.operands)
    spec = d.num_operands
    if isinstance(spec, int) and n != spec:
        raise _err(op, f"expects {spec} operands, has {n}")
    if isinstance(spec, tuple):
        lo, hi = spec
        if n < lo or (hi is not None and n > hi):
            raise _err(op, f"expects {lo}..{hi if hi is not None else 'any'} operands, has {n}")
    for key, val in op.attributes.items():
        aspec = d.attrs.get(key)
        if aspec is None:
            raise _err(op, f"unknown attribute {key!r}")
        if val is not None and aspec.kind is not object and not _is_kind(val, aspec.kind):
            raise _err(op, f"attribute {key!r} should be {_kind_name(aspec.kind)}, got {type(val).__name__}")
    attrs = {}
    for key, aspec in d.attrs.items():
        if key in op.attributes:
            attrs[key] = op.attributes[key]
        elif aspec.required:
            raise _err(op, f"missing required attribute {key!r}")
        else:
            attrs[key] = aspec.default
    if d.verify is not None:
        try:
            d.verify(op)
        except LpfcError as e:
            raise _err(op, e.bare_message) from None
    if d.infer is not None:
        try:
            expected = d.infer([v.type for v in op.operands], attrs)
        except LpfcError as e:
            raise _err(op, e.bare_message) from None
        actual = op.result_types
        if list(expected) != actual:
            raise _err(op, f"result types {[str(t) for t in actual]} differ from the inferred "
                           f"{[str(t) for t in expected]}")


def _is_kind(val, kind) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(val, bool):
        return bool in kinds
    if float in kinds and isinstance(val, int):
        return True
    return isinstance(val, kinds)


def _kind_name(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def verify_block(block: Block, visible: set) -> None:
    visible = set(visible) | {id(a) for a in block.args}
    for i, op in enumerate(block.ops):
        for k, v in enumerate(op.operands):
            if id(v) not in visible:
                raise _err(op, f"operand #{k} does not dominate this use (defined later, or out of scope)")
            if not any(u.operation is op and u.index == k for u in v.uses):
                raise _err(op, f"operand #{k}'s use list is out of date")
        if op.has_trait(TERMINATOR) and i != len(block.ops) - 1:
            raise _err(op, "terminator is not the last op of its block")
        verify_op(op)
        for r in op.regions:
            for b in r.blocks:
                verify_block(b, visible)
        visible |= {id(r) for r in op.results}


def verify_function(f: Function) -> None:
    verify_block(f.body, set())
    ret = f.return_op
    if ret is None:
        raise VerificationError(f"function @{f.name} does not end with func.return")
    if len(f.output_names) != len(ret.operands):
        raise VerificationError(f"function @{f.name} returns {len(ret.operands)} values but names "
                                f"{len(f.output_names)} outputs")
    if len(f.input_names) != len(f.args):
        raise VerificationError(f"function @{f.name} has {len(f.args)} arguments but names "
                                f"{len(f.input_names)} inputs")
    for names, what in ((f.input_names, "input"), (f.output_names, "output")):
        if len(set(names)) != len(names):
            raise VerificationError(f"function @{f.name} has duplicate {what} names")


def verify(module_or_function) -> None:
    """Verify a Module or a Function; raises VerificationError on the first problem."""
    if isinstance(module_or_function, Module):
        for f in module_or_function.functions:
            verify_function(f)
    else:
        verify_function(module_or_function)
