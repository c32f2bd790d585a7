"""The ``lpfc`` command line.

    lpfc import model.onnx [-o model.mlir]            print the graph IR
    lpfc opt model.onnx -p 'canonicalize,cse'         run a pass pipeline, print the IR
    lpfc compile model.onnx -o libmodel.so [--target host] [--tune [--tune-budget SECONDS]] [--pipeline P] [--no-fusion]
    lpfc run model.onnx|libmodel.so --inputs feed.npz --outputs out.npz [--pipeline default] [--threads N]
    lpfc run libmodel.so --profile [--runs N] [--threads N]        (per-kernel times)
    lpfc targets                                      the compilation targets and their toolchains
    lpfc explain model.onnx [--format json] [--dot g.dot] [--svg g.svg]   the fusion report
    lpfc ops                                          list the supported ONNX ops

Errors in the input (a bad model, a missing input, a wrong shape) print one
``lpfc: error: ...`` line and exit with status 1; usage errors exit with 2.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from . import __version__
from .errors import InputError, LpfcError
from .frontend.load import load_module
from .progress import Progress, StderrProgress


def parse_shape_args(items: Optional[Sequence[str]]) -> dict:
    """``--input-shape input_ids=1x128`` -> {"input_ids": (1, 128)}."""
    shapes = {}
    for item in items or ():
        name, sep, dims = item.rpartition("=")
        if not sep or not name:
            raise InputError(f"--input-shape {item!r} is not NAME=DIMS (e.g. input_ids=1x128)")
        try:
            shapes[name] = tuple(int(d) for d in dims.split("x")) if dims else ()
        except ValueError:
            raise InputError(f"--input-shape {item!r}: dimensions must be integers separated by 'x'") from None
    return shapes


def read_feeds(inputs_npz: Optional[str], input_items: Optional[Sequence[str]]) -> dict:
    feeds = {}
    if inputs_npz:
        try:
            with np.load(inputs_npz, allow_pickle=False) as z:
                feeds.update({k: z[k] for k in z.files})
        except FileNotFoundError:
            raise InputError(f"inputs file {inputs_npz!r} does not exist") from None
        except Exception as e:
            raise InputError(f"cannot read inputs file {inputs_npz!r} as .npz: {e}") from None
    for item in input_items or ():
        name, sep, file = item.partition("=")
        if not sep or not name or not file:
            raise InputError(f"--input {item!r} is not NAME=FILE.npy")
        try:
            feeds[name] = np.load(file, allow_pickle=False)
        except FileNotFoundError:
            raise InputError(f"input file {file!r} (for {name!r}) does not exist") from None
        except Exception as e:
            raise InputError(f"cannot read {file!r} (for {name!r}) as .npy: {e}") from None
    return feeds


# -- commands -------------------------------------------------------------------------------
def cmd_import(args) -> int:
    from .ir.printer import print_module

    progress = StderrProgress(args.quiet)
    m = load_module(args.model, parse_shape_args(args.input_shape), progress)
    text = print_module(m, resources="inline" if args.with_weights else "none")
    if args.output:
        Path(args.output).write_text(text)
        if not args.quiet:
            print(f"[lpfc] wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def run_pipeline(module, args, progress: Progress) -> None:
    """Run ``args.pipeline`` (if any) with the debugging options of ``opt``."""
    from .passes import Pipeline

    text = getattr(args, "pipeline", None)
    if not text:
        return
    pipeline = Pipeline.parse(text)
    with progress.step(f"running pipeline {pipeline}"):
        pipeline.run(module, verify_each=getattr(args, "verify_each", False),
                     print_ir_after_all=getattr(args, "print_ir_after_all", False),
                     timing=getattr(args, "pass_timing", False), out=sys.stderr)


def cmd_opt(args) -> int:
    from .ir.printer import print_module
    from .passes import registered_passes

    if args.list_passes:
        for name, cls in sorted(registered_passes().items()):
            opts = " ".join(f"{k}={cls.options[k].default}" for k in cls.options)
            print(f"{name:16} {cls.summary}" + (f"  [{opts}]" if opts else ""))
        return 0
    if not args.model:
        raise LpfcError("opt needs a model (or --list-passes)")
    progress = StderrProgress(args.quiet)
    m = load_module(args.model, parse_shape_args(args.input_shape), progress)
    run_pipeline(m, args, progress)
    text = print_module(m, resources="inline" if args.with_weights else "none")
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def cmd_run(args) -> int:
    if args.model.endswith(".so"):
        return run_library(args)
    from .interp import run_function

    if args.threads is not None:
        raise InputError("--threads applies to a compiled library (.so); the interpreter is single-threaded")
    if args.profile or args.runs is not None:
        raise InputError("--profile and --runs apply to a compiled library (.so)")
    progress = StderrProgress(args.quiet)
    m = load_module(args.model, parse_shape_args(args.input_shape), progress)
    run_pipeline(m, args, progress)
    f = m.main
    feeds = read_feeds(args.inputs, args.input)
    if not feeds:
        raise InputError("no inputs given; use --inputs feed.npz or --input NAME=FILE.npy; the model's inputs are "
                         + ", ".join(f"{n!r} {a.type}" for n, a in zip(f.input_names, f.args)))
    with progress.step("interpreting"):
        outs = run_function(f, feeds)
    print_outputs(outs, args)
    return 0


def print_outputs(outs: dict, args) -> None:
    if args.outputs:
        np.savez(args.outputs, **outs)
        if not args.quiet:
            print(f"[lpfc] wrote {args.outputs}", file=sys.stderr)
    for name, a in outs.items():
        print(f"{name}: {a.dtype}{list(a.shape)} min {a.min() if a.size else 0:.6g} "
              f"max {a.max() if a.size else 0:.6g} mean {a.mean() if a.size else 0:.6g}")


def run_library(args) -> int:
    """``lpfc run libmodel.so``: run a compiled library through lpfc.load."""
    from .runtime.session import load

    for flag, value in (("--pipeline", args.pipeline), ("--input-shape", args.input_shape)):
        if value:
            raise InputError(f"{flag} applies to a model, not to a compiled library (shapes and passes are "
                             f"fixed when it is compiled)")
    progress = StderrProgress(args.quiet)
    with progress.step(f"loading {Path(args.model).name}"):
        sess = load(args.model, threads=args.threads)
    feeds = read_feeds(args.inputs, args.input)
    if not feeds and getattr(args, "profile", False):
        feeds = synthetic_feeds(sess.get_inputs())
        if not args.quiet:
            print("[lpfc] no inputs given: profiling with synthetic ones (floats ~ N(0,1), integers 0, "
                  "booleans true)", file=sys.stderr)
    if not feeds:
        raise InputError("no inputs given; use --inputs feed.npz or --input NAME=FILE.npy; the model's inputs are "
                         + ", ".join(f"{i.name!r} {i.dtype.name}{i.shape}" for i in sess.get_inputs()))
    if getattr(args, "profile", False):
        runs = args.runs if args.runs is not None else 20
        if runs < 1:
            raise InputError(f"--runs must be at least 1, not {runs}")
        with progress.step(f"profiling {runs} runs ({sess.threads} threads)"):
            prof = sess.profile(feeds, runs=runs)
        peak, where = profile_peak(prof.threads)
        print(prof.table(peak_gflops=peak, peak_label=where))
        return 0
    how = f" under {Path(sess.runner[0]).name}" if getattr(sess, "runner", None) else ""
    with progress.step(f"running{how} ({sess.threads} threads)"):
        outs = sess.run(feeds)
    print_outputs(outs, args)
    return 0


def profile_peak(threads: int) -> tuple:
    """(fp32 peak GFLOP/s at ``threads`` threads, where it came from) for the profile's share-of-peak column:
    $LPFC_PEAK_GFLOPS (per core, e.g. measured by ``python -m bench peak``), else the analytic one from the
    CPU's flags and clock (lpfc/cost/analytic.py)."""
    env = os.environ.get("LPFC_PEAK_GFLOPS", "")
    try:
        if env and float(env) > 0:
            return float(env) * threads, f"LPFC_PEAK_GFLOPS={env} per core x {threads}"
    except ValueError:
        pass
    from .cost.analytic import host_profile
    p = host_profile()
    return sum(p.core_gflops[:threads]), f"analytic: {p.label}; LPFC_PEAK_GFLOPS=per-core GFLOP/s sets a measured one"


