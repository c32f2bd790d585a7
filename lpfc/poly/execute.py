"""Runs kernel IR with numpy: each statement over its whole domain at once, statements in order.

This is the kernel IR's reference semantics (every schedule the code generator
uses is checked against the dependences of this order).  Scalar ops run through
the graph interpreter's kernels, so their semantics cannot drift.
"""
from __future__ import annotations

import numpy as np

from ..interp.kernels import KERNELS
from ..ir.types import TensorType
from .model import Aff, Const, Div, Expr, IfLess, IndexValue, Kernel, Load, Mod, Op, Read, Scaled, Stmt, Sum, linearize

_UFUNC = {"sum": np.add, "max": np.maximum, "min": np.minimum, "prod": np.multiply}


def run_kernel(k: Kernel, inputs: list) -> list:
    store = {}
    for b in k.buffers.values():
        if b.kind == "in":
            store[b.name] = np.ascontiguousarray(inputs[b.index], dtype=b.dtype.numpy).reshape(-1)
        else:
            store[b.name] = np.zeros(b.size, dtype=b.dtype.numpy)
    with np.errstate(all="ignore"):
        for s in k.stmts:
            _run_stmt(k, s, store)
    return [store[b.name].reshape(b.shape) for b in k.outputs()]


def _grid(s: Stmt) -> dict:
    shape = tuple(n for _, n in s.dims)
    if not s.dims:
        return {}
    grids = np.indices(shape, dtype=np.int64) if shape else []
    return {d: grids[k] for k, (d, _) in enumerate(s.dims)}


def _index(i, env, k: Kernel, store, shape):
    if isinstance(i, Aff):
        out = np.full(shape, i.const, dtype=np.int64)
        for d, c in i.terms:
            out = out + c * env[d]
        return out
    if isinstance(i, Div):
        return np.floor_divide(_index(i.arg, env, k, store, shape), i.d)
    if isinstance(i, Mod):
        return np.mod(_index(i.arg, env, k, store, shape), i.d)
    if isinstance(i, Sum):
        out = np.zeros(shape, dtype=np.int64)
        for a in i.args:
            out = out + _index(a, env, k, store, shape)
        return out
    if isinstance(i, Scaled):
        return i.c * _index(i.arg, env, k, store, shape)
    if isinstance(i, IfLess):
        return np.where(_index(i.a, env, k, store, shape) < i.bound, _index(i.then, env, k, store, shape),
                        _index(i.other, env, k, store, shape))
    if isinstance(i, Load):
        v = store[i.buf][_flat(k, i.buf, i.index, env, store, shape)].astype(np.int64)
        if i.wrap:
            v = np.where(v < 0, v + i.wrap, v)
            v = np.clip(v, 0, i.wrap - 1)
        return v
    raise TypeError(i)


def _flat(k: Kernel, buf: str, index, env, store, shape):
    b = k.buffers[buf]
    if len(index) == len(b.shape):
        flat = linearize(index, b.shape)
    else:
        flat = index[0] if index else Aff.cst(0)
    return _index(flat, env, k, store, shape)


def _eval(e: Expr, env, k: Kernel, store, shape):
    if isinstance(e, Read):
        return store[e.buf][_flat(k, e.buf, e.index, env, store, shape)]
    if isinstance(e, Const):
        return np.full(shape, e.value, dtype=e.dtype.numpy)
    if isinstance(e, IndexValue):
        return _index(e.index, env, k, store, shape)
    if isinstance(e, Op):
        args = [np.broadcast_to(_eval(a, env, k, store, shape), shape) for a in e.args]
        return KERNELS[f"graph.{e.name}"](args, dict(e.attrs), [TensorType(shape, e.dtype)])[0]
    raise TypeError(e)


def _run_stmt(k: Kernel, s: Stmt, store):
    shape = tuple(n for _, n in s.dims)
    env = _grid(s)
    vals = _eval(s.body, env, k, store, shape).astype(k.buffers[s.buf].dtype.numpy if s.update not in (
        "argmax", "argmin") else k.buffers[s.aux].dtype.numpy)
    dst = _flat(k, s.buf, s.index, env, store, shape)
    out = store[k.storage(s.buf).name] if s.buf not in store else store[s.buf]
    if s.update == "assign":
        out[dst.reshape(-1)] = vals.reshape(-1)
    elif s.update in _UFUNC:
        _UFUNC[s.update].at(out, dst.reshape(-1), vals.reshape(-1))
    else:                                        # argmax / argmin: sequential over the arg dim
        best = store[s.aux]
        pos = [d for d, _ in s.dims].index(s.arg_dim)
        n = shape[pos]
        for r in range(n):
            sl = (slice(None),) * pos + (r,)
            v, d = vals[sl].reshape(-1), dst[sl].reshape(-1)
            cur = best[d]
            if s.update == "argmax":
                better = (v >= cur) if s.select_last else (v > cur)
            else:
                better = (v <= cur) if s.select_last else (v < cur)
            better = better | (np.isnan(v) & ~np.isnan(cur)) if v.dtype.kind == "f" else better
            if not s.select_last and v.dtype.kind == "f":
                better = better & ~np.isnan(cur)
            best[d] = np.where(better, v, cur)
            out[d] = np.where(better, r, out[d])
