"""Issue #15 item 7, the last step: distil the architecture a search chose for <= 1 hour, then score it on the
full SQuAD v1.1 dev set through lpfc and onnxruntime, beside the full model, and time its compiled library.

    python -m bench.nas_final --search results/nas-2026-12-08/oracle [--minutes 60] [--threads 2] [--limit 0]
                              [--hidden-mse 5] [--lr 2e-4] [--kd-alpha 0.5]

1. The search's ``best.json`` names the architecture; the qa-distill evaluator's ``export_model`` rebuilds the
   very sub-network the search scored (inherited weights + the evaluator's short distillation, same seed).
2. It is saved with ``lpfc.nas.subnet.save_subnetwork`` (per-layer head/FFN sizes) and trained by the QA app's
   recipe for ``--minutes`` with ``--teacher`` = the full fine-tuned model (span loss mixed with logit
   distillation, plus the layer-by-layer hidden-state MSE: ``python -m examples.qa train --teacher
   --hidden-mse``).
3. ``python -m examples.qa eval`` scores it (and the teacher, cached in the teacher's ``build/``) on the dev set,
   through lpfc's compiled libraries and onnxruntime; the 384-token library is timed (median of 20 runs at the
   search's thread count, alternating with the full model's library over ``--rounds`` rounds) against the
   search's latency target and, as a ratio, against the full model timed in the same run.

Writes final.md and final.json into ``--out`` (default: SEARCH/final/), beside the run (SEARCH/final/run/).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bench.alternate import interleaved_ms
from bench.peak import cpu_name


def teacher_scores(teacher: Path, limit, threads: int) -> dict:
    """The full model's eval report, cached beside its build (the dev set does not change, nor the weights)."""
    from examples.qa.eval import run_eval
    cached = teacher / "build" / f"eval-{limit or 'full'}-lpfc+ort.json"
    if cached.exists():
        return json.loads(cached.read_text())
    report = run_eval(teacher, limit, ("lpfc", "ort"), threads, progress=False)
    cached.write_text(json.dumps(report, indent=1))
    return report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.nas_final", description=__doc__.splitlines()[0])
    p.add_argument("--search", required=True, help="a search's --out directory (search.json, best.json)")
    p.add_argument("--minutes", type=float, default=60.0, help="distillation budget (default 60, the issue's limit)")
    p.add_argument("--threads", type=int, default=2, help="training and evaluation threads (default 2)")
    p.add_argument("--teacher", default=None, help="the full fine-tuned model (default: qa-distill's, the newest run)")
    p.add_argument("--limit", type=int, default=0, help="the first N dev questions (0: all 10,570)")
    p.add_argument("--kd-alpha", type=float, default=0.5, help="the logit-distillation share of the loss")
    # the defaults are the recipe of the 2026-12-07 result (docs/nas.md: 15-minute trials chose it; F1 77.22
    # with 0 and 1e-4, 78.31 with these, same pick, same hour)
    p.add_argument("--hidden-mse", type=float, default=5.0,
                   help="weight of the layer-by-layer hidden-state MSE against the teacher (default 5; 0: off)")
    p.add_argument("--lr", type=float, default=2e-4, help="peak learning rate (default 2e-4)")
    p.add_argument("--max-steps", type=int, default=0, help="stop the distillation after N steps (0: the minutes "
                                                             "decide; a check of the plumbing)")
    p.add_argument("--train-limit", type=int, default=0, help="distil on the first N training questions (tests)")
    p.add_argument("--rounds", type=int, default=5, help="alternating timing rounds of the two libraries (default 5)")
    p.add_argument("--out", default=None, help="default: SEARCH/final")
    args = p.parse_args(argv)

    search = Path(args.search)
    for name in ("search.json", "best.json"):
        if not (search / name).exists():
            raise SystemExit(f"{search} holds no {name}: give a finished lpfc nas --out directory")
    settings = json.loads((search / "search.json").read_text())
    best = json.loads((search / "best.json").read_text())
    if settings.get("evaluator") != "qa-distill":
        raise SystemExit(f"the search used the {settings.get('evaluator')!r} evaluator; the final distillation "
                         "starts from qa-distill's sub-network")
    out = Path(args.out) if args.out else search / "final"
    out.mkdir(parents=True, exist_ok=True)

    from examples.qa import train as tr
    from examples.qa.build import build
    from examples.qa.eval import run_eval
    from examples.qa.paths import load_tokenizer
    from lpfc.nas.evaluators import qa_distill
    from lpfc.nas.outputs import TIMED_RUNS
    from lpfc.nas.subnet import save_subnetwork

    teacher = Path(args.teacher) if args.teacher else qa_distill.find_teacher()
    arch, opts = best["arch"], dict(settings.get("evaluator_opts") or {})
    head = (f"bench.nas_final {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; CPU {cpu_name()}; "
            f"search {search}; teacher {teacher}; {args.minutes:g} min; {args.threads} thread(s); kd-alpha "
            f"{args.kd_alpha:g}, hidden-mse {args.hidden_mse:g}, lr {args.lr:g}")
    print(head, flush=True)

    init = out / "init"
    if not (init / "config.json").exists():
        t0 = time.perf_counter()
        opts.pop("dry_run", None)
        student = qa_distill.export_model(arch, teacher_dir=teacher, seed=settings.get("seed", 0),
                                          threads=args.threads, **opts)
        save_subnetwork(student, init)
        load_tokenizer(teacher).save_pretrained(init)
        print(f"the search's sub-network {json.dumps(arch)} -> {init} ({time.perf_counter() - t0:.0f} s)", flush=True)

    ap = argparse.ArgumentParser()
    tr.add_arguments(ap)
    run = tr.train(ap.parse_args(["--init", str(init), "--teacher", str(teacher), "--kd-alpha", str(args.kd_alpha),
                                  "--hidden-mse", str(args.hidden_mse), "--lr", str(args.lr),
                                  "--minutes", str(args.minutes), "--threads", str(args.threads),
                                  "--run-dir", str(out / "run"), "--snapshots", "", "--no-progress",
                                  "--max-steps", str(args.max_steps), "--train-limit", str(args.train_limit)]))
    trained = json.loads((run / "model" / "trained.json").read_text())
    limit = args.limit or None
    mine = run_eval(run / "model", limit, ("lpfc", "ort"), args.threads, progress=False)
    full = teacher_scores(teacher, limit, args.threads)
    _, lib = build(run / "model", quiet=True)
    _, full_lib = build(teacher, quiet=True)
    ms, full_ms = interleaved_ms([lib, full_lib], settings["threads"], args.rounds)
    ratio = None                # bench.nas's target is the full model's time / --ratio: judge that ratio too
    target = settings["latency_ms"]
    bench_json = search.parent / "nas.json"
    if bench_json.exists():
        b = json.loads(bench_json.read_text())
        target = b.get("target_ms") or target      # the search may have aimed lower (bench.nas --margin)
        if b.get("full_ms") and b.get("target_ms"):
            ratio = b["full_ms"] / b["target_ms"]

    f1, f1_full = mine["results"]["lpfc"]["f1"], full["results"]["lpfc"]["f1"]
    lines = [f"# {head}", "",
             f"Architecture: {json.dumps(arch)} (search: {best['trials']} trials, {settings['latency_model']} "
             f"latency, search score {best['accuracy']:.4f})", "",
             "| model | dev questions | F1 lpfc | F1 onnxruntime | EM lpfc | lib384 ms (median, "
             f"{settings['threads']} thread(s)) |", "|---|---:|---:|---:|---:|---:|",
             f"| full (teacher) | {full['questions']} | {f1_full:.2f} | {full['results']['ort']['f1']:.2f} | "
             f"{full['results']['lpfc']['exact_match']:.2f} | {full_ms:.2f} |",
             f"| searched, distilled {trained['elapsed'] / 60:.1f} min ({trained['step']} steps) | {mine['questions']} | {f1:.2f} | "
             f"{mine['results']['ort']['f1']:.2f} | {mine['results']['lpfc']['exact_match']:.2f} | {ms:.2f} |", "",
             f"Latency target {target:.3f} ms: measured {ms:.3f} ms, {'met' if ms <= target else 'NOT met'}; "
             f"{full_ms / ms:.2f}x faster than the full model timed in the same run"
             + (f" (goal: {ratio:g}x, {'met' if full_ms / ms >= ratio else 'NOT met'})" if ratio else "")
             + f". F1 {f1 - f1_full:+.2f} points against the full model (goal: within 3): "
             f"{'met' if f1 >= f1_full - 3 else 'NOT met'}.",
             "", f"Times: the median of {args.rounds} rounds of {TIMED_RUNS} runs each, the two libraries "
             "alternating round by round, so that a drift of the machine's speed reaches both alike."]
    (out / "final.md").write_text("\n".join(lines) + "\n")
    (out / "final.json").write_text(json.dumps({"header": head, "arch": arch, "target_ms": target, "ms": ms,
                                                "full_ms": full_ms, "rounds": args.rounds, "eval": mine, "full_eval": full}, indent=1) + "\n")
    print("\n".join(lines[2:]))
    print(f"wrote {out / 'final.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
