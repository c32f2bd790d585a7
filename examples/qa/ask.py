"""Answer one question about a paragraph with the compiled QA model.

    python -m examples.qa ask --context FILE --question "Which team won Super Bowl 50?"

Prints the answer text on the first line, then its character span [start, end) in the paragraph and
its score (start + end logit; p = its softmax share among the top candidates), the paragraph with the
answer highlighted (on a terminal, or with --highlight), the alternatives and the model's latency.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

HL, RESET = "\033[1;30;43m", "\033[0m"  # black on yellow


def highlight(context: str, start: int, end: int, color: bool) -> str:
    if color:
        return context[:start] + HL + context[start:end] + RESET + context[end:]
    return context[:start] + "[[" + context[start:end] + "]]" + context[end:]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m examples.qa ask", description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--context", help="a text file holding the paragraph ('-': standard input)")
    src.add_argument("--context-text", help="the paragraph itself")
    ap.add_argument("--question", required=True)
    ap.add_argument("--model", default=None, help="trained model directory (default: the newest finished run's model/)")
    ap.add_argument("--runtime", default="lpfc", choices=("lpfc", "ort"))
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--top", type=int, default=3, help="alternatives to list")
    ap.add_argument("--highlight", action="store_true", help="colour the answer even when not on a terminal")
    from .build import add_bucket_argument, build_buckets
    add_bucket_argument(ap)
    args = ap.parse_args(argv)

    from .infer import Answerer, QAError

    if args.context_text is not None:
        context = args.context_text
    elif args.context == "-":
        context = sys.stdin.read()
    else:
        path = Path(args.context)
        if not path.is_file():
            print(f"error: no such paragraph file: {path}", file=sys.stderr)
            return 2
        context = path.read_bytes().decode("utf-8", errors="replace")
    onnx_paths, libs = build_buckets(args.model, args.buckets, quiet=True)
    answerer = Answerer(libs if args.runtime == "lpfc" else onnx_paths, args.runtime, args.threads)
    try:
        ans = answerer.answer(args.question, context, top=max(args.top, 1))
    except QAError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    best = ans.best
    if best is None:
        print("")
        print("no answer found: " + "; ".join(ans.notes))
        return 1
    print(best.text)
    print(f"span {best.start}-{best.end}  score {best.score:.2f}  p {best.prob:.2f}")
    color = args.highlight or sys.stdout.isatty()
    if len(context) <= 5000:
        print()
        print(highlight(context, best.start, best.end, color))
    print()
    for i, s in enumerate(ans.spans[1:args.top + 1], 1):
        print(f"  alt {i}: {s.text!r} span {s.start}-{s.end} score {s.score:.2f}")
    print(f"{ans.windows} window(s), model {ans.model_ms:.1f} ms ({args.runtime}), total {ans.total_ms:.1f} ms")
    for n in ans.notes:
        print("note: " + n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
