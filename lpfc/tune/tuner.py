"""Auto-tuning: time every schedule variant of a kernel on the target and keep the fastest.

:func:`select_variant` is what the compiler calls per kernel: a usable database
entry wins (with or without ``tune``: a kernel tuned once stays tuned); else, with
``tune=True``, :func:`tune_kernel` measures; else the emitter's first variant (its
stated default heuristic) is used. Database entries are validated on read
(:func:`database_choice`); a bad one is ignored with a ``TuningWarning``.
"""
from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from ..codegen.kernel_source import emitter_for
from ..codegen.toolchain import CompileError, resolve_target
from ..ir.core import Operation
from .database import TuningDatabase, kernel_signature, target_key
from .harness import build_library


@dataclass
class TuneResult:
    choice: dict
    source: str                                  # "database", "measured" or "heuristic"
    timings: dict = field(default_factory=dict)  # variant name -> median seconds
    signature: str = ""


def _variant_name(choice: dict) -> str:
    """The generic emitter's variant names; for other emitters' choices ``key=value,...`` ("default" for {})."""
    from ..codegen.generic import choice_name
    choice = choice or {}
    if not choice or "variant" in choice or "tile" in choice:
        return choice_name(choice) if choice else "default"
    return ",".join(f"{k}={v}" for k, v in sorted(choice.items()))


