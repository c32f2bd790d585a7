"""Lowering graph ops (single ops or ``graph.fused`` blocks) to the kernel IR of :mod:`.model`.

Values inside a block are *lazy* where they can be: an element-wise op, a
transpose, reshape, slice, split, expand, tile, gather, gather_nd or trilu is a
function from an output index to a scalar expression, so a chain of them
becomes one statement body (the producer is recomputed inside its consumer,
never stored).  Ops that reduce or reorganise across elements (matmul, gemm,
softmax, layer_norm, reduce_*, argmax/argmin, concat, pad) *materialise*:
they become a nest of statements writing a buffer, which later ops read.

Every statement's dims are the non-unit axes it iterates; unit axes are the
constant index 0, so isl never sees a loop of trip count 1.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np

from ..errors import UnsupportedError
from ..ir.attributes import constant_array
from ..ir.core import Operation
from ..ir.opdef import with_defaults
from ..ir.types import DType, TensorType
from .model import (ELEMENTWISE_OPS, Aff, Buffer, Const, Div, Expr, IfLess, IndexValue, Kernel, Load, Mod, Op, Read, Stmt, add_index,
                    delinearize, expr_dims, is_expensive, linearize, scale_index, simplify_expr,
                    simplify_index)

#: ops the generic lowering handles (besides graph.fused blocks made of them)
LAZY_OPS = set(ELEMENTWISE_OPS) | {"reshape", "transpose", "slice", "split", "expand", "tile", "gather",
                                   "gather_nd", "trilu", "constant", "gather_elements", "pad"}
MATERIAL_OPS = {"matmul", "gemm", "softmax", "log_softmax", "layer_norm", "rms_norm", "reduce_sum", "reduce_mean",
                "reduce_max", "reduce_min", "reduce_prod", "reduce_sum_square", "reduce_l2", "concat",
                "argmax", "argmin", "cumsum", "reduce_log_sum_exp", "scatter_elements", "scatter_nd"}
SUPPORTED_OPS = LAZY_OPS | MATERIAL_OPS
EXPENSIVE_OPS = {"exp", "log", "erf", "tanh", "sigmoid", "gelu", "softplus", "sin", "cos", "pow", "sqrt", "div"}


class Value:
    """A lowered SSA value: ``at(index)`` gives its element at ``index`` (index expressions)."""

    def __init__(self, type: TensorType, at: Callable, buf: Optional[str] = None, cost: int = 0,
                 expensive: bool = False):
        self.type = type
        self.at = at
        self.buf = buf                      # set when the value lives in a buffer
        self.cost = cost
        self.expensive = expensive
        #: a reshape's (source shape, source at): stored by iterating the source's (row-major equal) domain
        self.flat_src = None


def _lowest(dtype: DType):
    if dtype == DType.bool:
        return False
    return int(np.iinfo(dtype.numpy).min) if dtype.is_int else float("-inf")


def _highest(dtype: DType):
    if dtype == DType.bool:
        return True
    return int(np.iinfo(dtype.numpy).max) if dtype.is_int else float("inf")


def _op(name, attrs, args, dtype) -> Op:
    return Op(name, tuple(sorted(attrs.items())), tuple(args), dtype)


class Lowering:
    def __init__(self, name: str = "kernel"):
        self.buffers: dict = {}
        self.nests: list = []
        self.n_stmt = 0
        self.n_temp = 0
        self.name = name

    # -- helpers ----------------------------------------------------------------------------------
    def buffer(self, name, type: TensorType, kind, index=-1) -> Buffer:
        b = Buffer(name, tuple(type.shape), type.dtype, kind, index)
        self.buffers[name] = b
        return b

    def temp(self, type: TensorType) -> str:
        name = f"t{self.n_temp}"
        self.n_temp += 1
        self.buffer(name, type, "temp")
        return name

    def buf_value(self, name: str) -> Value:
        b = self.buffers[name]
        return Value(b.type, lambda idx, b=b: Read(b.name, tuple(idx), b.dtype), buf=name)

    def stmt(self, dims, buf, index, body, update="assign", sched=None, reduction_dims=(), **kw) -> Stmt:
        ext = {d: n for d, n in dims}
        index = [simplify_index(i, ext) for i in index]
        body = simplify_expr(body, ext)
        s = Stmt(f"S{self.n_stmt}", [(d, n) for d, n in dims], buf, tuple(index), body, update,
                 sched=list(sched if sched is not None else [d for d, _ in dims]),
                 reduction_dims=tuple(reduction_dims), **kw)
        self.n_stmt += 1
        return s

    @staticmethod
    def dims_for(shape, prefix="i"):
        """(dims, index): a dim for every non-unit axis, index 0 for unit axes."""
        dims, index = [], []
        for k, n in enumerate(shape):
            if n == 1:
                index.append(Aff.cst(0))
            else:
                name = f"{prefix}{k}"
                dims.append((name, n))
                index.append(Aff.dim(name))
        return dims, index

    def materialize(self, v: Value, buf: str):
        """A nest writing ``v`` into ``buf`` element by element (a reshape: over its source's domain, so
        no floor/mod is needed to re-index)."""
        if v.flat_src is not None:
            shape, at = v.flat_src
            dims, idx = self.dims_for(shape)
            self.nests.append([self.stmt(dims, buf, [linearize(idx, shape)], at(idx))])
            return
        dims, idx = self.dims_for(v.type.shape)
        self.nests.append([self.stmt(dims, buf, idx, v.at(idx))])

    def as_buffer(self, v: Value) -> str:
        if v.buf is not None:
            return v.buf
        name = self.temp(v.type)
        self.materialize(v, name)
        return name

    # -- entry --------------------------------------------------------------------------------------
    def lower(self, op: Operation) -> Kernel:
        if op.name in ("graph.constant", "graph.reshape"):
            raise UnsupportedError("constants and reshapes are not kernels (weights and views)", op=op.name)
        ins = [self.buf_value(self.buffer(f"in{k}", v.type, "in", k).name) for k, v in enumerate(op.operands)]
        for k, r in enumerate(op.results):
            self.buffer(f"out{k}", r.type, "out", k)
        if op.name == "graph.fused":
            block = op.regions[0].blocks[0]
            env = {id(a): v for a, v in zip(block.args, ins)}
            term = block.terminator
            targets = {}
            for k, v in enumerate(term.operands):
                targets.setdefault(id(v), f"out{k}")
            for inner in block.ops:
                if inner is term:
                    break
                outs = self.lower_op(inner, [env[id(v)] for v in inner.operands],
                                     [targets.get(id(r)) for r in inner.results])
                for r, v in zip(inner.results, outs):
                    env[id(r)] = v
            results = [env[id(v)] for v in term.operands]
        else:
            results = self.lower_op(op, ins, [f"out{k}" for k in range(len(op.results))])
        for k, v in enumerate(results):
            if v.buf != f"out{k}":
                self.materialize(v, f"out{k}")
        return Kernel(self.buffers, self.nests, self.name)

    # -- ops ----------------------------------------------------------------------------------------
    def lower_op(self, op: Operation, ins: list, targets: list) -> list:
        n = op.name[len("graph."):] if op.name.startswith("graph.") else op.name
        if n not in SUPPORTED_OPS:
            raise UnsupportedError(f"the generic kernel lowering does not handle {op.name} yet", op=op.name)
        attrs = with_defaults(op.name, op.attributes)
        rts = op.result_types
        fn = getattr(self, f"_lower_{n}", None)
        if n in ELEMENTWISE_OPS:
            return [self._elementwise(n, attrs, ins, rts[0])]
        if n in MATERIAL_OPS:
            outs = [t or self.temp(rt) for t, rt in zip(targets, rts)]
            fn(attrs, ins, rts, outs)
            return [self.buf_value(o) for o in outs]
        return fn(attrs, ins, rts)

    def _elementwise(self, n, attrs, ins, rt: TensorType) -> Value:
        shape = rt.shape
        key = tuple(sorted(attrs.items()))

        def at(idx):
            return Op(n, key, tuple(v.at(broadcast_index(idx, shape, v.type.shape)) for v in ins), rt.dtype)
        return Value(rt, at, cost=1 + sum(v.cost for v in ins),
                     expensive=any(v.expensive for v in ins) or n in EXPENSIVE_OPS)

    def _lower_constant(self, attrs, ins, rts):
        a = constant_array(attrs["value"])
        flat = a.reshape(-1)
        if flat.size == 0 or not np.all(flat == flat[0]) and not (flat.dtype.kind == "f" and np.all(np.isnan(flat))):
            raise UnsupportedError("a non-splat constant inside a fused block (pass it as an operand)",
                                   op="graph.constant")
        v = flat[0].item()
        return [Value(rts[0], lambda idx: Const(v, rts[0].dtype))]

    def _lower_reshape(self, attrs, ins, rts):
        src = ins[0]
        rt = rts[0]
        if src.buf is not None:
            b = src.buf
            v = Value(rt, lambda idx: Read(b, (linearize(idx, rt.shape),), rt.dtype), cost=0)
        else:
            def at(idx):
                return src.at(delinearize(linearize(idx, rt.shape), src.type.shape))
            v = Value(rt, at, cost=src.cost, expensive=src.expensive)
        v.flat_src = src.flat_src or (src.type.shape, src.at)
        return [v]

    def _lower_transpose(self, attrs, ins, rts):
        perm = list(attrs["perm"])
        src = ins[0]

        def at(idx):
            inner = [None] * len(perm)
            for k, p in enumerate(perm):
                inner[p] = idx[k]
            return src.at(inner)
        return [Value(rts[0], at, cost=src.cost, expensive=src.expensive)]

    def _lower_expand(self, attrs, ins, rts):
        src, shape = ins[0], rts[0].shape
        return [Value(rts[0], lambda idx: src.at(broadcast_index(idx, shape, src.type.shape)), cost=src.cost,
                      expensive=src.expensive)]

    def _lower_tile(self, attrs, ins, rts):
        src = ins[0]
        sh = src.type.shape
        return [Value(rts[0], lambda idx: src.at([i if d == r else (Aff.cst(0) if d == 1 else Mod(i, d))
                                                  for i, d, r in zip(idx, sh, rts[0].shape)]),
                      cost=src.cost, expensive=src.expensive)]

    def _lower_slice(self, attrs, ins, rts):
        src = ins[0]
        rank = src.type.rank
        starts = [0] * rank
        steps = [1] * rank
        for st, en, ax, sp in zip(attrs["starts"], attrs["ends"], attrs["axes"], attrs["steps"]):
            ax = ax + rank if ax < 0 else ax
            start, _, step = slice(int(st), int(en), int(sp)).indices(src.type.shape[ax])
            starts[ax], steps[ax] = start, step

        def at(idx):
            return src.at([add_index(scale_index(i, sp), Aff.cst(st)) for i, st, sp in zip(idx, starts, steps)])
        return [Value(rts[0], at, cost=src.cost, expensive=src.expensive)]

    def _lower_split(self, attrs, ins, rts):
        src = ins[0]
        axis = attrs["axis"] + src.type.rank if attrs["axis"] < 0 else attrs["axis"]
        outs, off = [], 0
        for rt in rts:
            def at(idx, off=off):
                idx = list(idx)
                idx[axis] = add_index(idx[axis], Aff.cst(off))
                return src.at(idx)
            outs.append(Value(rt, at, cost=src.cost, expensive=src.expensive))
            off += rt.shape[axis]
        return outs

    def _lower_gather(self, attrs, ins, rts):
        data, ind = ins
        axis = attrs["axis"] + data.type.rank if attrs["axis"] < 0 else attrs["axis"]
        ib = self.as_buffer(ind)
        q = ind.type.rank
        n = data.type.shape[axis]

        def at(idx):
            idx = list(idx)
            j = Load(ib, tuple(idx[axis:axis + q]), n)
            return data.at(idx[:axis] + [j] + idx[axis + q:])
        return [Value(rts[0], at, cost=data.cost + 1, expensive=data.expensive)]

    def _lower_gather_nd(self, attrs, ins, rts):
        data, ind = ins
        b = attrs["batch_dims"]
        ib = self.as_buffer(ind)
        depth = ind.type.shape[-1]
        q = ind.type.rank - 1 - b           # index dims after the batch dims

        def at(idx):
            idx = list(idx)
            batch, mid, rest = idx[:b], idx[b:b + q], idx[b + q:]
            picks = [Load(ib, tuple(batch + mid + [Aff.cst(c)]), data.type.shape[b + c]) for c in range(depth)]
            return data.at(batch + picks + rest)
        return [Value(rts[0], at, cost=data.cost + 1, expensive=data.expensive)]

    def _lower_trilu(self, attrs, ins, rts):
        src = ins[0]
        sh = rts[0].shape
        limit = sh[-2] + sh[-1]
        k = min(max(attrs["k"], -limit), limit)
        dt = rts[0].dtype

        def at(idx):
            diff = add_index(idx[-1], scale_index(idx[-2], -1))       # j - i
            cond = Op("greater_equal" if attrs["upper"] else "less_equal", (),
                      (IndexValue(diff), Const(k, DType.i64)), DType.bool)
            return Op("where", (), (cond, src.at(idx), Const(0, dt)), dt)
        return [Value(rts[0], at, cost=src.cost + 1, expensive=src.expensive)]

    # -- materialising ops ----------------------------------------------------------------------------
    def _lower_matmul(self, attrs, ins, rts, outs):
        a, b = ins
        ash, bsh = a.type.shape, b.type.shape
        rt = rts[0]
        A = a if len(ash) > 1 else _reshaped(a, (1,) + ash)
        B = b if len(bsh) > 1 else _reshaped(b, bsh + (1,))
        M, K, N = A.type.shape[-2], A.type.shape[-1], B.type.shape[-1]
        full = rt.shape if (len(ash) > 1 and len(bsh) > 1) else \
            tuple(list(np.broadcast_shapes(A.type.shape[:-2], B.type.shape[:-2])) + [M, N])
        drop = ([len(full) - 2] if len(ash) == 1 else []) + ([len(full) - 1] if len(bsh) == 1 else [])
        self._gemm_nest(A, B, full, outs[0], rt, alpha=1.0, beta=0.0, c=None, trans_a=False, trans_b=False,
                        K=K, drop=drop)

    def _lower_gemm(self, attrs, ins, rts, outs):
        a, b = ins[:2]
        c = ins[2] if len(ins) > 2 else None
        K = a.type.shape[0] if attrs["trans_a"] else a.type.shape[1]
        self._gemm_nest(a, b, rts[0].shape, outs[0], rts[0], attrs["alpha"], attrs["beta"], c,
                        attrs["trans_a"], attrs["trans_b"], K)

    def _gemm_nest(self, A: Value, B: Value, full, out, rt, alpha, beta, c, trans_a, trans_b, K, drop=()):
        dt = rt.dtype
        # an operand that computes (not just re-indexes) is stored once rather than recomputed per column
        A = A if A.cost == 0 else self.buf_value(self.as_buffer(A))
        B = B if B.cost == 0 else self.buf_value(self.as_buffer(B))
        rank = len(full)
        dims, idx = self.dims_for(full, "i")
        batch_idx, i, j = idx[:-2], idx[-2], idx[-1]
        kdim = [("k", K)] if K > 1 else []
        k = Aff.dim("k") if K > 1 else Aff.cst(0)

        def operand(v: Value, r, cc, trans):
            sh = v.type.shape
            bi = broadcast_index(batch_idx, tuple(full[:-2]), tuple(sh[:-2])) if len(sh) > 2 else []
            return v.at(bi + ([cc, r] if trans else [r, cc]))
        prod = Op("mul", (), (operand(A, i, k, trans_a), operand(B, k, j, trans_b)), dt)
        pdims = [d for d in dims]
        outer = [d for d, _ in pdims[:-1]]       # batch dims and i
        jd = [d for d, _ in pdims[-1:]] if full[-1] > 1 else []
        if full[-1] == 1:                         # j is a unit dim: outer holds every parallel dim
            outer = [d for d, _ in pdims]
        widx = [x for a, x in enumerate(idx) if a not in drop]      # the result's own index (rank-1 operands)
        init_val: Expr = Const(0, dt)
        scale_after = alpha != 1.0
        if c is not None and beta != 0.0 and not scale_after:
            cv = c.at(broadcast_index(idx, tuple(full), c.type.shape))
            init_val = cv if beta == 1.0 else Op("mul", (), (cv, Const(beta, dt)), dt)
        L = len(outer) + 3
        s_init = self.stmt(pdims, out, widx, init_val, sched=_pad(outer + [0] + jd, L))
        s_upd = self.stmt(pdims + kdim, out, widx, prod, update="sum",
                          sched=_pad(outer + [1] + [d for d, _ in kdim] + jd, L),
                          reduction_dims=tuple(d for d, _ in kdim))
        nest = [s_init, s_upd]
        if scale_after:
            cur = Read(out, tuple(widx), dt)
            val: Expr = Op("mul", (), (cur, Const(alpha, dt)), dt)
            if c is not None and beta != 0.0:
                cv = c.at(broadcast_index(idx, tuple(full), c.type.shape))
                val = Op("add", (), (val, cv if beta == 1.0 else Op("mul", (), (cv, Const(beta, dt)), dt)), dt)
            nest.append(self.stmt(pdims, out, widx, val, sched=_pad(outer + [2] + jd, L)))
        self.nests.append(nest)
        del rank

    def _reusable(self, v: Value) -> Value:
        """``v`` for an op that reads each element several times: stored first when it is costly."""
        return v if (v.cost <= 3 and not v.expensive) else self.buf_value(self.as_buffer(v))

    def _reduce_layout(self, shape, axes):
        """dims/indices for an op over ``shape`` reducing ``axes``: outer (kept) dims first."""
        dims, idx = self.dims_for(shape)
        names = {k: d for k, (d, _) in zip([k for k, n in enumerate(shape) if n != 1], dims)}
        outer = [(d, n) for k, (d, n) in zip([k for k, n in enumerate(shape) if n != 1], dims) if k not in axes]
        red = [(d, n) for k, (d, n) in zip([k for k, n in enumerate(shape) if n != 1], dims) if k in axes]
        del names
        return dims, idx, outer, red

    def _reduction(self, x: Value, axes, out, rt: TensorType, kind: str, body_fn, init, final_fn=None):
        shape = x.type.shape
        _, idx, outer, red = self._reduce_layout(shape, axes)
        oidx = _out_index(idx, axes, rt.shape, len(shape))
        dt = rt.dtype
        od = [d for d, _ in outer]
        rd = [d for d, _ in red]
        L = len(od) + 1 + len(rd)
        nest = [self.stmt(outer, out, oidx, Const(init, dt), sched=_pad(od + [0], L)),
                self.stmt(outer + red, out, oidx, body_fn(idx), update=kind, sched=_pad(od + [1] + rd, L),
                          reduction_dims=tuple(rd))]
        if final_fn is not None:
            nest.append(self.stmt(outer, out, oidx, final_fn(Read(out, tuple(oidx), dt)), sched=_pad(od + [2], L)))
        self.nests.append(nest)

    def _axes(self, attrs, rank):
        return sorted({a + rank if a < 0 else a for a in attrs["axes"]})

    def _lower_reduce_sum(self, attrs, ins, rts, outs):
        x = ins[0]
        self._reduction(x, self._axes(attrs, x.type.rank), outs[0], rts[0], "sum", x.at, 0)

    def _lower_reduce_mean(self, attrs, ins, rts, outs):
        x = ins[0]
        axes = self._axes(attrs, x.type.rank)
        count = math.prod(x.type.shape[a] for a in axes)
        dt = rts[0].dtype
        if not dt.is_float:
            raise UnsupportedError("reduce_mean of integers", op="graph.reduce_mean")
        self._reduction(x, axes, outs[0], rts[0], "sum", x.at, 0,
                        lambda acc: Op("div", (), (acc, Const(float(count), dt)), dt))

    def _lower_reduce_max(self, attrs, ins, rts, outs):
        x = ins[0]
        self._reduction(x, self._axes(attrs, x.type.rank), outs[0], rts[0], "max", x.at, _lowest(rts[0].dtype))

    def _lower_reduce_min(self, attrs, ins, rts, outs):
        x = ins[0]
        self._reduction(x, self._axes(attrs, x.type.rank), outs[0], rts[0], "min", x.at, _highest(rts[0].dtype))

    def _lower_reduce_prod(self, attrs, ins, rts, outs):
        x = ins[0]
        self._reduction(x, self._axes(attrs, x.type.rank), outs[0], rts[0], "prod", x.at, 1)

    def _lower_reduce_sum_square(self, attrs, ins, rts, outs):
        x = ins[0]
        dt = rts[0].dtype
        self._reduction(x, self._axes(attrs, x.type.rank), outs[0], rts[0], "sum",
                        lambda idx: _sq(x.at(idx), dt), 0)

    def _lower_reduce_l2(self, attrs, ins, rts, outs):
        x = ins[0]
        dt = rts[0].dtype
        if not dt.is_float:
            raise UnsupportedError("reduce_l2 of integers", op="graph.reduce_l2")
        self._reduction(x, self._axes(attrs, x.type.rank), outs[0], rts[0], "sum",
                        lambda idx: _sq(x.at(idx), dt), 0, lambda acc: Op("sqrt", (), (acc,), dt))

    def _arg_reduce(self, attrs, ins, rts, outs, kind):
        x = ins[0]
        shape = x.type.shape
        axis = attrs["axis"] + len(shape) if attrs["axis"] < 0 else attrs["axis"]
        _, idx, outer, red = self._reduce_layout(shape, [axis])
        rt = rts[0]
        oidx = _out_index(idx, [axis], rt.shape, len(shape))
        best = self.temp(TensorType(rt.shape, x.type.dtype))
        od = [d for d, _ in outer]
        rd = [d for d, _ in red]
        L = len(od) + 1 + len(rd)
        init = _lowest(x.type.dtype) if kind == "argmax" else _highest(x.type.dtype)
        nest = [self.stmt(outer, best, oidx, Const(init, x.type.dtype), sched=_pad(od + [0], L)),
                self.stmt(outer, outs[0], oidx, Const(0, DType.i64), sched=_pad(od + [1], L))]
        if red:
            nest.append(self.stmt(outer + red, outs[0], oidx, x.at(idx), update=kind, aux=best, arg_dim=rd[0],
                                  select_last=bool(attrs["select_last_index"]), sched=_pad(od + [2] + rd, L),
                                  reduction_dims=tuple(rd)))
        self.nests.append(nest)

    def _lower_argmax(self, attrs, ins, rts, outs):
        self._arg_reduce(attrs, ins, rts, outs, "argmax")

    def _lower_argmin(self, attrs, ins, rts, outs):
        self._arg_reduce(attrs, ins, rts, outs, "argmin")

    def _lower_softmax(self, attrs, ins, rts, outs, log=False):
        x = self._reusable(ins[0])
        shape = x.type.shape
        axis = attrs["axis"] + len(shape) if attrs["axis"] < 0 else attrs["axis"]
        dt = rts[0].dtype
        _, idx, outer, red = self._reduce_layout(shape, [axis])
        oidx = _out_index(idx, [axis], tuple(1 if k == axis else n for k, n in enumerate(shape)), len(shape))
        stype = TensorType(tuple(1 if k == axis else n for k, n in enumerate(shape)), dt)
        m, s = self.temp(stype), self.temp(stype)
        od, rd = [d for d, _ in outer], [d for d, _ in red]
        L = len(od) + 1 + len(rd)
        mr = Read(m, tuple(oidx), dt)
        sr = Read(s, tuple(oidx), dt)

        def shifted(i):
            return Op("sub", (), (x.at(i), mr), dt)
        nest = [self.stmt(outer, m, oidx, Const(float("-inf"), dt), sched=_pad(od + [0], L)),
                self.stmt(outer + red, m, oidx, x.at(idx), update="max", sched=_pad(od + [1] + rd, L),
                          reduction_dims=tuple(rd)),
                self.stmt(outer, s, oidx, Const(0.0, dt), sched=_pad(od + [2], L))]
        if log:
            nest.append(self.stmt(outer + red, s, oidx, Op("exp", (), (shifted(idx),), dt), update="sum",
                                  sched=_pad(od + [3] + rd, L), reduction_dims=tuple(rd)))
            val: Expr = Op("sub", (), (shifted(idx), Op("log", (), (sr,), dt)), dt)
            nest.append(self.stmt(outer + red, outs[0], idx, val, sched=_pad(od + [4] + rd, L)))
        else:
            # exp once: store it in the result, sum the stored values, then scale by 1/sum
            o = Read(outs[0], tuple(idx), dt)
            val = Op("mul", (), (o, sr), dt)
            if attrs.get("nan_to_zero"):
                val = Op("where", (), (Op("isnan", (), (val,), DType.bool), Const(0.0, dt), val), dt)
            nest += [self.stmt(outer + red, outs[0], idx, Op("exp", (), (shifted(idx),), dt),
                               sched=_pad(od + [3] + rd, L)),
                     self.stmt(outer + red, s, oidx, o, update="sum", sched=_pad(od + [4] + rd, L),
                               reduction_dims=tuple(rd)),
                     self.stmt(outer, s, oidx, Op("reciprocal", (), (sr,), dt), sched=_pad(od + [5], L)),
                     self.stmt(outer + red, outs[0], idx, val, sched=_pad(od + [6] + rd, L))]
        self.nests.append(nest)

    def _lower_log_softmax(self, attrs, ins, rts, outs):
        self._lower_softmax(attrs, ins, rts, outs, log=True)

    def _norm_layout(self, attrs, ins, rts):
        """What layer_norm's and rms_norm's nests share: the normalized input, its axis, the element type,
        the row length n, the index / outer / reduced dims, the per-row statistic's shape and index, and
        the schedule length."""
        x = self._reusable(ins[0])
        shape = x.type.shape
        axis = attrs["axis"] + len(shape) if attrs["axis"] < 0 else attrs["axis"]
        axes = list(range(axis, len(shape)))
        _, idx, outer, red = self._reduce_layout(shape, axes)
        sshape = tuple(1 if k in axes else d for k, d in enumerate(shape))
        od, rd = [d for d, _ in outer], [d for d, _ in red]
        return (x, shape, axis, rts[0].dtype, math.prod(shape[axis:]), idx, outer, red, sshape,
                _out_index(idx, axes, sshape, len(shape)), od, rd, len(od) + 1 + len(rd))

    def _lower_layer_norm(self, attrs, ins, rts, outs):
        x, shape, axis, dt, n, idx, outer, red, sshape, oidx, od, rd, L = self._norm_layout(attrs, ins, rts)
        mu, var = self.temp(TensorType(sshape, dt)), self.temp(TensorType(sshape, dt))
        inv_n = Const(1.0 / n, dt)
        mean = Op("mul", (), (Read(mu, tuple(oidx), dt), inv_n), dt)

        def centered(i):
            return Op("sub", (), (x.at(i), mean), dt)
        nest = [self.stmt(outer, mu, oidx, Const(0.0, dt), sched=_pad(od + [0], L)),
                self.stmt(outer + red, mu, oidx, x.at(idx), update="sum", sched=_pad(od + [1] + rd, L),
                          reduction_dims=tuple(rd)),
                self.stmt(outer, var, oidx, Const(0.0, dt), sched=_pad(od + [2], L)),
                self.stmt(outer + red, var, oidx, _sq(centered(idx), dt), update="sum",
                          sched=_pad(od + [3] + rd, L), reduction_dims=tuple(rd)),
                self.stmt(outer, var, oidx,
                          Op("reciprocal", (), (Op("sqrt", (), (Op("add", (), (
                              Op("mul", (), (Read(var, tuple(oidx), dt), inv_n), dt),
                              Const(float(attrs["epsilon"]), dt)), dt),), dt),), dt),
                          sched=_pad(od + [4], L))]
        val: Expr = Op("mul", (), (centered(idx), Read(var, tuple(oidx), dt)), dt)
        norm_shape = shape[axis:]
        tail = idx[axis:]
        if len(ins) > 1:
            val = Op("mul", (), (val, ins[1].at(broadcast_index(tail, norm_shape, ins[1].type.shape))), dt)
        if len(ins) > 2:
            val = Op("add", (), (val, ins[2].at(broadcast_index(tail, norm_shape, ins[2].type.shape))), dt)
        nest.append(self.stmt(outer + red, outs[0], idx, val, sched=_pad(od + [5] + rd, L)))
        self.nests.append(nest)

    def _lower_rms_norm(self, attrs, ins, rts, outs):
        """x * rsqrt(mean(x^2) + eps) (* scale): layer_norm's nest without the mean."""
        x, shape, axis, dt, n, idx, outer, red, sshape, oidx, od, rd, L = self._norm_layout(attrs, ins, rts)
        ms = self.temp(TensorType(sshape, dt))
        nest = [self.stmt(outer, ms, oidx, Const(0.0, dt), sched=_pad(od + [0], L)),
                self.stmt(outer + red, ms, oidx, _sq(x.at(idx), dt), update="sum", sched=_pad(od + [1] + rd, L),
                          reduction_dims=tuple(rd)),
                self.stmt(outer, ms, oidx,
                          Op("reciprocal", (), (Op("sqrt", (), (Op("add", (), (
                              Op("mul", (), (Read(ms, tuple(oidx), dt), Const(1.0 / n, dt)), dt),
                              Const(float(attrs["epsilon"]), dt)), dt),), dt),), dt),
                          sched=_pad(od + [2], L))]
        val: Expr = Op("mul", (), (x.at(idx), Read(ms, tuple(oidx), dt)), dt)
        if len(ins) > 1:
            val = Op("mul", (), (val, ins[1].at(broadcast_index(idx[axis:], shape[axis:], ins[1].type.shape))), dt)
        nest.append(self.stmt(outer + red, outs[0], idx, val, sched=_pad(od + [3] + rd, L)))
        self.nests.append(nest)

    def _lower_concat(self, attrs, ins, rts, outs):
        rank = rts[0].rank
        axis = attrs["axis"] + rank if attrs["axis"] < 0 else attrs["axis"]
        off = 0
        for v in ins:
            dims, idx = self.dims_for(v.type.shape)
            widx = list(idx)
            widx[axis] = add_index(widx[axis], Aff.cst(off))
            if v.type.num_elements:
                self.nests.append([self.stmt(dims, outs[0], widx, v.at(idx))])
            off += v.type.shape[axis]

    def _lower_pad(self, attrs, ins, rts):
        """Lazy: constant mode selects the value outside the source; edge/reflect/wrap re-index."""
        x = ins[0]
        rt = rts[0]
        r = x.type.rank
        mode = attrs["mode"]
        begins, ends = attrs["pads"][:r], attrs["pads"][r:]
        crop0 = [max(-b, 0) for b in begins]
        n = [d - max(-b, 0) - max(-e, 0) for d, b, e in zip(x.type.shape, begins, ends)]
        dt = rt.dtype

        def src(k, i):
            """the cropped source's index along axis k for output index i (may be outside for constant)."""
            p = add_index(i, Aff.cst(-max(begins[k], 0)))          # position in the cropped source
            if mode == "constant" or (begins[k] <= 0 and ends[k] <= 0):
                return p
            if mode == "edge":
                p = IfLess(p, 0, Aff.cst(0), IfLess(p, n[k], p, Aff.cst(n[k] - 1)))
            elif mode == "wrap":
                shift = n[k] * (max(begins[k], 0) // n[k] + 1)
                p = Mod(add_index(p, Aff.cst(shift)), n[k])
            else:                                                    # reflect, period 2n-2
                per = 2 * n[k] - 2
                if per <= 0:
                    return Aff.cst(0)
                q = Mod(add_index(p, Aff.cst(per * (max(begins[k], 0) // per + 1))), per)
                p = IfLess(q, n[k], q, add_index(Aff.cst(per), scale_index(q, -1)))
            return p

        def at(idx):
            pos = [src(k, i) for k, i in enumerate(idx)]
            inner = x.at([add_index(p, Aff.cst(c)) for p, c in zip(pos, crop0)])
            if mode != "constant":
                return inner
            cond = None
            for k, i in enumerate(idx):
                if begins[k] <= 0 and ends[k] <= 0:
                    continue
                lo = max(begins[k], 0)
                inside = Op("and", (), (Op("greater_equal", (), (IndexValue(i), Const(lo, DType.i64)), DType.bool),
                                        Op("less", (), (IndexValue(i), Const(lo + n[k], DType.i64)), DType.bool)),
                            DType.bool)
                cond = inside if cond is None else Op("and", (), (cond, inside), DType.bool)
            if cond is None:
                return inner
            # the read is only taken where it is inside (C's ?: evaluates one side); clamp it for safety
            safe = [IfLess(p, 0, Aff.cst(c), IfLess(p, nk, add_index(p, Aff.cst(c)), Aff.cst(c + nk - 1)))
                    if nk > 0 else Aff.cst(0) for p, c, nk in zip(pos, crop0, n)]
            if any(nk == 0 for nk in n):
                return Const(attrs["value"], dt)
            return Op("where", (), (cond, x.at(safe), Const(attrs["value"], dt)), dt)
        return [Value(rt, at, cost=x.cost + 1, expensive=x.expensive)]

    def _lower_gather_elements(self, attrs, ins, rts):
        data, ind = ins
        axis = attrs["axis"] + data.type.rank if attrs["axis"] < 0 else attrs["axis"]
        ib = self.as_buffer(ind)
        n = data.type.shape[axis]

        def at(idx):
            idx = list(idx)
            j = Load(ib, tuple(idx), n)
            return data.at(idx[:axis] + [j] + idx[axis + 1:])
        return [Value(rts[0], at, cost=data.cost + 1, expensive=data.expensive)]

    _SCATTER_UPDATE = {"none": "assign", "add": "sum", "mul": "prod", "max": "max", "min": "min"}

    def _scatter(self, data: Value, upd: Value, out: str, write_index):
        """out = data, then out[write_index(idx)] (=|+=|...) upd[idx] in order: data-dependent writes."""
        self.materialize(data, out)
        dims, idx = self.dims_for(upd.type.shape, "u")
        self.nests.append([self.stmt(dims, out, write_index(idx), upd.at(idx), update=self._scatter_kind)])

    def _lower_scatter_elements(self, attrs, ins, rts, outs):
        data, ind, upd = ins
        axis = attrs["axis"] + data.type.rank if attrs["axis"] < 0 else attrs["axis"]
        ib = self.as_buffer(ind)
        n = data.type.shape[axis]
        self._scatter_kind = self._SCATTER_UPDATE[attrs["reduction"]]

        def windex(idx):
            w = list(idx)
            w[axis] = Load(ib, tuple(idx), n)
            return w
        self._scatter(data, upd, outs[0], windex)

    def _lower_scatter_nd(self, attrs, ins, rts, outs):
        data, ind, upd = ins
        ib = self.as_buffer(ind)
        depth = ind.type.shape[-1]
        q = ind.type.rank - 1
        self._scatter_kind = self._SCATTER_UPDATE[attrs["reduction"]]

        def windex(idx):
            picks = [Load(ib, tuple(list(idx[:q]) + [Aff.cst(c)]), data.type.shape[c]) for c in range(depth)]
            return picks + list(idx[q:])
        self._scatter(data, upd, outs[0], windex)

    def _lower_cumsum(self, attrs, ins, rts, outs):
        """out[.., r, ..] = sum over r2 of where(r2 <= r (or <, >=, >), x[.., r2, ..], 0): quadratic in the
        axis length, but a plain reduction, so every schedule and the reference semantics handle it."""
        x = ins[0]
        shape = x.type.shape
        axis = attrs["axis"] + len(shape) if attrs["axis"] < 0 else attrs["axis"]
        dt = rts[0].dtype
        dims, idx = self.dims_for(shape)
        if shape[axis] <= 1 and not attrs["exclusive"]:
            self.materialize(x, outs[0])
            return
        r = idx[axis]
        r2 = Aff.dim("r")
        src = list(idx)
        src[axis] = r2
        cmp = {(False, False): "less_equal", (True, False): "less", (False, True): "greater_equal",
               (True, True): "greater"}[(bool(attrs["exclusive"]), bool(attrs["reverse"]))]
        cond = Op(cmp, (), (IndexValue(r2), IndexValue(r)), DType.bool)
        body = Op("where", (), (cond, x.at(src), Const(0, dt)), dt)
        ds = [d for d, _ in dims]
        L = len(ds) + 2
        self.nests.append([self.stmt(dims, outs[0], idx, Const(0, dt), sched=_pad(ds + [0], L)),
                           self.stmt(dims + [("r", shape[axis])], outs[0], idx, body, update="sum",
                                     sched=_pad(ds + [1, "r"], L), reduction_dims=("r",))])

    def _lower_reduce_log_sum_exp(self, attrs, ins, rts, outs):
        x = self._reusable(ins[0])
        dt = rts[0].dtype
        if not dt.is_float:
            raise UnsupportedError("reduce_log_sum_exp of integers", op="graph.reduce_log_sum_exp")
        axes = self._axes(attrs, x.type.rank)
        shape = x.type.shape
        _, idx, outer, red = self._reduce_layout(shape, axes)
        oidx = _out_index(idx, axes, rts[0].shape, len(shape))
        m = self.temp(rts[0])
        od, rd = [d for d, _ in outer], [d for d, _ in red]
        L = len(od) + 1 + len(rd)
        mr = Read(m, tuple(oidx), dt)
        xv = x.at(idx)
        bad = Op("or", (), (Op("isinf", (), (xv,), DType.bool), Op("isnan", (), (xv,), DType.bool)), DType.bool)
        finite = Op("where", (), (bad, Const(float("-inf"), dt), xv), dt)
        shift = Op("where", (), (Op("isinf", (), (mr,), DType.bool), Const(0.0, dt), mr), dt)
        nest = [self.stmt(outer, m, oidx, Const(float("-inf"), dt), sched=_pad(od + [0], L)),
                self.stmt(outer + red, m, oidx, finite, update="max", sched=_pad(od + [1] + rd, L),
                          reduction_dims=tuple(rd)),
                self.stmt(outer, outs[0], oidx, Const(0.0, dt), sched=_pad(od + [2], L)),
                self.stmt(outer + red, outs[0], oidx, Op("exp", (), (Op("sub", (), (xv, shift), dt),), dt),
                          update="sum", sched=_pad(od + [3] + rd, L), reduction_dims=tuple(rd)),
                self.stmt(outer, outs[0], oidx, Op("add", (), (Op("log", (), (Read(outs[0], tuple(oidx), dt),), dt),
                                                               shift), dt), sched=_pad(od + [4], L))]
        self.nests.append(nest)

def _pad(entries, n):
    return list(entries) + [0] * (n - len(entries))


def _sq(e: Expr, dt) -> Expr:
    return Op("mul", (), (e, e), dt)


def _out_index(idx, axes, out_shape, rank):
    """The index into a reduction's result (keepdims or not) from the input's index."""
    if len(out_shape) == rank:
        return [Aff.cst(0) if k in axes else i for k, i in enumerate(idx)]
    return [i for k, i in enumerate(idx) if k not in axes]


def _reshaped(v: Value, shape) -> Value:
    t = TensorType(tuple(shape), v.type.dtype)
    return Value(t, lambda idx: v.at(delinearize(linearize(idx, shape), v.type.shape)), buf=None, cost=v.cost)


def broadcast_index(idx, shape, operand_shape):
    """numpy broadcasting: the operand's index for result index ``idx`` of ``shape``."""
    r, q = len(shape), len(operand_shape)
    out = []
    for k in range(q):
        d = operand_shape[k]
        out.append(Aff.cst(0) if d == 1 else idx[r - q + k])
    return out


def lower(op: Operation) -> Kernel:
    """The kernel IR of a kernel op (a ``graph.fused`` block or a single graph op)."""
    return Lowering().lower(op)


def can_lower(op: Operation) -> bool:
    if op.name == "graph.fused":
        block = op.regions[0].blocks[0]
        return all(o.name == "graph.yield" or o.name[len("graph."):] in SUPPORTED_OPS for o in block.ops)
    return op.name.startswith("graph.") and op.name[len("graph."):] in SUPPORTED_OPS and \
        op.name not in ("graph.constant", "graph.reshape")


__all__ = ["Lowering", "SUPPORTED_OPS", "broadcast_index", "can_lower", "lower", "expr_dims", "is_expensive",
           "Div"]
