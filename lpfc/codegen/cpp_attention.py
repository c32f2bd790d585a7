"""Attention kernels: per (batch, head), Q·Kᵀ, scale/mask, row softmax, ·V, with the head split/merge as strides.

Accepts ``graph.fused`` blocks of kind ``attention`` whose region is

* access ops on block arguments - ``graph.split``, ``graph.reshape``, ``graph.transpose`` -
  that make strided views Q ``[..., S, d]``, Kᵀ ``[..., d, T]`` and V ``[..., T, dv]`` of the
  f32 arguments (e.g. the fused QKV GEMM's ``[1, 128, 3·H·d]`` output), with the same batch
  dimensions ``[...]`` (batch, heads);
* ``graph.matmul(Q, Kᵀ)``, then element-wise ``add``/``sub``/``mul``/``div`` of the scores with
  block arguments that broadcast to ``[..., S, T]`` and are contiguous (or broadcast) along T
  (the attention mask, a scale), then ``graph.softmax`` over the last axis (``nan_to_zero``
  honoured), then ``graph.matmul(P, V)``;
* then transposes/reshapes to the yielded result (the head merge), which must be a strided
  view of that result's dense buffer (e.g. ``[1, 128, H·d]``).

Anything else is declined (the generic emitter takes it).  Four schedules: ``flash`` (the default,
:func:`_emit_flash_stream` where it applies - see :func:`_streams_kv`: K and V read in place, units of
(batch, head, block of queries) in parallel, the scores transposed so the online softmax runs across
queries; else as ``flash-packed``), ``flash-packed`` (:func:`_emit_flash`: per (batch, head) in parallel,
K and V packed, GEMM tiles over blocks of queries and keys with an online softmax, so the scores of one
block stay in L1 at any sequence length), ``tiled`` (:func:`_emit_tiled`: whole score rows per block of queries) and ``rows``
(each thread packs Kᵀ and V of its head contiguously, then for each query row computes the scores a
vector at a time over T, applies the element-wise ops, the softmax (``templates/rowwise.h.j2``), and
accumulates P·V a vector at a time over dv).
"""
from __future__ import annotations

import functools
import math
from typing import Optional

from ..ir.core import Operation
from . import simd as _simd
from .cpp_gemm import row_helper
from .kernel_source import KERNEL_SIGNATURE, PARALLEL_HEADER, KernelSource, StructuralEmitter
from .plans.attention import AttentionPlan, View, analyse
from .targets import Target


def _batch_offset(view: View, nb: int, var: str = "bi") -> str:
    return " + ".join([str(view.offset)] + [f"{var}{i} * {view.strides[i]}L" for i in range(nb) if view.strides[i]])


def emit_attention(op: Operation, target: Target, symbol: str, choice: Optional[dict] = None) -> KernelSource:
    return render_attention(ATTENTION_EMITTER.plan(op, symbol), target, symbol, choice)


