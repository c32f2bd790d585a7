"""Time per latency estimate (issue 13 item 4): 1,000 varied architecture dicts in a fresh process, and BERT-base.

    python -m bench.oracle_speed                         # 1,000 dicts of the issue's NAS space + BERT-base ONNX
    python -m bench.oracle_speed --n 200 --space small --onnx none

A fresh process draws ``--n`` dicts at random (seed ``--seed``) from the NAS space (layers 1-12, hidden
128-768, heads 2-12 dividing hidden and FFN 256-3072 per layer, seq 32-512, batch 1-4): nearly every dict
has layer shapes the process never saw, so the times include planning them (the kernel templates of
lpfc/cost/template.py; the first dict of each structural class runs the real pipeline on a probe).
Each call is ``lpfc.estimate_latency(d, threads=1)`` (this machine's calibration if there is one, else the
analytic profile; its warning is silenced). Then, in another fresh process, BERT-base from the zoo's
ONNX file: ``lpfc.estimate_latency(path)`` — the import, the default pipeline, the plans and the
prediction (``import lpfc`` itself is timed apart). Prints the CPU (lscpu's model name) and load average.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    from bench.peak import cpu_name
    return cpu_name()


def _pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q / 100 * len(xs)))]


def dicts_child(n: int, space: str, seed: int) -> dict:
    import random
    import warnings

    t = time.perf_counter()
    import lpfc
    import lpfc.cost.plan as P
    from bench.oracle import SPACES, draw_arch
    t_import = time.perf_counter() - t

    warnings.simplefilter("ignore")
    rng = random.Random(seed)
    ds = [draw_arch(rng, SPACES[space]) for _ in range(n)]
    times, cpu, sources = [], [], set()
    for d in ds:
        c = time.process_time()
        t = time.perf_counter()
        est = lpfc.estimate_latency(d, threads=1)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        sources.add(est.source)
    return {"n": n, "distinct_dicts": len({json.dumps(d, sort_keys=True) for d in ds}),
            "median_ms": statistics.median(times) * 1e3, "p90_ms": _pct(times, 90) * 1e3,
            "p99_ms": _pct(times, 99) * 1e3,
            "cpu_median_ms": statistics.median(cpu) * 1e3, "cpu_p90_ms": _pct(cpu, 90) * 1e3, "max_ms": max(times) * 1e3, "mean_ms": statistics.fmean(times) * 1e3,
            "total_s": sum(times), "first_call_ms": times[0] * 1e3, "classes_probed": len(P._TEMPLATES),
            "parts_from_templates": P.STATS["template"], "parts_from_real_models": P.STATS["real"],
            "sources": sorted(sources), "import_lpfc_s": t_import}


def onnx_child(path: str) -> dict:
    import warnings

    t = time.perf_counter()
    import lpfc
    t_import = time.perf_counter() - t
    warnings.simplefilter("ignore")
    c = time.process_time()
    t = time.perf_counter()
    est = lpfc.estimate_latency(path, threads=1)
    t_est = time.perf_counter() - t
    return {"path": path, "estimate_s": t_est, "estimate_cpu_s": time.process_time() - c, "import_lpfc_s": t_import, "kernels": len(est.kernels),
            "predicted_ms": est.ms, "source": est.source}


def child_env() -> dict:
    """A fresh process as an installed lpfc runs: bytecode cached (here under $LPFC_CACHE_DIR/pycache, so the
    source tree stays clean, even where PYTHONDONTWRITEBYTECODE is set)."""
    cache = Path(os.environ.get("LPFC_CACHE_DIR") or Path.home() / ".cache" / "lpfc") / "pycache"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               PYTHONPYCACHEPREFIX=str(cache))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def warm_bytecode() -> None:
    """Compile lpfc's modules once (what installing it does), so no timed process compiles source."""
    code = ("import warnings, lpfc; warnings.simplefilter('ignore'); "
            "lpfc.estimate_latency({'layers': 1, 'hidden': 64, 'heads': 2, 'ffn': 64, 'seq': 8, 'vocab': 10}); "
            "import lpfc.frontend.load, lpfc.frontend.onnx, bench.oracle")
    subprocess.run([sys.executable, "-c", code], env=child_env(), cwd=ROOT, capture_output=True, timeout=600)


def run_child(args: list) -> dict:
    env = child_env()
    out = subprocess.run([sys.executable, "-m", "bench.oracle_speed", *args], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=3600)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.oracle_speed", description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--space", default="full", choices=("full", "small", "tiny"))
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--onnx", default=str(Path(os.environ.get("LPFC_CACHE_DIR") or Path.home() / ".cache" / "lpfc")
                                         / "zoo" / "bert-base-ts14.onnx"), help="BERT-base ONNX file, or 'none'")
    p.add_argument("--child", choices=("dicts", "onnx"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child == "dicts":
        print(json.dumps(dicts_child(args.n, args.space, args.seed)))
        return 0
    if args.child == "onnx":
        print(json.dumps(onnx_child(args.onnx)))
        return 0

    print(f"CPU: {cpu_model()}; {os.cpu_count()} cores; load average before: "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    warm_bytecode()
    r = run_child(["--child", "dicts", "--n", str(args.n), "--space", args.space, "--seed", str(args.seed)])
    print(f"{r['n']} architecture dicts ({r['distinct_dicts']} distinct, '{args.space}' space, seed {args.seed}), "
          f"fresh process, estimate_latency(d, threads=1) [{', '.join(r['sources'])}]:")
    print(f"  median {r['median_ms']:.2f} ms, p90 {r['p90_ms']:.2f} ms, p99 {r['p99_ms']:.1f} ms, "
          f"max {r['max_ms']:.0f} ms, mean {r['mean_ms']:.2f} ms (total {r['total_s']:.1f} s; first call "
          f"{r['first_call_ms']:.0f} ms)")
    print(f"  CPU time of the process per call (what a shared machine's load does not inflate): median "
          f"{r['cpu_median_ms']:.2f} ms, p90 {r['cpu_p90_ms']:.2f} ms")
    print(f"  structural classes probed: {r['classes_probed']}; parts from templates {r['parts_from_templates']}, "
          f"from real models {r['parts_from_real_models']}; import lpfc {r['import_lpfc_s']:.2f} s (not counted)")
    if args.onnx != "none":
        if Path(args.onnx).exists():
            o = run_child(["--child", "onnx", "--onnx", args.onnx])
            print(f"BERT-base ONNX {o['path']}, fresh process: estimate_latency(path) {o['estimate_s']:.2f} s "
                  f"(CPU {o['estimate_cpu_s']:.2f} s) "
                  f"(import + pipeline + plans + prediction; {o['kernels']} kernels, predicted {o['predicted_ms']:.1f} ms "
                  f"[{o['source']}]); import lpfc {o['import_lpfc_s']:.2f} s (not counted)")
        else:
            print(f"BERT-base ONNX: {args.onnx} not found (skipped)")
    print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
