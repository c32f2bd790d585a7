import sys

from .cli import main

sys.exit(main(handle_signals=True))
