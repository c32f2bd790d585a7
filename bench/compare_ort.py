"""Latency of compiled models against onnxruntime, measured in the same benchmark run.

    .venv/bin/python bench/compare_ort.py                          # MiniLM and BERT-base, 1 and 2 threads
    .venv/bin/python bench/compare_ort.py --models minilm --runs 50 --variant ts14
    .venv/bin/python bench/compare_ort.py --threads 1 --clock thread   # CPU time: robust on a busy machine

Each model is compiled once (cached under ~/.cache/lpfc/bench, keyed by the ONNX file's mtime and
size; --recompile forces it; the compile's per-stage times are printed). Measurements run in fresh
Python processes, onnxruntime and lpfc alternating over --rounds rounds (so that other work on the
machine hits both alike), each a few warm-up runs and then its share of --runs timed runs; the
median (and min) over all timed runs is reported, with the max abs diff between the two engines.
Not a test.
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
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def worker(engine: str, onnx_path: str, lib: str, model: str, threads: int, runs: int, warmup: int,
           clock: str = "wall") -> dict:
    import numpy as np

    from lpfc.testing import zoo

    feeds = zoo.sample_inputs(model)
    if engine == "ort":
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        names = [i.name for i in sess.get_inputs()]
        feeds = {k: v for k, v in feeds.items() if k in names}

        def call():
            return sess.run(None, feeds)
    else:
        import lpfc

        sess = lpfc.load(lib, threads=threads)

        def call():
            return sess.run(None, feeds)
    for _ in range(warmup):
        out = call()
    now = time.thread_time if clock == "thread" else time.perf_counter
    times = []
    for _ in range(runs):
        t0 = now()
        out = call()
        times.append(now() - t0)
    np.savez(f"{lib}.{engine}.npz", *out)
    return {"times_ms": [t * 1e3 for t in times]}


def compile_cached(model: str, variant: str, recompile: bool):
    import lpfc
    from lpfc.testing import zoo

    path = zoo.export(model, variant)
    cache = Path(os.environ.get("LPFC_CACHE_DIR", Path.home() / ".cache" / "lpfc")) / "bench"
    cache.mkdir(parents=True, exist_ok=True)
    lib = cache / f"lib{model.replace('-', '_')}_{variant}.so"
    stamp = lib.with_suffix(".json")
    st = os.stat(path)
    key = {"onnx": str(path), "mtime": st.st_mtime, "size": st.st_size}
    if not recompile and lib.is_file() and stamp.is_file():
        meta = json.loads(stamp.read_text())
        if meta.get("key") == key:
            return path, lib, meta
    t0 = time.perf_counter()
    r = lpfc.compile(path, lib, progress=lambda what: print(f"  [{model}] {what}", file=sys.stderr, flush=True))
    meta = {"key": key, "stages": r.stage_seconds, "total": time.perf_counter() - t0, "kernels": r.kernels,
            "arena": r.arena_bytes, "summary": r.summary()}
    stamp.write_text(json.dumps(meta))
    return path, lib, meta


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["minilm", "bert-base"])
    ap.add_argument("--variant", default="dynamo20")
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=4, help="alternating onnxruntime/lpfc processes per setting")
    ap.add_argument("--recompile", action="store_true")
    ap.add_argument("--clock", default="wall", choices=["wall", "thread"],
                    help="thread: time each run by the calling thread's CPU time (1 thread only: both engines then "
                         "compute on the calling thread; time slices lost to other jobs on a shared machine do not "
                         "count)")
    ap.add_argument("--worker", nargs=5, metavar=("ENGINE", "ONNX", "LIB", "MODEL", "THREADS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        engine, onnx_path, lib, model, threads = args.worker
        print(json.dumps(worker(engine, onnx_path, lib, model, int(threads), args.runs, args.warmup, args.clock)))
        return 0
    if args.clock == "thread" and args.threads != [1]:
        ap.error("--clock thread needs --threads 1")

    import numpy as np

    rows = []
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (other work on the machine skews "
          f"multi-threaded timings)")
    for model in args.models:
        path, lib, meta = compile_cached(model, args.variant, args.recompile)
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in meta["stages"].items())
        print(f"{model}-{args.variant}: compile {sum(meta['stages'].values()):.1f} s ({stages}); "
              f"{meta['kernels']} kernels, arena {meta['arena'] / 2**20:.1f} MiB", flush=True)
        for n in args.threads:
            times = {"ort": [], "lpfc": []}
            per_round = -(-args.runs // args.rounds)
            for _ in range(args.rounds):
                for engine in ("ort", "lpfc"):
                    cmd = [sys.executable, __file__, "--worker", engine, str(path), str(lib), model, str(n),
                           "--runs", str(per_round), "--warmup", str(args.warmup), "--clock", args.clock]
                    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
                    if out.returncode != 0:
                        print(out.stderr[-2000:], file=sys.stderr)
                        return 1
                    times[engine] += json.loads(out.stdout.strip().splitlines()[-1])["times_ms"]
            res = {e: {"median_ms": statistics.median(t), "min_ms": min(t)} for e, t in times.items()}
            with np.load(f"{lib}.ort.npz") as a, np.load(f"{lib}.lpfc.npz") as b:
                diff = max(float(np.abs(a[k] - b[k]).max()) for k in a.files)
            ratio = res["lpfc"]["median_ms"] / res["ort"]["median_ms"]
            rows.append((model, n, res["ort"], res["lpfc"], ratio, diff))
            print(f"  threads {n}: onnxruntime {res['ort']['median_ms']:8.2f} ms   lpfc {res['lpfc']['median_ms']:8.2f} ms"
                  f"   lpfc/ort {ratio:5.2f}x   max abs diff {diff:.2e}", flush=True)
    print(f"\nmedian (min) of {args.rounds * -(-args.runs // args.rounds)} runs each in {args.rounds} alternating "
          f"fresh processes, batch 1, seq 128, {args.clock} clock; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"{'model':12} {'threads':>7} {'onnxruntime ms':>18} {'lpfc ms':>18} {'lpfc/ort':>9} {'max diff':>9}")
    for m, n, o, lp, r, d in rows:
        print(f"{m:12} {n:7d} {o['median_ms']:9.2f} ({o['min_ms']:6.2f}) {lp['median_ms']:9.2f} ({lp['min_ms']:6.2f}) "
              f"{r:8.2f}x {d:9.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
