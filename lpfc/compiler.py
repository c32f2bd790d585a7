"""``lpfc.compile``: an ONNX model (or graph-IR module) -> a self-contained native library.

Stages (each a function below, timed; ``progress`` hears about each, lpfc/progress.py)::

    import      import_stage     ONNX -> graph IR (lpfc/frontend/load.py)
    pipeline    pipeline_stage   the pass pipeline (default: canonicalize ... lp-fusion; --no-fusion drops lp-fusion)
    plan        plan_stage       the static memory plan (arena offsets)
    emit        emit_stage       one KernelSource per kernel op (emitter_for(op, target)); the variant comes from
                                 the tuning database, else (--tune) is measured, else is the emitter's default
                                 (lpfc/tune/schedule.py)
    generate    generate_stage   model.cc, kernels_*.cc, weights.bin (model_gen), and the --emit-source package
    build       build_stage      the C++ and the runtime -> lib*.so (-O3, warnings as errors), plus lib*.h
"""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Union

from .errors import InputError, LpfcError, UnsupportedError
from .progress import Progress, as_progress

NO_FUSION_PIPELINE = "canonicalize,fold-constants,cse,dce"
STAGES = ("import", "pipeline", "plan", "emit", "generate", "build")


@dataclass
class CompileResult:
    library: Optional[Path]            # None: sources only (emit_source without output)
    header: Optional[Path]
    target: str
    kernels: int                       # kernel calls per inference
    unique_kernels: int                # distinct kernel functions after deduplication
    kinds: dict                        # kernel kind -> count
    arena_bytes: int
    weights_bytes: int
    stage_seconds: dict = field(default_factory=dict)
    plan_summary: str = ""
    source_dir: Optional[Path] = None  # where the generated C++ was kept (emit_source: DIR/src)
    pipeline: str = ""
    notes: list = field(default_factory=list)
    package: Optional[Path] = None     # the CMake source package (emit_source DIR)
    driver: Optional[Path] = None      # the test driver built next to a cross-compiled library

    @property
    def total_seconds(self) -> float:
        return sum(self.stage_seconds.values())

    def summary(self) -> str:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.kinds.items()))
        stages = ", ".join(f"{s} {t:.2f} s" for s, t in self.stage_seconds.items())
        lib = (f"library   {self.library} ({self.library.stat().st_size / 1e6:.1f} MB), header {self.header.name}"
               if self.library is not None else "library   none (sources only)")
        lines = [lib,
                 f"target    {self.target}; pipeline {self.pipeline}",
                 f"kernels   {self.kernels} calls, {self.unique_kernels} distinct functions ({kinds})",
                 f"memory    {self.plan_summary}; weights {_human(self.weights_bytes)}",
                 f"time      {self.total_seconds:.2f} s ({stages})"]
        if self.driver is not None:
            lines.append(f"driver    {self.driver} (lpfc run {self.library.name} runs the model through it)")
        if self.package is not None:
            lines.append(f"package   {self.package} (CMakeLists.txt, include/, src/, runtime/, cmake/)")
        lines += [f"note      {n}" for n in self.notes]
        return "\n".join(lines)


