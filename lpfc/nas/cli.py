"""``lpfc nas`` (registered by lpfc/cli.py's parser; docs/nas.md)."""
from __future__ import annotations

import argparse
import json

from ..errors import NasError
from .reward import DEFAULT_WEIGHT, HARD_WEIGHT
from .space import SearchSpace, parse_choices


def register(sub) -> None:
    sp = sub.add_parser("nas", help="compiler-aware architecture search (CANAO): a faster model for a latency target",
                        description="Search BERT architectures (layers, hidden size, heads and FFN per layer) with "
                        "an LSTM controller trained by REINFORCE; accuracy from an evaluator (weights inherited from "
                        "MiniLM), latency from lpfc's own oracle. Writes trials.jsonl, pareto.png, best.json, "
                        "best.onnx and libbest.so (with its measured latency) to --out; a killed search resumes.")
    sp.add_argument("--latency-ms", type=float, required=True, help="the latency target in milliseconds")
    sp.add_argument("--target", default="host", help="the compilation target the latency is for (default host)")
    sp.add_argument("--threads", type=int, default=1, help="thread count the latency is for (default 1)")
    sp.add_argument("--trials", type=int, default=200, help="candidates to evaluate (default 200)")
    sp.add_argument("--evaluator", default="qa-distill", help="qa-distill (default), retrieval, synthetic, or "
                    "module:function taking (arch, **opts) and returning a score")
    sp.add_argument("--evaluator-opt", action="append", default=[], metavar="KEY=VALUE",
                    help="an option for the evaluator (value read as JSON, else as a string); repeatable")
    sp.add_argument("--out", required=True, metavar="DIR", help="output directory (resumes the search it holds)")
    sp.add_argument("--dask", metavar="ADDRESS", help="evaluate on a Dask cluster: a scheduler address, or 'local' "
                    "for a LocalCluster of --workers workers")
    sp.add_argument("--workers", type=int, default=1, help="candidates evaluated at once (default 1)")
    sp.add_argument("--dry-run", action="store_true", help="a smoke run: at most 4 trials, the evaluator's "
                    "smallest setting, every output written")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--latency-model", choices=("oracle", "flops"), default="oracle",
                    help="oracle: lpfc.estimate_latency (default); flops: a FLOP count scaled to ms (for comparison)")
    sp.add_argument("--hard-constraint", action="store_true",
                    help="MnasNet's hard reward (no bonus under the target, acc x target/lat over it)")
    sp.add_argument("--hard-weight", type=float, default=HARD_WEIGHT, metavar="BETA",
                    help="with --hard-constraint, the exponent over the target (default -1, MnasNet's; -4 where "
                         "accuracies differ by several times, docs/nas.md)")
    sp.add_argument("--reward-weight", type=float, default=DEFAULT_WEIGHT, help="the soft reward's exponent (default -0.07)")
    sp.add_argument("--phase1", type=float, default=0.3, metavar="FRACTION",
                    help="share of the trials in phase 1 (layer count searched); then it is fixed (default 0.3)")
    sp.add_argument("--constrained", action=argparse.BooleanOptionalAction, default=None,
                    help="draw each layer's heads and FFN only among the sizes that can still meet the target "
                         "(default: on with --hard-constraint, off otherwise; a resumed search keeps its own)")
    sp.add_argument("--no-export", action="store_true", help="write no best.onnx / libbest.so")
    g = sp.add_argument_group("search space (default: sub-networks of MiniLM-L6-H384)")
    d = SearchSpace()
    g.add_argument("--layers", default="1-6", help="layer counts, e.g. 1-6 or 2,4,6")
    g.add_argument("--hidden", default="128-384:64", help="hidden sizes (default 128-384:64)")
    g.add_argument("--heads", default="1-12", help="attention heads per layer (default 1-12)")
    g.add_argument("--ffn", default="128-1536:128", help="FFN sizes per layer (default 128-1536:128)")
    g.add_argument("--head-dim", default=str(d.head_dim), help="width of a head (default 32); 'none': hidden/heads")
    g.add_argument("--seq", type=int, default=d.seq, help=f"sequence length the latency is priced at (default {d.seq})")
    sp.set_defaults(func=cmd_nas)


def _opts(items) -> dict:
    out = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise NasError(f"--evaluator-opt {item!r} is not KEY=VALUE")
        try:
            out[k] = json.loads(v)
        except ValueError:
            out[k] = v
    return out


def cmd_nas(args) -> int:
    from .search import search

    hd = None if str(args.head_dim).lower() == "none" else parse_choices(args.head_dim, "--head-dim")
    if hd is not None and len(hd) != 1:
        raise NasError(f"--head-dim takes one number or 'none', not {args.head_dim!r}")
    space = SearchSpace(layers=parse_choices(args.layers, "--layers"), hidden=parse_choices(args.hidden, "--hidden"),
                        heads=parse_choices(args.heads, "--heads"), ffn=parse_choices(args.ffn, "--ffn"),
                        head_dim=hd[0] if hd else None, seq=args.seq)
    res = search(latency_ms=args.latency_ms, target=args.target, threads=args.threads, trials=args.trials,
                 evaluator=args.evaluator, evaluator_opts=_opts(args.evaluator_opt), out=args.out, space=space,
                 seed=args.seed, latency_model=args.latency_model, hard_constraint=args.hard_constraint,
                 reward_weight=args.reward_weight, hard_weight=args.hard_weight, workers=args.workers, dask=args.dask, dry_run=args.dry_run,
                 phase1_fraction=args.phase1, export=not args.no_export, constrained=args.constrained)
    print(res.summary())
    return 0


__all__ = ["cmd_nas", "register"]
