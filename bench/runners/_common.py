"""What every runner shares: the command line, the timing loop and the JSON it prints.

Kept to the standard library and numpy: it is imported inside the peers' venvs.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback

import numpy as np

RESULT_PREFIX = "BENCH-RESULT "


def parser(description: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--artifact", required=True, help="what to load: a library, an ONNX file, a .tflite file, ...")
    ap.add_argument("--inputs", required=True, help="the feeds as an .npz keyed by input name")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--runs", type=int, default=20, help="timed runs (0: only check, i.e. one run saved to --save-outputs)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--budget-s", type=float, default=0.0,
                    help="stop timing once the timed runs took this many seconds (0: no limit); "
                         "at least one timed run is always made")
    ap.add_argument("--save-outputs", help="write the outputs of the last run to this .npz (out0, out1, ...)")
    ap.add_argument("--model", help="the zoo model name (runners that rebuild the model need it)")
    ap.add_argument("--seq", type=int, default=128)
    return ap


def load_inputs(path: str) -> dict:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def measure(call, args, info: dict) -> None:
    """Warm up, time, save the outputs and print the result line; any failure prints an error line."""
    try:
        t0 = time.perf_counter()
        out = call()
        first = time.perf_counter() - t0
        warmup = max(0, args.warmup - 1)
        runs = args.runs
        budget = args.budget_s
        for _ in range(warmup if runs else 0):
            out = call()
        times = []
        t_start = time.perf_counter()  # the budget is for the timed runs: a JIT's first call is not held against it
        for i in range(runs):
            t0 = time.perf_counter()
            out = call()
            times.append((time.perf_counter() - t0) * 1e3)
            if budget and time.perf_counter() - t_start > budget:
                break
        if args.save_outputs:
            np.savez(args.save_outputs, **{f"out{i}": np.asarray(o) for i, o in enumerate(out)})
        info = dict(info, times_ms=times, first_run_ms=first * 1e3, warmup_runs=1 + (warmup if runs else 0),
                    truncated_by_budget=len(times) < runs, pid=os.getpid())
        print(RESULT_PREFIX + json.dumps(info), flush=True)
    except Exception as e:  # reported to the harness as the cell's error
        traceback.print_exc()
        print(RESULT_PREFIX + json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)
        sys.exit(1)


def set_thread_env(threads: int) -> None:
    """The thread-count variables every runtime might read (the harness sets them too)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TVM_NUM_THREADS"):
        os.environ[var] = str(threads)
