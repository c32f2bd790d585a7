"""``python -m examples.textgen PROMPT [options]`` generates; ``... serve`` starts the page; ``... build`` builds."""
import sys


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "serve":
        from .web import main as serve
        return serve(argv[1:])
    if argv and argv[0] == "build":
        from .build import main as build
        return build(argv[1:])
    from .cli import main as generate
    return generate(argv)


if __name__ == "__main__":
    sys.exit(main())
