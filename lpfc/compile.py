"""``lpfc.compile``: an ONNX model (or graph-IR module) -> a self-contained native library.

Stages (each timed; ``progress`` hears about each)::

    import      ONNX -> graph IR
    pipeline    the pass pipeline (default: canonicalize ... lp-fusion; --no-fusion drops lp-fusion)
    plan        the static memory plan (arena offsets)
    emit        one KernelSource per kernel op (emitter_for(op, target)); the variant comes from the
                tuning database, else (--tune) is measured, else is the emitter's default
    generate    model.cc, kernels_*.cc, weights.bin (model_gen)
    build       the C++ and the runtime -> lib*.so (-O3, warnings as errors), plus lib*.h
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


def _choose(op, target, emitter, tune: bool, threads: Optional[int], stats: dict, **kw):
    """The variant to emit: the tuning database's choice when it has one; else, with --tune, the
    fastest measured (with ``threads`` threads, stored for next time); else the emitter's default."""
    from .tune import select_variant

    r = select_variant(op, target, emitter, tune=tune, num_threads=threads or 1, **kw)
    stats[r.source] = stats.get(r.source, 0) + 1
    return r.choice


def _note(ctx, text: str) -> None:
    """A line of detail inside a progress step (the CLI's steps print it; other callbacks may ignore it)."""
    fn = getattr(ctx, "note", None)
    if callable(fn):
        fn(text)


class _TuneSchedule:
    """Which kernels --tune measures, in what order, within the time budget; feeds the progress display."""

    def __init__(self, ops, target, emitters, budget: Optional[float]):
        from .tune import TuningDatabase, kernel_signature, target_key
        from .tune.tuner import database_choice

        self.t0 = time.monotonic()
        self.deadline = None if budget is None else self.t0 + max(0.0, float(budget))
        self.budget = budget
        db = TuningDatabase()
        key = target_key(target)
        self.sigs = [kernel_signature(op) for op in ops]
        todo: list = []
        for op, e, sig in zip(ops, emitters, self.sigs):
            hit = database_choice(db, op, target, e, sig, key)
            if hit is None and sig not in todo and len(e.variants(op, target)) > 1:
                todo.append(sig)
        self.todo = todo                 # distinct signatures to measure, in program order
        self.done: list = []             # seconds per measured kernel
        self.est = 1.0                   # expected seconds to tune one kernel (compile + timing), until measured
        self.skipped: set = set()        # signatures the budget did not reach

    def needs(self, i: int) -> bool:
        return self.sigs[i] in self.todo and self.sigs[i] not in getattr(self, "_started", set())

    def start(self, i: int) -> tuple:
        """(k, n, per-kernel budget or None, skip?, eta text) for kernel op i."""
        started = self.__dict__.setdefault("_started", set())
        started.add(self.sigs[i])
        k, n = len(started), len(self.todo)
        now = time.monotonic()
        if self.done:
            self.est = sum(self.done) / len(self.done)
        eta = self.est * (n - k + 1)
        if self.deadline is None:
            return k, n, None, False, f"ETA {eta:.0f} s"
        left = self.deadline - now
        eta = min(eta, max(left, 0.0))
        skip = left <= 0 or left < 0.5 * self.est
        return k, n, max(left, 0.0) / (n - k + 1), skip, f"{max(left, 0.0):.1f} s of the budget left, ETA {eta:.0f} s"

    def finished(self, seconds: float) -> None:
        self.done.append(seconds)


