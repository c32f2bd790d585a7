"""F1 of weight-inherited MiniLM sub-networks before and after qa-distill's distillation, and its wall time.

    python bench/nas_qa_distill.py [--steps 40] [--questions 200] [--threads 2] [--json OUT]

Runs ``lpfc.nas.evaluators.qa_distill.run`` on the full architecture (no distillation: the teacher's own F1
on the fixed dev subset) and on a few sub-networks (scored before and after ``--steps`` distillation steps),
printing F1, the KD loss on the first two distillation batches, and the seconds of each phase. The first
call fills the caches (importances, KD targets, the teacher's dev logits): its "setup" is the one-off cost.
The CPU (lscpu's model name) and the load average are printed with the numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.peak import cpu_name  # noqa: E402  (after the path line: run as a script)

FULL = dict(layers=6, hidden=384, heads=12, ffn=1536, seq=384)
SUBNETS = [
    dict(layers=6, hidden=384, heads=6, ffn=768, seq=384),      # half the width, every layer
    dict(layers=4, hidden=384, heads=8, ffn=1024, seq=384),     # 4 layers, 2/3 of the width
    dict(layers=3, hidden=256, heads=6, ffn=768, seq=384),      # half the depth, hidden 256
]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=None, help="distillation steps (default: the evaluator's)")
    ap.add_argument("--questions", type=int, default=None, help="dev questions (default: the evaluator's)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    from lpfc.nas.evaluators import qa_distill as qd

    opts = dict(threads=args.threads)
    if args.steps is not None:
        opts["steps"] = args.steps
    if args.questions is not None:
        opts["questions"] = args.questions
    print(f"CPU {cpu_name()}, load average {os.getloadavg()[0]:.1f}, teacher {qd.find_teacher()}", flush=True)
    rows = []
    t = time.perf_counter()
    full = qd.run(FULL, **dict(opts, steps=0))
    rows.append(full)
    print(f"full {FULL}: F1 {full.f1:.2f} (teacher {full.teacher_f1:.2f}) seconds {full.seconds}", flush=True)
    for arch in SUBNETS:
        r = qd.run(arch, score_before=True, **opts)
        rows.append(r)
        print(f"{arch}: F1 before {r.f1_before:.2f} after {r.steps} steps {r.f1:.2f}; KD loss {r.kd_before:.3f} -> "
              f"{r.kd_after:.3f}; seconds {r.seconds}; load average {os.getloadavg()[0]:.1f}", flush=True)
    print(f"total {time.perf_counter() - t:.0f} s, load average {os.getloadavg()[0]:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"cpu": cpu_name(), "teacher": str(qd.find_teacher()),
                                               "runs": [json.loads(r.to_json()) for r in rows]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
