"""OpenCL attention kernels: one work-group per (batch·head, query row): Q·Kᵀ, scale/mask, softmax, ·V.

Takes the blocks the C++ attention emitter takes (the plan of :mod:`lpfc.codegen.plans.attention`): the
head split (split/reshape/transpose of the fused QKV output) and the head merge are strided views
whose strides are printed into the kernel, so no transpose is ever materialised.  The group stages
its query row in local memory; work-item ``lid`` computes the scores of keys ``lid, lid + LS, ...``
into a local row of T floats and applies the element-wise ops (mask, scale); the group takes the
softmax of the row (local-memory reductions; ``nan_to_zero`` honoured) and then work-item ``lid``
computes output columns ``lid, lid + LS, ...`` of P·V.  Knob: the work-group size ``ls``.
Rows longer than the local memory budget (T + D floats over 8 KiB) stay on the host.
"""
from __future__ import annotations

import math
from typing import Optional

from ..ir.core import Operation
from .kernel_source import KernelSource
from .ocl_common import OclEmitter, OclLaunch, bind, param
from .plans.attention import AttentionPlan, analyse
from .ocl_rowwise import norm_tail
from .targets import Target

VARIANTS = [{"per_item": True, "ls": 32}, {"per_item": True, "ls": 64}, {"ls": 64}, {"ls": 128}, {"ls": 32}]
LOCAL_FLOATS = 2048


def _offset(view, nb: int) -> str:
    return " + ".join([str(view.offset)] + [f"(size_t)bi{i} * {view.strides[i]}" for i in range(nb) if view.strides[i]])


def _row_pointers(info, used) -> list:
    """The kernel's argument pointers, the batch indices bi0.. of work-group/item index ``b``, and the
    pointers Q, K, V, O and M0.. (mask steps) of query row ``i`` (both kernel shapes share them)."""
    batch, nb = info.batch, len(info.batch)
    q, kt, vv, ov = info.q, info.kt, info.v, info.out
    L = ["    " + bind(f"p{a}") for a in used] + ["    " + bind("o", const=False)]
    rem = "b"
    for k in range(nb - 1, -1, -1):
        L.append(f"    const int bi{k} = {rem} % {batch[k]};")
        L.append(f"    (void)bi{k};")
        if k:
            L.append(f"    const int r{k} = {rem} / {batch[k]};")
            rem = f"r{k}"
    L += [f"    __global const float *Q = p{q.arg} + {_offset(q, nb)} + (size_t)i * {q.strides[-2]};",
          f"    __global const float *K = p{kt.arg} + {_offset(kt, nb)};",
          f"    __global const float *V = p{vv.arg} + {_offset(vv, nb)};",
          f"    __global float *O = o + {_offset(ov, nb)} + (size_t)i * {ov.strides[-2]};"]
    for n, (_, sv, _) in enumerate(info.steps):
        L.append(f"    __global const float *M{n} = p{sv.arg} + {_offset(sv, nb)} + (size_t)i * {sv.strides[-2]};")
    return L


def emit_ocl_attention(op: Operation, target: Target, symbol: str, choice: Optional[dict] = None) -> KernelSource:
    return render_ocl_attention(OCL_ATTENTION_EMITTER.plan(op, symbol), target, symbol, choice)


def render_ocl_attention(info: AttentionPlan, target: Target, symbol: str,
                         choice: Optional[dict] = None) -> KernelSource:
    LS = (choice or {}).get("ls", 64)
    assert LS & (LS - 1) == 0
    batch, S, D, T, DV = info.batch, info.S, info.D, info.T, info.DV
    q, kt, vv, ov = info.q, info.kt, info.v, info.out
    BT = math.prod(batch)
    used = sorted({q.arg, kt.arg, vv.arg} | {s[1].arg for s in info.steps})
    args = [("in", a) for a in used] + [("out", 0)]
    P = [param(f"p{a}") for a in used] + [param("o")]
    if (choice or {}).get("per_item"):
        return _emit_per_item(info, symbol, LS, used, args, P)
    L = [f"__kernel __attribute__((reqd_work_group_size({LS}, 1, 1)))",
         f"void {symbol}({', '.join(P)}) {{",
         f"    const int S = {S}, D = {D}, T = {T}, DV = {DV};",
         "    const int lid = get_local_id(0), i = get_group_id(0) % S, b = get_group_id(0) / S;"]
    L += _row_pointers(info, used)
    L += [f"    __local float qr[{D}];",
          f"    __local float Y[{T}];",
          f"    __local float red[{LS}];",
          f"    for (int k = lid; k < D; k += {LS}) qr[k] = Q[(size_t)k * {q.strides[-1]}];",
          "    barrier(CLK_LOCAL_MEM_FENCE);",
          f"    for (int j = lid; j < T; j += {LS}) {{",
          "        float acc = 0.0f;",
          f"        for (int k = 0; k < D; ++k) acc += qr[k] * K[(size_t)k * {kt.strides[-2]} + (size_t)j * {kt.strides[-1]}];"]
    sc = {"graph.add": "+", "graph.sub": "-", "graph.mul": "*", "graph.div": "/"}
    for n, (name, sv, first) in enumerate(info.steps):
        m = f"M{n}[{'j' if sv.strides[-1] == 1 else '0'}]"
        L.append(f"        acc = {'acc' if first else m} {sc[name]} {m if first else 'acc'};")
    L += ["        Y[j] = acc;", "    }"]
    # (each work-item normalises the scores it wrote; the reductions synchronise the group)
    L += ["    " + s for s in norm_tail("graph.softmax", LS, nan_to_zero=info.nan_to_zero, n="T")]
    L += ["    barrier(CLK_LOCAL_MEM_FENCE);",
          f"    for (int c = lid; c < DV; c += {LS}) {{",
          "        float acc = 0.0f;",
          f"        for (int t = 0; t < T; ++t) acc += Y[t] * V[(size_t)t * {vv.strides[-2]} + (size_t)c * {vv.strides[-1]}];",
          f"        O[(size_t)c * {ov.strides[-1]}] = acc;",
          "    }",
          "}"]
    return KernelSource(symbol=symbol, code="\n".join(L) + "\n",
                        launches=(OclLaunch("", tuple(args), (BT * S * LS,), (LS,)),),
                        variant=f"opencl row-per-group ls{LS}")


