"""The ``lpfc`` command's entry point (setup.cfg's console_scripts).

It lives outside the ``lpfc`` package on purpose: ``import lpfc`` takes a few tenths of a second (numpy,
onnx, islpy), and a signal in that time used to end in a 22-line traceback from the middle of an import.
Here the handlers come first: until ``lpfc.cli`` is imported a signal prints one line and exits with
128 + its number (nothing has been written yet, so there is nothing to clean up); after that
``lpfc.cli_signals`` takes over, which cleans up what a compile made before it exits.
"""
import os
import signal
import sys

_EARLY = tuple(s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP")) if s is not None)


def _early_stop(signum, frame):
    try:
        os.write(2, f"lpfc: stopped by {signal.Signals(signum).name}\n".encode())
    finally:
        os._exit(128 + signum)


def main() -> int:
    for s in _EARLY:
        signal.signal(s, _early_stop)
    from lpfc.cli import main as cli_main

    return cli_main(handle_signals=True)


if __name__ == "__main__":
    sys.exit(main())
