"""lpfc with a busy neighbour in its process (issue #18 item 6): MiniLM at batch 4 x 64 tokens, lpfc alone
against lpfc with an onnxruntime session of the same model in the same process, run between lpfc's calls.

    python -m bench.neighbour                               # builds the library from this checkout
    python -m bench.neighbour --libs old.so,new.so          # A/B: libraries built from two checkouts
    python -m bench.neighbour --threads 2 --rounds 4 --runs 30

onnxruntime's intra-op workers spin for a while after each of its runs, so in the "neighbour" mode lpfc's
kernels start while another runtime's threads still hold the cores: a thread pool that waits for a
descheduled worker loses a scheduler time slice per kernel. Each (library, mode) is timed in fresh
processes, interleaved round by round (solo, neighbour, onnxruntime alone); one number is the median wall
time of one ``Session.run`` (in the neighbour mode, of lpfc's run only; onnxruntime's runs are timed too).
The outputs of every library are checked against onnxruntime's first.

The model is the zoo's MiniLM (real all-MiniLM-L6-v2 weights) exported by the TorchScript exporter at the
shape asked for, cached under $LPFC_CACHE_DIR/bench/neighbour with the library built from it.
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# One process: load lpfc (and onnxruntime), warm up, time; prints JSON on its last line.
CHILD = r"""
import json, os, sys, time
import numpy as np
mode, lib, onnx_path, inputs, threads, runs, warmup = sys.argv[1:8]
threads, runs, warmup = int(threads), int(runs), int(warmup)
feeds = dict(np.load(inputs))


def thread_cpu():   # ns of CPU time per thread of this process (schedstat: ns resolution)
    out = {}
    for t in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{t}/schedstat") as f:
                out[int(t)] = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return out


before = set(thread_cpu())
sess = ort = None
if mode in ("neighbour", "neighbour-nospin", "ort"):
    import onnxruntime
    o = onnxruntime.SessionOptions()
    o.intra_op_num_threads = threads
    o.inter_op_num_threads = 1
    # The control: onnxruntime's workers block as soon as a run ends instead of spinning.
    o.add_session_config_entry("session.intra_op.allow_spinning", "0" if mode == "neighbour-nospin" else "1")
    ort = onnxruntime.InferenceSession(onnx_path, o, providers=["CPUExecutionProvider"])
    ort_feeds = {i.name: feeds[i.name] for i in ort.get_inputs()}
    ort.run(None, ort_feeds)
ort_tids = set(thread_cpu()) - before   # onnxruntime's workers (started by its first run)
if mode != "ort":
    import lpfc
    sess = lpfc.load(lib, threads=threads)
lt, ot, lcpu, ocpu = [], [], [], []
for r in range(warmup + runs):
    if ort is not None:
        t0 = time.perf_counter()
        ort.run(None, ort_feeds)
        ot.append((time.perf_counter() - t0) * 1e3)
    if sess is not None:
        c0, p0 = thread_cpu(), time.process_time()
        t0 = time.perf_counter()
        sess.run(feeds)
        lt.append((time.perf_counter() - t0) * 1e3)
        p1, c1 = time.process_time(), thread_cpu()
        o_ms = sum(c1.get(t, 0) - c0.get(t, 0) for t in ort_tids) / 1e6
        ocpu.append(o_ms)                        # onnxruntime's workers during lpfc's run
        lcpu.append((p1 - p0) * 1e3 - o_ms)      # everything else: lpfc's threads (and the caller's Python)
