"""OpenCL element-wise kernels: ``elementwise`` blocks (and bare element-wise ops) of f32/i64/i32/i1 values.

Every yielded value is computed per element of its own shape by one work-item: the block's DAG is
evaluated as an expression of the element's linear index, each operand indexed through numpy
broadcasting (division/modulo by the static dims) and reshapes keeping the linear index.  Covers the
attention-mask kernels of the zoo (cast to i1, reshape, ``and`` with the causal mask, ``where``) so
they no longer run on the host between device kernels.  Anything else (other ops or dtypes,
f16/f64, integer division) is declined and stays on the host.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from ..ir.core import Operation
from ..ir.types import DType
from .kernel_source import KernelSource
from .ocl_common import OclEmitter, OclLaunch, ocl_expr, param
from .plans import decline, plan_of
from .plans.blocks import kernel_view
from .targets import Target

_CT = {DType.f32: "float", DType.i64: "long", DType.i32: "int", DType.bool: "uchar"}
_CMP = {"graph.equal": "==", "graph.less": "<", "graph.less_equal": "<=", "graph.greater": ">",
        "graph.greater_equal": ">="}
_BARE = {n: "elementwise" for n in ("graph.cast", "graph.where", "graph.and", "graph.or", "graph.not",
                                    "graph.add", "graph.sub", "graph.mul", *_CMP)}


def _bcast_index(idx: str, rshape: tuple, ushape: tuple) -> str:
    """The linear index into an operand of ``ushape`` broadcast to ``rshape``, from ``idx`` into ``rshape``."""
    if tuple(ushape) == tuple(rshape):
        return idx
    if math.prod(ushape) == 1:
        return "0"
    u = (1,) * (len(rshape) - len(ushape)) + tuple(ushape)
    terms, stride_u, stride_r = [], 1, 1
    for d in range(len(rshape) - 1, -1, -1):
        if u[d] != 1:
            coord = f"(({idx}) / {stride_r} % {rshape[d]})" if stride_r != 1 else f"(({idx}) % {rshape[d]})"
            terms.append(f"{coord} * {stride_u}" if stride_u != 1 else coord)
            stride_u *= u[d]
        stride_r *= rshape[d]
    return " + ".join(terms) or "0"


class _Gen:
    def __init__(self, args, ops):
        self.arg_index = {id(a): i for i, a in enumerate(args)}
        self.producer = {id(r): o for o in ops for r in o.results}
        self.used: set = set()

    def expr(self, v, idx: str) -> str:
        if id(v) in self.arg_index:
            a = self.arg_index[id(v)]
            self.used.add(a)
            return f"p{a}[{idx}]"
        o = self.producer[id(v)]
        rshape = tuple(o.results[0].type.shape)
        if o.name == "graph.reshape":
            return self.expr(o.operands[0], idx)
        a = [self.expr(u, _bcast_index(idx, rshape, tuple(u.type.shape))) for u in o.operands]
        rt, dt = o.results[0].type.dtype, o.operands[0].type.dtype
        if o.name == "graph.cast":
            if rt == DType.bool:
                return f"(uchar)(({a[0]}) != 0)"
            return f"({_CT[rt]})({a[0]})"
        if o.name == "graph.where":
            return f"(({a[0]}) ? ({a[1]}) : ({a[2]}))"
        if o.name in ("graph.and", "graph.or"):
            return f"(uchar)(({a[0]}) {'&&' if o.name == 'graph.and' else '||'} ({a[1]}))"
        if o.name == "graph.not":
            return f"(uchar)(!({a[0]}))"
        if o.name in _CMP:
            return f"(uchar)(({a[0]}) {_CMP[o.name]} ({a[1]}))"
        if dt == DType.f32:
            e = ocl_expr(o, a)
            if e is not None:
                return e
        if dt in (DType.i64, DType.i32) and o.name in ("graph.add", "graph.sub", "graph.mul"):
            # wrap like numpy: in the unsigned type
            ut = "ulong" if dt == DType.i64 else "uint"
            sym = {"graph.add": "+", "graph.sub": "-", "graph.mul": "*"}[o.name]
            return f"({_CT[dt]})(({ut})({a[0]}) {sym} ({ut})({a[1]}))"
        raise ValueError(f"no OpenCL form for {o.name}")


@dataclass
class ElementwisePlan:
    """One OpenCL C expression per yielded value, of the element's linear index ``e`` (this analysis renders as
    it recognises: the expressions are the plan)."""
    exprs: list              # per yielded value
    used: list               # the argument indices the expressions read
    args: list               # the block arguments
    yielded: list            # the yielded values


def _analyse(op: Operation) -> ElementwisePlan:
    view = kernel_view(op, _BARE)
    if view is None:
        decline("not a fused block nor a bare element-wise op")
    kind, ops, args, yielded = view
    if kind != "elementwise":
        decline(f"block kind {kind!r}")
    for v in [*args, *(r for o in ops for r in o.results)]:
        if v.type.dtype not in _CT:
            decline(f"dtype {v.type.dtype.value}")
    for o in ops:
        if o.name != "graph.reshape" and not o.has_trait("elementwise"):
            decline(f"{o.name} is not element-wise")
        if len(o.results) != 1:
            decline(f"{o.name} has several results")
    gen = _Gen(args, ops)
    try:
        exprs = [gen.expr(v, "e") for v in yielded]
    except (ValueError, KeyError) as e:
        decline(f"no OpenCL form: {e}")
    if any(math.prod(v.type.shape) >= 2 ** 31 for v in yielded) or sum(map(len, exprs)) > 20000:
        # (a value used twice is recomputed: a deep DAG would blow up; the host takes it)
        decline("too many elements or too long an expression")
    return ElementwisePlan(exprs=exprs, used=sorted(gen.used), args=args, yielded=yielded)


def analyse(op: Operation):
    """The op's :class:`ElementwisePlan`, or a :class:`~lpfc.codegen.plans.Decline` (computed once per op)."""
    return plan_of(_analyse, op)


