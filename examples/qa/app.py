"""`make qa`: train the QA model if it is not cached yet, compile it with lpfc, serve the web page.

    python -m examples.qa all [--minutes 105] [--port 8014]

Training options are those of ``train`` (a cached run with the same settings is reused at once).
"""
from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    from . import train as tr
    from .web import serve
    ap = argparse.ArgumentParser(prog="python -m examples.qa all", description=__doc__.splitlines()[0])
    tr.add_arguments(ap)
    ap.add_argument("--port", type=int, default=8014)
    args = ap.parse_args(argv)
    out = tr.train(args)
    return serve(out / "model", args.port, threads=None)


if __name__ == "__main__":
    sys.exit(main())
