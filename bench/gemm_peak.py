"""lpfc's GEMM kernels as a fraction of this machine's FMA peak, on BERT-base's and MiniLM's shapes (M = 128).

Not a test.  Builds and runs ``bench/fma_peak.c`` (the per-core FMA peak: independent AVX2 FMA chains,
thread CPU time, best of 30), then times each GEMM block (x @ W + b, and with --act gelu the GELU epilogue)
at 1 thread by the thread's CPU time (min of --repeat: a time slice lost to another job on a shared
machine does not count) and at 2 threads by wall time (median), and prints GFLOP/s and % of peak
(1 thread: of one core's peak; 2 threads: of twice that).

    .venv/bin/python bench/gemm_peak.py [--repeat 40] [--act none|gelu] [--variant 0]
"""
from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from gemm_micro import block_ir, gemm_call, kernel_library  # noqa: E402
from lpfc.codegen import cpp_gemm  # noqa: E402
from lpfc.codegen.targets import get_target  # noqa: E402
from lpfc.ir.parser import parse_module  # noqa: E402

# (K, N, what): BERT-base (hidden 768) and MiniLM (hidden 384) layers at sequence 128
SHAPES = [(768, 2304, "BERT QKV"), (768, 768, "BERT attn-out"), (768, 3072, "BERT FFN-up"),
          (3072, 768, "BERT FFN-down"), (384, 1152, "MiniLM QKV"), (384, 384, "MiniLM attn-out"),
          (384, 1536, "MiniLM FFN-up"), (1536, 384, "MiniLM FFN-down")]


def fma_peak(d: Path) -> float:
    exe = d / "fma_peak"
    subprocess.run(["gcc", "-O2", "-mavx2", "-mfma", "-fopenmp", str(ROOT / "bench" / "fma_peak.c"), "-o", str(exe)],
                   check=True)
    best = 0.0
    for chains in (8, 10, 12):
        out = subprocess.run([str(exe), "1", str(chains)], check=True, capture_output=True, text=True).stdout
        best = max(best, float(re.search(r"gflops=([0-9.]+)", out).group(1)))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=40)
    ap.add_argument("--act", default="none", choices=["none", "gelu"])
    ap.add_argument("--variant", type=int, default=0, help="index into GemmEmitter.variants")
    ap.add_argument("--M", type=int, default=128)
    args = ap.parse_args()
    host = get_target("host")
    M = args.M
    with tempfile.TemporaryDirectory() as td:
        d = Path(td)
        peak = fma_peak(d)
        kernels = []
        for K, N, what in SHAPES:
            op = next(o for o in parse_module(block_ir(M, K, N, args.act)).main.ops if o.name == "graph.fused")
            choice = cpp_gemm.GEMM_EMITTER.variants(op, host)[args.variant]
            kernels.append((K, N, what, cpp_gemm.emit_gemm(op, host, f"gemm_{K}_{N}", choice)))
        lib = kernel_library([ks for *_, ks in kernels], d, host)
        print(f"FMA peak (bench/fma_peak.c, 1 core, AVX2): {peak:.1f} GFLOP/s; 2 threads: {2 * peak:.1f}")
        print(f"lpfc GEMM, M={M}, epilogue bias{' + gelu' if args.act == 'gelu' else ''}, "
              f"variant {kernels[0][3].variant}")
        print(f"{'shape':<16} {'K':>5} {'N':>5} | {'1T GFLOP/s':>10} {'% peak':>7} | {'2T GFLOP/s':>10} {'% peak':>7}")
        rng = np.random.default_rng(0)
        for K, N, what, ks in kernels:
            fn, ins, outs, arrays = gemm_call(lib, ks, M, K, N, rng)   # arrays: keep x, b, y alive
            flop = 2.0 * M * N * K
            for _ in range(3):
                fn(ins, outs, 1)
                fn(ins, outs, 2)
            t1 = []
            t2 = []
            for _ in range(args.repeat):
                a = time.thread_time()
                fn(ins, outs, 1)
                t1.append(time.thread_time() - a)
                a = time.perf_counter()
                fn(ins, outs, 2)
                t2.append(time.perf_counter() - a)
            g1, g2 = flop / min(t1) / 1e9, flop / statistics.median(t2) / 1e9
            print(f"{what:<16} {K:>5} {N:>5} | {g1:10.1f} {100 * g1 / peak:6.1f}% | {g2:10.1f} {50 * g2 / peak:6.1f}%")


if __name__ == "__main__":
    main()