def emit_ocl_elementwise(op: Operation, target: Target, symbol: str, choice: Optional[dict] = None) -> KernelSource:
    return render_ocl_elementwise(OCL_ELEMENTWISE_EMITTER.plan(op, symbol), target, symbol, choice)


def render_ocl_elementwise(info: ElementwisePlan, target: Target, symbol: str,
                           choice: Optional[dict] = None) -> KernelSource:
    code, launches = [], []
    for j, (v, e) in enumerate(zip(info.yielded, info.exprs)):
        n = math.prod(v.type.shape)
        P = [param(f"p{a}") for a in info.used] + [param("y")]
        L = [f"__kernel void {symbol}_y{j}({', '.join(P)}) {{"]
        for a in info.used:
            t = _CT[info.args[a].type.dtype]
            L.append(f"    __global const {t} *p{a} = (__global const {t} *)(p{a}_buf + p{a}_off);")
        t = _CT[v.type.dtype]
        L += [f"    __global {t} *y = (__global {t} *)(y_buf + y_off);",
              "    const int e = get_global_id(0);",
              f"    if (e < {n}) y[e] = {e};",
              "}"]
        code.append("\n".join(L))
        launches.append(OclLaunch(f"_y{j}", tuple([("in", a) for a in info.used] + [("out", j)]),
                                  (max(1, -(-n // 64)) * 64,), (64,)))
    return KernelSource(symbol=symbol, code="\n\n".join(code) + "\n", launches=tuple(launches),
                        variant="opencl element per work-item")


class OclElementwiseEmitter(OclEmitter):
    name = "ocl-elementwise"
    what = "an element-wise block"
    analyse = staticmethod(analyse)
    render_plan = staticmethod(render_ocl_elementwise)


OCL_ELEMENTWISE_EMITTER = OclElementwiseEmitter()

__all__ = ["OCL_ELEMENTWISE_EMITTER", "OclElementwiseEmitter", "ElementwisePlan", "analyse", "emit_ocl_elementwise",
           "render_ocl_elementwise"]
