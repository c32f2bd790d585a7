"""A/B of compiled libraries (e.g. before and after a change): each timed in fresh processes,
alternating round by round, median wall time of one ``Session.run``.

Not a test, and not the benchmark of record (that is ``python -m bench``): the quick way to see
what a code-generation change does to a whole model, on a quiet or on a deliberately busy machine.

    .venv/bin/python bench/ab_libraries.py old/libminilm.so new/libminilm.so \\
        --inputs ~/.cache/lpfc/bench/inputs/minilm-s128.feeds.npz --threads 2 --rounds 3 --runs 20
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# One process: load, warm up, time `runs` runs; prints the times (ms) as JSON on its last line.
CHILD = r"""
import json, sys, time
import numpy as np
import lpfc
lib, threads, runs, warmup, inputs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
feeds = dict(np.load(inputs)) if inputs else None
with lpfc.load(lib, threads=threads) as s:
    if feeds is None:
        feeds = {i.name: np.zeros(i.shape, dtype=i.dtype) for i in s.get_inputs()}
    for _ in range(warmup):
        s.run(feeds)
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        s.run(feeds)
        t.append((time.perf_counter() - t0) * 1e3)
print(json.dumps(t))
"""


def time_once(lib: str, threads: int, runs: int, warmup: int, inputs: str) -> list:
    r = subprocess.run([sys.executable, "-c", CHILD, lib, str(threads), str(runs), str(warmup), inputs],
                       capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        raise SystemExit(f"{lib}: the timing process failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("libraries", nargs="+", help="libraries built by lpfc compile")
    ap.add_argument("--inputs", default="", help=".npz of inputs (default: zeros of each input's shape)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3, help="fresh processes per library, alternating")
    ap.add_argument("--runs", type=int, default=20, help="timed runs per process")
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args(argv)
    times = {lib: [] for lib in a.libraries}
    for _ in range(a.rounds):
        for lib in a.libraries:
            times[lib] += time_once(lib, a.threads, a.runs, a.warmup, a.inputs)
    for lib, t in times.items():
        print(f"{lib}: median {statistics.median(t):.2f} ms, min {min(t):.2f}, max {max(t):.2f} "
              f"({len(t)} runs, {a.rounds} processes, {a.threads} thread(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
