"""OpenCL row-wise kernels: ``embedding``, ``layer_norm`` and ``softmax`` blocks, one work-group per row.

Takes the blocks the C++ row-wise emitter takes (the plan of :mod:`lpfc.codegen.plans.rowwise`: a prologue
of element-wise ops, reshapes and row gathers, one LayerNorm or softmax over the last axis, reshapes)
when every prologue op has an OpenCL form.  Work-item ``lid`` of row ``m``'s group computes the
prologue for columns ``lid, lid + LS, ...`` into the output row (and any yielded intermediate), then
the group normalises the row in place: LayerNorm in numpy's two passes, softmax as max / exp-sum /
scale (``nan_to_zero`` honoured), reductions through local memory.  A gather index out of range
is recorded in the call's fault slot (an int flag, compare-exchanged, then the index and the axis
length) and the row reads row 0 (no early return before the barriers); the host reads the slots after the run and fails it with
LPFC_ERR_EXECUTION naming the op and the index, as on the CPU.  Knob: the work-group size ``ls`` (a power of two).
"""
from __future__ import annotations

from typing import Optional

from ..ir.core import Operation
from ..ir.types import DType
from .kernel_source import KernelSource
from .ocl_common import OclEmitter, OclLaunch, bind, f32_literal, ocl_expr, param
from .plans.rowwise import RowwisePlan, analyse
from .targets import Target

VARIANTS = [{"ls": 64}, {"ls": 128}, {"ls": 32}, {"ls": 256}]


def norm_tail(info_anchor: str, ls: int, *, eps: float = 0.0, g: Optional[str] = None, gs: bool = False,
              b: Optional[str] = None, bs: bool = False, nan_to_zero: bool = False, row: str = "Y",
              n: str = "N") -> list:
    """Statements normalising ``row[0:n]`` in place; every work-item touches only its own columns
    (``lid + k * ls``) outside the reductions, so no barrier is needed between prologue and tail."""
    loop = f"for (int n = lid; n < {n}; n += {ls})"
    if info_anchor == "graph.layer_norm":
        L = ["float s = 0.0f;",
             f"{loop} s += {row}[n];",
             f"const float mean = lpfc_wg_sum(red, s, lid, {ls}) / (float){n};",
             "float q = 0.0f;",
             f"{loop} {{",
             f"    const float d = {row}[n] - mean;",
             "    q += d * d;",
             "}",
             f"const float rstd = 1.0f / sqrt(lpfc_wg_sum(red, q, lid, {ls}) / (float){n} + {f32_literal(eps)});",
             f"{loop} {{",
             f"    float v = ({row}[n] - mean) * rstd;"]
        if g:
            L.append(f"    v *= {g}[{'0' if gs else 'n'}];")
        if b:
            L.append(f"    v += {b}[{'0' if bs else 'n'}];")
        L += [f"    {row}[n] = v;", "}"]
        return L
    return ["float mx = -INFINITY;",
            f"{loop} mx = lpfc_max(mx, {row}[n]);",
            f"mx = lpfc_wg_max(red, mx, lid, {ls});",
            "float s = 0.0f;",
            f"{loop} {{",
            f"    const float e = exp({row}[n] - mx);",
            f"    {row}[n] = e;",
            "    s += e;",
            "}",
            f"const float inv = 1.0f / lpfc_wg_sum(red, s, lid, {ls});",
            f"{loop} {{",
            f"    const float v = {row}[n] * inv;",
            f"    {row}[n] = {'isnan(v) ? 0.0f : v' if nan_to_zero else 'v'};",
            "}"]


def _steps_ok(info) -> bool:
    return all(ocl_expr(o, argv) is not None for _, o, argv in info.steps)


def emit_ocl_rowwise(op: Operation, target: Target, symbol: str, choice: Optional[dict] = None) -> KernelSource:
    return render_ocl_rowwise(OCL_ROWWISE_EMITTER.plan(op, symbol), target, symbol, choice)


