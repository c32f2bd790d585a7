"""Micro-benchmark of lpfc's GEMM kernel (cpp_gemm) against numpy's matmul (OpenBLAS), same run.

Not a test.  For M = 128 and each (K, N), it builds one ``gemm`` block (x @ W + b, W constant),
emits it with the host's SIMD layer, compiles it, and times one kernel call at 1 and 2 threads
(median of --repeat runs after warm-up), next to ``numpy.matmul`` on the same shapes with
OpenBLAS limited to the same thread count (threadpoolctl).  Prints GFLOP/s (2*M*N*K / time).

    .venv/bin/python bench/gemm_micro.py [--repeat 50] [--isa avx2] [--variant 0]
"""
from __future__ import annotations

import argparse
import ctypes
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lpfc.codegen import cpp_gemm  # noqa: E402
from lpfc.codegen.kernel_source import headers_and_helpers  # noqa: E402
from lpfc.codegen.targets import get_target  # noqa: E402
from lpfc.codegen.toolchain import compile_shared  # noqa: E402
from lpfc.ir.parser import parse_module  # noqa: E402

SHAPES = [(384, 384), (384, 1152), (384, 1536), (384, 3072), (768, 768), (768, 2304), (768, 3072),
          (1536, 384), (3072, 768)]


def block_ir(M: int, K: int, N: int, act: str) -> str:
    t = lambda *s: "tensor<" + "x".join(map(str, s)) + "xf32>"  # noqa: E731
    epi = ""
    last = "%y0"
    if act == "gelu":
        epi = f"        %y1 = graph.gelu %y0 : ({t(M, N)}) -> {t(M, N)}\n"
        last = "%y1"
    return f"""module {{
  func @main(%x: {t(M, K)}) -> ({t(M, N)}) attributes {{input_names = ["x"], output_names = ["y"]}} {{
    %w = graph.constant {{value = dense<0.5> : {t(K, N)}}} : () -> {t(K, N)}
    %b = graph.constant {{value = dense<0.25> : {t(N)}}} : () -> {t(N)}
    %y = graph.fused %x, %w, %b {{kind = "gemm", name = "k0"}} ({{
      ^bb0(%x1: {t(M, K)}, %w1: {t(K, N)}, %b1: {t(N)}):
        %mm = graph.matmul %x1, %w1 : ({t(M, K)}, {t(K, N)}) -> {t(M, N)}
        %y0 = graph.add %mm, %b1 : ({t(M, N)}, {t(N)}) -> {t(M, N)}
{epi}        graph.yield {last} : ({t(M, N)}) -> ()
    }}) : ({t(M, K)}, {t(K, N)}, {t(N)}) -> {t(M, N)}
    func.return %y : ({t(M, N)}) -> ()
  }}
}}
"""


def kernel_library(sources, d: Path, target) -> ctypes.CDLL:
    """The KernelSources compiled into one library in ``d``, each callable as ``call_SYMBOL(in, out, threads)``."""
    headers, helpers = headers_and_helpers(sources)
    src = [f"#include {h}" for h in headers] + helpers
    for ks in sources:
        src += [ks.code, f'extern "C" __attribute__((visibility("default"))) void call_{ks.symbol}'
                         f'(const void *const *i, void *const *o, int t) {{ {ks.symbol}(i, o, t); }}']
    (d / "k.cc").write_text("\n".join(src))
    return ctypes.CDLL(str(compile_shared(target, [d / "k.cc"], d / "libk.so", with_runtime=False)))


def gemm_call(lib, ks, M: int, K: int, N: int, rng):
    """The kernel ``ks`` of ``lib`` (built by block_ir's block, called through its ``call_`` wrapper) ready to
    run on random x (M x K), W (K x N, packed as the kernel wants) and b (N): (fn, ins, outs, (x, w, b, y))."""
    x = rng.standard_normal((M, K)).astype(np.float32)
    w = rng.standard_normal((K, N)).astype(np.float32)
    b = rng.standard_normal(N).astype(np.float32)
    wp = np.ascontiguousarray(ks.packed[1](w))
    y = np.empty((M, N), np.float32)
    ins = (ctypes.c_void_p * 3)(x.ctypes.data, wp.ctypes.data, b.ctypes.data)
    ins._keep = wp                          # the packed weights live as long as the argument array
    outs = (ctypes.c_void_p * 1)(y.ctypes.data)
    return getattr(lib, f"call_{ks.symbol}"), ins, outs, (x, w, b, y)


def median_time(fn, repeat: int) -> float:
    for _ in range(3):
        fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--M", type=int, default=128)
    ap.add_argument("--isa", default=None, help="avx512 | avx2 | scalar (default: the host's widest)")
    ap.add_argument("--variant", type=int, default=0, help="index into GemmEmitter.variants")
    ap.add_argument("--act", default="none", choices=["none", "gelu"], help="epilogue after the bias add")
    args = ap.parse_args()
    from threadpoolctl import threadpool_limits

    host = get_target("host")
    M = args.M
    rng = np.random.default_rng(0)
    kernels = []
    for K, N in SHAPES:
        op = next(o for o in parse_module(block_ir(M, K, N, args.act)).main.ops if o.name == "graph.fused")
        choice = dict(cpp_gemm.GEMM_EMITTER.variants(op, host)[args.variant])
        if args.isa:
            choice["isa"] = args.isa
        kernels.append((K, N, op, cpp_gemm.emit_gemm(op, host, f"gemm_{K}_{N}", choice)))
    with tempfile.TemporaryDirectory() as d:
        lib = kernel_library([ks for *_, ks in kernels], Path(d), host)
        print(f"lpfc GEMM ({kernels[0][3].variant.split(' MC')[0]}, epilogue: bias{' + gelu' if args.act == 'gelu' else ''})"
              f" vs numpy.matmul (OpenBLAS), M={M}, GFLOP/s, median of {args.repeat}")
        print(f"{'K':>5} {'N':>5} | {'lpfc 1T':>8} {'numpy 1T':>9} {'ratio':>6} | {'lpfc 2T':>8} {'numpy 2T':>9} {'ratio':>6}")
        for K, N, op, ks in kernels[:1] + kernels:    # the first again: warms up the thread pools
            fn, ins, outs, (x, w, b, y) = gemm_call(lib, ks, M, K, N, rng)
            flop = 2.0 * M * N * K
            row = []
            for th in (1, 2):
                t_l = median_time(lambda: fn(ins, outs, th), args.repeat)
                ref = x @ w + b
                if args.act == "gelu":
                    import math
                    erf = np.vectorize(math.erf)
                    ref = 0.5 * ref * (1 + erf(ref / math.sqrt(2)))
                err = float(np.abs(y - ref).max() / max(1.0, np.abs(ref).max()))
                if err > 1e-4:
                    print(f"  wrong result for K={K} N={N}: rel err {err}")
                with threadpool_limits(limits=th):
                    t_n = median_time(lambda: np.matmul(x, w), args.repeat)
                row.append((flop / t_l / 1e9, flop / t_n / 1e9))
            (l1, n1), (l2, n2) = row
            if ks is kernels[0][3] and not getattr(main, "warm", False):
                main.warm = True
                continue
            print(f"{K:>5} {N:>5} | {l1:8.1f} {n1:9.1f} {l1 / n1:6.2f} | {l2:8.1f} {n2:9.1f} {l2 / n2:6.2f}")


if __name__ == "__main__":
    main()
