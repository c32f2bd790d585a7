"""Runs graph-IR functions op by op with numpy kernels.

Kernels live in :mod:`lpfc.interp.kernels`, one per op name.  Intermediate
arrays are dropped as soon as their last user has run, so a BERT-base run
holds only the live activations, not every intermediate.
"""
from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

from ..errors import InputError, LpfcError, UnsupportedError
from ..ir.core import Block, Function, Module, Operation
from ..ir.opdef import with_defaults


def evaluate_op(op: Operation, inputs: list) -> list:
    """Evaluate one op on numpy inputs; returns one array per result."""
    from .kernels import KERNELS

    fn = KERNELS.get(op.name)
    if fn is None:
        raise UnsupportedError("the reference interpreter has no kernel for this op", op=op.name,
                               node=op.location.name or None)
    outs = fn(list(inputs), with_defaults(op.name, op.attributes), op.result_types)
    for r, a in zip(op.results, outs):
        if a.shape != r.type.shape or a.dtype != r.type.dtype.numpy:
            raise AssertionError(f"kernel {op.name} at {op.location} produced {a.dtype}{list(a.shape)}, "
                                 f"expected {r.type}")
    return outs


def check_inputs(f: Function, feeds: Mapping[str, np.ndarray]) -> list:
    """Match feeds to the function's inputs by name; arrays in argument order.

    Raises InputError naming the missing, unexpected or mis-shaped input.
    """
    missing = [n for n in f.input_names if n not in feeds]
    if missing:
        raise InputError(f"missing input {missing[0]!r}; the model's inputs are "
                         + ", ".join(f"{n!r} {a.type}" for n, a in zip(f.input_names, f.args)))
    extra = [n for n in feeds if n not in f.input_names]
    if extra:
        raise InputError(f"unexpected input {extra[0]!r}; the model's inputs are "
                         + ", ".join(repr(n) for n in f.input_names))
    arrays = []
    for name, arg in zip(f.input_names, f.args):
        a = np.asarray(feeds[name])
        want = arg.type
        if tuple(a.shape) != want.shape:
            raise InputError(f"input {name!r} has shape {list(a.shape)}, the model expects {list(want.shape)}")
        if a.dtype != want.dtype.numpy:
            raise InputError(f"input {name!r} has dtype {a.dtype}, the model expects {want.dtype.numpy} ({want})")
        arrays.append(a)
    return arrays


def run_block(block: Block, args: list) -> list:
    """Run a block; returns the operands of its terminator."""
    env: dict[int, np.ndarray] = {id(a): v for a, v in zip(block.args, args)}
    remaining: dict[int, int] = {}
    for op in block.ops:
        for v in op.operands:
            remaining[id(v)] = remaining.get(id(v), 0) + 1
    for op in block.ops:
        if op.name in ("func.return", "graph.yield"):
            return [env[id(v)] for v in op.operands]
        ins = [env[id(v)] for v in op.operands]
        if op.regions:
            outs = run_region_op(op, ins)
        else:
            outs = evaluate_op(op, ins)
        for r, a in zip(op.results, outs):
            env[id(r)] = a
        for v in op.operands:
            remaining[id(v)] -= 1
            if remaining[id(v)] == 0 and v.owner is not block:
                env.pop(id(v), None)  # last use: free the intermediate
    raise LpfcError("block has no terminator")


def run_region_op(op: Operation, ins: list) -> list:
    """An op whose meaning is its single-block region applied to its operands (e.g. graph.fused)."""
    return run_block(op.regions[0].block, ins)


def run_function(f: Function, feeds: Mapping[str, np.ndarray], check: bool = True) -> dict:
    """Run ``f`` on feeds keyed by input name; returns outputs keyed by output name."""
    args = check_inputs(f, feeds) if check else [np.asarray(feeds[n]) for n in f.input_names]
    outs = run_block(f.body, args)
    return {name: np.asarray(a) for name, a in zip(f.output_names, outs)}


def run_module(m: Module, feeds: Mapping[str, np.ndarray], function: Optional[str] = None) -> dict:
    return run_function(m.function(function), feeds)
