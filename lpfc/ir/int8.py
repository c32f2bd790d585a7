"""The numbers of lpfc's int8 GEMM (``precision = "int8"`` on ``graph.matmul`` / ``graph.gemm``; docs/int8.md).

One definition shared by the reference interpreter (which computes the quantized product with it) and the
code generator (which packs weights with it and whose C++ kernels repeat the activation arithmetic step for
step in float32), so that a compiled int8 GEMM and the interpreter agree to the last integer:

* weights ``W [K, N]``: symmetric per output column, ``sw[n] = max|W[:, n]| / 127``, ``qw = rint(W / sw)`` in
  [-127, 127] (a zero column gets ``sw = 1``, all zeros);
* activations, per row ``x [K]`` at run time: asymmetric over ``[min(x, 0), max(x, 0)]`` in **7 bits**,
  ``sa = (hi - lo) / 127``, ``za = rint(-lo / sa)``, ``qa = clamp(rint(x / sa) + za, 0, 127)``;
* ``y[m, n] = float(sum_k qa*qw - za*colsum(qw)[n]) * (sa[m] * sw[n])`` with exact int32 sums; a row of
  ``x`` holding NaN or inf gives a row of NaN.

Why 7-bit unsigned activations: ``qa`` in [0, 127] is both a u8 and an s8, so one quantization serves
x86's ``vpmaddubsw`` (u8 x s8 pairs summed into a *saturating* int16: ``2 * 127 * 127 = 32258 <= 32767``, so
it never saturates and the AVX2 kernel is exact), AVX-512 VNNI's ``vpdpbusd`` (u8 x s8) and Arm's ``sdot``
(s8 x s8) — identical integers on every ISA.  Asymmetric rows keep the 7 bits for the range actually used
(a GELU output is nearly all >= -0.17).
"""
from __future__ import annotations

import numpy as np

QMAX_W = 127
QMAX_A = 127


def quantize_weight(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``W [K, N]`` f32 -> (``qw`` int8 [K, N], ``sw`` f32 [N]): symmetric per output column."""
    w = np.asarray(w, dtype=np.float32)
    amax = np.max(np.abs(w), axis=0) if w.shape[0] else np.zeros(w.shape[1], np.float32)
    sw = (amax / np.float32(QMAX_W)).astype(np.float32)
    sw = np.where((sw > 0) & np.isfinite(sw), sw, np.float32(1.0)).astype(np.float32)
    with np.errstate(invalid="ignore"):
        q = np.rint(w / sw)
    q = np.nan_to_num(q, nan=0.0, posinf=QMAX_W, neginf=-QMAX_W)
    return np.clip(q, -QMAX_W, QMAX_W).astype(np.int8), sw


def quantize_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Activations ``[M, K]`` f32 -> (``qa`` uint8 [M, K] in [0, 127], ``sa`` f32 [M], ``za`` int32 [M]), in
    float32 exactly as the kernels compute it (``inv = 1 / sa``, ``rint(x * inv)``)."""
    x = np.asarray(x, dtype=np.float32)
    f = np.float32
    lo = np.minimum(x.min(axis=1, initial=0.0), f(0)).astype(f)
    hi = np.maximum(x.max(axis=1, initial=0.0), f(0)).astype(f)
    sa = ((hi - lo) / f(QMAX_A)).astype(f)
    sa = np.where((sa > 0) & np.isfinite(sa), sa, f(1.0)).astype(f)
    inv = (f(1.0) / sa).astype(f)
    za = np.clip(np.nan_to_num(np.rint(-lo * inv)), 0, QMAX_A).astype(np.int32)   # (NaN: a NaN row)
    with np.errstate(invalid="ignore", over="ignore"):
        q = np.rint(x * inv[:, None])
    q = np.nan_to_num(q, nan=0.0, posinf=QMAX_A, neginf=-QMAX_A)
    q = np.clip(np.clip(q, -256, 256).astype(np.int32) + za[:, None], 0, QMAX_A)
    return q.astype(np.uint8), sa, za


def int8_matmul(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``a [..., K] @ w [K, N]`` through the int8 scheme above (f32 result, shape ``[..., N]``)."""
    a = np.asarray(a, dtype=np.float32)
    K, N = w.shape
    rows = a.reshape(-1, K)
    qw, sw = quantize_weight(w)
    qa, sa, za = quantize_rows(rows)
    acc = qa.astype(np.int64) @ qw.astype(np.int64)
    corr = (acc - za[:, None].astype(np.int64) * qw.astype(np.int64).sum(axis=0)[None, :]).astype(np.int32)
    y = corr.astype(np.float32) * (sa[:, None] * sw[None, :]).astype(np.float32)
    y[~np.isfinite(rows).all(axis=1)] = np.nan     # a row with NaN or inf gives NaN, as the kernels do
    return y.astype(np.float32).reshape(a.shape[:-1] + (N,))


__all__ = ["QMAX_A", "QMAX_W", "int8_matmul", "quantize_rows", "quantize_weight"]
