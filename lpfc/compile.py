"""``lpfc.compile``: an ONNX model (or graph-IR module) -> a self-contained native library.

Stages (each timed; ``progress`` hears about each)::

    import      ONNX -> graph IR
    pipeline    the pass pipeline (default: canonicalize ... lp-fusion; --no-fusion drops lp-fusion)
    plan        the static memory plan (arena offsets)
    emit        one KernelSource per kernel op (emitter_for(op, target)); the variant comes from the
                tuning database, else (--tune) is measured, else is the emitter's default
    generate    model.cc, kernels_*.cc, weights.bin (model_gen)
    build       the C++ and the runtime -> lib*.so (-O3, OpenMP, warnings as errors), plus lib*.h
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Union

from .errors import LpfcError, UnsupportedError

NO_FUSION_PIPELINE = "canonicalize,fold-constants,cse,dce"
STAGES = ("import", "pipeline", "plan", "emit", "generate", "build")


@dataclass
class CompileResult:
    library: Path
    header: Path
    target: str
    kernels: int                       # kernel calls per inference
    unique_kernels: int                # distinct kernel functions after deduplication
    kinds: dict                        # kernel kind -> count
    arena_bytes: int
    weights_bytes: int
    stage_seconds: dict = field(default_factory=dict)
    plan_summary: str = ""
    source_dir: Optional[Path] = None  # where the generated source was kept (emit_source)
    pipeline: str = ""
    notes: list = field(default_factory=list)

    @property
    def total_seconds(self) -> float:
        return sum(self.stage_seconds.values())

    def summary(self) -> str:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.kinds.items()))
        stages = ", ".join(f"{s} {t:.2f} s" for s, t in self.stage_seconds.items())
        lines = [f"library   {self.library} ({self.library.stat().st_size / 1e6:.1f} MB), header {self.header.name}",
                 f"target    {self.target}; pipeline {self.pipeline}",
                 f"kernels   {self.kernels} calls, {self.unique_kernels} distinct functions ({kinds})",
                 f"memory    {self.plan_summary}; weights {_human(self.weights_bytes)}",
                 f"time      {self.total_seconds:.2f} s ({stages})"]
        lines += [f"note      {n}" for n in self.notes]
        return "\n".join(lines)


def _human(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


class _Stages:
    def __init__(self, progress: Optional[Callable[[str], object]]):
        self.progress = progress
        self.seconds: dict[str, float] = {}

    def run(self, stage: str, what: str, fn):
        """Runs fn() as ``stage``; ``progress(what)`` may return a context manager (the CLI's Progress.step)."""
        t0 = time.perf_counter()
        ctx = self.progress(what) if self.progress else None
        if ctx is not None and hasattr(ctx, "__enter__"):
            with ctx:
                result = fn()
        else:
            result = fn()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - t0
        return result


def _kernel_symbol(i: int) -> str:
    return f"lpfc_k{i:04d}"


def _choose(op, target, emitter, tune: bool, threads: Optional[int], stats: dict):
    """The variant to emit: the tuning database's choice when it has one; else, with --tune, the
    fastest measured (with ``threads`` threads, stored for next time); else the emitter's default."""
    from .tune import select_variant

    r = select_variant(op, target, emitter, tune=tune, num_threads=threads or 1)
    stats[r.source] = stats.get(r.source, 0) + 1
    return r.choice


def compile(model: Union[str, os.PathLike, "object"], output: Union[str, os.PathLike], target: str = "host",
            pipeline: str = "default", fusion: bool = True, tune: bool = False, threads: Optional[int] = None,
            emit_source: Optional[Union[str, os.PathLike]] = None, progress: Optional[Callable] = None,
            input_shapes: Optional[dict] = None, sanitize=(), header: Optional[Union[str, os.PathLike]] = None,
            jobs: Optional[int] = None) -> CompileResult:
    """Compiles ``model`` (an .onnx / .mlir path or a graph-IR Module) into the shared library ``output``.

    ``fusion=False`` runs ``pipeline`` without ``lp-fusion`` (the default pipeline becomes
    ``canonicalize,fold-constants,cse,dce``). ``emit_source`` keeps the generated C++ and weights
    in that directory. The C header is written next to the library (``libx.so`` -> ``libx.h``).
    ``sanitize=("address", "undefined")`` builds an instrumented library (for tests).
    """
    from .codegen.kernel_source import emitter_for
    from .codegen.memory_plan import plan_function
    from .codegen.model_gen import generate_model, header_text
    from .codegen.targets import get_target
    from .codegen.toolchain import compile_shared, find_toolchain
    from .ir.core import Module
    from .passes import Pipeline
    from .passes.fused_blocks import kernels as kernel_ops

    output = Path(output)
    if output.suffix != ".so":
        raise LpfcError(f"output {str(output)!r} should be a shared library named *.so (e.g. libmodel.so)")
    if output.exists() and output.is_dir():
        raise LpfcError(f"output {str(output)!r} is a directory")
    tgt = get_target(target)
    toolchain = find_toolchain(tgt)  # fail early when the compiler is missing
    stages = _Stages(progress)
    notes: list[str] = []

    # import
    if isinstance(model, Module):
        module, model_file = model, "<module>"
    else:
        model_file = str(model)
        from .cli import load_module

        module = stages.run("import", f"importing {Path(model_file).name}",
                            lambda: load_module(model_file, input_shapes))
    fn = module.main

    # pipeline
    if not fusion:
        pipeline = _without_fusion(pipeline)
    pipe = Pipeline.parse(pipeline) if pipeline else Pipeline([])
    if pipe.passes:
        stages.run("pipeline", f"running pipeline {pipe}", lambda: pipe.run(module))

    # plan
    ops = kernel_ops(fn)
    plan = stages.run("plan", "planning memory", lambda: plan_function(fn))

    # emit
    tune_stats: dict = {}

    def emit_all():
        out = []
        for i, op in enumerate(ops):
            emitter = emitter_for(op, tgt)
            choice = _choose(op, tgt, emitter, tune, threads, tune_stats)
            try:
                out.append((op, emitter.emit(op, tgt, _kernel_symbol(i), choice)))
            except LpfcError:
                raise
            except Exception as e:  # an emitter bug: one line for the user, the cause chained for developers
                from .codegen.model_gen import kernel_kind

                node = op.location.name if getattr(op, "location", None) is not None else None
                raise LpfcError(f"emitting kernel {i} ({kernel_kind(op)}) with the {emitter.name} emitter failed: "
                                f"{type(e).__name__}: {e}", node=node,
                                hint="a bug in lpfc's code generator; --no-fusion may avoid it") from e
        return out

    try:
        sources = stages.run("emit", f"{'tuning and ' if tune else ''}emitting {len(ops)} kernels", emit_all)
    except LookupError as e:
        raise UnsupportedError(f"no kernel emitter for this model: {e}",
                               hint="the op is not supported by any code generator yet") from None
    if tune or tune_stats.get("database"):
        notes.append("variants: " + ", ".join(f"{n} {k}" for k, n in sorted(tune_stats.items()))
                     + (f" (measured with {threads or 1} thread(s))" if tune else "")
                     + f"; tuning database {_tuning_db_path()}")

    # generate + build
    keep = Path(emit_source) if emit_source is not None else None
    tmp_root = _safe_tmp_root()
    build_dir = Path(tempfile.mkdtemp(prefix="lpfc-gen-", dir=tmp_root)) if keep is None else keep
    try:
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            if not re.fullmatch(r"[A-Za-z0-9_./+-]+", str(keep.resolve())):
                # .incbin cannot take such a path; generate elsewhere and copy back.
                build_dir = Path(tempfile.mkdtemp(prefix="lpfc-gen-", dir=tmp_root))
        n_jobs = jobs or max(1, min(4, os.cpu_count() or 1))
        name = Path(model_file).stem if model_file != "<module>" else output.stem
        if tgt.opencl:   # + kernels.cl and the OpenCL host glue (docs/opencl.md)
            from .codegen.ocl_model import generate_ocl_model as generate_model  # noqa: F811
        gen = stages.run("generate", "generating C++",
                         lambda: generate_model(fn, plan, sources, build_dir, name, chunks=n_jobs))
        header_path = Path(header) if header is not None else output.with_suffix(".h")
        prefix = output.stem[3:] if output.stem.startswith("lib") and len(output.stem) > 3 else output.stem

        def build():
            flags = ["-fopenmp"]
            from .codegen.toolchain import opencl_runtime
            extra_src, inc = opencl_runtime() if tgt.opencl else ([], [])
            lib = compile_shared(toolchain, [*gen.sources, *extra_src], output, flags, link_flags=["-fopenmp"],
                                 sanitize=tuple(sanitize), include_dirs=inc)
            header_path.write_text(header_text(gen, prefix, output.name, Path(model_file).name))
            return lib

        stages.run("build", f"building {output.name} ({gen.unique_kernels} kernel functions)", build)
        if tgt.opencl:
            notes.append(f"opencl: {gen.device_kernels} kernels on the device, "
                         f"{gen.kernel_calls - gen.device_kernels} on the host (docs/opencl.md)")
        if keep is not None and build_dir != keep:
            for p in [*gen.sources, gen.weights_path, *getattr(gen, "extra_files", [])]:
                shutil.copy2(p, keep / p.name)
    except OSError as e:  # an unwritable output or source directory, a full disk, ...
        raise LpfcError(f"cannot write {e.filename or str(output)!r}: {e.strerror or e}") from None
    finally:
        if keep is None or build_dir != keep:
            shutil.rmtree(build_dir, ignore_errors=True)

    return CompileResult(output, header_path, tgt.name, gen.kernel_calls, gen.unique_kernels, gen.kinds,
                         gen.arena_bytes, gen.weights_bytes, stages.seconds, plan.summary(), keep, str(pipe), notes)


def _tuning_db_path() -> str:
    try:
        from .tune import default_path

        return str(default_path())
    except ImportError:
        return "none"


def _without_fusion(pipeline: str) -> str:
    from .passes import Pipeline

    pipe = Pipeline.parse(pipeline or "")
    kept = [str(p) for p in pipe.passes if p.name != "lp-fusion"]
    return ",".join(kept)


def _safe_tmp_root() -> Optional[str]:
    root = tempfile.gettempdir()
    if re.fullmatch(r"[A-Za-z0-9_./+-]+", str(Path(root).resolve())):
        return root
    return "/tmp" if os.path.isdir("/tmp") else None


__all__ = ["CompileResult", "NO_FUSION_PIPELINE", "STAGES", "compile"]
