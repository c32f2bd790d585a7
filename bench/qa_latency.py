"""Latency of the QA model (MiniLM + span head, seq 384, batch 1) through lpfc's .so vs onnxruntime.

    python bench/qa_latency.py [--model DIR] [--threads 1,2] [--runs 20] [--rounds 3]

Both runtimes run the same ONNX export (lpfc: its compiled library) on the same real SQuAD dev
window, in the same process, interleaved round by round (so that other load on the machine hits
both alike); the figure is the median of all timed runs, after one warm-up run per round. The CPU
(lscpu's model name) and the load average are printed with the numbers.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.peak import cpu_name  # noqa: E402  (after the path line: run as a script)
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="trained model directory (default: the default run's model/)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=20, help="timed runs per runtime per round")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)

    from examples.qa.build import build
    from examples.qa.infer import Answerer, _feeds
    from examples.qa.paths import load_tokenizer
    from lpfc.nas.squad import encode, load_squad, squad_dir

    onnx_path, lib = build(args.model, quiet=True)
    tok = load_tokenizer()
    ex = load_squad(squad_dir() / "dev-v1.1.json", 1)[0]
    enc = encode(tok, [ex.question], [ex.context])
    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical); load average {os.getloadavg()[0]:.2f}")
    print(f"model: {lib} (seq 384, batch 1; a real dev window of {len(enc['input_ids'][0])} tokens, padded)")
    print(f"{args.rounds} rounds x {args.runs} runs per runtime, interleaved\n")
    print("| threads | lpfc median ms | onnxruntime median ms | lpfc / ort |")
    print("|---:|---:|---:|---:|")
    for th in [int(t) for t in args.threads.split(",")]:
        rts = {"lpfc": Answerer(lib, "lpfc", threads=th, tokenizer=tok),
               "ort": Answerer(onnx_path, "ort", threads=th, tokenizer=tok)}
        feeds = _feeds(enc["input_ids"][0], enc["token_type_ids"][0], 384)
        times = {k: [] for k in rts}
        for _ in range(args.rounds):
            for name, a in rts.items():
                a._run(feeds)  # warm-up
                for _ in range(args.runs):
                    t = time.perf_counter()
                    a._run(feeds)
                    times[name].append((time.perf_counter() - t) * 1e3)
        lp, ort = statistics.median(times["lpfc"]), statistics.median(times["ort"])
        print(f"| {th} | {lp:.1f} | {ort:.1f} | {lp / ort:.2f} |", flush=True)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
