"""The machine's peak, measured: an FMA-throughput probe and the best SGEMM at hand.

* FMA probe: ``bench/fma_peak.c`` built with the host's cc (``-O2 -mavx2 -mfma -fopenmp``, and an
  AVX-512 build too where the CPU has avx512f), each thread running 12 independent chains of
  vector FMAs (enough to cover FMA latency x throughput on current x86 cores). GFLOP/s =
  2 x lanes x chains x iterations x threads / time, best of its repeats.
* SGEMM: numpy.matmul (its BLAS, OpenBLAS in the wheels) with threadpoolctl limiting it to the
  thread count, on 1024^3 and on BERT's FFN shape 128x768x3072; and lpfc's own GEMM kernel
  (cpp_gemm, as bench/gemm_micro.py builds it) on the FFN shape.

    python -m bench peak [--out peak.json]
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

#: The probe (shared with bench/gemm_peak.py): independent vector FMA chains per thread, best of its repeats;
#: its last line is "fma_peak isa=... threads=N chains=C gflops=X per_thread=Y".
FMA_SOURCE = Path(__file__).resolve().parent / "fma_peak.c"


def _cpu_flags() -> set:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def fma_probe(threads_list=(1, 2), iters: int = 10_000_000) -> dict:
    """GFLOP/s of the FMA probe per thread count: {"avx2": {1: x, 2: y}, "avx512": ...}."""
    cc = os.environ.get("CC", "cc")
    flags = _cpu_flags()
    isas = []
    if {"avx2", "fma"} <= flags:
        isas.append(("avx2", ["-mavx2", "-mfma"]))
    if "avx512f" in flags:
        isas.append(("avx512", ["-mavx512f", "-DFMA_PEAK_AVX512"]))
    if not isas:
        return {"error": "the CPU has neither AVX2+FMA nor AVX-512 (the probe needs one)"}
    out: dict = {}
    with tempfile.TemporaryDirectory() as d:
        src = FMA_SOURCE
        for isa, isa_flags in isas:
            exe = Path(d) / f"fma_{isa}"
            r = subprocess.run([cc, "-O2", *isa_flags, "-fopenmp", str(src), "-o", str(exe)],
                               capture_output=True, text=True)
            if r.returncode != 0:
                out[isa] = {"error": f"{cc} failed: {r.stderr.strip()[-300:]}"}
                continue
            out[isa] = {}
            for t in threads_list:
                r = subprocess.run([str(exe), str(t), "12", str(iters), "5"], capture_output=True, text=True,
                                   env=dict(os.environ, OMP_NUM_THREADS=str(t)))
                m = re.search(r"^fma_peak .* gflops=([0-9.]+)", r.stdout, re.M) if r.returncode == 0 else None
                out[isa][t] = float(m.group(1)) if m else None
    return out


def _median_time(fn, repeat: int) -> float:
    from .gemm_micro import median_time

    return median_time(fn, repeat)


def numpy_sgemm(threads_list=(1, 2), shapes=((1024, 1024, 1024), (128, 768, 3072)), repeat: int = 10) -> dict:
    import numpy as np
    from threadpoolctl import threadpool_info, threadpool_limits

    rng = np.random.default_rng(0)
    res: dict = {"blas": ", ".join(f"{i.get('internal_api')} {i.get('version')}" for i in threadpool_info())}
    for m, k, n in shapes:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        for t in threads_list:
            with threadpool_limits(limits=t):
                s = _median_time(lambda: np.matmul(a, b), repeat)
            res[f"{m}x{k}x{n}/{t}"] = 2.0 * m * n * k / s / 1e9
    return res


def lpfc_gemm(threads_list=(1, 2), m: int = 128, k: int = 768, n: int = 3072, repeat: int = 20) -> dict:
    """lpfc's GEMM micro-kernel (x @ W + b) on one shape, as bench/gemm_micro.py builds it."""
    import numpy as np

    from lpfc.codegen import cpp_gemm
    from lpfc.codegen.targets import get_target
    from lpfc.ir.parser import parse_module

    from .gemm_micro import block_ir, gemm_call, kernel_library

    host = get_target("host")
    op = next(o for o in parse_module(block_ir(m, k, n, "none")).main.ops if o.name == "graph.fused")
    choice = dict(cpp_gemm.GEMM_EMITTER.variants(op, host)[0])
    ks = cpp_gemm.emit_gemm(op, host, "gemm_peak", choice)
    res: dict = {"shape": f"{m}x{k}x{n}", "variant": ks.variant}
    with tempfile.TemporaryDirectory() as d:
        lib = kernel_library([ks], Path(d), host)
        fn, ins, outs, (x, w, b, y) = gemm_call(lib, ks, m, k, n, np.random.default_rng(0))
        for t in threads_list:
            s = _median_time(lambda: fn(ins, outs, t), repeat)
            res[str(t)] = 2.0 * m * n * k / s / 1e9
        err = float(np.abs(y - (x @ w + b)).max())
        res["max_abs_err"] = err
    return res