def render_attention(info: AttentionPlan, target: Target, symbol: str, choice: Optional[dict] = None) -> KernelSource:
    isa = _simd.select_isa(target, choice)
    q, ov = info.q, info.out
    kind = (choice or {}).get("attention", "flash")
    qb, kb = (choice or {}).get("query_block", 48), (choice or {}).get("key_block", 128)
    if kind == "flash" and _streams_kv(info, isa):
        # 96 x 96 (tried 32-160 x 64-256 with bench/attention_kernel.py, AVX2, MiniLM/BERT at 128-512 tokens):
        # larger query blocks read each key and V row for more queries, and 96 keys keep the scores in L1/L2
        return _emit_flash_stream(info, isa, symbol, (choice or {}).get("query_block", 96),
                                  (choice or {}).get("key_block", 96))
    if kind in ("flash", "flash-packed", "tiled") and q.strides[-1] == 1 and ov.strides[-1] == 1:
        if kind in ("flash", "flash-packed"):
            return _emit_flash(info, isa, symbol, qb, kb)
        return _emit_tiled(info, isa, symbol, qb)
    batch, S, D, T, DV = info.batch, info.S, info.D, info.T, info.DV
    q, kt, vv, ov = info.q, info.kt, info.v, info.out
    nb = len(batch)
    BT = math.prod(batch)
    L = [KERNEL_SIGNATURE.format(symbol=symbol) + " {",
         f"    namespace V = {isa.ns};",
         f"    const long S = {S}, D = {D}, T = {T}, DV = {DV}, BT = {BT};",
         "    float *O = (float *)out[0];"]
    L += _heads_loop_open(info, "D * T + T * DV + D + T + DV + 4 * V::W",
                          "float *kt = mine, *vb = kt + D * T, *qr = vb + T * DV, *s = qr + D, *o = s + T;",
                          f"Ob[i * {ov.strides[-2]}L + c * {ov.strides[-1]}L] = NAN;")
    body = len(L)
    for n, (_, sv, _) in enumerate(info.steps):
        L.append(f"            const float *M{n} = p{sv.arg} + {_batch_offset(sv, nb)};")
    ks_d, ks_t = kt.strides[-2], kt.strides[-1]
    vs_t, vs_d = vv.strides[-2], vv.strides[-1]
    L.append("            for (long k = 0; k < D; ++k)")
    L.append(f"                for (long j = 0; j < T; ++j) kt[k * T + j] = K[k * {ks_d}L + j * {ks_t}L];")
    L.append("            for (long j = 0; j < T; ++j)")
    L.append(f"                for (long c = 0; c < DV; ++c) vb[j * DV + c] = Vs[j * {vs_t}L + c * {vs_d}L];")
    L.append("            for (long i = 0; i < S; ++i) {")
    L.append(f"                for (long k = 0; k < D; ++k) qr[k] = Q[i * {q.strides[-2]}L + k * {q.strides[-1]}L];")
    # scores
    L.append("                long j = 0;")
    # 8 (then 1) vectors of scores at a time: independent FMA chains hide the FMA latency
    L.append("                for (; j + 8 * V::W <= T; j += 8 * V::W) {")
    L.append("                    V::vf a0 = V::zero(), a1 = V::zero(), a2 = V::zero(), a3 = V::zero(), "
             "a4 = V::zero(), a5 = V::zero(), a6 = V::zero(), a7 = V::zero();")
    L.append("                    for (long k = 0; k < D; ++k) {")
    L.append("                        const V::vf q = V::set1(qr[k]);")
    L.append("                        const float *kr = kt + k * T + j;")
    for u in range(8):
        L.append(f"                        a{u} = V::fma(q, V::load(kr + {u} * V::W), a{u});")
    L.append("                    }")
    for u in range(8):
        L.append(f"                    V::store(s + j + {u} * V::W, a{u});")
    L.append("                }")
    L.append("                for (; j + V::W <= T; j += V::W) {")
    L.append("                    V::vf acc = V::zero();")
    L.append("                    for (long k = 0; k < D; ++k)")
    L.append("                        acc = V::fma(V::set1(qr[k]), V::load(kt + k * T + j), acc);")
    L.append("                    V::store(s + j, acc);")
    L.append("                }")
    L.append("                for (; j < T; ++j) {")
    L.append("                    float acc = 0.0f;")
    L.append("                    for (long k = 0; k < D; ++k) acc += qr[k] * kt[k * T + j];")
    L.append("                    s[j] = acc;")
    L.append("                }")
    L += _step_lines(info, " " * 16)    # element-wise ops on the score row
    L.append(f"                {isa.ns}_row::softmax(s, T, {'true' if info.nan_to_zero else 'false'});")
    # P·V
    L.append("                long c = 0;")
    # 4 vectors of the output row, keys split in two halves: 8 independent FMA chains
    L.append("                for (; c + 4 * V::W <= DV; c += 4 * V::W) {")
    L.append("                    V::vf a0 = V::zero(), a1 = V::zero(), a2 = V::zero(), a3 = V::zero(), "
             "b0 = V::zero(), b1 = V::zero(), b2 = V::zero(), b3 = V::zero();")
    L.append("                    long t = 0;")
    L.append("                    for (; t + 1 < T; t += 2) {")
    L.append("                        const V::vf p = V::set1(s[t]), r = V::set1(s[t + 1]);")
    L.append("                        const float *x = vb + t * DV + c, *y = x + DV;")
    for u in range(4):
        L.append(f"                        a{u} = V::fma(p, V::load(x + {u} * V::W), a{u});")
        L.append(f"                        b{u} = V::fma(r, V::load(y + {u} * V::W), b{u});")
    L.append("                    }")
    L.append("                    if (t < T) {")
    L.append("                        const V::vf p = V::set1(s[t]);")
    for u in range(4):
        L.append(f"                        a{u} = V::fma(p, V::load(vb + t * DV + c + {u} * V::W), a{u});")
    L.append("                    }")
    for u in range(4):
        L.append(f"                    V::store(o + c + {u} * V::W, V::add(a{u}, b{u}));")
    L.append("                }")
    L.append("                for (; c + V::W <= DV; c += V::W) {")
    L.append("                    V::vf acc = V::zero();")
    L.append("                    for (long t = 0; t < T; ++t)")
    L.append("                        acc = V::fma(V::set1(s[t]), V::load(vb + t * DV + c), acc);")
    L.append("                    V::store(o + c, acc);")
    L.append("                }")
    L.append("                for (; c < DV; ++c) {")
    L.append("                    float acc = 0.0f;")
    L.append("                    for (long t = 0; t < T; ++t) acc += s[t] * vb[t * DV + c];")
    L.append("                    o[c] = acc;")
    L.append("                }")
    L.append(f"                for (c = 0; c < DV; ++c) Ob[i * {ov.strides[-2]}L + c * {ov.strides[-1]}L] = o[c];")
    L.append("            }")
    L[body:] = _heads_loop_body(L[body:])
    headers = ("<math.h>", "<stdint.h>", "<stdlib.h>", "<string.h>", PARALLEL_HEADER)
    return KernelSource(symbol=symbol, code="\n".join(L) + "\n", headers=tuple(dict.fromkeys(headers)),
                        helpers=(isa.helper(), row_helper(isa.name)), variant=f"{isa.name} per-head")


