"""The streaming command line: ``python -m examples.textgen "Once upon a time" --max-new-tokens 64 ...``"""
from __future__ import annotations

import argparse
import sys
import time

from .models import SPECS, ModelUnavailable


def add_generation_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--model", default="smollm2", choices=sorted(SPECS))
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--temperature", type=float, default=0.7, help="0: greedy")
    ap.add_argument("--top-k", type=int, default=40, help="0: off")
    ap.add_argument("--top-p", type=float, default=0.9, help="1: off")
    ap.add_argument("--repetition-penalty", type=float, default=1.0, help="1: off (transformers' definition)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None, help="default: every processor")
    ap.add_argument("--runtime", default="lpfc", choices=("lpfc", "ort"),
                    help="lpfc (the compiled libraries) or ort (onnxruntime on the same ONNX)")
    ap.add_argument("--weights", default="fp32", choices=("fp32", "fp16"),
                    help="lpfc's decode library stores its weights as fp32 or fp16 (computed in fp32)")


class Streamer:
    """Turns token ids into text as they come: decodes the whole answer each time and emits what is new,
    holding back an incomplete UTF-8 character (the tokenizer then returns U+FFFD at the end)."""

    def __init__(self, tok):
        self.tok, self.ids, self.done = tok, [], ""

    def push(self, token: int) -> str:
        self.ids.append(token)
        text = self.tok.decode(self.ids)
        if text.endswith("\ufffd"):
            return ""
        new, self.done = text[len(self.done):], text
        return new


def open_engine(model: str, runtime: str, threads, quiet: bool = False, weights: str = "fp32"):
    from .build import build
    from .engine import Engine
    from .models import load_tokenizer
    b = build(model, quiet=quiet, weights=weights if runtime == "lpfc" else "fp32")
    tok = load_tokenizer(model)
    return Engine.open(b, runtime, threads=threads, eos_id=tok.eos_token_id), tok


def main(argv=None) -> int:
    from .engine import Stats, TextgenError
    from .sampling import Sampling
    ap = argparse.ArgumentParser(prog="python -m examples.textgen",
                                 description="Generate text with a language model compiled by lpfc, token by token. "
                                             "(`python -m examples.textgen serve` starts the web page, "
                                             "`... build` only builds.)")
    ap.add_argument("prompt")
    ap.add_argument("--chat", action="store_true", help="wrap the prompt in the model's chat template")
    add_generation_arguments(ap)
    args = ap.parse_args(argv)
    try:
        sampling = Sampling(args.temperature, args.top_k, args.top_p, args.repetition_penalty, args.seed).check()
        eng, tok = open_engine(args.model, args.runtime, args.threads, weights=args.weights)
        ids = tok.apply_chat(args.prompt) if args.chat else tok.encode(args.prompt)
        eng.check_room(len(ids), args.max_new_tokens)
    except (ValueError, ModelUnavailable) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    st = Stats()
    out = Streamer(tok)
    if not args.chat:
        sys.stdout.write(args.prompt)
    t0 = time.perf_counter()
    try:
        for t in eng.generate(ids, args.max_new_tokens, sampling, st):
            sys.stdout.write(out.push(t))
            sys.stdout.flush()
    except TextgenError as e:
        print(f"\nerror: {e}", file=sys.stderr)
        return 2
    total = time.perf_counter() - t0
    print()
    print(f"{st.tokens_per_s:.1f} tokens/s ({st.new_tokens} tokens; prompt {st.prompt_tokens} tokens, prefill "
          f"{st.prefill_s * 1e3:.0f} ms, first token {st.first_token_s * 1e3:.0f} ms, total {total:.2f} s; "
          f"{args.model} via {args.runtime}"
          f"{', fp16 weights' if args.weights == 'fp16' and args.runtime == 'lpfc' else ''})", file=sys.stderr)
    return 0
