"""Issue #15 item 7: what compiler-awareness buys -- the same search with the latency oracle and with a FLOP proxy.

    python -m bench.nas                                    # the issue's setting: qa-distill, 200 trials, seq 384,
                                                           #   target = 1/3 of the full MiniLM-L6's measured latency
    python -m bench.nas --evaluator retrieval --trials 8 --seq 64 --layers 1-3 --full-ms 0   # a short check

Both searches run with the same settings and seed (host, ``--threads``, the default MiniLM sub-network
space at ``--seq``); only ``--latency-model`` differs. The target is the full MiniLM-L6 encoder's latency
divided by ``--ratio`` (3): measured (``lpfc.estimate_latency(mode="measure")`` compiles and times the
space's largest architecture; latency does not depend on the weights), or the oracle's prediction with
``--full-ms 0``, or a figure given with ``--full-ms MS``. Each search exports and compiles its best
architecture and times it (lpfc.nas: libbest.so, median of 20 runs), so the table compares what each
search *delivers*: the measured latency against the target, and the evaluator's score. Then, with
``--rounds R`` (default 5; 0: skip), the full architecture is exported the evaluator's way and compiled too
(``--out``/full/, reused while the architecture is the same), and it and every search's libbest.so are timed
alternating over R rounds (bench.alternate): the "× full" column is each pick's speed-up over the full model
measured in the same rounds, the ratio the target is about, free of the machine's drift between searches.
A finished search given again with the same settings and --out resumes without new trials, so re-running a
bench command re-times its picks.

Writes nas.md, nas.json and each search's own directory (trials.jsonl, pareto.png, best.*) to --out.
The issue's final step (a distillation of <= 1 hour of the chosen model, then SQuAD dev F1 on the full
set) is the qa-distill evaluator's; it is not run here.
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

from bench.peak import cpu_name
from lpfc.nas.reward import DEFAULT_WEIGHT, HARD_WEIGHT


def full_library(full: dict, args, out: Path) -> Path:
    """The full architecture compiled like a search's pick (its evaluator's export, so the same graph with the
    same head), cached in OUT/full/ while the architecture and evaluator are the same: latency does not depend
    on the weights."""
    from lpfc.nas.cli import _opts
    from lpfc.nas.outputs import compile_best, export_onnx

    d = out / "full"
    d.mkdir(parents=True, exist_ok=True)
    key = json.dumps({"arch": full, "evaluator": args.evaluator, "target": "host"}, sort_keys=True)
    lib, stamp = d / "libfull.so", d / "arch.json"
    if lib.exists() and stamp.exists() and stamp.read_text() == key:
        return lib
    opts = {k: v for k, v in _opts(args.evaluator_opt).items() if k != "dry_run"}
    onnx_path = export_onnx(full, args.evaluator, opts, d / "full.onnx")
    compile_best(onnx_path, lib, "host")
    stamp.write_text(key)
    return lib


def time_against_full(full: dict, rows: list, args, out: Path, target: float) -> dict | None:
    """Times the full model and every pick alternating (bench.alternate); adds alternating_ms and speedup to
    each row that has a libbest.so."""
    from bench.alternate import interleaved_ms
    from lpfc.nas.outputs import TIMED_RUNS

    picks = [(r, out / r["latency_model"] / "libbest.so") for r in rows]
    picks = [(r, lib) for r, lib in picks if lib.exists()]
    if not picks:
        return None
    t0 = time.perf_counter()
    full_lib = full_library(full, args, out)
    print(f"timing the full model and {len(picks)} pick(s) alternating, {args.rounds} rounds ...", flush=True)
    times = interleaved_ms([full_lib] + [lib for _, lib in picks], args.threads, args.rounds)
    for (r, _), ms in zip(picks, times[1:]):
        r.update(alternating_ms=ms, speedup=times[0] / ms, meets_target_alternating=ms <= target)
    return {"full_ms": times[0], "rounds": args.rounds, "runs": TIMED_RUNS, "full_lib": str(full_lib),
            "seconds": round(time.perf_counter() - t0, 1)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.nas", description=__doc__.splitlines()[0])
    p.add_argument("--evaluator", default="qa-distill")
    p.add_argument("--evaluator-opt", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--trials", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seq", type=int, default=384)
    p.add_argument("--layers", default="1-6")
    p.add_argument("--hidden", default="128-384:64")
    p.add_argument("--ratio", type=float, default=3.0, help="target = full model's latency / ratio (default 3)")
    p.add_argument("--full-ms", type=float, help="the full model's latency in ms (0: the oracle's prediction; "
                   "default: measure it)")
    p.add_argument("--latency-ms", type=float, help="the target itself (overrides --ratio/--full-ms)")
    p.add_argument("--models", default="oracle,flops", help="latency models to compare (default oracle,flops)")
    p.add_argument("--margin", type=float, default=0.0, help="search for target x (1 - MARGIN), judge against the "
                   "target: room for the oracle's error and the machine's drift (default 0)")
    p.add_argument("--hard-constraint", action="store_true", help="MnasNet's hard reward (lpfc nas --hard-constraint)")
    p.add_argument("--hard-weight", type=float, default=HARD_WEIGHT, help="its exponent over the target (default -1)")
    p.add_argument("--constrained", action=argparse.BooleanOptionalAction, default=None,
                   help="lpfc nas --constrained (default: on with --hard-constraint)")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--dask")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--rounds", type=int, default=5, help="alternating timing rounds of the full model and each "
                   "search's pick (default 5; 0: skip)")
    p.add_argument("--out", default=f"results/nas-{time.strftime('%Y-%m-%d')}")
    args = p.parse_args(argv)

    import lpfc
    from lpfc.nas import SearchSpace, search
    from lpfc.nas.cli import _opts
    from lpfc.nas.space import parse_choices

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    space = SearchSpace(layers=parse_choices(args.layers, "--layers"), hidden=parse_choices(args.hidden, "--hidden"),
                        seq=args.seq)
    full = SearchSpace(seq=args.seq).largest()      # MiniLM-L6-H384 itself, whatever --layers/--hidden restrict
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        predicted_full = lpfc.estimate_latency(full, target="host", threads=args.threads).ms
        if args.latency_ms:
            full_ms, how = None, "given"
        elif args.full_ms is None:
            # in this run, not a stored figure from another hour (cache=False)
            full_ms = lpfc.estimate_latency(full, target="host", threads=args.threads, mode="measure", runs=60,
                                            cache=False).ms
            how = "measured"
        elif args.full_ms == 0:
            full_ms, how = predicted_full, "oracle-predicted"
        else:
            full_ms, how = args.full_ms, "given"
    target = args.latency_ms or full_ms / args.ratio
    if not 0.0 <= args.margin < 1.0:
        raise SystemExit(f"--margin must be within [0, 1), got {args.margin}")
    search_target = target * (1.0 - args.margin)
    head = (f"bench.nas {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; CPU {cpu_name()}; host, "
            f"{args.threads} thread(s); evaluator {args.evaluator}; {args.trials} trials; seq {args.seq}; seed {args.seed}; reward "
            + (f"hard, {args.hard_weight:g} over the target" if args.hard_constraint else f"soft ({DEFAULT_WEIGHT:g})")
            + f"; constrained draws {'on' if (args.hard_constraint if args.constrained is None else args.constrained) else 'off'}")
    print(head, flush=True)
    if full_ms:
        print(f"full model {json.dumps(full)}: {how} {full_ms:.3f} ms (oracle predicts {predicted_full:.3f} ms, "
              f"{time.perf_counter() - t0:.0f} s); target = {full_ms:.3f} / {args.ratio:g} = {target:.3f} ms", flush=True)
    rows = []
    for model in [m for m in args.models.split(",") if m]:
        t1 = time.perf_counter()
        res = search(latency_ms=search_target, target="host", threads=args.threads, trials=args.trials,
                     evaluator=args.evaluator, evaluator_opts=_opts(args.evaluator_opt), out=out / model, space=space,
                     seed=args.seed, latency_model=model,
                     hard_constraint=args.hard_constraint, hard_weight=args.hard_weight, constrained=args.constrained,
                     workers=args.workers, dask=args.dask, dry_run=args.dry_run)
        b = res.best
        rows.append({"latency_model": model, "arch": b.arch, "accuracy": b.accuracy, "search_latency_ms": b.latency_ms,
                     "oracle_ms": res.oracle_ms, "measured_ms": res.measured_ms,
                     "meets_target_measured": res.measured_ms is not None and res.measured_ms <= target,
                     "trials": len(res.trials), "seconds": time.perf_counter() - t1})
        print(res.summary(), flush=True)
    head_to_head = None
    if args.rounds > 0 and rows:
        head_to_head = time_against_full(full, rows, args, out, target)
    lines = [f"# {head}", "",
             (f"Target: {target:.3f} ms = the full model's {how} {full_ms:.3f} ms / {args.ratio:g}" if full_ms else
              f"Target: {target:.3f} ms (given)")
             + (f"; searched for {search_target:.3f} ms (margin {args.margin:g})" if args.margin else ""), "",
             "| latency model | best arch (layers x hidden; heads; ffn) | score | its model's ms | oracle ms | "
             "measured ms | meets target (measured) | alternating ms | × full | trials | wall |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        a = r["arch"]
        meas = f"{r['measured_ms']:.3f}" if r["measured_ms"] is not None else "-"
        alt = (f"{r['alternating_ms']:.3f} | {r['speedup']:.2f}×" if r.get("alternating_ms") else "- | -")
        lines.append(f"| {r['latency_model']} | {a['layers']}x{a['hidden']}; {a['heads']}; {a['ffn']} | "
                     f"{r['accuracy']:.4f} | {r['search_latency_ms']:.3f} | {r['oracle_ms']:.3f} | {meas} | "
                     f"{'yes' if r['meets_target_measured'] else 'no'} | {alt} | {r['trials']} | "
                     f"{r['seconds'] / 60:.1f} min |")
    if head_to_head:
        lines += ["", f"Alternating: the full model {head_to_head['full_ms']:.3f} ms and each pick, median of "
                      f"{args.rounds} rounds of {head_to_head['runs']} runs, {args.threads} thread(s), one library "
                      f"after the other in every round (goal: {args.ratio:g}× the full model's speed)."]
    (out / "nas.md").write_text("\n".join(lines) + "\n")
    (out / "nas.json").write_text(json.dumps({"header": head, "target_ms": target, "search_target_ms": search_target,
                                              "margin": args.margin, "full_ms": full_ms,
                                              "full_how": how, "rows": rows, "head_to_head": head_to_head},
                                             indent=1) + "\n")
    print("\n".join(lines[2:]))
    print(f"wrote {out / 'nas.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
