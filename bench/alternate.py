"""Timing compiled libraries against each other: round by round, alternating, so a drift of the machine's speed
reaches every library alike (a VM's speed moves by 10-20 % within an hour; a ratio of two medians taken an hour
apart says more about the hour than about the libraries).

The rounds run in a fresh Python process, so that what is measured is the library, not the state of the process
that asks: bench.nas, having just exported a model through torch, once timed a library at 20.0 ms in its own
process that a fresh process timed at 16.2 ms minutes later (2026-12-07, docs/nas.md).

    python -m bench.alternate --threads 2 --rounds 5 LIB.so [LIB.so ...]     # prints the medians as JSON
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path


def interleaved_ms(libs, threads: int, rounds: int) -> list:
    """Each library's median ms over ``rounds`` rounds, timed in a fresh process; a round times every library
    once with lpfc.nas's own timing (``lpfc.nas.outputs.measure``: TIMED_RUNS runs after warm-up, their median)."""
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    # absolute paths: the child runs in the repository root, the caller's paths may be relative to anywhere
    cmd = [sys.executable, "-m", "bench.alternate", "--threads", str(threads), "--rounds", str(rounds),
           *[str(Path(lib).resolve()) for lib in libs]]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root)
    if r.returncode != 0:
        raise RuntimeError(f"timing {len(libs)} libraries failed: {r.stderr.strip()[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def _rounds(libs, threads: int, rounds: int) -> list:
    from lpfc.nas.outputs import measure

    per = [[] for _ in libs]
    for _ in range(rounds):
        for i, lib in enumerate(libs):
            per[i].append(measure(lib, threads))
    return [statistics.median(t) for t in per]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.alternate", description=__doc__.splitlines()[0])
    p.add_argument("libs", nargs="+", help="compiled libraries (lpfc.compile) to time against each other")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    missing = [lib for lib in args.libs if not Path(lib).is_file()]
    if missing:
        raise SystemExit(f"no such library: {', '.join(missing)}")
    if args.rounds < 1:
        raise SystemExit(f"--rounds must be >= 1, got {args.rounds}")
    print(json.dumps(_rounds(args.libs, args.threads, args.rounds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