def _arg_pointers(info) -> list:
    """``pN`` for every operand the kernel reads: Q, Kᵀ, V and the score steps' operands."""
    args = sorted({info.q.arg, info.kt.arg, info.v.arg} | {s[1].arg for s in info.steps})
    return [f"    const float *p{a} = (const float *)in[{a}];" for a in args]


def _heads_loop_open(info, scratch: str, carve: str, nan_store: str) -> list:
    """The operand pointers, then the start of the parallel loop over (batch, head) ``b`` (lpfc_parallel.hpp):
    each thread gets ``scratch`` floats of its own (``mine``, cut up by ``carve``); out of memory, a head's
    output is NaN.
    The body follows at 12 spaces (as in a plain loop); :func:`_heads_loop_body` closes it."""
    L = _arg_pointers(info) + [
         "    const int threads = num_threads > 1 && BT > 1 ? (num_threads < BT ? num_threads : (int)BT) : 1;",
         f"    const size_t per_thread = (size_t)({scratch});",
         "    float *const scratch = (float *)malloc(sizeof(float) * per_thread * (size_t)threads);",
         "    lpfc_parallel::parallel_for(threads, BT, 1, [&](long b, int worker) {"]
    inner = _head_pointers(info) + [
        "            if (!scratch) {   // out of memory: this head's output is NaN (a kernel has no error channel)",
        f"                for (long i = 0; i < S; ++i) for (long c = 0; c < DV; ++c) {nan_store}",
        "                return;",
        "            }",
        "            float *const mine = scratch + per_thread * (size_t)worker;",
        f"            {carve}"]
    return L + _dedent(inner)


def _dedent(lines: list) -> list:
    """Lines written at a plain loop body's 12 spaces, at the lambda body's 8."""
    return [ln[4:] if ln.startswith("            ") else ln for ln in lines]


def _heads_loop_body(lines: list) -> list:
    """The rest of the body (written at 12 spaces), and the end of the loop and of the kernel."""
    return _dedent(lines) + ["    });", "    free(scratch);", "}"]


def _head_pointers(info) -> list:
    """Inside the loop over (batch, head) index ``b``: its indices bi0.. and the pointers Q, K, Vs, Ob."""
    batch, nb = info.batch, len(info.batch)
    q, kt, vv, ov = info.q, info.kt, info.v, info.out
    L, rem = [], "b"
    for i in range(nb - 1, -1, -1):
        L.append(f"            const long bi{i} = {rem} % {batch[i]}L; (void)bi{i};")
        if i:
            L.append(f"            const long r{i} = {rem} / {batch[i]}L;")
            rem = f"r{i}"
    L.append(f"            const float *Q = p{q.arg} + {_batch_offset(q, nb)};")
    L.append(f"            const float *K = p{kt.arg} + {_batch_offset(kt, nb)};")
    L.append(f"            const float *Vs = p{vv.arg} + {_batch_offset(vv, nb)};")
    L.append(f"            float *Ob = O + {_batch_offset(ov, nb)};")
    return L


def _step_lines(info, indent: str) -> list:
    """The element-wise ops on one score row ``s`` (query row ``i``; ``j`` is declared)."""
    fn = {"graph.add": "add", "graph.sub": "sub", "graph.mul": "mul", "graph.div": "div"}
    sc = {"graph.add": "+", "graph.sub": "-", "graph.mul": "*", "graph.div": "/"}
    L = []
    for n, (name, sv, first) in enumerate(info.steps):
        row = f"M{n} + i * {sv.strides[-2]}L"
        if sv.strides[-1] == 1:
            vop = f"V::load({row} + j)"
            sop = f"({row})[j]"
        else:
            vop = f"V::set1(({row})[0])"
            sop = f"({row})[0]"
        va, vb_ = ("V::load(s + j)", vop) if first else (vop, "V::load(s + j)")
        sa, sb = ("s[j]", sop) if first else (sop, "s[j]")
        L.append(f"{indent}for (j = 0; j + V::W <= T; j += V::W) V::store(s + j, V::{fn[name]}({va}, {vb_}));")
        L.append(f"{indent}for (; j < T; ++j) s[j] = {sa} {sc[name]} {sb};")
    return L


def _pack_kv(TP: int, DVP: int, ks_d: int, ks_t: int, vs_t: int, vs_d: int) -> list:
    """The tiled and flash schedules' prologue: K^T and V copied into zero-padded panels of NR."""
    return [f"            for (long j0 = 0; j0 < {TP}L; j0 += NR)      // K^T -> panels of NR keys, zero-padded",
            "                for (long k = 0; k < D; ++k)",
            "                    for (long jj = 0; jj < NR; ++jj)",
            f"                        kp[j0 * D + k * NR + jj] = j0 + jj < T ? K[k * {ks_d}L + (j0 + jj) * {ks_t}L] : 0.0f;",
            f"            for (long c0 = 0; c0 < {DVP}L; c0 += NR)     // V -> panels of NR columns, zero-padded",
            "                for (long t = 0; t < T; ++t)",
            "                    for (long cc = 0; cc < NR; ++cc)",
            f"                        vp[c0 * T + t * NR + cc] = c0 + cc < DV ? Vs[t * {vs_t}L + (c0 + cc) * {vs_d}L] : 0.0f;"]


