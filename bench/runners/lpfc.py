"""Times a library built by lpfc.compile through lpfc.load (runs in lpfc's venv)."""
from __future__ import annotations

from ._common import load_inputs, measure, parser, set_thread_env


def main() -> None:
    args = parser(__doc__).parse_args()
    set_thread_env(args.threads)
    import lpfc

    feeds = load_inputs(args.inputs)
    sess = lpfc.load(args.artifact, threads=args.threads)
    measure(lambda: sess.run(None, feeds), args, {"version": getattr(lpfc, "__version__", "?")})


if __name__ == "__main__":
    main()