def _human(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


class _Stages:
    """Times the stages (``CompileResult.stage_seconds``) and shows each as one progress step."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.seconds: dict[str, float] = {}

    def run(self, stage: str, what: Optional[str], fn):
        """Runs fn() as ``stage`` inside the progress step ``what`` (None: no step of its own)."""
        t0 = time.perf_counter()
        if what is None:
            result = fn()
        else:
            with self.progress.step(what):
                result = fn()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - t0
        return result


def _kernel_symbol(i: int) -> str:
    return f"lpfc_k{i:04d}"


def compile(model: Union[str, os.PathLike, "object"], output: Optional[Union[str, os.PathLike]] = None,
            target: str = "host",
            pipeline: str = "default", fusion: bool = True, tune: bool = False, threads: Optional[int] = None,
            emit_source: Optional[Union[str, os.PathLike]] = None,
            progress: Union[Progress, Callable[[str], object], None] = None,
            input_shapes: Optional[dict] = None, sanitize=(), header: Optional[Union[str, os.PathLike]] = None,
            jobs: Optional[int] = None, cpu: Optional[str] = None, api_level: Optional[int] = None,
            ndk: Optional[str] = None, compiler: Optional[str] = None,
            tune_budget: Optional[float] = None, force: bool = False, weights: str = "fp32",
            precision: str = "fp32") -> CompileResult:
    """Compiles ``model`` (an .onnx / .mlir path or a graph-IR Module) into the shared library ``output``.

    ``fusion=False`` runs ``pipeline`` without ``lp-fusion`` (the default pipeline becomes
    ``canonicalize,fold-constants,cse,dce``). ``emit_source`` writes a CMake source package of the
    model into that directory (lpfc/codegen/package.py). ``api_level`` and ``ndk`` choose the Android
    API level and NDK for arm64-android; ``compiler`` the C compiler of host/arm64-linux (e.g.
    ``"clang"``). A cross-compiled library gets its test driver next to it (lpfc/runtime/foreign.py).
    The C header is written next to the library (``libx.so`` -> ``libx.h``).
    ``sanitize=("address", "undefined")`` builds an instrumented library (for tests).
    ``cpu`` chooses the processor to generate code for (arm64: ``-mcpu``, default cortex-a77; x86-64:
    ``-march``, default native); the target's compiler must know it.
    ``weights="fp16"`` stores the weights of one-row GEMMs (M = 1: a decode step) as fp16, computed in fp32.
    ``precision`` (:data:`lpfc.codegen.precision.PRECISIONS`): ``"fp16"`` stores the GEMM weights in half precision
    and multiplies in FP16 arithmetic with fp32 accumulation, on the arm64 targets and opencl (docs/fp16.md);
    ``"int8"`` appends the ``quantize-int8`` pass to the pipeline: the GEMMs with constant weights run
    int8 kernels (weights per output channel, activations per row at run time; docs/int8.md).
    ``tune_budget`` (seconds, with ``tune``) bounds the whole tuning: kernels it does not reach keep
    their emitter's default variant (counted as ``budget`` in the summary's variants note).
    ``progress`` (a :class:`lpfc.progress.Progress`, or a callable ``progress(what)`` that may return a
    context manager; lpfc/progress.py) hears one step per stage, and with ``tune`` one step per tuned
    kernel (i/n, shapes, time left, ETA) with one note per variant timed (with the best so far).

    Files (docs/compile.md, "Files lpfc writes"): ``output``'s directory must exist; the library, its
    header and driver are built into a staging directory next to ``output`` and renamed into place only
    when everything succeeded. An existing header lpfc did not generate (no "Generated by lpfc" in its
    first lines) is refused unless ``force``. ``output=None`` with ``emit_source`` writes only the source
    package (no compiler needed). ``emit_source`` must be new, empty or a previous lpfc package
    (``lpfc-manifest.json``); only manifest-listed files are ever replaced or removed there.

    The stages, in order: :func:`import_stage`, :func:`pipeline_stage`, :func:`plan_stage`,
    :func:`emit_stage`, then :func:`generate_stage` and :func:`build_stage` (with the source package)
    in :func:`_generate_and_build`; everything they need is checked first (:func:`_prepare`).
    """
    from .codegen.precision import check_precision

    tune_budget = _checked_tune_budget(tune_budget)
    if weights not in ("fp32", "fp16"):      # fp16: one-row GEMM weights stored as fp16 (codegen/targets.py)
        raise InputError(f'weights must be "fp32" or "fp16", not {weights!r}')
    check_precision(precision)
    job = _prepare(model, output, header, emit_source, target, force=force, api_level=api_level, cpu=cpu,
                   compiler=compiler, ndk=ndk, precision=precision, weights=weights)
    progress = as_progress(progress)
    stages = _Stages(progress)

    module, model_file = import_stage(model, input_shapes, stages)
    fn = module.main
    pipe = pipeline_stage(module, pipeline, fusion, stages, precision)
    ops, plan = plan_stage(fn, stages)
    sources, variants_note = emit_stage(ops, job.target, stages, progress, tune=tune, threads=threads,
                                        tune_budget=tune_budget)
    notes: list[str] = [variants_note] if variants_note is not None else []
    gen, source_dir, driver = _generate_and_build(job, fn, plan, sources, model_file, stages, notes,
                                                  jobs=jobs, sanitize=sanitize)
    keep = job.package.dest if job.package is not None else None
    return CompileResult(job.output, job.header, job.target.name, gen.kernel_calls, gen.unique_kernels, gen.kinds,
                         gen.arena_bytes, gen.weights_bytes, stages.seconds, plan.summary(), source_dir, str(pipe),
                         notes, keep, driver)


# -- before any work: the arguments, the outputs, the target and its toolchain --------------------------------------
def _checked_tune_budget(tune_budget) -> Optional[float]:
    if tune_budget is None:
        return None
    try:
        tune_budget = float(tune_budget)
    except (TypeError, ValueError):
        raise LpfcError(f"tune_budget must be a number of seconds, not {tune_budget!r}") from None
    if not tune_budget >= 0:
        raise LpfcError(f"tune_budget must be >= 0 seconds, not {tune_budget!r}")
    return tune_budget


@dataclass
class _Job:
    """What one compile() writes, and for what: resolved and checked before any work is done."""
    output: Optional[Path]      # the library; None: sources only
    header: Optional[Path]      # its C header (None without output)
    target: object              # lpfc.codegen.targets.Target, resolved: it carries its toolchain (resolve_target)
    package: Optional[object]   # lpfc.codegen.package.PackageDir of emit_source
    library_name: str           # libNAME.so, also when only sources are written

    @property
    def toolchain(self):
        """lpfc.codegen.toolchain.Toolchain (without output: the flags only when no compiler is found)."""
        return self.target.toolchain


def _prepare(model, output, header, emit_source, target: str, *, force: bool, api_level, cpu, compiler,
             ndk, precision: str = "fp32", weights: str = "fp32") -> _Job:
    """Refuses, before any work, what compile() must not write or cannot build (docs/compile.md)."""
    from .codegen.package import PackageDir, check_library_name
    from .codegen.precision import with_precision
    from .codegen.toolchain import resolve_target
    from .ir.core import Module

    if output is None and emit_source is None:
        raise LpfcError("nothing to write: give an output library (-o LIB.so) and/or --emit-source DIR")
    header_path = None
    if output is not None:
        output = Path(output)
        header_path = Path(header) if header is not None else output.with_suffix(".h")
        _check_output(output, header_path, force)
    elif header is not None:
        raise LpfcError("header= needs an output library")
    # The target is resolved here, once: the Target carries its toolchain down to the tuner and the emitters.
    # With output, fail early when the compiler is missing; sources only need no compiler (the target's flags).
    tgt = resolve_target(target, api_level=api_level, cpu=cpu, compiler=compiler, ndk=ndk,
                         sources_only=output is None)
    tgt = dataclasses.replace(with_precision(tgt, precision), weights=weights)
    package = PackageDir(emit_source) if emit_source is not None else None   # refuses a user's directory now
    model_name = Path(str(model)).stem if not isinstance(model, Module) else "model"
    library_name = output.name if output is not None else "lib" + (re.sub(r"[^A-Za-z0-9_.+-]", "_", model_name)
                                                                   .lstrip(".") or "model") + ".so"
    if package is not None:
        check_library_name(library_name)
    return _Job(output, header_path, tgt, package, library_name)


# -- the stages ------------------------------------------------------------------------------------------------------
def import_stage(model, input_shapes: Optional[dict], stages: _Stages) -> tuple:
    """import: ``model`` as graph IR (a Module is used as is), and the model file's name ("<module>")."""
    from .ir.core import Module

    if isinstance(model, Module):
        return model, "<module>"
    from .frontend.load import load_module

    model_file = str(model)
    module = stages.run("import", f"importing {Path(model_file).name}",
                        lambda: load_module(model_file, input_shapes))
    return module, model_file


