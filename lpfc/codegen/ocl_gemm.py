"""OpenCL GEMM kernels: local-memory tiles, float4 loads of packed weights, fused epilogues, LayerNorm.

Takes exactly the blocks the C++ GEMM emitter takes (the plan of :mod:`lpfc.codegen.plans.gemm`: ``gemm``
and ``gemm_layer_norm`` blocks and bare matmul/gemm ops with a constant weight, optional row select or
column-slice prologue, element-wise epilogue), as long as every epilogue op has an OpenCL form
(:func:`lpfc.codegen.ocl_common.ocl_expr`); others stay with the host.

* The weight is packed at compile time into ``[Kp, Np]`` (transposed if ``trans_b``, times ``alpha``,
  zero-padded to whole tiles), so a tile of B is read with aligned ``vload4`` and no edge checks.
* A work-group computes a ``TM x TN`` tile of C with ``(TN/4) x (TM/RM)`` work-items, each an
  ``RM x 4`` block held in ``RM`` float4 accumulators.  K runs in steps of ``TK``: the group stages
  the ``TM x TK`` tile of A (transposed) and the ``TK x TN`` tile of B in local memory, then every
  work-item does ``TK * RM`` float4 multiply-adds from there.  The ``direct`` variants (the default)
  skip the staging and read A and B from global memory (no barriers: the CPU's caches stage the
  tiles, which PoCL's CPU device runs twice as fast).
* The epilogue runs on the accumulators before anything is stored: bias/residual/GELU/... in scalar
  OpenCL C, each yielded value stored straight to its output.
* ``gemm_layer_norm``: a second kernel normalises each row in place (one work-group per row, two
  passes like numpy: mean, then mean of squared deviations, through local-memory reductions).

Tuning knobs (``variants``; the tuning database can pick one): ``local``, ``tm``, ``tn``, ``tk``, ``rm``
and the LayerNorm work-group size ``ls``.
"""
from __future__ import annotations

import functools
from typing import Optional

import numpy as np

from ..ir.core import Operation
from .kernel_source import KernelSource
from .plans.gemm import GemmPlan, analyse, oriented_weight
from .ocl_common import OclEmitter, OclLaunch, bind, f32_literal, ocl_expr, param
from .precision import half_weights
from .targets import Target

#: The default reads A and B straight from global memory (twice as fast as the local-memory tiles on
#: PoCL's CPU device, MiniLM 0.77 s vs 1.56 s on the loaded 2-core VM); the local-memory variants are
#: for GPUs, where the tuning database can select them.
DEFAULT = {"local": False, "tm": 32, "tn": 32, "tk": 1, "rm": 8, "ls": 64}
VARIANTS = [DEFAULT,
            {"local": False, "tm": 16, "tn": 64, "tk": 1, "rm": 4, "ls": 64},
            {"local": True, "tm": 32, "tn": 64, "tk": 16, "rm": 4, "ls": 64},
            {"local": True, "tm": 64, "tn": 64, "tk": 16, "rm": 8, "ls": 64},
            {"local": True, "tm": 16, "tn": 32, "tk": 16, "rm": 2, "ls": 64},
            {"local": True, "tm": 32, "tn": 32, "tk": 32, "rm": 4, "ls": 128}]


def pack_b_tiles(w: np.ndarray, *, kp: int, np_: int, trans_b: bool, alpha: float) -> np.ndarray:
    """B [K, N] (or [N, K] with trans_b) -> [kp, np_] row-major, times alpha, zero-padded."""
    w = oriented_weight(w, trans_b, alpha)
    k, n = w.shape
    out = np.zeros((kp, np_), dtype=np.float32)
    out[:k, :n] = w
    return out


def pack_b_tiles_f16(w: np.ndarray, *, kp: int, np_: int, trans_b: bool, alpha: float) -> np.ndarray:
    """:func:`pack_b_tiles` in half precision (--precision fp16: the kernel reads it with vload_half4)."""
    return half_weights(pack_b_tiles(w, kp=kp, np_=np_, trans_b=trans_b, alpha=alpha),
                        f"a GEMM weight {list(np.shape(w))}")


def _steps_ok(plan) -> bool:
    for t, o, argv in plan.epi.steps:
        if not isinstance(o, tuple) and ocl_expr(o, argv) is None:
            return False
    return True


def _leaf_index(mode: str) -> str:
    return {"scalar": "0", "col": "n", "row": "m", "full": "m * N + n"}[mode]