def _emit_per_item(info, symbol, LS, used, args, P) -> KernelSource:
    """One work-item per query row, its scores and output row in private arrays: no local memory and no
    barriers (what CPU devices such as PoCL's like; a GPU would rather have the group-per-row kernel)."""
    batch, S, D, T, DV = info.batch, info.S, info.D, info.T, info.DV
    q, kt, vv, ov = info.q, info.kt, info.v, info.out
    BT = math.prod(batch)
    L = [f"__kernel __attribute__((reqd_work_group_size({LS}, 1, 1)))",
         f"void {symbol}({', '.join(P)}) {{",
         f"    const int S = {S}, D = {D}, T = {T}, DV = {DV};",
         "    const int i = get_global_id(0), b = get_global_id(1);",
         "    if (i >= S) return;"]
    L += _row_pointers(info, used)
    L += [f"    float s[{T}], acc[{DV}];",
          "    float mx = -INFINITY;",
          "    for (int j = 0; j < T; ++j) {",
          "        float a = 0.0f;",
          f"        for (int k = 0; k < D; ++k) a += Q[(size_t)k * {q.strides[-1]}] * K[(size_t)k * {kt.strides[-2]} + "
          f"(size_t)j * {kt.strides[-1]}];"]
    sc = {"graph.add": "+", "graph.sub": "-", "graph.mul": "*", "graph.div": "/"}
    for n, (name, sv, first) in enumerate(info.steps):
        m = f"M{n}[{'j' if sv.strides[-1] == 1 else '0'}]"
        L.append(f"        a = {'a' if first else m} {sc[name]} {m if first else 'a'};")
    L += ["        s[j] = a;",
          "        mx = lpfc_max(mx, a);",
          "    }",
          "    float sum = 0.0f;",
          "    for (int j = 0; j < T; ++j) {",
          "        s[j] = exp(s[j] - mx);",
          "        sum += s[j];",
          "    }",
          "    const float inv = 1.0f / sum;",
          "    for (int c = 0; c < DV; ++c) acc[c] = 0.0f;",
          "    for (int t = 0; t < T; ++t) {",
          "        const float p = " + ("lpfc_nan_to_zero(s[t] * inv);" if info.nan_to_zero else "s[t] * inv;"),
          f"        for (int c = 0; c < DV; ++c) acc[c] += p * V[(size_t)t * {vv.strides[-2]} + (size_t)c * {vv.strides[-1]}];",
          "    }",
          "    for (int c = 0; c < DV; ++c) {"]
    L.append(f"        O[(size_t)c * {ov.strides[-1]}] = acc[c];")
    L += ["    }", "}"]
    return KernelSource(symbol=symbol, code="\n".join(L) + "\n",
                        launches=(OclLaunch("", tuple(args), (-(-S // LS) * LS, BT), (LS, 1)),),
                        variant=f"opencl row-per-item ls{LS}")


class OclAttentionEmitter(OclEmitter):
    name = "ocl-attention"
    what = "an attention block"
    analyse = staticmethod(analyse)
    render_plan = staticmethod(render_ocl_attention)

    def supported(self, info) -> bool:
        return info.T + info.D <= LOCAL_FLOATS and math.prod(info.batch) * info.S < 2 ** 31 // 256

    def variants(self, op: Operation, target: Target) -> list:
        return [dict(v) for v in VARIANTS]


OCL_ATTENTION_EMITTER = OclAttentionEmitter()

__all__ = ["OCL_ATTENTION_EMITTER", "OclAttentionEmitter", "emit_ocl_attention", "render_ocl_attention"]