def random_inputs(op: Operation, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for v in op.operands:
        t = v.type
        if t.dtype.is_float:
            out.append(rng.standard_normal(t.shape).astype(t.dtype.numpy))
        elif t.dtype.value == "i1":
            out.append(rng.random(t.shape) < 0.5)
        else:                                   # small: valid as gather indices too
            out.append(rng.integers(0, 2, t.shape).astype(t.dtype.numpy))
    return out


def _normalised(choice):
    return json.loads(json.dumps(choice, sort_keys=True))


def database_choice(db: TuningDatabase, op: Operation, target, emitter, sig: str, key: str) -> Optional[TuneResult]:
    """The database's entry for this kernel as a TuneResult, when it is usable: written for this emitter and
    naming one of its variants for this kernel. An entry whose choice is not a variant (a hand-edited
    ``kc_max: 0``, a field another lpfc version wrote) is ignored with a TuningWarning: a bad entry must
    never reach the emitter, where it would break every later compile."""
    hit = db.lookup(sig, key)
    if hit is None or hit.get("emitter") != emitter.name:
        return None
    try:
        wanted = _normalised(hit["choice"])
    except (TypeError, ValueError):
        wanted = None
    for variant in emitter.variants(op, target):
        try:
            if _normalised(variant) == wanted:
                return TuneResult(variant, "database", dict(hit.get("timings", {})), sig)
        except (TypeError, ValueError):
            continue
    db.warn(f"entry {sig} for {key!r}", f"choice {hit['choice']!r} is not one of the {emitter.name} emitter's "
            f"variants for this {op.name} kernel")
    return None


def tune_kernel(op: Operation, target="host", emitter=None, budget_s: float = 10.0, *,
                db: Optional[TuningDatabase] = None, progress: Optional[Callable[[str], None]] = None,
                num_threads: int = 1, workdir=None, use_db: bool = True,
                deadline: Optional[float] = None) -> TuneResult:
    """Compile every variant of ``op``'s kernel, time each (median of repeated runs), store the
    winner in ``db`` and return it.  ``budget_s`` bounds the repetitions (the time left after
    compiling, shared among the variants); every variant is timed at least 3 times.

    ``deadline`` (a ``time.monotonic()`` value) is a hard stop shared by a whole compile: variants
    not timed by then are skipped, and the best of those timed wins (the default variant is timed
    first); when none was timed the default heuristic is returned with source ``"budget"`` and
    nothing is stored.

    ``target``: a name or a Target, resolved here once (``resolve_target``; measuring needs a compiler);
    a resolved Target (``lpfc.compile``'s) is used with the toolchain it carries."""
    tgt = resolve_target(target, sources_only=True)
    emitter = emitter or emitter_for(op, tgt)
    db = db if db is not None else TuningDatabase()
    sig, key = kernel_signature(op), target_key(tgt)
    if use_db:
        hit = database_choice(db, op, tgt, emitter, sig, key)
        if hit is not None:
            return hit
    choices = emitter.variants(op, tgt)
    say = progress or (lambda s: None)
    tc = resolve_target(tgt).toolchain     # its own; a ToolchainError when no compiler was found
    if len(choices) < 2 or tc.runner != () or not getattr(emitter, "measurable", True):
        # measured natively only (ctypes; timings under qemu mean nothing); OpenCL kernels: the database or the default
        return TuneResult(choices[0], "heuristic", {}, sig)
    start = time.monotonic()
    sources = [emitter.emit(op, tgt, f"tune_v{i}", c) for i, c in enumerate(choices)]
    say(f"tuning {op.name} ({len(choices)} variants)")
    with tempfile.TemporaryDirectory(prefix="lpfc-tune-", dir=workdir) as d:
        try:
            lib = build_library(sources, d, "variants", tgt)
            libs = [lib] * len(sources)
        except CompileError:                    # one bad variant must not sink the others
            libs = []
            for i, s in enumerate(sources):
                try:
                    libs.append(build_library([s], d, f"variant{i}", tgt))
                except CompileError:
                    libs.append(None)
        ins = random_inputs(op)
        timings: dict = {}
        reference = None
        left = budget_s - (time.monotonic() - start)
        if deadline is not None:
            left = min(left, deadline - time.monotonic())
        per_variant = max(left, 0.05) / len(sources)
        skipped = 0
        for c, s, lib in zip(choices, sources, libs):
            name = _variant_name(c)
            if lib is None:
                say(f"  {name}: does not compile, skipped")
                continue
            if deadline is not None and time.monotonic() >= deadline:
                skipped += 1
                continue
            outs = [np.zeros(r.type.shape, r.type.dtype.numpy) for r in op.results]
            t0 = time.monotonic()
            lib.call(s.symbol, ins, outs, num_threads)              # warm-up
            once = max(time.monotonic() - t0, 1e-7)
            if reference is None:
                reference = [o.copy() for o in outs]
            elif not all(np.allclose(a, b, rtol=1e-3, atol=1e-3, equal_nan=True) for a, b in zip(outs, reference)):
                say(f"  {name}: disagrees with {_variant_name(choices[0])}, skipped")
                continue
            reps = int(min(max(per_variant / once, 3), 200))
            t = float(np.median(lib.bench(s.symbol, ins, outs, reps, num_threads)))
            timings[name] = t
            best_name = min(timings, key=timings.get)
            say(f"  {name}: {t * 1e6:.1f} us (median of {reps}); best so far {best_name} "
                f"{timings[best_name] * 1e6:.1f} us")
        if skipped:
            say(f"  tuning budget spent: {skipped} variant(s) not timed")
    if not timings:
        return TuneResult(choices[0], "budget" if skipped else "heuristic", {}, sig)
    best_name = min(timings, key=timings.get)
    best = next(c for c in choices if _variant_name(c) == best_name)
    db.store(sig, key, {"emitter": emitter.name, "choice": best, "timings": timings, "op": op.name,
                        "kind": op.attributes.get("kind", "")})
    return TuneResult(best, "measured", timings, sig)


def select_variant(op: Operation, target="host", emitter=None, *, tune: bool = False,
                   db: Optional[TuningDatabase] = None, budget_s: float = 10.0,
                   progress: Optional[Callable[[str], None]] = None, num_threads: int = 1,
                   deadline: Optional[float] = None) -> TuneResult:
    """The choice to emit ``op`` with: the database's, else measured (``tune``), else the default.
    Past ``deadline`` (``time.monotonic()``) nothing is measured: the default, with source ``"budget"``.
    ``target``: a name or a Target, resolved here once (no compiler needed unless it measures)."""
    tgt = resolve_target(target, sources_only=True)
    emitter = emitter or emitter_for(op, tgt)
    db = db if db is not None else TuningDatabase()
    sig = kernel_signature(op)
    hit = database_choice(db, op, tgt, emitter, sig, target_key(tgt))
    if hit is not None:
        return hit
    if tune:
        if deadline is not None and time.monotonic() >= deadline:
            return TuneResult(emitter.variants(op, tgt)[0], "budget", {}, sig)
        return tune_kernel(op, tgt, emitter, budget_s, db=db, progress=progress, num_threads=num_threads,
                           use_db=False, deadline=deadline)
    return TuneResult(emitter.variants(op, tgt)[0], "heuristic", {}, sig)


def choose_variant(op: Operation, target="host", emitter=None, *, threads: Optional[int] = None, tune: bool = True,
                   db: Optional[TuningDatabase] = None, budget_s: float = 10.0,
                   progress: Optional[Callable[[str], None]] = None) -> dict:
    """The choice dict to pass to ``emitter.emit`` (what ``lpfc compile`` calls per kernel): the
    database's, else measured when ``tune`` (with ``threads`` threads), else the default heuristic's."""
    return select_variant(op, target, emitter, tune=tune, db=db, budget_s=budget_s, progress=progress,
                          num_threads=threads or 1).choice