def synthetic_feeds(inputs) -> dict:
    """Inputs for profiling when none are given: floats N(0, 1), integers 0, booleans true."""
    rng = np.random.default_rng(0)
    feeds = {}
    for i in inputs:
        if np.issubdtype(i.dtype, np.floating):
            feeds[i.name] = rng.standard_normal(i.shape).astype(i.dtype)
        elif i.dtype == np.bool_:
            feeds[i.name] = np.ones(i.shape, np.bool_)
        else:
            feeds[i.name] = np.zeros(i.shape, i.dtype)
    return feeds


def cmd_compile(args) -> int:
    from .compiler import compile as compile_model

    if args.output is None and args.emit_source is None:
        raise InputError("lpfc compile needs -o LIB.so (the library), --emit-source DIR (the sources), or both")
    progress = StderrProgress(args.quiet)
    result = compile_model(args.model, args.output, target=args.target, pipeline=args.pipeline,
                           fusion=not args.no_fusion, tune=args.tune or args.tune_budget is not None,
                           threads=args.threads, tune_budget=args.tune_budget,
                           emit_source=args.emit_source, progress=progress,
                           input_shapes=parse_shape_args(args.input_shape), cpu=args.cpu,
                           api_level=args.android_api, ndk=args.ndk, compiler=args.compiler, force=args.force,
                           precision=args.precision)
    if not args.quiet:
        print(result.summary())
    return 0