def pipeline_stage(module, pipeline: str, fusion: bool, stages: _Stages, precision: str = "fp32"):
    """pipeline: runs the pass pipeline (without lp-fusion when not ``fusion``; with ``quantize-int8`` last for
    ``precision="int8"``) on ``module``; returns it."""
    from .passes import Pipeline

    if not fusion:
        pipeline = _without_fusion(pipeline)
    pipe = Pipeline.parse(pipeline) if pipeline else Pipeline([])
    if precision == "int8" and not any(p.name == "quantize-int8" for p in pipe.passes):
        from .passes.quantize_int8 import QuantizeInt8
        pipe.passes.append(QuantizeInt8())
    if pipe.passes:
        stages.run("pipeline", f"running pipeline {pipe}", lambda: pipe.run(module))
    return pipe


def plan_stage(fn, stages: _Stages) -> tuple:
    """plan: the kernel ops of ``fn`` (in program order) and its static memory plan (arena offsets)."""
    from .codegen.memory_plan import plan_function
    from .passes.lp_fusion.blocks import kernels as kernel_ops

    ops = kernel_ops(fn)
    plan = stages.run("plan", "planning memory", lambda: plan_function(fn))
    return ops, plan


def emit_stage(ops, tgt, stages: _Stages, progress: Progress, *, tune: bool, threads: Optional[int],
               tune_budget: Optional[float]) -> tuple:
    """emit: one KernelSource per kernel op, ``[(op, KernelSource)]``, and the summary's variants note (or
    None). Each op's variant comes from :class:`lpfc.tune.schedule.VariantChooser` (the tuning database,
    else measured with ``tune``, else the emitter's default)."""
    from .codegen.kernel_source import emitter_for
    from .tune.schedule import VariantChooser

    def emit():
        emitters = [emitter_for(op, tgt) for op in ops] if tune else None
        chooser = VariantChooser(ops, tgt, emitters, tune=tune, threads=threads, budget=tune_budget,
                                 progress=progress)
        return _emit_kernels(ops, tgt, chooser, emitters), chooser.summary_note()

    try:   # with tune: one progress step per tuned kernel instead of one for the stage (steps do not nest)
        return stages.run("emit", None if tune else f"emitting {len(ops)} kernels", emit)
    except LookupError as e:
        raise UnsupportedError(f"no kernel emitter for this model: {e}",
                               hint="the op is not supported by any code generator yet") from None


