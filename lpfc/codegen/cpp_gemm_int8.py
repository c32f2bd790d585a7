"""int8 GEMM kernels (``precision = "int8"``, the quantize-int8 pass; docs/int8.md).

The GEMM plan and its epilogue are the fp32 ones (``cpp_gemm.render_gemm`` builds the kernel function up to the
driver call and hands over here); what differs is the driver (``templates/gemm_int8.h.j2``: activations quantized
per row, int8 micro-kernels, int32 tiles dequantized into C before the epilogue runs on them) and the packing of
the weight (:func:`pack_b_int8`).  The micro-kernel follows the target's features, not the fp32 SIMD layer:

==========  ==========================================  =======  ==================================
kind        when                                        MR x NR  inner step (4 k per step)
==========  ==========================================  =======  ==================================
vnni512     AVX-512 F + BW + VNNI                        8 x 32   ``vpdpbusd`` (u8 x s8 -> s32)
avx2        AVX2                                         4 x 16   ``vpmaddubsw`` + ``vpmaddwd`` by 1
sdot        AArch64 with the dot-product extension       6 x 16   ``sdot`` (s8 x s8 -> s32)
scalar      anything else (or ``choice={"isa": "scalar"}``)  4 x 16   plain C
==========  ==========================================  =======  ==================================

``choice={"int8": KIND}`` picks one (to emit for another machine).
"""
from __future__ import annotations

import functools
from typing import Optional

import numpy as np

from ..ir.int8 import quantize_weight
from . import simd as _simd
from .kernel_source import PARALLEL_HEADER, KernelSource
from .plans.gemm import GemmPlan, oriented_weight
from .targets import Target

#: kind -> (MR, NR, the header its intrinsics need)
KINDS = {"vnni512": (8, 32, "<immintrin.h>"), "avx2": (4, 16, "<immintrin.h>"), "sdot": (6, 16, "<arm_neon.h>"),
         "scalar": (4, 16, None)}


def int8_kind(target: Target, choice: Optional[dict] = None) -> str:
    """The int8 micro-kernel for ``target`` (its compiler's features), or ``choice["int8"]``."""
    c = choice or {}
    if c.get("int8"):
        if c["int8"] not in KINDS:
            raise ValueError(f"unknown int8 micro-kernel {c['int8']!r} (one of {', '.join(KINDS)})")
        return c["int8"]
    if c.get("isa") == "scalar":
        return "scalar"
    f = _simd._features_of(target)
    if {"avx512f", "avx512bw", "avx512vnni"} <= f:
        return "vnni512"
    if "avx2" in f:
        return "avx2"
    if "dotprod" in f and target.arch == "aarch64":
        return "sdot"
    return "scalar"


@functools.lru_cache(maxsize=None)
def int8_driver_helper(kind: str) -> str:
    from .cpp_gemm import render
    mr, nr, _ = KINDS[kind]
    return render("gemm_int8.h.j2", kind=kind, mr=mr, nr=nr)


def pack_b_int8(w: np.ndarray, *, nr: int, trans_b: bool, alpha: float) -> np.ndarray:
    """B [K, N] (or [N, K] with trans_b; times alpha, as ``pack_b``) -> bytes: panels [P, Kp/4, nr, 4] int8 of the
    quantized weight (zero-padded to Kp = 4*ceil(K/4) and P*nr columns), the scales [P*nr] f32 and the column
    sums [P*nr] int32 (``lpfc.ir.int8.quantize_weight``)."""
    w = oriented_weight(w, trans_b, alpha)
    k, n = w.shape
    qw, sw = quantize_weight(w)
    kp, p = -(-k // 4) * 4, -(-n // nr)
    q = np.zeros((kp, p * nr), dtype=np.int8)
    q[:k, :n] = qw
    s = np.ones(p * nr, dtype=np.float32)
    s[:n] = sw
    cs = q.astype(np.int32).sum(axis=0).astype(np.int32)
    panels = q.reshape(kp // 4, 4, p, nr).transpose(2, 0, 3, 1)
    return np.concatenate([np.ascontiguousarray(panels).reshape(-1).view(np.uint8), s.view(np.uint8),
                           cs.view(np.uint8)])


def blocking(plan: GemmPlan, mr: int, nr: int, choice: Optional[dict]) -> tuple:
    """(MC, NC): units of about 128 rows x 192 columns, as the fp32 driver's (cpp_gemm.blocking)."""
    c = choice or {}
    M, N = plan.M, plan.N
    mblocks = max(1, round(M / c.get("mc_target", 128)))
    MC = mr * -(-(-(-M // mr)) // mblocks)
    nblocks = max(1, round(N / c.get("nc_target", 192)))
    NC = nr * -(-(-(-N // nr)) // nblocks)
    return MC, NC


def finish_int8(plan: GemmPlan, target: Target, symbol: str, choice: Optional[dict], lines: list, isa,
                helpers: list, vector: bool) -> KernelSource:
    """The int8 kernel: ``lines`` (the function up to its epilogue and rows lambdas, from render_gemm) plus the
    driver call; ``helpers`` are the fp32 ones the epilogue needs (the SIMD layer, the row helper)."""
    kind = int8_kind(target, choice)
    mr, nr, header = KINDS[kind]
    MC, NC = blocking(plan, mr, nr, choice)
    lines = list(lines)
    lines.append(f"    lpfc_i8_{kind}::run({plan.M}L, N, {plan.K}L, A, {plan.lda}L, (const uint8_t *)Bp, C, N, "
                 f"{MC}L, {NC}L, num_threads, epi, rows);")
    lines.append("}")
    headers = ("<math.h>", "<stdint.h>", "<stdlib.h>", "<string.h>", PARALLEL_HEADER) + ((header,) if header else ())
    packed = {plan.b_arg: functools.partial(pack_b_int8, nr=nr, trans_b=plan.trans_b, alpha=plan.alpha)}
    return KernelSource(symbol=symbol, code="\n".join(lines) + "\n", headers=headers,
                        helpers=tuple(helpers) + (int8_driver_helper(kind),), packed=packed,
                        variant=f"int8 {kind} {mr}x{nr} MC={MC} NC={NC} ({isa.name} epilogue)"
                        + ("" if vector else " scalar-epilogue"))


__all__ = ["KINDS", "finish_int8", "int8_driver_helper", "int8_kind", "pack_b_int8"]
