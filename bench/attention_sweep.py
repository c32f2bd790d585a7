"""Attention across sequence lengths (issue #18 item 2): lpfc built from one or more source trees (e.g. the
code before and after an attention change) against onnxruntime, per sequence length, at 1 and 2 threads,
plus the share of lpfc's time in its attention kernels.

    python -m bench.attention_sweep --models minilm --seqs 32,64,128,256,512
    python -m bench.attention_sweep --src old=/tmp/old-checkout,new=. --threads 1,2 --rounds 3 --runs 10

Each (model, length, runtime, threads) is timed in fresh processes, interleaved round by round. At 1
thread the clock is the thread's CPU time (``--clock thread``, the default: a time slice lost to another
job on a busy machine does not count; onnxruntime with one intra-op thread computes on the calling thread
too); at 2 threads it is wall time, which on a shared machine measures the scheduler as much as the code.
The attention column is the per-kernel profile's sum over the ``attention`` kernels (1 thread, thread
clock). The models are the zoo's exports at each length (TorchScript exporter, ``ts14``); the libraries
are built once per source tree and cached under $LPFC_CACHE_DIR/bench/attention.

The benchmark of record is ``python -m bench --sweep`` (every peer, LiteRT+XNNPACK included); this is the
quick A/B of a kernel change against the peer that is installed everywhere.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, sys, time
import numpy as np
kind, path, inputs, threads, runs, warmup, clock = sys.argv[1:8]
threads, runs, warmup = int(threads), int(runs), int(warmup)
feeds = dict(np.load(inputs))
now = time.thread_time if clock == "thread" else time.perf_counter
attention = None
if kind == "ort":
    import onnxruntime
    o = onnxruntime.SessionOptions()
    o.intra_op_num_threads = threads
    o.inter_op_num_threads = 1
    s = onnxruntime.InferenceSession(path, o, providers=["CPUExecutionProvider"])
    f = {i.name: feeds[i.name] for i in s.get_inputs()}
    call = lambda: s.run(None, f)
else:
    import lpfc
    s = lpfc.load(path, threads=threads)
    call = lambda: s.run(feeds)
for _ in range(warmup):
    call()
t = []
for _ in range(runs):
    t0 = now()
    call()
    t.append((now() - t0) * 1e3)
if kind != "ort" and threads == 1:
    p = s.profile(feeds, runs=max(3, runs // 2), warmup=1)
    attention = sum(k.seconds for k in p.kernels if k.kind == "attention") * 1e3
print(json.dumps({"t": t, "attention": attention}))
"""