def layer_norm_kernel(name: str, N: int, eps: float, has_g: bool, gs: bool, has_b: bool, bs: bool, ls: int,
                      prologue: Optional[list] = None, params: Optional[list] = None) -> str:
    """A kernel normalising rows of N floats of ``y`` in place (one work-group of ``ls`` per row).
    ``prologue``: statements run first per element (index m, n), storing the LayerNorm input to Y[n]."""
    P = params if params is not None else [param("y")] + ([param("g")] if has_g else []) + \
        ([param("b")] if has_b else [])
    L = [f"__kernel __attribute__((reqd_work_group_size({ls}, 1, 1)))",
         f"void {name}({', '.join(P)}) {{",
         f"    const int N = {N};",
         "    const int m = get_group_id(0), lid = get_local_id(0);",
         "    __global float *Y = (__global float *)(y_buf + y_off) + (size_t)m * N;"]
    if has_g:
        L.append("    " + bind("g"))
    if has_b:
        L.append("    " + bind("b"))
    L.append(f"    __local float red[{ls}];")
    if prologue:
        L += ["    " + s for s in prologue]
    L += ["    float s = 0.0f;",
          f"    for (int n = lid; n < N; n += {ls}) s += Y[n];",
          f"    const float mean = lpfc_wg_sum(red, s, lid, {ls}) / (float)N;",
          "    float q = 0.0f;",
          f"    for (int n = lid; n < N; n += {ls}) {{",
          "        const float d = Y[n] - mean;",
          "        q += d * d;",
          "    }",
          f"    const float rstd = 1.0f / sqrt(lpfc_wg_sum(red, q, lid, {ls}) / (float)N + {f32_literal(eps)});",
          f"    for (int n = lid; n < N; n += {ls}) {{",
          "        float v = (Y[n] - mean) * rstd;"]
    if has_g:
        L.append(f"        v *= g[{'0' if gs else 'n'}];")
    if has_b:
        L.append(f"        v += b[{'0' if bs else 'n'}];")
    L += ["        Y[n] = v;", "    }", "}"]
    return "\n".join(L)


def emit_ocl_gemm(op: Operation, target: Target, symbol: str, choice: Optional[dict] = None) -> KernelSource:
    return render_ocl_gemm(OCL_GEMM_EMITTER.plan(op, symbol), target, symbol, choice)