def _emit_tiled(info: AttentionPlan, isa, symbol: str, query_block: int) -> KernelSource:
    """Attention through the GEMM micro-kernel: per (batch, head), Kᵀ and V are packed into NR-column panels
    (as the GEMM packs weights), then per block of query rows: scores = Q·Kᵀ with MR x NR register tiles
    straight from Q's rows (its row stride is a compile-time constant), the element-wise ops and the
    softmax per row, and O = P·V with the same tiles, written through the output's row stride."""
    from .cpp_gemm import gemm_driver_helper

    batch, S, D, T, DV = info.batch, info.S, info.D, info.T, info.DV
    q, kt, vv, ov = info.q, info.kt, info.v, info.out
    nb = len(batch)
    BT = math.prod(batch)
    G = f"{isa.ns}_gemm"
    mr, nr = isa.mr, isa.nr
    IB = max(mr, mr * (query_block // mr))
    TP, DVP = nr * -(-T // nr), nr * -(-DV // nr)
    ldq, ldo = q.strides[-2], ov.strides[-2]
    ks_d, ks_t = kt.strides[-2], kt.strides[-1]
    vs_t, vs_d = vv.strides[-2], vv.strides[-1]
    L = [KERNEL_SIGNATURE.format(symbol=symbol) + " {",
         f"    namespace V = {isa.ns};",
         f"    const long S = {S}, D = {D}, T = {T}, DV = {DV}, BT = {BT}, IB = {IB};",
         f"    const long NR = {G}::NR, MR = {G}::MR;",
         "    float *O = (float *)out[0];"]
    L.append("    (void)MR;")
    L += _heads_loop_open(info, f"{D * TP} + {T * DVP} + IB * T + V::W",
                          f"float *kp = mine, *vp = kp + {D * TP}, *P = vp + {T * DVP};",
                          f"Ob[i * {ldo}L + c] = NAN;")
    body = len(L)
    for n, (_, sv, _) in enumerate(info.steps):
        L.append(f"            const float *M{n} = p{sv.arg} + {_batch_offset(sv, nb)};")
    L += _pack_kv(TP, DVP, ks_d, ks_t, vs_t, vs_d) + [
          "            for (long i0 = 0; i0 < S; i0 += IB) {",
          "                const long ib = S - i0 < IB ? S - i0 : IB;",
          "                for (long j0 = 0; j0 < T; j0 += NR) {",
          "                    const int cols = (int)(T - j0 < NR ? T - j0 : NR);",
          "                    for (long ii = 0; ii < ib; ii += MR) {",
          "                        const int rows = (int)(ib - ii < MR ? ib - ii : MR);",
          f"                        {G}::tile<{ldq}L>(rows, cols, D, Q + (i0 + ii) * {ldq}L, kp + j0 * D, "
          "P + ii * T + j0, T, false);",
          "                    }",
          "                }",
          "                for (long ii = 0; ii < ib; ++ii) {",
          "                    const long i = i0 + ii;",
          "                    float *s = P + ii * T;",
          "                    long j = 0;",
          "                    (void)i; (void)j;"]
    L += _step_lines(info, "                    ")
    L += [f"                    {isa.ns}_row::softmax(s, T, {'true' if info.nan_to_zero else 'false'});",
          "                }",
          "                for (long c0 = 0; c0 < DV; c0 += NR) {",
          "                    const int cols = (int)(DV - c0 < NR ? DV - c0 : NR);",
          "                    for (long ii = 0; ii < ib; ii += MR) {",
          "                        const int rows = (int)(ib - ii < MR ? ib - ii : MR);",
          f"                        {G}::tile<{T}L>(rows, cols, T, P + ii * T, vp + c0 * T, Ob + (i0 + ii) * {ldo}L + c0, "
          f"{ldo}L, false);",
          "                    }",
          "                }",
          "            }"]
    L[body:] = _heads_loop_body(L[body:])
    headers = ("<math.h>", "<stdint.h>", "<stdlib.h>", "<string.h>", PARALLEL_HEADER)
    return KernelSource(symbol=symbol, code="\n".join(L) + "\n", headers=tuple(dict.fromkeys(headers)),
                        helpers=(isa.helper(), gemm_driver_helper(isa.name), row_helper(isa.name)),
                        variant=f"{isa.name} tiled {isa.mr}x{isa.nr} IB={IB}")


def _emit_flash(info: AttentionPlan, isa, symbol: str, query_block: int, key_block: int) -> KernelSource:
    """Tiled attention with an online softmax (flash-attention's schedule, for a CPU's caches): per (batch,
    head), Kᵀ and V packed into NR-wide panels as in :func:`_emit_tiled`; per block of IB query rows, per
    block of KB keys: scores S = Q·Kᵀ (GEMM tiles, IB x KB, stays in L1), the element-wise ops, then per row
    the running max m and sum l (e = exp(s - m_new); the output row so far is scaled by exp(m_old - m_new)),
    and O += E·V with the same tiles, accumulated in place in the output. Each output row is divided by l
    once at the end, so the probabilities are never normalised and the score row is read twice (max, exp)
    instead of four times. A row whose softmax numpy would make NaN (a NaN or +inf score, every score
    -inf) is NaN, or 0 with ``nan_to_zero``."""
    from .cpp_gemm import gemm_driver_helper

    batch, S, D, T, DV = info.batch, info.S, info.D, info.T, info.DV
    q, kt, vv, ov = info.q, info.kt, info.v, info.out
    nb = len(batch)
    BT = math.prod(batch)
    G = f"{isa.ns}_gemm"
    mr, nr = isa.mr, isa.nr
    IB = max(mr, mr * (query_block // mr))
    TP, DVP = nr * -(-T // nr), nr * -(-DV // nr)
    KB = min(TP, max(nr, nr * (key_block // nr)))
    ldq, ldo = q.strides[-2], ov.strides[-2]
    ks_d, ks_t = kt.strides[-2], kt.strides[-1]
    vs_t, vs_d = vv.strides[-2], vv.strides[-1]
    ntz = "true" if info.nan_to_zero else "false"
    L = [KERNEL_SIGNATURE.format(symbol=symbol) + " {",
         f"    namespace V = {isa.ns};",
         f"    const long S = {S}, D = {D}, T = {T}, DV = {DV}, BT = {BT}, IB = {IB}, KB = {KB};",
         f"    const long NR = {G}::NR, MR = {G}::MR;",
         "    float *O = (float *)out[0];",
         "    (void)MR;"]
    L += _heads_loop_open(info, f"{D * TP} + {T * DVP} + IB * KB + 2 * IB + V::W",
                          f"float *kp = mine, *vp = kp + {D * TP}, *P = vp + {T * DVP}, *mx = P + IB * KB, "
                          "*sm = mx + IB;",
                          f"Ob[i * {ldo}L + c] = NAN;")
    body = len(L)
    for n, (_, sv, _) in enumerate(info.steps):
        L.append(f"            const float *M{n} = p{sv.arg} + {_batch_offset(sv, nb)};")
    steps = _block_step_lines(info, " " * 24)
    L += _pack_kv(TP, DVP, ks_d, ks_t, vs_t, vs_d) + [
          "            for (long i0 = 0; i0 < S; i0 += IB) {",
          "                const long ib = S - i0 < IB ? S - i0 : IB;",
          "                for (long ii = 0; ii < ib; ++ii) {",
          "                    mx[ii] = -INFINITY;",
          "                    sm[ii] = 0.0f;",
          "                }",
          "                for (long t0 = 0; t0 < T; t0 += KB) {",
          "                    const long kb = T - t0 < KB ? T - t0 : KB;",
          "                    for (long j0 = t0; j0 < t0 + kb; j0 += NR) {     // S = Q K^T for this key block",
          "                        const int cols = (int)(T - j0 < NR ? T - j0 : NR);",
          "                        for (long ii = 0; ii < ib; ii += MR) {",
          "                            const int rows = (int)(ib - ii < MR ? ib - ii : MR);",
          f"                            {G}::tile<{ldq}L>(rows, cols, D, Q + (i0 + ii) * {ldq}L, kp + j0 * D, "
          "P + ii * KB + (j0 - t0), KB, false);",
          "                        }",
          "                    }",
          "                    for (long ii = 0; ii < ib; ++ii) {                // the online softmax, row by row",
          "                        const long i = i0 + ii;",
          "                        float *s = P + ii * KB;",
          "                        (void)i;"]
    L += steps
    L += ["                        const float m_old = mx[ii];",
          f"                        const float m_new = {isa.ns}_row::block_max(s, kb, m_old);",
          "                        mx[ii] = m_new;",
          f"                        sm[ii] = {isa.ns}_row::block_exp(s, kb, m_new) + "
          "(t0 == 0 ? 0.0f : sm[ii] * (m_old == m_new ? 1.0f : expf(m_old - m_new)));",
          "                        if (t0 > 0 && m_old != m_new) {             // rescale the output row so far",
          "                            const float a = m_old == -INFINITY ? 0.0f : expf(m_old - m_new);",
          f"                            float *o = Ob + i * {ldo}L;",
          "                            for (long c = 0; c < DV; ++c) o[c] *= a;",
          "                        }",
          "                    }",
          "                    for (long c0 = 0; c0 < DV; c0 += NR) {               // O += E V",
          "                        const int cols = (int)(DV - c0 < NR ? DV - c0 : NR);",
          "                        for (long ii = 0; ii < ib; ii += MR) {",
          "                            const int rows = (int)(ib - ii < MR ? ib - ii : MR);",
          f"                            {G}::tile<{KB}L>(rows, cols, kb, P + ii * KB, vp + c0 * T + t0 * NR, "
          f"Ob + (i0 + ii) * {ldo}L + c0, {ldo}L, t0 > 0);",
          "                        }",
          "                    }",
          "                }",
          "                for (long ii = 0; ii < ib; ++ii) {                    // O /= l; numpy's NaN rows",
          f"                    float *o = Ob + (i0 + ii) * {ldo}L;",
          "                    const float l = sm[ii], m = mx[ii];",
          "                    if (l > 0.0f && l < INFINITY && m == m && m != INFINITY) {",
          "                        const float inv = 1.0f / l;",
          "                        for (long c = 0; c < DV; ++c) o[c] *= inv;",
          "                    } else {",
          f"                        for (long c = 0; c < DV; ++c) o[c] = {ntz} ? 0.0f : NAN;",
          "                    }",
          "                }",
          "            }"]
    L[body:] = _heads_loop_body(L[body:])
    headers = ("<math.h>", "<stdint.h>", "<stdlib.h>", "<string.h>", PARALLEL_HEADER)
    return KernelSource(symbol=symbol, code="\n".join(L) + "\n", headers=tuple(dict.fromkeys(headers)),
                        helpers=(isa.helper(), gemm_driver_helper(isa.name), row_helper(isa.name)),
                        variant=f"{isa.name} flash-packed {isa.mr}x{isa.nr} IB={IB} KB={KB}")


#: the streaming flash schedule's register tile (rows x columns) per ISA: rows are keys (Q·Kᵀ) or queries
#: (E·V), columns queries (Q·Kᵀ) or V's columns (E·V); NEON's is narrower than its GEMM's 8 x 12 so that
#: head sizes of 32 and 64 are whole tiles.
_STREAM_TILE = {"avx512": (14, 32), "avx2": (6, 16), "neon": (8, 8), "scalar": (4, 4)}


def _streams_kv(info: AttentionPlan, isa) -> bool:
    """Whether :func:`_emit_flash_stream` takes the plan: V's rows contiguous and whole tiles wide, every
    element-wise operand of the scores the same for all queries (a padding mask, a scale) - a causal mask
    (one row per query) goes to the packed schedule - and at least a tile's width of queries (its scores
    tile is NR queries wide: one query, as in decoding with a KV cache, would waste the rest)."""
    nr = _STREAM_TILE[isa.name][1]
    return (info.v.strides[-1] == 1 and info.DV % nr == 0 and info.S >= nr
            and all(sv.strides[-2] == 0 for _, sv, _ in info.steps))


@functools.lru_cache(maxsize=None)
def attention_helper(isa_name: str) -> str:
    from .cpp_gemm import render
    mr, nr = _STREAM_TILE[isa_name]
    isa = _simd.ISAS[isa_name]
    return render("attention.h.j2", isa=isa.name, ns=isa.ns, mr=mr, nr=nr)


def _emit_flash_stream(info: AttentionPlan, isa, symbol: str, query_block: int, key_block: int) -> KernelSource:
    """Flash attention with K and V read in place (never packed), in units of (batch, head, block of IB
    queries) that run in parallel, so two threads balance at any number of heads and batch 4 splits as
    finely as batch 1.  Per unit: its queries packed as Qᵀ panels (IB x d, the only copy); per block of KB
    keys, the scores transposed, Sᵀ = K·Qᵀ (register tiles with K's rows as the broadcast operand, read
    through their row stride), so the online softmax runs across queries, a vector of queries at a time:
    the element-wise ops (one value per key) and the block max in one pass, exp and the running sum in a
    second, no horizontal reductions; the unit's output O (IB x DV, in L1) is rescaled where the max grew,
    then O += E·V with V's rows as the streamed operand.  O / l goes to the output once, at the end.  A row
    that numpy's softmax makes NaN (a NaN or +inf score, every key -inf) is NaN, or 0 with
    ``nan_to_zero``."""
    batch, S, D, T, DV = info.batch, info.S, info.D, info.T, info.DV
    q, kt, vv, ov = info.q, info.kt, info.v, info.out
    nb = len(batch)
    BT = math.prod(batch)
    mr, nr = _STREAM_TILE[isa.name]
    ib_max = max(nr, nr * (query_block // nr))
    nqb = -(-S // ib_max)
    IB = nr * -(-(-(-S // nqb)) // nr)             # equal blocks, each a whole number of query panels
    KB = max(1, min(T, key_block))
    ldq, qsd, ldo, osd = q.strides[-2], q.strides[-1], ov.strides[-2], ov.strides[-1]
    ldk, ksd = kt.strides[-1], kt.strides[-2]
    ldv = vv.strides[-2]
    ntz = "true" if info.nan_to_zero else "false"
    A = f"{isa.ns}_attn"
    L = [KERNEL_SIGNATURE.format(symbol=symbol) + " {",
         f"    namespace V = {isa.ns};",
         f"    const long S = {S}, D = {D}, T = {T}, DV = {DV}, IB = {IB}, KB = {KB}, NQB = {nqb}, "
         f"UNITS = {BT * nqb};",
         f"    const long MR = {A}::MR, NR = {A}::NR;",
         "    float *O = (float *)out[0];"]
    L += _arg_pointers(info) + [
        "    const int threads = num_threads > 1 && UNITS > 1 ? (num_threads < UNITS ? num_threads : (int)UNITS) : 1;",
        "    const size_t per_thread = (size_t)(D * IB + KB * IB + IB * DV + KB * DV + 4 * IB + V::W);",
        "    float *const scratch = (float *)malloc(sizeof(float) * per_thread * (size_t)threads);",
        "    lpfc_parallel::parallel_for(threads, UNITS, 1, [&](long u, int worker) {",
        "        const long b = u / NQB, i0 = (u % NQB) * IB;",
        "        const long ib = S - i0 < IB ? S - i0 : IB;"]
    L += _dedent(_head_pointers(info))
    L += ["        if (!scratch) {   // out of memory: this unit's rows are NaN (a kernel has no error channel)",
          f"            for (long i = i0; i < i0 + ib; ++i) for (long c = 0; c < DV; ++c) Ob[i * {ldo}L + c * {osd}L] = NAN;",
          "            return;",
          "        }",
          "        float *const qp = scratch + per_thread * (size_t)worker, *const St = qp + D * IB, "
          "*const Oa = St + KB * IB,",
          "                    *const vb = Oa + IB * DV, *const mx = vb + KB * DV, *const sm = mx + IB, *const al = sm + IB,",
          "                    *const bx = al + IB;"]
    for n, (_, sv, _) in enumerate(info.steps):
        L.append(f"        const float *M{n} = p{sv.arg} + {_batch_offset(sv, nb)};")
    L += ["        const long ibp = NR * ((ib + NR - 1) / NR), nv = (ib + V::W - 1) / V::W;",
          "        for (long p = 0; p < ibp; p += NR)            // Q^T -> panels of NR queries, zero-padded",
          "            for (long k = 0; k < D; ++k)",
          "                for (long jj = 0; jj < NR; ++jj)",
          f"                    qp[p * D + k * NR + jj] = p + jj < ib ? Q[(i0 + p + jj) * {ldq}L + k * {qsd}L] : 0.0f;",
          "        for (long i = 0; i < ibp; ++i) {",
          "            mx[i] = -INFINITY;",
          "            sm[i] = 0.0f;",
          "        }",
          "        for (long t0 = 0; t0 < T; t0 += KB) {",
          "            const long kb = T - t0 < KB ? T - t0 : KB;",
          "            for (long i = 0; i < ibp; ++i) bx[i] = -INFINITY;",
          "            for (long t = 0; t < kb; t += MR) {          // S^T = K Q^T for this key block, with the ops and max",
          "                const int rows = (int)(kb - t < MR ? kb - t : MR);",
          "                const long tt = t0 + t;",
          "                auto ops = [&](int r, V::vf x) {",
          "                    (void)r; (void)tt;"]
    L += _stream_step_lines(info, " " * 20)
    L += ["                    return x;",
          "                };",
          "                for (long p = 0; p < ibp; p += NR)",
          f"                    {A}::scores_tile<{ldk}L, {ksd}L>(rows, D, K + tt * {ldk}L, qp + p * D, St + t * IB + p, IB, "
          "ops, bx + p);",
          "            }",
          "            for (long v = 0; v < nv; ++v) {              // the online softmax, W queries at a time",
          "                float *col = St + v * V::W;",
          "                const V::vf bm = V::load(bx + v * V::W);",
          "                const V::vf m_old = V::load(mx + v * V::W), m_new = V::max(bm, m_old);",
          "                // every score so far -inf: subtract 0 (exp(-inf) = 0), never -inf - -inf",
          "                const V::vf ms = V::select(V::lt(m_new, V::set1(-3.402823466e38f)), V::zero(), m_new);",
          "                const V::vf a = V::exp(V::sub(m_old, ms));",
          "                V::vf ls = V::zero(), ls2 = V::zero();",
          "                long t = 0;",
          "                for (; t + 1 < kb; t += 2) {",
          "                    const V::vf e = V::exp(V::sub(V::load(col + t * IB), ms));",
          "                    const V::vf f = V::exp(V::sub(V::load(col + (t + 1) * IB), ms));",
          "                    V::store(col + t * IB, e);",
          "                    V::store(col + (t + 1) * IB, f);",
          "                    ls = V::add(ls, e);",
          "                    ls2 = V::add(ls2, f);",
          "                }",
          "                if (t < kb) {",
          "                    const V::vf e = V::exp(V::sub(V::load(col + t * IB), ms));",
          "                    V::store(col + t * IB, e);",
          "                    ls = V::add(ls, e);",
          "                }",
          "                V::store(mx + v * V::W, m_new);",
          "                V::store(sm + v * V::W, V::fma(V::load(sm + v * V::W), a, V::add(ls, ls2)));",
          "                V::store(al + v * V::W, a);",
          "            }",
          "            if (t0 > 0)                                   // rescale the output rows whose max grew",
          "                for (long i = 0; i < ib; ++i)",
          "                    if (al[i] != 1.0f)",
          "                        for (long c = 0; c < DV; ++c) Oa[i * DV + c] *= al[i];",
          "            // this block of V, contiguous: in place, its rows are a stride apart that maps them to a few",
          "            // L1 sets, so every E V tile would reload them from L2",
          f"            for (long t = 0; t < kb; ++t) memcpy(vb + t * DV, Vs + (t0 + t) * {ldv}L, sizeof(float) * DV);",
          "            for (long i = 0; i < ib; i += MR) {          // O += E V",
          "                const int rows = (int)(ib - i < MR ? ib - i : MR);",
          "                for (long c0 = 0; c0 < DV; c0 += NR)",
          f"                    {A}::tile<1L, IB, DV>(rows, kb, St + i, vb + c0, Oa + i * DV + c0, DV, t0 > 0);",
          "            }",
          "        }",
          "        for (long i = 0; i < ib; ++i) {                   // O / l; numpy's NaN rows",
          f"            float *o = Ob + (i0 + i) * {ldo}L;",
          "            const float l = sm[i], m = mx[i];",
          "            if (l > 0.0f && l < INFINITY && m == m && m != INFINITY) {",
          "                const float inv = 1.0f / l;",
          f"                for (long c = 0; c < DV; ++c) o[c * {osd}L] = Oa[i * DV + c] * inv;",
          "            } else {",
          f"                for (long c = 0; c < DV; ++c) o[c * {osd}L] = {ntz} ? 0.0f : NAN;",
          "            }",
          "        }",
          "    });",
          "    free(scratch);",
          "}"]
    headers = ("<math.h>", "<stdint.h>", "<stdlib.h>", "<string.h>", PARALLEL_HEADER)
    return KernelSource(symbol=symbol, code="\n".join(L) + "\n", headers=tuple(dict.fromkeys(headers)),
                        helpers=(isa.helper(), attention_helper(isa.name)),
                        variant=f"{isa.name} flash {mr}x{nr} IB={IB} KB={KB}")


def _stream_step_lines(info, indent: str) -> list:
    """The body of the streaming schedule's score epilogue: ``x``, the scores of key ``tt + r`` for NR queries,
    through the element-wise ops (each operand one value per key, broadcast over the queries)."""
    fn = {"graph.add": "add", "graph.sub": "sub", "graph.mul": "mul", "graph.div": "div"}
    L = []
    for n, (name, sv, first) in enumerate(info.steps):
        m = f"V::set1(M{n}[(tt + r) * {sv.strides[-1]}L])"
        a, b = ("x", m) if first else (m, "x")
        L.append(f"{indent}x = V::{fn[name]}({a}, {b});")
    return L


def _block_step_lines(info, indent: str) -> list:
    """The element-wise ops on one row ``s`` of a key block: keys ``t0`` .. ``t0 + kb`` of query row ``i``."""
    fn = {"graph.add": "add", "graph.sub": "sub", "graph.mul": "mul", "graph.div": "div"}
    sc = {"graph.add": "+", "graph.sub": "-", "graph.mul": "*", "graph.div": "/"}
    L = []
    for n, (name, sv, first) in enumerate(info.steps):
        if sv.strides[-1] == 1:
            row = f"M{n} + i * {sv.strides[-2]}L + t0"
            vop, sop = f"V::load({row} + j)", f"({row})[j]"
        else:
            row = f"M{n} + i * {sv.strides[-2]}L"
            vop, sop = f"V::set1(({row})[0])", f"({row})[0]"
        va, vb_ = ("V::load(s + j)", vop) if first else (vop, "V::load(s + j)")
        sa, sb = ("s[j]", sop) if first else (sop, "s[j]")
        L.append(f"{indent}{{ long j = 0;")
        L.append(f"{indent}  for (; j + V::W <= kb; j += V::W) V::store(s + j, V::{fn[name]}({va}, {vb_}));")
        L.append(f"{indent}  for (; j < kb; ++j) s[j] = {sa} {sc[name]} {sb}; }}")
    return L


class AttentionEmitter(StructuralEmitter):
    """``attention`` blocks (see the module docstring)."""
    name = "cpp-attention"
    what = "an attention block"
    analyse = staticmethod(analyse)
    render_plan = staticmethod(render_attention)

    def variants(self, op: Operation, target: Target) -> list:
        return [{}, {"query_block": 48}, {"key_block": 128}, {"query_block": 128, "key_block": 64},
                {"attention": "flash-packed"}, {"attention": "flash-packed", "key_block": 64},
                {"attention": "tiled"}, {"attention": "tiled", "query_block": 96}, {"attention": "rows"}]


ATTENTION_EMITTER = AttentionEmitter()

__all__ = ["ATTENTION_EMITTER", "AttentionEmitter", "View", "emit_attention", "render_attention"]