def cmd_targets(args) -> int:
    from .codegen.toolchain import format_targets, list_targets

    print(format_targets(list_targets(probe_devices=not args.no_probe)))
    return 0


def cmd_explain(args) -> int:
    from .explain import explain, require_dot, to_dot, to_json, to_text, write_svg

    if args.svg:
        require_dot()  # fail before the work, not after it
    progress = StderrProgress(args.quiet)
    report = explain(args.model, pipeline=args.pipeline, input_shapes=parse_shape_args(args.input_shape),
                     progress=progress)
    text = to_json(report) if args.format == "json" else to_text(report)
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    if args.dot or args.svg:
        dot = to_dot(report)
        if args.dot:
            Path(args.dot).write_text(dot)
        if args.svg:
            write_svg(dot, args.svg)
    return 0


def cmd_ops(args) -> int:
    from .frontend.onnx_loader import MAX_OPSET, MIN_OPSET
    from .frontend.onnx_ops import SUPPORTED_OPS

    print(f"{len(SUPPORTED_OPS)} ONNX ops (default domain, opsets {MIN_OPSET}-{MAX_OPSET}):")
    for name in SUPPORTED_OPS:
        print(f"  {name}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lpfc", description="lpfc: an optimizing compiler for transformer models "
                                "(ONNX -> graph IR -> LP-Fusion -> polyhedral code generation).")
    p.add_argument("--version", action="version", version=f"lpfc {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def common(sp):
        sp.add_argument("model", help="an ONNX model (.onnx) or lpfc textual IR (.mlir)")
        sp.add_argument("--input-shape", action="append", metavar="NAME=DIMS",
                        help="fix a dynamic input shape, e.g. input_ids=1x128 (repeatable)")
        sp.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")

    sp = sub.add_parser("import", help="import a model and print its graph IR",
                        description="Import an ONNX model into lpfc's graph IR and print it. Large constants are "
                                    "printed as dense_resource<name> references; --with-weights appends their bytes.")
    common(sp)
    sp.add_argument("-o", "--output", metavar="FILE", help="write the IR to FILE instead of stdout")
    sp.add_argument("--with-weights", action="store_true",
                    help="append the resource section with every large constant (hex; big for real models)")
    sp.set_defaults(func=cmd_import)

    sp = sub.add_parser("opt", help="run a pass pipeline and print the resulting IR",
                        description="Import a model, run a pass pipeline on it (as mlir-opt does) and print the "
                                    "resulting graph IR. Pipelines are comma-separated pass names with options in "
                                    "braces, e.g. 'canonicalize,cse,fold-constants{max-elements=1024}'; 'default' "
                                    "is the pipeline lpfc compile uses.")
    sp.add_argument("model", nargs="?", help="an ONNX model (.onnx) or lpfc textual IR (.mlir)")
    sp.add_argument("--input-shape", action="append", metavar="NAME=DIMS",
                    help="fix a dynamic input shape, e.g. input_ids=1x128 (repeatable)")
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    sp.add_argument("-p", "--pipeline", default="default", metavar="PIPELINE", help="the pass pipeline (default: default)")
    sp.add_argument("-o", "--output", metavar="FILE", help="write the IR to FILE instead of stdout")
    sp.add_argument("--with-weights", action="store_true", help="append the resource section")
    sp.add_argument("--print-ir-after-all", action="store_true", help="print the IR to stderr after every pass")
    sp.add_argument("--pass-timing", action="store_true", help="print per-pass time and op counts to stderr")
    sp.add_argument("--verify-each", action="store_true", help="run the verifier after every pass")
    sp.add_argument("--list-passes", action="store_true", help="list the registered passes and their options")
    sp.set_defaults(func=cmd_opt)

    sp = sub.add_parser("compile", help="compile a model into a self-contained native library (.so + .h)",
                        description="Compile an ONNX model into a shared library with the weights embedded, the C "
                                    "runtime linked in and a C header next to it (libx.so -> libx.h). Prints the "
                                    "kernels, the arena and weights sizes and the time per stage.")
    common(sp)
    sp.add_argument("-o", "--output", metavar="LIB.so", help="the library to write (its directory must exist; "
                    "the header goes next to it: LIB.h). Optional with --emit-source (sources only)")
    sp.add_argument("--force", action="store_true", help="overwrite an existing LIB.h that lpfc did not generate")
    sp.add_argument("--target", default="host", metavar="TARGET", help="what to compile for (default: host; "
                    "see lpfc targets)")
    sp.add_argument("--pipeline", default="default", metavar="PIPELINE", help="the pass pipeline (default: default)")
    sp.add_argument("--no-fusion", action="store_true", help="run the pipeline without lp-fusion: one kernel per "
                    "graph op")
    sp.add_argument("--tune", action="store_true", help="pick kernel variants by measuring them (lpfc.tune)")
    sp.add_argument("--tune-budget", type=float, metavar="SECONDS", help="with --tune (implied): stop measuring "
                    "after this many seconds; kernels not reached keep their default variant")
    sp.add_argument("--threads", type=int, metavar="N", help="thread count to tune for")
    sp.add_argument("--emit-source", metavar="DIR", help="also write a CMake source package of the model to DIR "
                    "(generated C++, weights, runtime, header, CMakeLists.txt, an aarch64 toolchain file); DIR must "
                    "be new, empty or a previous package (lpfc-manifest.json lists lpfc's files; only those are "
                    "replaced). Without -o: the sources only, no compiler needed")
    sp.add_argument("--android-api", type=int, metavar="N", help="Android API level for arm64-android (default 29)")
    sp.add_argument("--ndk", metavar="PATH", help="the Android NDK for arm64-android (default: $ANDROID_NDK_HOME, "
                    "else $ANDROID_NDK_ROOT)")
    sp.add_argument("--compiler", metavar="CC", help="the C compiler for host or arm64-linux (e.g. clang: "
                    "clang --target=aarch64-linux-gnu for arm64-linux); never chosen silently")
    sp.add_argument("--cpu", metavar="NAME", help="the CPU to generate code for: -mcpu on arm64 targets "
                    "(default cortex-a77), -march on x86-64 (default native)")
    sp.add_argument("--precision", choices=("fp32", "fp16", "int8"), default="fp32",
                    help="the arithmetic of the GEMM kernels: fp32 (default); fp16 = half-precision weights and FP16 "
                         "arithmetic, fp32 accumulation (arm64 targets and opencl; docs/fp16.md); int8 = weights "
                         "quantized per output channel, activations per row at run time (C++ targets; docs/int8.md)")
    sp.set_defaults(func=cmd_compile)

    sp = sub.add_parser("targets", help="list the compilation targets and their toolchains",
                        description="List every target lpfc can compile for, with the compiler, flags and ISA "
                                    "features found on this machine and whether the result runs here.")
    sp.add_argument("--no-probe", action="store_true", help="do not probe OpenCL devices")
    sp.set_defaults(func=cmd_targets)

    sp = sub.add_parser("run", help="run a model (reference interpreter) or a compiled library",
                        description="Run a model through lpfc's numpy reference interpreter, or a library built by "
                                    "lpfc compile (a path ending in .so). Inputs come from an "
                                    ".npz keyed by input name and/or --input NAME=FILE.npy; outputs are printed "
                                    "and optionally saved as .npz keyed by output name.")
    common(sp)
    sp.add_argument("--threads", type=int, metavar="N", help="threads for a compiled library (default: all "
                    "processors)")
    sp.add_argument("--inputs", metavar="FEED.npz", help="inputs as an .npz keyed by input name")
    sp.add_argument("--input", action="append", metavar="NAME=FILE.npy", help="one input from a .npy (repeatable)")
    sp.add_argument("--outputs", metavar="OUT.npz", help="save the outputs as an .npz keyed by output name")
    sp.add_argument("--pipeline", metavar="PIPELINE", help="run this pass pipeline before interpreting "
                    "('default' for the one lpfc compile uses)")
    sp.add_argument("--profile", action="store_true", help="compiled library: time every kernel call and print a "
                    "table (median over --runs; synthetic inputs when none are given)")
    sp.add_argument("--runs", type=int, metavar="N", help="runs to take the median over with --profile (default 20)")
    sp.set_defaults(func=cmd_run)

    sp = sub.add_parser("explain", help="the fusion report: kernels, what each holds, computation counts",
                        description="Import a model, run the pass pipeline (the default one unless --pipeline says "
                                    "otherwise) and report what LP-Fusion did: ONNX nodes, graph ops after clean-up, "
                                    "fused kernels, the computation count before and after, and every kernel with "
                                    "its kind, name and the ops (and ONNX nodes) it holds.")
    common(sp)
    sp.add_argument("--pipeline", default="default", metavar="PIPELINE",
                    help="the pass pipeline (default: default); the passes before lp-fusion count as clean-up")
    sp.add_argument("--format", choices=("text", "json"), default="text", help="report format (default: text)")
    sp.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    sp.add_argument("--dot", metavar="FILE", help="also write the fused graph as Graphviz DOT")
    sp.add_argument("--svg", metavar="FILE", help="also render the fused graph as SVG (needs Graphviz's dot)")
    sp.set_defaults(func=cmd_explain)

    sp = sub.add_parser("ops", help="list the supported ONNX ops", description="List the ONNX ops lpfc imports.")
    sp.set_defaults(func=cmd_ops)
    sub.add_parser("bench", help="the benchmark harness (python -m bench; lpfc bench --help)", add_help=False)
    from .cost.cli import register as register_cost  # lpfc estimate, lpfc calibrate (docs/cost.md)
    register_cost(sub)
    from .nas.cli import register as register_nas  # lpfc nas (docs/nas.md)
    register_nas(sub)
    return p


def cmd_bench(argv: Sequence[str]) -> int:
    """Forwards to ``python -m bench`` from the checkout lpfc runs from (bench/ is not installed)."""
    import os
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    if not (root / "bench" / "__main__.py").is_file():
        print(f"lpfc: error: lpfc bench needs a source checkout of lpfc (no bench/ next to {root / 'lpfc'}); "
              f"install lpfc with pip install -e . from one", file=sys.stderr)
        return 1
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    return subprocess.call([sys.executable, "-m", "bench", *argv], env=env)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"lpfc: warning: {message}", file=sys.stderr if file is None else file)


def main(argv: Optional[Sequence[str]] = None, handle_signals: Optional[bool] = None) -> int:
    """The command line. ``handle_signals`` (the ``lpfc`` command, ``python -m lpfc``; by default when
    ``argv`` is None, i.e. called as a program): SIGINT, SIGTERM and SIGHUP stop lpfc cleanly with one
    line and status 128 + the signal (lpfc/cli_signals.py)."""
    from . import cli_signals

    if handle_signals if handle_signals is not None else argv is None:
        cli_signals.install()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        return cmd_bench(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():   # lpfc's warnings (e.g. a TuningWarning) as one line each
            warnings.showwarning = _show_warning
            return args.func(args)
    except LpfcError as e:
        print(f"lpfc: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:   # writing -o / --dot / --svg / --outputs: a missing directory, a full disk, ...
        where = f" {e.filename!r}" if e.filename else ""
        print(f"lpfc: error: cannot write or read{where}: {e.strerror or e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:   # cli_signals.Stopped too: the clean-up ran while it unwound
        line, status = cli_signals.message(e)
        print(line, file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