def _emit_kernels(ops, tgt, chooser, emitters=None) -> list:
    from .codegen.kernel_source import emitter_for

    out = []
    for i, op in enumerate(ops):
        emitter = emitters[i] if emitters else emitter_for(op, tgt)
        choice = chooser.choose(i, op, emitter)
        try:
            ks = emitter.emit(op, tgt, _kernel_symbol(i), choice)
            ks.emitter = ks.emitter or emitter.name
            out.append((op, ks))
        except LpfcError:
            raise
        except Exception as e:  # an emitter bug: one line for the user, the cause chained for developers
            from .codegen.model_gen import kernel_kind

            node = op.location.name if getattr(op, "location", None) is not None else None
            raise LpfcError(f"emitting kernel {i} ({kernel_kind(op)}) with the {emitter.name} emitter failed: "
                            f"{type(e).__name__}: {e}", node=node,
                            hint="a bug in lpfc's code generator; --no-fusion may avoid it") from e
    return out


def _generate_and_build(job: _Job, fn, plan, sources, model_file: str, stages: _Stages, notes: list, *,
                        jobs: Optional[int], sanitize) -> tuple:
    """generate + build (+ the --emit-source package): returns (generated model, source dir, driver path).

    Always in a temporary directory with an assembler-safe path (the build names the weights by absolute
    path); --emit-source then gets a package whose .incbin path is relative. Nothing the user sees is
    written until everything succeeded: the library, header and driver are built into a staging directory
    next to the output, the package into one inside DIR, and both are renamed into place at the end
    (docs/compile.md, "Files lpfc writes")."""
    from .codegen.model_gen import header_text

    output, package, tgt = job.output, job.package, job.target
    keep = package.dest if package is not None else None
    staging = _Staging()
    build_dir = None
    source_dir = driver = None
    try:
        build_dir = Path(tempfile.mkdtemp(prefix="lpfc-gen-", dir=_safe_tmp_root()))
        name = Path(model_file).stem if model_file != "<module>" else Path(job.library_name).stem
        gen = generate_stage(fn, plan, sources, build_dir, name, tgt, jobs, stages)
        lib_stem = Path(job.library_name).stem
        prefix = lib_stem[3:] if lib_stem.startswith("lib") and len(lib_stem) > 3 else lib_stem
        header_src = header_text(gen, prefix, job.library_name, Path(model_file).name)

        build_error = None
        if output is not None:
            try:
                driver = build_stage(job, gen, header_src, staging, sanitize, stages)
            except LpfcError as e:  # still write the package: it is how one debugs a failed build
                build_error = e
        if package is not None:
            source_dir = _write_source_package(job, gen, header_src, model_file, stages, notes)
            package.publish()
            if build_error is not None:
                notes.append(f"the sources of the failed build are in {keep}")
        if build_error is not None:
            raise _in_user_terms(build_error, staging, build_dir, source_dir)
        staging.publish()   # the library, header and driver, together, at the very end
        if tgt.opencl:
            notes.append(f"opencl: {gen.device_kernels} kernels on the device, "
                         f"{gen.kernel_calls - gen.device_kernels} on the host (docs/opencl.md)")
        if output is None:
            notes.append(f"sources only (no -o): build them with cmake -S {keep} -B build")
    except OSError as e:  # an unwritable output or source directory, a full disk, ...
        where = staging.user_path(e.filename, package) if e.filename else str(output or keep)
        raise LpfcError(f"cannot write {where!r}: {e.strerror or e}") from None
    finally:
        staging.discard()
        if package is not None:
            package.discard()
        if build_dir is not None:
            shutil.rmtree(build_dir, ignore_errors=True)
    return gen, source_dir, driver


