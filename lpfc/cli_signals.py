"""How the ``lpfc`` command stops on SIGINT, SIGTERM and SIGHUP: cleanly, with one line.

A signal becomes a :class:`Stopped` exception (a ``KeyboardInterrupt``, so ``except Exception`` in the
compiler never swallows it) raised in the main thread, after every running compiler's process group has
been killed (``lpfc.codegen.toolchain.stop_children``: a ``kill PID`` that reaches lpfc alone must not
leave g++ running) and no new one may start. The exception unwinds through the ``finally`` blocks that
remove what the compile made (``lpfc-gen-*`` in $TMPDIR, ``lpfc-build-*`` next to the output, the
``--emit-source`` staging directory); further signals are ignored meanwhile so that the clean-up
finishes. ``lpfc.cli.main`` then prints ``lpfc: stopped by SIGTERM`` and returns 128 + the signal number
(130, 143, 129), as a shell does.

Only the command installs these handlers (``lpfc_cli.main``, ``python -m lpfc``); ``lpfc.cli.main`` called
from Python, and ``lpfc.compile``, leave the caller's signal handling alone.
"""
from __future__ import annotations

import signal
import sys

SIGNALS = tuple(s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP")) if s is not None)


class Stopped(KeyboardInterrupt):
    """lpfc was asked to stop by a signal; ``signum`` says which."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


def _handler(signum, frame):
    for s in SIGNALS:                 # the clean-up below must not be cut short by a second signal
        signal.signal(s, signal.SIG_IGN)
    toolchain = sys.modules.get("lpfc.codegen.toolchain")
    if toolchain is not None:         # not imported yet: no compiler can be running
        toolchain.stop_children()
    raise Stopped(signum)


def install() -> None:
    """Turns SIGINT, SIGTERM and SIGHUP into :class:`Stopped` (main thread only, as signal requires)."""
    for s in SIGNALS:
        signal.signal(s, _handler)


def message(exc: BaseException) -> tuple[str, int]:
    """The one line the command prints for an interruption, and its exit status."""
    if isinstance(exc, Stopped):
        return f"lpfc: stopped by {exc.name}", exc.exit_status
    return "lpfc: interrupted", 128 + signal.SIGINT


__all__ = ["SIGNALS", "Stopped", "install", "message"]