def compile(model: Union[str, os.PathLike, "object"], output: Optional[Union[str, os.PathLike]] = None,
            target: str = "host",
            pipeline: str = "default", fusion: bool = True, tune: bool = False, threads: Optional[int] = None,
            emit_source: Optional[Union[str, os.PathLike]] = None, progress: Optional[Callable] = None,
            input_shapes: Optional[dict] = None, sanitize=(), header: Optional[Union[str, os.PathLike]] = None,
            jobs: Optional[int] = None, cpu: Optional[str] = None, api_level: Optional[int] = None,
            ndk: Optional[str] = None, compiler: Optional[str] = None,
            tune_budget: Optional[float] = None, force: bool = False) -> CompileResult:
    """Compiles ``model`` (an .onnx / .mlir path or a graph-IR Module) into the shared library ``output``.

    ``fusion=False`` runs ``pipeline`` without ``lp-fusion`` (the default pipeline becomes
    ``canonicalize,fold-constants,cse,dce``). ``emit_source`` writes a CMake source package of the
    model into that directory (lpfc/codegen/package.py). ``api_level`` and ``ndk`` choose the Android
    API level and NDK for arm64-android; ``compiler`` the C compiler of host/arm64-linux (e.g.
    ``"clang"``). A cross-compiled library gets its test driver next to it (lpfc/driver.py).
    The C header is written next to the library (``libx.so`` -> ``libx.h``).
    ``sanitize=("address", "undefined")`` builds an instrumented library (for tests).
    ``cpu`` chooses the processor to generate code for (arm64: ``-mcpu``, default cortex-a77; x86-64:
    ``-march``, default native); the target's compiler must know it.
    ``tune_budget`` (seconds, with ``tune``) bounds the whole tuning: kernels it does not reach keep
    their emitter's default variant (counted as ``budget`` in the summary's variants note);
    ``progress`` hears one step per tuned kernel (i/n, shapes, time left, ETA) and, when the step
    object has a ``note`` method, one line per variant timed (with the best so far).

    Files (docs/compile.md, "Files lpfc writes"): ``output``'s directory must exist; the library, its
    header and driver are built into a staging directory next to ``output`` and renamed into place only
    when everything succeeded. An existing header lpfc did not generate (no "Generated by lpfc" in its
    first lines) is refused unless ``force``. ``output=None`` with ``emit_source`` writes only the source
    package (no compiler needed). ``emit_source`` must be new, empty or a previous lpfc package
    (``lpfc-manifest.json``); only manifest-listed files are ever replaced or removed there.
    """
    if tune_budget is not None:
        try:
            tune_budget = float(tune_budget)
        except (TypeError, ValueError):
            raise LpfcError(f"tune_budget must be a number of seconds, not {tune_budget!r}") from None
        if not tune_budget >= 0:
            raise LpfcError(f"tune_budget must be >= 0 seconds, not {tune_budget!r}")
    from .codegen.kernel_source import emitter_for
    from .codegen.memory_plan import plan_function
    from .codegen.model_gen import generate_model, header_text
    from .codegen.targets import get_target
    from .codegen.toolchain import compile_shared, find_toolchain
    from .ir.core import Module
    from .passes import Pipeline
    from .passes.fused_blocks import kernels as kernel_ops

    from .codegen.package import PackageDir, check_library_name

    if output is None and emit_source is None:
        raise LpfcError("nothing to write: give an output library (-o LIB.so) and/or --emit-source DIR")
    header_path = None
    if output is not None:
        output = Path(output)
        header_path = Path(header) if header is not None else output.with_suffix(".h")
        _check_output(output, header_path, force)
    elif header is not None:
        raise LpfcError("header= needs an output library")
    tgt = get_target(target, api_level=api_level, cpu=cpu)
    if output is not None:   # fail early when the compiler is missing
        toolchain = find_toolchain(tgt, compiler=compiler, ndk=ndk)
    else:                    # sources only: no compiler needed (the flags are the target's)
        from .codegen.toolchain import source_toolchain
        toolchain = source_toolchain(tgt, compiler=compiler, ndk=ndk)
    package = PackageDir(emit_source) if emit_source is not None else None   # refuses a user's directory now
    model_name = Path(str(model)).stem if not isinstance(model, Module) else "model"
    library_name = output.name if output is not None else "lib" + (re.sub(r"[^A-Za-z0-9_.+-]", "_", model_name)
                                                                   .lstrip(".") or "model") + ".so"
    if package is not None and not tgt.opencl:
        check_library_name(library_name)
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

    def emit_all(schedule=None, emitters=None):
        out = []
        for i, op in enumerate(ops):
            emitter = emitters[i] if emitters else emitter_for(op, tgt)
            if schedule is not None and schedule.needs(i):
                from .codegen.model_gen import _shape_text, kernel_kind

                k, n, per_kernel, skip, eta = schedule.start(i)
                what = (f"tuning kernel {k}/{n}: {kernel_kind(op)} {_shape_text(op)}, "
                        f"{len(emitter.variants(op, tgt))} variants ({eta})")
                if skip:
                    schedule.skipped.add(schedule.sigs[i])
                    choice = _choose(op, tgt, emitter, True, threads, tune_stats, deadline=schedule.t0 - 1.0)
                    if progress:
                        ctx = progress(what + ": budget spent, default variant")
                        if hasattr(ctx, "__enter__"):
                            with ctx:
                                pass
                else:
                    t_k = time.monotonic()
                    ctx = progress(what) if progress else None
                    kw = dict(deadline=schedule.deadline, progress=lambda line, c=ctx: _note(c, line.strip()))
                    if per_kernel is not None:
                        kw["budget_s"] = min(10.0, per_kernel)
                    if ctx is not None and hasattr(ctx, "__enter__"):
                        with ctx:
                            choice = _choose(op, tgt, emitter, True, threads, tune_stats, **kw)
                    else:
                        choice = _choose(op, tgt, emitter, True, threads, tune_stats, **kw)
                    schedule.finished(time.monotonic() - t_k)
            elif schedule is not None and schedule.sigs[i] in schedule.todo:
                # a repeat of a kernel tuned above (the database has it) or skipped for the budget
                choice = _choose(op, tgt, emitter, True, threads, tune_stats,
                                 deadline=schedule.t0 - 1.0 if schedule.sigs[i] in schedule.skipped else None)
            else:
                choice = _choose(op, tgt, emitter, tune, threads, tune_stats)
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

    try:
        if tune:   # with a progress callback: one step per tuned kernel (they cannot nest in an emit step)
            t_emit = time.perf_counter()
            emitters = [emitter_for(op, tgt) for op in ops]
            schedule = _TuneSchedule(ops, tgt, emitters, tune_budget)
            if progress:
                sources = emit_all(schedule, emitters)
                stages.seconds["emit"] = time.perf_counter() - t_emit
            else:
                sources = stages.run("emit", "", lambda: emit_all(schedule, emitters))
        else:
            sources = stages.run("emit", f"emitting {len(ops)} kernels", emit_all)
    except LookupError as e:
        raise UnsupportedError(f"no kernel emitter for this model: {e}",
                               hint="the op is not supported by any code generator yet") from None
    if tune or tune_stats.get("database"):
        notes.append("variants: " + ", ".join(f"{n} {k}" for k, n in sorted(tune_stats.items()))
                     + (f" (measured with {threads or 1} thread(s))" if tune else "")
                     + (f"; tuning budget {tune_budget:g} s" if tune and tune_budget is not None else "")
                     + (" (spent: 'budget' kernels kept their default variant)" if tune_stats.get("budget") else "")
                     + f"; tuning database {_tuning_db_path()}")

    # generate + build: always in a temporary directory with an assembler-safe path (the build names the
    # weights by absolute path); --emit-source then gets a package whose .incbin path is relative.
    # Nothing the user sees is written until everything succeeded: the library, header and driver are
    # built into a staging directory next to the output, the package into one inside DIR, and both are
    # renamed into place at the end (docs/compile.md, "Files lpfc writes").
    keep = package.dest if package is not None else None
    staging = _Staging()
    build_dir = None
    source_dir = driver = None
    try:
        build_dir = Path(tempfile.mkdtemp(prefix="lpfc-gen-", dir=_safe_tmp_root()))
        n_jobs = jobs or max(1, min(4, os.cpu_count() or 1))
        name = Path(model_file).stem if model_file != "<module>" else Path(library_name).stem
        generate = generate_model
        if tgt.opencl:   # + kernels.cl and the OpenCL host glue (docs/opencl.md)
            from .codegen.ocl_model import generate_ocl_model as generate
        gen = stages.run("generate", "generating C++",
                         lambda: generate(fn, plan, sources, build_dir, name, chunks=n_jobs))
        lib_stem = Path(library_name).stem
        prefix = lib_stem[3:] if lib_stem.startswith("lib") and len(lib_stem) > 3 else lib_stem
        header_src = header_text(gen, prefix, library_name, Path(model_file).name)

        build_error = None
        if output is not None:
            staged_lib = staging.path_for(output)
            staged_header = staging.path_for(header_path)

            def build():
                from .codegen.toolchain import opencl_runtime
                extra_src, inc = opencl_runtime() if tgt.opencl else ([], [])
                weights = {"LPFC_WEIGHTS_FILE": f'"{gen.weights_path.resolve()}"'}
                lib = compile_shared(toolchain, [*gen.sources, *extra_src], staged_lib,
                                     sanitize=tuple(sanitize), defines=weights, include_dirs=inc)
                staged_header.write_text(header_src)
                return lib

            try:
                stages.run("build", f"building {output.name} ({gen.unique_kernels} kernel functions)", build)
                if tgt.is_cross and not sanitize:
                    from .driver import build_driver, driver_path

                    staged_driver = staging.path_for(driver_path(output))
                    stages.run("build", f"building the test driver {driver_path(output).name}",
                               lambda: build_driver(toolchain, staged_driver))
                    driver = driver_path(output)
            except LpfcError as e:  # still write the package: it is how one debugs a failed build
                build_error = e
        if package is not None:
            stage_dir = package.stage()
            if tgt.opencl:   # the CMake package has no OpenCL glue yet: the sources as built
                for p in [*gen.sources, gen.weights_path, *getattr(gen, "extra_files", [])]:
                    shutil.copy2(p, stage_dir / p.name)
                notes.append(f"--emit-source: the generated sources in {keep} (no CMake package for opencl yet)")
            else:
                from .codegen.package import write_package

                stages.run("generate", f"writing the source package {keep}", lambda: write_package(
                    stage_dir, sources=gen.sources, weights=gen.weights_path, header_text=header_src,
                    library_name=library_name, toolchain=toolchain, model_file=model_file,
                    weights_bytes=gen.weights_bytes))
                source_dir = keep / "src"
            package.publish()
            if build_error is not None:
                notes.append(f"the sources of the failed build are in {keep}")
        if build_error is not None:
            raise build_error
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

    return CompileResult(output, header_path, tgt.name, gen.kernel_calls, gen.unique_kernels, gen.kinds,
                         gen.arena_bytes, gen.weights_bytes, stages.seconds, plan.summary(), source_dir, str(pipe),
                         notes, keep, driver)


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
