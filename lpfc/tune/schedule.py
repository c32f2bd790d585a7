"""The variant of every kernel of one compile, and, with ``--tune``, the tuning schedule.

:class:`VariantChooser` is what ``lpfc.compile``'s emit stage asks, kernel by kernel in program
order, which schedule variant to emit: the tuning database's choice when it has one; else, with
``tune``, the fastest measured (stored for next time); else the emitter's default
(:func:`lpfc.tune.select_variant`). With ``tune`` a :class:`TuneSchedule` decides which kernels are
measured (each distinct kernel signature once, those the database does not already answer), in
what order, and how much of ``--tune-budget`` each may spend; kernels the budget does not reach
keep their default variant (source ``"budget"``). The progress display gets one step per tuned
kernel (``tuning kernel k/n: ...``, time left, ETA) and one note per variant timed.
"""
from __future__ import annotations

import time
from typing import Optional

from ..progress import SILENT, Progress
from .database import TuningDatabase, default_path, kernel_signature, target_key
from .tuner import database_choice, select_variant


class TuneSchedule:
    """Which kernels --tune measures, in what order, within the time budget; feeds the progress display."""

    def __init__(self, ops, target, emitters, budget: Optional[float]):
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
        self.started: set = set()        # signatures whose tuning has begun (a repeat is not tuned again)

    def needs(self, i: int) -> bool:
        """Kernel op i is the first of its signature to be measured."""
        return self.sigs[i] in self.todo and self.sigs[i] not in self.started

    def start(self, i: int) -> tuple:
        """(k, n, per-kernel budget or None, skip?, eta text) for kernel op i."""
        self.started.add(self.sigs[i])
        k, n = len(self.started), len(self.todo)
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


class VariantChooser:
    """The variant to emit for each kernel op of one compile (see the module docstring).

    ``emitters`` (one per op, needed with ``tune``: the schedule asks each for its variants up front);
    ``threads``: the thread count kernels are measured with; ``budget``: ``--tune-budget`` in seconds.
    ``stats`` counts the choices by source (database, measured, heuristic, budget).
    """

    def __init__(self, ops, target, emitters=None, *, tune: bool = False, threads: Optional[int] = None,
                 budget: Optional[float] = None, progress: Progress = SILENT):
        self.target = target
        self.tune = tune
        self.threads = threads
        self.budget = budget
        self.progress = progress
        self.stats: dict = {}
        self.schedule = TuneSchedule(ops, target, emitters, budget) if tune else None

    def choose(self, i: int, op, emitter) -> dict:
        """The choice dict for kernel op ``i`` (ops in program order, as given to the constructor)."""
        s = self.schedule
        if s is not None and s.needs(i):
            return self._tune(i, op, emitter)
        if s is not None and s.sigs[i] in s.todo:
            # a repeat of a kernel tuned above (the database has it) or skipped for the budget
            return self._select(op, emitter, True,
                                deadline=s.t0 - 1.0 if s.sigs[i] in s.skipped else None)
        return self._select(op, emitter, self.tune)

    def _tune(self, i: int, op, emitter) -> dict:
        from ..codegen.model_gen import _shape_text, kernel_kind

        s = self.schedule
        k, n, per_kernel, skip, eta = s.start(i)
        what = (f"tuning kernel {k}/{n}: {kernel_kind(op)} {_shape_text(op)}, "
                f"{len(emitter.variants(op, self.target))} variants ({eta})")
        if skip:
            s.skipped.add(s.sigs[i])
            choice = self._select(op, emitter, True, deadline=s.t0 - 1.0)
            with self.progress.step(what + ": budget spent, default variant"):
                pass
            return choice
        t_k = time.monotonic()
        with self.progress.step(what) as step:
            kw = dict(deadline=s.deadline, progress=lambda line: step.note(line.strip()))
            if per_kernel is not None:
                kw["budget_s"] = min(10.0, per_kernel)
            choice = self._select(op, emitter, True, **kw)
        s.finished(time.monotonic() - t_k)
        return choice

    def _select(self, op, emitter, tune: bool, **kw) -> dict:
        r = select_variant(op, self.target, emitter, tune=tune, num_threads=self.threads or 1, **kw)
        self.stats[r.source] = self.stats.get(r.source, 0) + 1
        return r.choice

    def summary_note(self) -> Optional[str]:
        """The ``variants: ...`` line of the compile summary (None when no variant came from tuning)."""
        stats = self.stats
        if not (self.tune or stats.get("database")):
            return None
        tune, budget = self.tune, self.budget
        return ("variants: " + ", ".join(f"{n} {k}" for k, n in sorted(stats.items()))
                + (f" (measured with {self.threads or 1} thread(s))" if tune else "")
                + (f"; tuning budget {budget:g} s" if tune and budget is not None else "")
                + (" (spent: 'budget' kernels kept their default variant)" if stats.get("budget") else "")
                + f"; tuning database {default_path()}")


__all__ = ["TuneSchedule", "VariantChooser"]