def generate_stage(fn, plan, sources, build_dir: Path, name: str, tgt, jobs: Optional[int], stages: _Stages):
    """generate: model.cc, kernels_*.cc (in ``jobs`` chunks) and weights.bin in ``build_dir``; on the opencl
    target also kernels.cl and the OpenCL host glue (docs/opencl.md)."""
    from .codegen.model_gen import generate_model

    n_jobs = jobs or max(1, min(4, os.cpu_count() or 1))
    generate = generate_model
    if tgt.opencl:
        from .codegen.ocl_model import generate_ocl_model as generate
    return stages.run("generate", "generating C++",
                      lambda: generate(fn, plan, sources, build_dir, name, chunks=n_jobs))


def build_stage(job: _Job, gen, header_src: str, staging: "_Staging", sanitize, stages: _Stages) -> Optional[Path]:
    """build: the library (-O3, warnings as errors) and its header into ``staging``, and for a cross
    target the test driver; returns the driver's final path (None when none is built)."""
    from .codegen.toolchain import compile_shared

    output, tgt, toolchain = job.output, job.target, job.toolchain
    staged_lib = staging.path_for(output)
    staged_header = staging.path_for(job.header)

    def build():
        from .codegen.toolchain import opencl_runtime
        extra_src, inc = opencl_runtime() if tgt.opencl else ([], [])
        weights = {"LPFC_WEIGHTS_FILE": f'"{gen.weights_path.resolve()}"'}
        if tgt.opencl:   # model.cc embeds kernels.cl too (the package finds it through -I src instead)
            weights["LPFC_OCL_SOURCE_FILE"] = f'"{gen.extra_files[0].resolve()}"'
        lib = compile_shared(toolchain, [*gen.sources, *extra_src], staged_lib,
                             sanitize=tuple(sanitize), defines=weights, include_dirs=inc)
        staged_header.write_text(header_src)
        return lib

    stages.run("build", f"building {output.name} ({gen.unique_kernels} kernel functions)", build)
    if tgt.is_cross and not sanitize:
        from .runtime.foreign import build_driver, driver_path

        staged_driver = staging.path_for(driver_path(output))
        stages.run("build", f"building the test driver {driver_path(output).name}",
                   lambda: build_driver(toolchain, staged_driver))
        return driver_path(output)
    return None


def _write_source_package(job: _Job, gen, header_src: str, model_file: str, stages: _Stages,
                          notes: list) -> Optional[Path]:
    """--emit-source: the CMake source package into the package's staging directory (timed as part of
    generate); returns the directory of its C++ sources. On opencl the package also holds kernels.cl (next to
    model.cc, which embeds it) and the OpenCL host glue."""
    package, keep = job.package, job.package.dest
    stage_dir = package.stage()
    from .codegen.package import write_package

    stages.run("generate", f"writing the source package {keep}", lambda: write_package(
        stage_dir, sources=gen.sources, weights=gen.weights_path, header_text=header_src,
        library_name=job.library_name, toolchain=job.toolchain, model_file=model_file,
        weights_bytes=gen.weights_bytes, embedded=getattr(gen, "extra_files", ())))
    return keep / "src"


