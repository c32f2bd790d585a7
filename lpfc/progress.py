"""Progress reporting: how a stage of lpfc says what it is doing, and how long it took.

One interface, :class:`Progress`: ``progress.step(what)`` is a context manager around one piece of
work (``with progress.step("planning memory"): ...``); the step it yields takes detail lines
(``step.note("variant tile=32: 1.2 ms")``). The library only ever talks to this interface; who listens
is the caller's choice:

- :data:`SILENT` says nothing (the default everywhere);
- :class:`StderrProgress` is the command line's: ``[lpfc] importing model.onnx ... 0.42 s`` on stderr;
- :func:`as_progress` adapts what ``lpfc.compile(progress=...)`` and ``lpfc.explain`` accept from
  Python callers: a :class:`Progress`, ``None``, or a plain callable ``progress(what)`` (for instance
  ``print``, or one that returns a context manager, as ``StderrProgress.step`` does).

This module imports nothing from lpfc, so every layer may use it.
"""
from __future__ import annotations

import sys
import time
from contextlib import AbstractContextManager, contextmanager
from typing import Callable, ContextManager, Iterator, Protocol, Union, runtime_checkable


@runtime_checkable
class Step(Protocol):
    """The object a step yields: detail lines inside the step."""

    def note(self, text: str) -> None: ...


@runtime_checkable
class Progress(Protocol):
    """Hears about each step of the work (see the module docstring)."""

    def step(self, what: str) -> ContextManager[Step]: ...


class _NullStep:
    """A step that says nothing (also a context manager yielding itself)."""

    def __enter__(self) -> "_NullStep":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        return False

    def note(self, text: str) -> None:
        pass


class Silent:
    """The :class:`Progress` that says nothing."""

    def step(self, what: str) -> _NullStep:
        return _NullStep()


SILENT = Silent()


class StderrProgress:
    """Stage timing on stderr: ``[lpfc] importing model.onnx ... 0.42 s`` (nothing when ``quiet``)."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet

    def step(self, what: str) -> "_StderrStep":
        return _StderrStep(what, self.quiet)


class _StderrStep:
    def __init__(self, what, quiet):
        self.what, self.quiet = what, quiet

    def __enter__(self):
        self.t0 = time.perf_counter()
        self.open = True
        if not self.quiet:
            print(f"[lpfc] {self.what} ...", end="", file=sys.stderr, flush=True)
        return self

    def note(self, text: str) -> None:
        """A detail line inside the step (e.g. one tuned variant)."""
        if self.quiet:
            return
        if self.open:
            print(file=sys.stderr)
            self.open = False
        print(f"[lpfc]     {text}", file=sys.stderr, flush=True)

    def __exit__(self, exc_type, exc, tb):
        if not self.quiet:
            failed = " stopped" if exc_type is not None and issubclass(exc_type, KeyboardInterrupt) else " failed"
            status = f" {time.perf_counter() - self.t0:.2f} s" if exc_type is None else failed
            if not self.open:
                status = f"[lpfc]     done in{status}" if exc_type is None else f"[lpfc]    {failed}"
            print(status, file=sys.stderr, flush=True)
        return False


class _Callback:
    """A plain callable as a :class:`Progress`: ``fn(what)`` is called when a step starts.

    This is the one place that looks at what a caller's callable returns: a context manager is entered
    around the step (and its ``note`` method, if any, hears the step's detail lines); anything else
    (``print`` returns None) is ignored. The callable API predates :class:`Progress` and
    ``lpfc.compile(progress=...)`` keeps accepting it.
    """

    def __init__(self, fn: Callable[[str], object]):
        self.fn = fn

    @contextmanager
    def step(self, what: str) -> Iterator[Step]:
        ctx = self.fn(what)
        if not isinstance(ctx, AbstractContextManager):
            yield _NullStep()
            return
        with ctx:
            yield _Notes(ctx)


class _Notes:
    """Forwards a step's detail lines to a caller's context object when it has a ``note`` method."""

    def __init__(self, ctx):
        self.ctx = ctx

    def note(self, text: str) -> None:
        fn = getattr(self.ctx, "note", None)
        if callable(fn):
            fn(text)


def as_progress(progress: Union[Progress, Callable[[str], object], None]) -> Progress:
    """``progress`` as a :class:`Progress`: None -> :data:`SILENT`; a Progress as is; a callable adapted."""
    if progress is None:
        return SILENT
    if isinstance(progress, Progress):
        return progress
    if callable(progress):
        return _Callback(progress)
    raise TypeError(f"progress must be a Progress (with a step method) or a callable, not {type(progress).__name__}")


__all__ = ["Progress", "SILENT", "Silent", "Step", "StderrProgress", "as_progress"]