def render_ocl_gemm(plan: GemmPlan, target: Target, symbol: str, choice: Optional[dict] = None) -> KernelSource:
    if not _steps_ok(plan):
        raise ValueError(f"{symbol}: not a GEMM block the OpenCL emitter accepts")
    c = dict(DEFAULT, **(choice or {}))
    fp16 = target.precision == "fp16"   # half weights, read as float4 (docs/fp16.md)
    TM, TN, TK, RM, LS = c["tm"], c["tn"], c["tk"], c["rm"], c["ls"]
    assert TN % 4 == 0 and TM % RM == 0 and LS & (LS - 1) == 0
    M, N, K = plan.M, plan.N, plan.K
    KP, NP = -(-K // TK) * TK, -(-N // TN) * TN
    WX, WY = TN // 4, TM // RM
    vload4 = "vload_half4" if fp16 else "vload4"     # vload_half4: core OpenCL 1.2, no cl_khr_fp16 needed
    WG = WX * WY
    ln = plan.ln
    leaf_args = sorted({a for a, _ in plan.epi.leaves})
    outs = sorted({j for j, _ in plan.yields} | ({ln.out} if ln else set()))
    args = [("in", plan.a_arg), ("in", plan.b_arg)] + [("in", a) for a in leaf_args] + [("out", j) for j in outs]
    P = [param("a"), param("b")] + [param(f"p{a}") for a in leaf_args] + [param(f"o{j}") for j in outs]
    L = [f"__kernel __attribute__((reqd_work_group_size({WX}, {WY}, 1)))",
         f"void {symbol}({', '.join(P)}) {{",
         f"    const int M = {M}, N = {N}, K = {K};",
         f"    __global const float *A = (__global const float *)(a_buf + a_off) + "
         f"{plan.a_row * plan.lda + plan.a_col};",
         f"    __global const {'half' if fp16 else 'float'} *B = (__global const {'half' if fp16 else 'float'} *)"
         "(b_buf + b_off);"]
    for a in leaf_args:
        L.append("    " + bind(f"p{a}"))
    for j in outs:
        L.append("    " + bind(f"o{j}", const=False))
    L += ["    const int tx = get_local_id(0), ty = get_local_id(1);",
          f"    const int n0 = get_group_id(0) * {TN}, m0 = get_group_id(1) * {TM};",
          f"    float4 accv[{RM}];",
          f"    for (int i = 0; i < {RM}; ++i) accv[i] = (float4)(0.0f);"]
    if c["local"]:
        L += [f"    const int lid = ty * {WX} + tx;",
              f"    __local float As[{TK}][{TM}];",
              f"    __local float4 Bs[{TK}][{WX}];",
              f"    for (int k0 = 0; k0 < K; k0 += {TK}) {{",
              f"        for (int e = lid; e < {TM * TK}; e += {WG}) {{",
              f"            const int mm = e / {TK}, kk = e % {TK}, m = m0 + mm, k = k0 + kk;",
              f"            As[kk][mm] = (m < M && k < K) ? A[(size_t)m * {plan.lda} + k] : 0.0f;",
              "        }",
              f"        for (int e = lid; e < {TK * WX}; e += {WG}) {{",
              f"            const int kk = e / {WX}, cc = e % {WX};",
              f"            Bs[kk][cc] = {vload4}(0, B + (size_t)(k0 + kk) * {NP} + n0 + 4 * cc);",
              "        }",
              "        barrier(CLK_LOCAL_MEM_FENCE);",
              f"        for (int kk = 0; kk < {TK}; ++kk) {{",
              "            const float4 bv = Bs[kk][tx];",
              f"            for (int i = 0; i < {RM}; ++i) accv[i] += (float4)(As[kk][ty * {RM} + i]) * bv;",
              "        }",
              "        barrier(CLK_LOCAL_MEM_FENCE);",
              "    }"]
    else:   # straight from global memory (the caches stage the tiles; no barriers: PoCL's CPU device prefers it)
        L += ["    __global const float *a[%d];" % RM,
              f"    for (int i = 0; i < {RM}; ++i) a[i] = A + (size_t)min(m0 + ty * {RM} + i, M - 1) * {plan.lda};",
              f"    __global const {'half' if fp16 else 'float'} *bp = B + n0 + 4 * tx;",
              "    for (int k = 0; k < K; ++k) {",
              f"        const float4 bv = {vload4}(0, bp + (size_t)k * {NP});",
              f"        for (int i = 0; i < {RM}; ++i) accv[i] += (float4)(a[i][k]) * bv;",
              "    }"]
    L += [f"    for (int i = 0; i < {RM}; ++i) {{",
          f"        const int m = m0 + ty * {RM} + i;",
          "        if (m >= M) break;",
          "        float r[4];",
          "        vstore4(accv[i], 0, r);",
          "        for (int c = 0; c < 4; ++c) {",
          "            const int n = n0 + 4 * tx + c;",
          "            if (n >= N) break;",
          "            const float acc = r[c];"]
    E = []
    for (arg, mode), name in plan.epi.leaves.items():
        E.append(f"const float {name} = p{arg}[{_leaf_index(mode)}];")
    for t, o, argv in plan.epi.steps:
        if isinstance(o, tuple):
            e = f"({argv[0]} + {argv[1]})" if o[0] == "add" else f"({argv[0]} + {f32_literal(o[1])} * {argv[1]})"
        else:
            e = ocl_expr(o, argv)
        E.append(f"const float {t} = {e};")
    for j, t in plan.yields:
        E.append(f"o{j}[m * N + n] = {t};")
    if ln is not None:
        E.append(f"o{ln.out}[m * N + n] = {ln.x};")
    E.append(" ".join(f"(void){t};" for t in ["acc", *plan.epi.leaves.values(), *(s[0] for s in plan.epi.steps)]))
    L += ["            " + s for s in E]
    L += ["        }", "    }", "}"]
    code = ["\n".join(L)]
    launches = [OclLaunch("", tuple(args), (NP // 4, -(-M // TM) * WY), (WX, WY))]
    if ln is not None:
        lnargs = [("out", ln.out)] + ([("in", ln.scale)] if ln.scale is not None else []) + \
                 ([("in", ln.bias)] if ln.bias is not None else [])
        code.append(layer_norm_kernel(f"{symbol}_ln", N, ln.eps, ln.scale is not None, ln.scale_scalar,
                                      ln.bias is not None, ln.bias_scalar, LS))
        launches.append(OclLaunch("_ln", tuple(lnargs), (M * LS,), (LS,)))
    for q, (j, arg, off, width, rowlen, rows) in enumerate(plan.copies):   # split parts yielded as they are
        code.append("\n".join([
            f"__kernel void {symbol}_copy{q}({param('x')}, {param('y')}) {{",
            "    " + bind("x"), "    " + bind("y", const=False),
            "    const int e = get_global_id(0);",
            f"    y[e] = x[{off} + (e / {width}) * {rowlen} + e % {width}];",
            "}"]))
        launches.append(OclLaunch(f"_copy{q}", (("in", arg), ("out", j)), (rows * width,), None))
    pack = pack_b_tiles_f16 if fp16 else pack_b_tiles
    packed = {plan.b_arg: functools.partial(pack, kp=KP, np_=NP, trans_b=plan.trans_b, alpha=plan.alpha)}
    return KernelSource(symbol=symbol, code="\n\n".join(code) + "\n", packed=packed, launches=tuple(launches),
                        variant=f"opencl {'local' if c['local'] else 'direct'} tile {TM}x{TN}x{TK} rm{RM}" + (f" ln{LS}" if ln else "")
                        + (" fp16-weights" if fp16 else ""))


class OclGemmEmitter(OclEmitter):
    name = "ocl-gemm"
    what = "a GEMM block"
    analyse = staticmethod(analyse)
    render_plan = staticmethod(render_ocl_gemm)

    def supported(self, plan) -> bool:
        if plan.ln is not None and plan.ln.rms:
            return False        # no OpenCL RMSNorm row kernel yet: the host fallback runs the block exactly
        return _steps_ok(plan) and all(rows * width < 2 ** 31 for _, _, _, width, _, rows in plan.copies)

    def variants(self, op: Operation, target: Target) -> list:
        return [dict(v) for v in VARIANTS]


OCL_GEMM_EMITTER = OclGemmEmitter()

__all__ = ["OCL_GEMM_EMITTER", "OclGemmEmitter", "emit_ocl_gemm", "layer_norm_kernel", "pack_b_tiles",
           "render_ocl_gemm"]