def measure(threads_list=(1, 2)) -> dict:
    """Everything above, each part's failure recorded as its error; "peak" is the FMA probe's best."""
    out: dict = {"cpu": cpu_name(), "cpus": os.cpu_count(), "load_avg": os.getloadavg()[0]}
    for key, fn in (("fma", fma_probe), ("numpy_sgemm", numpy_sgemm), ("lpfc_gemm", lpfc_gemm)):
        try:
            out[key] = fn(threads_list)
        except Exception as e:  # noqa: BLE001 - recorded, never fatal
            out[key] = {"error": f"{type(e).__name__}: {e}"}
    peak = {}
    for t in threads_list:
        vals = [v.get(t) for v in out["fma"].values() if isinstance(v, dict) and v.get(t)] \
            if isinstance(out.get("fma"), dict) else []
        peak[str(t)] = max(vals) if vals else None
    out["fma_gflops"] = peak
    sg = {}
    for t in threads_list:
        cands = [v for kk, v in out.get("numpy_sgemm", {}).items() if kk.endswith(f"/{t}")]
        cands += [out.get("lpfc_gemm", {}).get(str(t))]
        cands = [c for c in cands if isinstance(c, (int, float))]
        sg[str(t)] = max(cands) if cands else None
    out["best_sgemm_gflops"] = sg
    # The peak that "% of peak" divides by: the higher of the two (an SGEMM can beat a probe that
    # lost its core to other work for a moment; neither can beat the hardware).
    out["peak_gflops"] = {t: max([v for v in (peak.get(t), sg.get(t)) if v] or [None]) for t in peak}
    return out


def describe(p: dict) -> str:
    lines = [f"CPU: {p.get('cpu')} ({p.get('cpus')} logical CPUs)"]
    for isa, v in (p.get("fma") or {}).items():
        if isinstance(v, dict):
            lines.append(f"FMA probe {isa}: " + ", ".join(
                f"{t} thread(s) {g:.1f} GFLOP/s" if g else f"{t} thread(s) -" for t, g in v.items() if t != "error")
                + (f" error: {v['error']}" if "error" in v else ""))
    ns = p.get("numpy_sgemm") or {}
    if "error" in ns:
        lines.append(f"numpy SGEMM: error: {ns['error']}")
    else:
        lines.append(f"numpy SGEMM ({ns.get('blas')}): " + ", ".join(
            f"{k} {v:.1f}" for k, v in ns.items() if k != "blas") + " GFLOP/s (shape/threads)")
    lg = p.get("lpfc_gemm") or {}
    if "error" in lg:
        lines.append(f"lpfc GEMM: error: {lg['error']}")
    else:
        lines.append(f"lpfc GEMM {lg.get('shape')}: " + ", ".join(
            f"{t} thread(s) {lg[t]:.1f}" for t in lg if t.isdigit()) + " GFLOP/s")
    return "\n".join(lines)


if __name__ == "__main__":
    p = measure()
    print(describe(p))
