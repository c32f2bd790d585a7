"""F1 against training time: evaluate a run's snapshots and final model, print a table (and a plot).

    python -m examples.qa curve [--run DIR] [--limit 500] [--runtimes lpfc] [--buckets ...] [--plot docs/qa-f1.png]

Each of ``snap-NNmin/`` and ``model/`` in the run directory is built (export + lpfc.compile, cached)
and scored on the first ``--limit`` dev questions; the plot needs matplotlib (the ``bench`` extra),
without it only the Markdown table is printed.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv=None) -> int:
    from .build import add_bucket_argument, default_model_dir
    from .eval import run_eval
    ap = argparse.ArgumentParser(prog="python -m examples.qa curve", description=__doc__.splitlines()[0])
    ap.add_argument("--run", default=None, help="training run directory (default: the default run)")
    ap.add_argument("--limit", type=int, default=500)
    ap.add_argument("--runtimes", default="lpfc")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--plot", default=None, help="write the plot here (needs matplotlib)")
    add_bucket_argument(ap)
    args = ap.parse_args(argv)
    run = Path(args.run) if args.run else default_model_dir().parent
    models = sorted(run.glob("snap-*min")) + [run / "model"]
    rows = []
    for m in models:
        if not (m / "config.json").exists():
            continue
        cached = m / "build" / f"eval-{args.limit}-{args.runtimes.replace(',', '+')}.json"
        if cached.exists() and json.loads(cached.read_text()).get("buckets", [384]) != list(args.buckets):
            cached.unlink()
        if cached.exists():
            r = json.loads(cached.read_text())
        else:
            r = run_eval(m, args.limit, tuple(args.runtimes.split(",")), args.threads, progress=False,
                         buckets=args.buckets)
            cached.write_text(json.dumps(r, indent=1))
        rt = args.runtimes.split(",")[0]
        rows.append((r.get("trained_minutes"), r.get("trained_steps"), r["results"][rt]["exact_match"],
                     r["results"][rt]["f1"], m.name))
    print(f"\n| training minutes | optimizer steps | EM | F1 | model |  (first {args.limit} dev questions, {rt})")
    print("|---:|---:|---:|---:|---|")
    for mins, steps, em, f1, name in rows:
        print(f"| {mins:.1f} | {steps} | {em:.2f} | {f1:.2f} | {name} |")
    if args.plot:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib is not installed (pip install -e '.[bench]'): no plot, the table above only")
            return 0
        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.plot([r[0] for r in rows], [r[3] for r in rows], "o-")
        ax.set_xlabel("CPU training time (min)")
        ax.set_ylabel(f"F1 (first {args.limit} dev questions)")
        ax.grid(alpha=.3)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
