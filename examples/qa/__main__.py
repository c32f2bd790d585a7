"""python -m examples.qa {train,build,eval,ask,serve,all,curve} ... (see examples/qa/__init__.py)."""
from __future__ import annotations

import importlib
import sys

COMMANDS = {"train": "train", "build": "build", "eval": "eval", "ask": "ask", "serve": "web", "all": "app",
            "curve": "curve"}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print(__doc__.strip() + "\n" + importlib.import_module("examples.qa").__doc__)
        return 2 if argv and argv[0] not in ("-h", "--help") else 0
    mod = importlib.import_module(f"examples.qa.{COMMANDS[argv[0]]}")
    return mod.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