def render_ocl_rowwise(info: RowwisePlan, target: Target, symbol: str, choice: Optional[dict] = None) -> KernelSource:
    if not _steps_ok(info):
        raise ValueError(f"{symbol}: not a row-wise block the OpenCL emitter accepts")
    LS = (choice or {}).get("ls", 64)
    assert LS & (LS - 1) == 0
    N, R = info.N, info.R
    arg_types = info.arg_types
    used = sorted({k[1] for k in info.leaves})
    gathers = list(info.gathers)
    extra = []
    if info.anchor == "graph.layer_norm":
        extra = [a for a in (info.scale, info.bias) if a is not None]
    ln_args = sorted({a for a, _ in extra} - set(used))
    outs = [info.out] + [j for j, _ in info.yields]
    args = [("in", a) for a in used] + [("in", ia) for ia in gathers] + [("in", a) for a in ln_args] + \
           [("out", j) for j in outs] + ([("fault", 0)] if gathers else [])
    P = [param(f"p{a}") for a in used] + [param(f"ix{ia}") for ia in gathers] + [param(f"p{a}") for a in ln_args] + \
        [param(f"o{j}") for j in outs] + ([param("flt")] if gathers else [])
    L = [f"__kernel __attribute__((reqd_work_group_size({LS}, 1, 1)))",
         f"void {symbol}({', '.join(P)}) {{",
         f"    const int N = {N};",
         "    const int m = get_group_id(0), lid = get_local_id(0);"]
    for a in [*used, *ln_args]:
        L.append("    " + bind(f"p{a}"))
    for ia in gathers:
        L.append("    " + bind(f"ix{ia}", "long" if arg_types[ia].dtype == DType.i64 else "int"))
    for j in outs:
        L.append("    " + bind(f"o{j}", const=False))
    L.append(f"    __global float *Y = o{info.out} + (size_t)m * N;")
    L.append(f"    __local float red[{LS}];")
    for ia, gname in info.gathers.items():
        tabs = {k[1] for k in info.leaves if k[0] == "gather" and k[2] == ia}
        rows = min(arg_types[t].shape[0] for t in tabs)
        L.append(f"    long {gname} = (long)ix{ia}[m];")
        L.append(f"    if ({gname} < 0) {gname} += {rows};")
        # out of range: reported in the fault slot (ocl_model.py: int flag, then long index and long axis
        # length; the first one wins) and the run fails; the row reads row 0 meanwhile.  No early return:
        # every work-item of the group must reach the reductions' barriers.
        L.append(f"    if ({gname} < 0 || {gname} >= {rows}) {{")
        L.append("        __global int *flt = (__global int *)(flt_buf + flt_off);")
        L.append("        if (lid == 0 && atomic_cmpxchg((volatile __global int *)flt, 0, 1) == 0) {")
        L.append(f"            ((__global long *)flt)[1] = (long)ix{ia}[m];")
        L.append(f"            ((__global long *)flt)[2] = {rows};")
        L.append("        }")
        L.append(f"        {gname} = 0;")
        L.append("    }")
    L.append(f"    for (int n = lid; n < N; n += {LS}) {{")
    for key, name in info.leaves.items():
        if key[0] == "gather":
            L.append(f"        const float {name} = p{key[1]}[{info.gathers[key[2]]} * N + n];")
        else:
            idx = {"scalar": "0", "row": "m", "col": "n", "full": "(size_t)m * N + n"}[key[0]]
            L.append(f"        const float {name} = p{key[1]}[{idx}];")
    for t, o, argv in info.steps:
        L.append(f"        const float {t} = {ocl_expr(o, argv)};")
    for j, t in info.yields:
        L.append(f"        o{j}[(size_t)m * N + n] = {t};")
    L.append(f"        Y[n] = {info.x};")
    L.append("    }")
    if info.anchor == "graph.layer_norm":
        tail = norm_tail("graph.layer_norm", LS, eps=info.eps,
                         g=f"p{info.scale[0]}" if info.scale else None, gs=bool(info.scale and info.scale[1]),
                         b=f"p{info.bias[0]}" if info.bias else None, bs=bool(info.bias and info.bias[1]))
    else:
        tail = norm_tail("graph.softmax", LS, nan_to_zero=info.nan_to_zero)
    L += ["    " + s for s in tail]
    L.append("}")
    return KernelSource(symbol=symbol, code="\n".join(L) + "\n", launches=(OclLaunch("", tuple(args), (R * LS,), (LS,)),),
                        variant=f"opencl rows ls{LS}", index_checks=bool(gathers))


class OclRowwiseEmitter(OclEmitter):
    name = "ocl-rowwise"
    what = "a row-wise block"
    analyse = staticmethod(analyse)
    render_plan = staticmethod(render_ocl_rowwise)

    def supported(self, info) -> bool:
        # rms_norm has no OpenCL row kernel yet: declined, so the host fallback runs it exactly
        return _steps_ok(info) and info.R < 2 ** 31 // 256 and info.anchor != "graph.rms_norm"

    def variants(self, op: Operation, target: Target) -> list:
        return [dict(v) for v in VARIANTS]


OCL_ROWWISE_EMITTER = OclRowwiseEmitter()

__all__ = ["OCL_ROWWISE_EMITTER", "OclRowwiseEmitter", "emit_ocl_rowwise", "norm_tail", "render_ocl_rowwise"]