#: lpfc's generated headers say so in their first lines (lpfc/codegen/templates/model.h.j2).
HEADER_MARKER = "Generated by lpfc"


def _check_output(output: Path, header: Path, force: bool) -> None:
    """Refuses, before any work, an output lpfc must not write (docs/compile.md, "Files lpfc writes")."""
    if output.suffix != ".so":
        raise LpfcError(f"output {str(output)!r} should be a shared library named *.so (e.g. libmodel.so)")
    for what, p in (("output", output), ("header", header)):
        if p.is_dir():
            raise LpfcError(f"{what} {str(p)!r} is a directory")
        parent = p.absolute().parent
        if not parent.is_dir():
            raise LpfcError(f"cannot write {str(p)!r}: the directory {str(p.parent)!r} does not exist",
                            hint="lpfc does not create directories for -o; create it first")
    if header.exists() and not force and not _is_lpfc_header(header):
        raise LpfcError(f"{str(header)!r} exists and was not generated by lpfc (no {HEADER_MARKER!r} marker in its "
                        f"first lines); lpfc will not overwrite it",
                        hint="move it away, choose another -o, or pass --force to overwrite it")


def _is_lpfc_header(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return HEADER_MARKER.encode() in f.read(512)
    except OSError:
        return False


class _Staging:
    """Where the library, header and driver are built before they are renamed into place: a
    ``lpfc-build-*`` directory next to each final path (same file system: the rename is atomic)."""

    def __init__(self):
        self.dirs: dict = {}       # final directory -> staging directory
        self.files: list = []      # (staged, final)

    def path_for(self, final: Path) -> Path:
        parent = final.absolute().parent
        if parent not in self.dirs:
            self.dirs[parent] = Path(tempfile.mkdtemp(prefix="lpfc-build-", dir=parent))
        staged = self.dirs[parent] / final.name
        self.files.append((staged, final))
        return staged

    def publish(self) -> None:
        for staged, final in self.files:
            if staged.exists():
                os.replace(staged, final)

    def discard(self) -> None:
        for d in self.dirs.values():
            shutil.rmtree(d, ignore_errors=True)
        self.dirs.clear()

    def user_path(self, filename, package) -> str:
        """A path in a staging directory as the user's path it stands for (messages name the user's files)."""
        f = str(filename)
        for staged, final in self.files:
            if f == str(staged) or f.startswith(str(staged.parent) + os.sep):
                return str(final) if f == str(staged) else str(final.parent / Path(f).name)
        if package is not None and package.staging is not None and f.startswith(str(package.staging) + os.sep):
            return str(package.dest / Path(f).relative_to(package.staging))
        return f



def _in_user_terms(error: LpfcError, staging: "_Staging", build_dir: Path, source_dir) -> LpfcError:
    """``error`` (a failed compiler run, which repeats the command line) without the temporary directories
    it names, which are gone by the time the user reads it: the generated sources become the source
    package's ``src`` (or ``<generated>``), the object files' directory ``<build>``."""
    message = error.args[0] if error.args else str(error)
    notes = []
    if source_dir is not None:
        message = message.replace(str(build_dir), str(source_dir))
    elif str(build_dir) in message:
        message = message.replace(str(build_dir), "<generated>")
        notes.append("<generated> is lpfc's generated sources (--emit-source DIR keeps them)")
    for staged_dir in staging.dirs.values():
        message, n = re.subn(re.escape(str(staged_dir)) + r"(/lpfc-build-[^/\s'\"]+)?", "<build>", message)
        if n and not any(note.startswith("<build>") for note in notes):
            notes.append("<build> is the object files' directory")
    if notes:
        message += "\n(" + "; ".join(notes) + ", both removed after the build)" if len(notes) == 2 else \
            "\n(" + notes[0] + ", removed after the build)"
    error.args = (message,)
    return error


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