print(json.dumps({"lpfc": lt[warmup:], "ort": ot[warmup:], "lpfc_cpu": lcpu[warmup:], "ort_cpu": ocpu[warmup:]}))
"""


def cache_root() -> Path:
    root = os.environ.get("LPFC_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "lpfc") / "bench" / "neighbour"


def sample_inputs(batch: int, seq: int, seed: int = 0) -> dict:
    """Random ids; each sequence has its own number of padded (masked) positions at the end."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1000, 30000, size=(batch, seq), dtype=np.int64)
    mask = np.ones((batch, seq), dtype=np.int64)
    for b in range(batch):
        pad = (b * 7) % (seq // 2)
        if pad:
            ids[b, seq - pad:] = 0
            mask[b, seq - pad:] = 0
    types = np.zeros((batch, seq), dtype=np.int64)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def export(batch: int, seq: int) -> Path:
    """MiniLM exported (TorchScript exporter, opset 14) at [batch, seq], cached."""
    from lpfc.testing import zoo

    path = cache_root() / f"minilm-ts14-b{batch}-s{seq}.onnx"
    if path.exists():
        return path
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    spec, var = zoo.SPECS["minilm"], zoo.VARIANTS["ts14"]
    module, _ = zoo._build_module(spec, var)
    feeds = sample_inputs(batch, seq)
    args = tuple(torch.from_numpy(feeds[n]) for n in spec.input_names)
    tmp = path.with_suffix(".tmp.onnx")
    zoo._run_exporter(module, args, tmp, zoo._export_options(spec, var))
    tmp.replace(path)
    return path


def build(onnx_path: Path) -> Path:
    """The library of this checkout's lpfc (keyed by the model and lpfc's sources), cached."""
    import lpfc

    h = hashlib.sha256(onnx_path.read_bytes())
    for p in sorted((ROOT / "lpfc").rglob("*")):
        if p.is_file() and p.suffix in (".py", ".hpp", ".h", ".c", ".j2", ".cc"):
            h.update(str(p.relative_to(ROOT)).encode())
            h.update(p.read_bytes())
    lib = cache_root() / f"lib{onnx_path.stem.replace('-', '_')}-{h.hexdigest()[:12]}.so"
    if not lib.exists():
        lpfc.compile(str(onnx_path), str(lib))
    return lib


def check(lib: Path, onnx_path: Path, feeds: dict) -> float:
    import onnxruntime

    import lpfc

    ort = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    names = [o.name for o in ort.get_outputs()]
    ref = dict(zip(names, ort.run(names, {i.name: feeds[i.name] for i in ort.get_inputs()})))
    with lpfc.load(str(lib), threads=2) as s:
        got = s.run(feeds)
    return max(float(np.max(np.abs(got[n] - ref[n]))) for n in names)


def time_once(mode: str, lib: str, onnx_path: Path, inputs: Path, threads: int, runs: int, warmup: int) -> dict:
    r = subprocess.run([sys.executable, "-c", CHILD, mode, lib, str(onnx_path), str(inputs), str(threads),
                        str(runs), str(warmup)], capture_output=True, text=True, cwd=ROOT, timeout=900)
    if r.returncode != 0:
        raise SystemExit(f"{mode} {lib}: the timing process failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def _stats(t: list) -> str:
    return f"{statistics.median(t):7.2f} ms (min {min(t):6.2f}, max {max(t):7.2f}, n {len(t)})"


def _cpu(cell: dict) -> str:
    """lpfc's CPU time per run and onnxruntime's workers' CPU time during it (medians)."""
    return f"cpu: lpfc {statistics.median(cell['lpfc_cpu']):6.1f} ms, onnxruntime {statistics.median(cell['ort_cpu']):5.1f} ms"


def report(cells: dict, libs: list, threads: int) -> None:
    print("onnxruntime alone:          " + _stats(cells[("-", "ort")]["ort"]))
    for lib in libs:
        solo = cells[(lib, "solo")]
        print(f"{lib}")
        print("  lpfc alone:                " + _stats(solo["lpfc"]) + "   " + _cpu(solo))
        print("      (per process: " + ", ".join(f"{m:.1f}" for m in solo["procs"]) + " ms)")
        for mode in ("neighbour", "neighbour-nospin"):
            if (lib, mode) not in cells:
                continue
            nb = cells[(lib, mode)]
            ratio = statistics.median(nb["lpfc"]) / statistics.median(solo["lpfc"])
            label = "lpfc, onnxruntime between: " if mode == "neighbour" else "  same, onnxruntime not spinning: "
            print(f"  {label:<27}" + _stats(nb["lpfc"]) + f" = {ratio:.2f}x alone   " + _cpu(nb))
            print("      (per process: " + ", ".join(f"{m:.1f}" for m in nb["procs"]) + " ms)")
            if mode == "neighbour":
                # lpfc's work plus the CPU time onnxruntime's workers take meanwhile, spread over all CPUs with
                # none idle and none wasted: no pool can finish sooner (a bound, not a prediction).
                ncpu = min(threads, os.cpu_count() or 1)
                floor = (statistics.median(solo["lpfc_cpu"]) + statistics.median(nb["ort_cpu"])) / ncpu
                print(f"      (onnxruntime there {statistics.median(nb['ort']):.2f} ms; CPU floor: (lpfc's CPU alone + "
                      f"onnxruntime's during lpfc's run) / {ncpu} = {floor:.1f} ms)")


def main(argv=None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    ap = argparse.ArgumentParser(prog="python -m bench.neighbour", description=__doc__.split("\n\n")[0])
    ap.add_argument("--libs", default="", help="comma-separated libraries of this model (default: build one)")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3, help="fresh processes per (library, mode), interleaved")
    ap.add_argument("--runs", type=int, default=30, help="timed runs per process")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--no-control", action="store_true",
                    help="skip the control: the first library with onnxruntime's session.intra_op.allow_spinning=0")
    ap.add_argument("--no-check", action="store_true", help="do not compare the outputs with onnxruntime's first")
    ap.add_argument("--report-every-round", action="store_true",
                    help="print the figures so far after every round (a run cut short still says something)")
    a = ap.parse_args(argv)
    onnx_path = export(a.batch, a.seq)
    feeds = sample_inputs(a.batch, a.seq)
    inputs = cache_root() / f"inputs-b{a.batch}-s{a.seq}.npz"
    np.savez(inputs, **feeds)
    libs = [x for x in a.libs.split(",") if x] or [str(build(onnx_path))]
    for lib in libs if not a.no_check else []:
        diff = check(Path(lib), onnx_path, feeds)
        print(f"{lib}: max |lpfc - onnxruntime| = {diff:.2e}")
        if diff > 1e-3:
            raise SystemExit(f"{lib}: wrong outputs")
    # The control (does lpfc lose its time to onnxruntime's spinning or to something else?) for the first library.
    cells = {(lib, m): {} for lib in libs for m in ("solo", "neighbour")
             + (("neighbour-nospin",) if lib == libs[0] and not a.no_control else ())}
    cells[("-", "ort")] = {}
    load = os.getloadavg()[0]
    for r in range(a.rounds):
        for key in cells:
            lib, mode = key
            got = time_once(mode, lib, onnx_path, inputs, a.threads, a.runs, a.warmup)
            for k, v in got.items():
                cells[key].setdefault(k, []).extend(v)
            cells[key].setdefault("procs", []).append(statistics.median(got["lpfc" if mode != "ort" else "ort"]))
        if a.report_every_round and r + 1 < a.rounds:
            print(f"\nafter round {r + 1} ({time.strftime('%H:%M:%S', time.gmtime())} UTC, load {os.getloadavg()[0]:.1f}):")
            report(cells, libs, a.threads)
            sys.stdout.flush()
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), "?")
    print(f"\nMiniLM batch {a.batch} x {a.seq} tokens, {a.threads} threads; {cpu}, {os.cpu_count()} CPUs; "
          f"load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; "
          f"{a.rounds} rounds x {a.runs} runs, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    report(cells, libs, a.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
