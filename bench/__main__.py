"""lpfc's benchmark harness (python -m bench, or lpfc bench).

    python -m bench setup-peers                      # the LiteRT and TVM venvs (once; a few minutes)
    python -m bench --quick                          # MiniLM, seq 128, 1 and 2 threads, 5 runs each
    python -m bench --sweep --out results/full       # every zoo model at seq 128, plus the sequence sweep
    python -m bench prepare --sweep                  # exports, lpfc builds, conversions, output checks; no timing
    python -m bench report results/full              # re-render the tables and plots
    python -m bench peak                             # the machine's peak only

Results (results.md, results.csv, latency.png, sweep.png, raw JSON) go to --out (default
results/<date>). A rerun with the same --out resumes: cells already timed are skipped (--force
redoes them). docs/benchmarks.md explains the method and every column.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def _csv(kind):
    def parse(text: str):
        return [kind(x) for x in text.replace(" ", "").split(",") if x]
    return parse


def build_parser() -> argparse.ArgumentParser:
    from .harness import DEFAULT_MODELS, DEFAULT_RUNTIMES, RUNTIMES, SWEEP_MODELS, SWEEP_SEQS

    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0],
                                epilog="\n".join(__doc__.splitlines()[2:]),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", nargs="?", default="run", choices=("run", "prepare", "report", "peak", "setup-peers"),
                   help="run (default): prepare, check and time; prepare: everything but the timing; "
                        "report DIR: re-render DIR; peak: measure the machine's peak; setup-peers: create the "
                        "peers' venvs")
    p.add_argument("dir", nargs="?", help="the results folder (report)")
    p.add_argument("--models", type=_csv(str), default=list(DEFAULT_MODELS),
                   help=f"comma-separated zoo models (default: {','.join(DEFAULT_MODELS)})")
    p.add_argument("--runtimes", type=_csv(str), default=list(DEFAULT_RUNTIMES),
                   help=f"comma-separated, of: {','.join(RUNTIMES)} (default: all)")
    p.add_argument("--threads", type=_csv(int), default=[1, 2], help="comma-separated thread counts (default: 1,2)")
    p.add_argument("--seq", type=int, default=128, help="sequence length of the main table (default: 128)")
    p.add_argument("--sweep", action="store_true",
                   help=f"also the sequence sweep: {','.join(SWEEP_MODELS)} at {','.join(map(str, SWEEP_SEQS))}")
    p.add_argument("--sweep-models", type=_csv(str), help=f"models of the sweep (default: {','.join(SWEEP_MODELS)})")
    p.add_argument("--sweep-seqs", type=_csv(int), help=f"lengths of the sweep (default: {','.join(map(str, SWEEP_SEQS))})")
    p.add_argument("--sweep-runtimes", type=_csv(str),
                   help="runtimes of the sweep's other lengths (default: all of --runtimes)")
    p.add_argument("--runs", type=int, default=20, help="timed runs per cell, over all its processes (default: 20)")
    p.add_argument("--warmup", type=int, default=3, help="warm-up runs in each process (default: 3)")
    p.add_argument("--rounds", type=int, default=4,
                   help="fresh processes per cell, runtimes interleaved round by round (default: 4)")
    p.add_argument("--budget-s", type=float, default=120.0,
                   help="time budget per cell in seconds; a runtime too slow for --runs within it gets one "
                        "process with as many runs as fit, at least 3 (0: no budget; default: 120)")
    p.add_argument("--min-runs", type=int, default=3, help="the fewest timed runs of a cell cut short by the budget "
                   "(default: 3)")
    p.add_argument("--tol", type=float, default=1e-3,
                   help="largest accepted output difference from onnxruntime, over max(1, |ref|) (default: 1e-3)")
    p.add_argument("--timeout-s", type=float, default=3600.0, help="kill a runner process after this long")
    p.add_argument("--prepare-timeout-s", type=float, default=1800.0,
                   help="a conversion (onnx2tf) or TVM build that takes longer fails, and is recorded so "
                        "(default: 1800)")
    p.add_argument("--omp-wait-policy", choices=("passive", "active"),
                   help="set OMP_WAIT_POLICY for every runtime (default: leave each runtime's own default)")
    p.add_argument("--quick", action="store_true",
                   help="a short check of the whole pipeline: minilm, seq 128, --runs 5 --rounds 1 --warmup 1 "
                        "(other options still apply)")
    p.add_argument("--out", type=Path, help="the results folder (default: results/<UTC date-time>)")
    p.add_argument("--force", action="store_true", help="redo cells and checks already in --out")
    p.add_argument("--reprepare", action="store_true",
                   help="redo cached conversions and builds too (also those that failed before)")
    p.add_argument("--peers", type=_csv(str), help="setup-peers: which venvs (default: tflite,tvm)")
    p.add_argument("--find-links", help="setup-peers: extra pip --find-links (e.g. /opt/wheels)")
    return p


def main(argv=None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    from . import harness, peak, peers, report

    if args.command == "setup-peers":
        return 1 if peers.setup(args.peers, force=args.force, find_links=args.find_links) else 0
    if args.command == "peak":
        p = peak.measure(tuple(args.threads))
        print(peak.describe(p))
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "peak.json").write_text(json.dumps(p, indent=1))
        return 0
    if args.command == "report":
        d = Path(args.dir or args.out or "")
        if not (d / "run.json").is_file():
            print(f"python -m bench report: {d} is not a results folder (no run.json)", file=sys.stderr)
            return 2
        report.write(d)
        print(f"wrote {d / 'results.md'}, {d / 'results.csv'} and the plots")
        return 0

    unknown = [r for r in args.runtimes + (args.sweep_runtimes or []) if r not in harness.RUNTIMES]
    if unknown:
        print(f"unknown runtime(s) {', '.join(unknown)}; known: {', '.join(harness.RUNTIMES)}", file=sys.stderr)
        return 2
    from lpfc.testing import zoo

    bad = [m for m in args.models + (args.sweep_models or []) if m not in zoo.SPECS]
    if bad:
        print(f"unknown model(s) {', '.join(bad)}; known: {', '.join(zoo.ALL_MODELS)}", file=sys.stderr)
        return 2
    if args.quick:
        if args.models == list(harness.DEFAULT_MODELS):
            args.models = ["minilm"]
        args.runs, args.rounds, args.warmup = min(args.runs, 5), 1, min(args.warmup, 1)
    sweep_models = args.sweep_models or (list(harness.SWEEP_MODELS) if args.sweep else [])
    sweep_seqs = args.sweep_seqs or (list(harness.SWEEP_SEQS) if sweep_models else [])
    out = args.out or Path("results") / time.strftime("%Y-%m-%d-%H%M", time.gmtime())
    cfg = harness.Config(models=args.models, runtimes=args.runtimes, threads=args.threads, seq=args.seq,
                         sweep_models=sweep_models, sweep_seqs=sweep_seqs, runs=args.runs, warmup=args.warmup,
                         rounds=args.rounds, budget_s=args.budget_s, tol=args.tol, out=out, force=args.force,
                         reprepare=args.reprepare, timeout_s=args.timeout_s, omp_wait_policy=args.omp_wait_policy,
                         dry=args.command == "prepare", sweep_runtimes=args.sweep_runtimes, min_runs=args.min_runs,
                         prepare_timeout_s=args.prepare_timeout_s)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        harness.log("matplotlib is missing, so there will be no plots: pip install -e '.[bench]'")
    d = harness.run(cfg)
    if cfg.dry:
        print(f"prepared and checked; the checks are in {d / 'check'}")
    else:
        print((d / "results.md").read_text())
        print(f"wrote {d / 'results.md'}, {d / 'results.csv'} and the plots in {d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