def cache_root() -> Path:
    root = os.environ.get("LPFC_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "lpfc") / "bench" / "attention"


def _tree_hash(src: Path) -> str:
    h = hashlib.sha256()
    for p in sorted((src / "lpfc").rglob("*")):
        if p.is_file() and p.suffix in (".py", ".hpp", ".h", ".c", ".j2", ".cc"):
            h.update(str(p.relative_to(src)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:12]


def build(src: Path, onnx_path: Path) -> Path:
    """The library of ``onnx_path`` built by the lpfc in source tree ``src`` (a subprocess), cached."""
    key = hashlib.sha256(onnx_path.read_bytes()).hexdigest()[:8] + "-" + _tree_hash(src)
    lib = cache_root() / f"lib{onnx_path.stem.replace('-', '_')}-{key}.so"
    if lib.exists():
        return lib
    lib.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(src))
    r = subprocess.run([sys.executable, "-c", "import sys, lpfc; lpfc.compile(sys.argv[1], sys.argv[2])",
                        str(onnx_path), str(lib)], env=env, cwd=str(src), capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"building {onnx_path} with {src} failed:\n{r.stderr[-3000:]}")
    return lib


def time_once(kind, path, inputs, threads, runs, warmup, clock) -> dict:
    env = dict(os.environ, LPFC_PROFILE_CLOCK=clock)   # the profile's clock (read when the library loads)
    r = subprocess.run([sys.executable, "-c", CHILD, kind, str(path), str(inputs), str(threads), str(runs),
                        str(warmup), clock], capture_output=True, text=True, cwd=ROOT, timeout=1800, env=env)
    if r.returncode != 0:
        raise SystemExit(f"{kind} {path}: the timing process failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    ap = argparse.ArgumentParser(prog="python -m bench.attention_sweep", description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="minilm")
    ap.add_argument("--seqs", default="32,64,128,256,512")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--src", default="", help="name=checkout,... lpfc source trees to build with "
                    "(default: this checkout, named lpfc)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--runs", type=int, default=10, help="timed runs per process")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--clock", choices=("thread", "wall"), default="thread", help="the clock at 1 thread")
    ap.add_argument("--out", type=Path, help="also write the results as JSON here")
    ap.add_argument("--build-only", action="store_true", help="export the models and build (cache) the libraries "
                    "only, so that a later timing run compiles nothing")
    a = ap.parse_args(argv)
    import numpy as np

    from lpfc.testing import zoo

    srcs = dict(x.split("=", 1) for x in a.src.split(",") if x) or {"lpfc": str(ROOT)}
    threads = [int(x) for x in a.threads.split(",")]
    rows = []
    load0 = os.getloadavg()[0]
    for model in a.models.split(","):
        for seq in (int(x) for x in a.seqs.split(",")):
            onnx_path = zoo.export(model, "ts14", seq_len=seq)
            inputs = cache_root() / f"{model}-s{seq}.npz"
            inputs.parent.mkdir(parents=True, exist_ok=True)
            np.savez(inputs, **zoo.sample_inputs(model, seq_len=seq))
            runtimes = {name: ("lpfc", build(Path(src).resolve(), onnx_path)) for name, src in srcs.items()}
            if a.build_only:
                print(f"[attention_sweep] {model} s{seq}: " + ", ".join(str(p) for _, p in runtimes.values()),
                      file=sys.stderr, flush=True)
                continue
            runtimes["ort"] = ("ort", onnx_path)
            cells = {(name, t): {"t": [], "attention": []} for name in runtimes for t in threads}
            for _ in range(a.rounds):
                for (name, t), cell in cells.items():
                    kind, path = runtimes[name]
                    got = time_once(kind, path, inputs, t, a.runs, a.warmup, a.clock if t == 1 else "wall")
                    cell["t"] += got["t"]
                    if got["attention"] is not None:
                        cell["attention"].append(got["attention"])
            for (name, t), cell in cells.items():
                rows.append(dict(model=model, seq=seq, runtime=name, threads=t, median_ms=statistics.median(cell["t"]),
                                 min_ms=min(cell["t"]), n=len(cell["t"]),
                                 attention_ms=statistics.median(cell["attention"]) if cell["attention"] else None))
            print(f"[attention_sweep] {model} s{seq} done", file=sys.stderr, flush=True)
    if a.build_only:
        return 0
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), "?")
    print(f"{cpu}, {os.cpu_count()} CPUs; load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the "
          f"end; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; 1 thread: {a.clock} clock, 2+: wall; "
          f"median of {a.rounds} processes x {a.runs} runs")
    names = list(srcs) + ["ort"]
    print("| model | seq | threads | " + " | ".join(names) + " | " + " | ".join(f"{n} / ort" for n in srcs)
          + " | " + " | ".join(f"{n} attention ms" for n in srcs) + " |")
    print("|---|---:|---:|" + "---:|" * (len(names) + 2 * len(srcs)))
    for model in a.models.split(","):
        for seq in (int(x) for x in a.seqs.split(",")):
            for t in threads:
                cell = {r["runtime"]: r for r in rows if r["model"] == model and r["seq"] == seq and r["threads"] == t}
                ort = cell["ort"]["median_ms"]
                att = [cell[n]["attention_ms"] for n in srcs]
                print(f"| {model} | {seq} | {t} | " + " | ".join(f"{cell[n]['median_ms']:.2f}" for n in names)
                      + " | " + " | ".join(f"{cell[n]['median_ms'] / ort:.2f}" for n in srcs) + " | "
                      + " | ".join("–" if x is None else f"{x:.2f}" for x in att) + " |")
    if a.out:
        a.out.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
