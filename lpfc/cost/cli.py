"""``lpfc estimate`` and ``lpfc calibrate`` (registered by lpfc/cli.py's parser; docs/cost.md)."""
from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from ..errors import ArchitectureError, LpfcError


def register(sub) -> None:
    sp = sub.add_parser("estimate", help="predict a model's latency from its kernels (no build)",
                        description="Predict how long one inference takes once lpfc compiles the model: the "
                        "default pipeline's fused kernels, priced by this machine's calibration (lpfc calibrate), "
                        "else by an analytic profile (the host's ISA; published specs for arm64/opencl). "
                        "MODEL is an ONNX/.mlir file or an architecture JSON file (or give --arch).")
    sp.add_argument("model", nargs="?", help="model.onnx, model.mlir or arch.json")
    sp.add_argument("--arch", metavar="JSON", help='an architecture dict inline, e.g. \'{"layers": 4, "hidden": 512, '
                    '"heads": 8, "ffn": 2048, "seq": 128}\', or a JSON file')
    sp.add_argument("--target", default="host")
    sp.add_argument("--threads", type=int, default=1)
    sp.add_argument("--mode", choices=("model", "measure"), default="model",
                    help="model: predict (default); measure: compile and time it (ground truth)")
    sp.add_argument("--breakdown", action="store_true", help="print the per-kernel table")
    sp.add_argument("--json", action="store_true", help="print the estimate as JSON")
    sp.add_argument("--input-shape", action="append", metavar="NAME=DIMS",
                    help="fix a dynamic input shape, e.g. input_ids=1x128 (repeatable)")
    sp.set_defaults(func=cmd_estimate)

    sp = sub.add_parser("calibrate", help="measure this machine's kernel costs for lpfc estimate",
                        description="Compile and profile calibration models per kernel, fit the per-kernel-class "
                        "cost model and store it as JSON in $LPFC_CACHE_DIR/latency/ (one file per target, "
                        "processor, ISA features and thread count).")
    sp.add_argument("--target", default="host")
    sp.add_argument("--threads", default="1", help="thread counts, comma-separated (default 1)")
    sp.add_argument("--budget", type=float, metavar="SECONDS",
                    help="start no new calibration model after this many seconds (at least two are measured)")
    sp.add_argument("--models", type=int, metavar="N", help="use only the first N calibration models")
    sp.add_argument("--runs", type=int, default=20, help="timed runs per model (median; default 20)")
    sp.add_argument("--refit", action="store_true",
                    help="refit the stored calibrations from their samples; no measuring")
    sp.add_argument("--runner", metavar="COMMAND",
                    help="for a cross target: the command prefix that runs lpfc's driver on the device, e.g. a "
                         "script that pushes the files with adb and runs them there (docs/cost.md)")
    sp.add_argument("--compile-only", action="store_true",
                    help="build (and cache) the calibration libraries, measure nothing: a later run only measures")
    sp.set_defaults(func=cmd_calibrate)


def _arch_from(text: str, what: str) -> dict:
    p = Path(text)
    src = text
    try:
        if not text.lstrip().startswith("{"):
            src = p.read_text()
        arch = json.loads(src)
    except OSError as e:
        raise LpfcError(f"cannot read {what} {text!r}: {e.strerror or e}") from None
    except ValueError as e:
        raise ArchitectureError(f"{what} is not valid JSON: {e}") from None
    if not isinstance(arch, dict):
        raise ArchitectureError(f"{what} must be a JSON object with keys layers, hidden, heads, ffn, seq, batch, vocab")
    return arch


def cmd_estimate(args) -> int:
    from ..cli import parse_shape_args
    from .estimate import estimate_latency

    if args.arch and args.model:
        raise LpfcError("give a MODEL or --arch, not both")
    if args.arch:
        model = _arch_from(args.arch, "--arch")
    elif args.model:
        model = _arch_from(args.model, args.model) if args.model.endswith(".json") else args.model
        if isinstance(model, str) and not Path(model).is_file():
            raise LpfcError(f"model {model!r} does not exist")
    else:
        raise LpfcError("lpfc estimate needs a MODEL (.onnx, .mlir, arch .json) or --arch JSON")
    shapes = parse_shape_args(args.input_shape) if args.input_shape else None
    est = estimate_latency(model, target=args.target, threads=args.threads, mode=args.mode, input_shapes=shapes)
    if args.json:
        print(json.dumps(est.to_dict(), indent=1))
    elif args.breakdown:
        print(est.table())
    else:
        print(est)
    if not args.json and not args.breakdown and est.profile:
        print(f"profile: {est.profile}")      # which calibration file, analytic or spec profile priced it
    return 0


def cmd_calibrate(args) -> int:
    from .calibrate import CALIBRATION_ARCHS, calibrate

    try:
        threads = [int(t) for t in str(args.threads).split(",") if t.strip()]
        if not threads or min(threads) < 1:
            raise ValueError
    except ValueError:
        raise LpfcError(f"--threads takes positive integers separated by commas, not {args.threads!r}") from None
    say = (lambda s: print(f"[lpfc] {s}", file=sys.stderr, flush=True))
    if args.refit:
        from .calibrate import refit
        refit(args.target, threads, progress=say)
        return 0
    archs = CALIBRATION_ARCHS[:args.models] if args.models else CALIBRATION_ARCHS
    if args.models is not None and args.models < 2:
        raise LpfcError("--models needs at least 2 (the fit needs two models)")
    runner = shlex.split(args.runner) if args.runner else None
    if args.runner is not None and not runner:
        raise LpfcError("--runner is empty; give the command that runs a program on the device")
    calibrate(args.target, threads, archs, budget_s=args.budget, runs=args.runs,
              progress=say, runner=runner, compile_only=args.compile_only)
    return 0


__all__ = ["cmd_calibrate", "cmd_estimate", "register"]
