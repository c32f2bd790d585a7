"""Latency of the QA model (MiniLM + span head, seq 384, batch 1): lpfc's .so, onnxruntime, LiteRT+XNNPACK.

    python bench/qa_latency.py [--model DIR] [--threads 1,2] [--runs 20] [--rounds 3] [--runtimes lpfc,ort,litert]

lpfc and onnxruntime run the app's ONNX export (lpfc: its compiled library) inside this process;
LiteRT+XNNPACK runs an onnx2tf conversion of the same weights (bench/qa_litert.py: the dynamo
exporter with eager attention, the spelling onnx2tf converts) in a worker process of the
benchmark's tflite peer venv. All see the same real SQuAD dev window. Before any timing, each
runtime's start/end logits are compared with onnxruntime's (max |diff| / max(1, max |ref|) <= --tol);
a runtime that differs is reported and not timed. Timing is interleaved round by round (so that
other load on the machine hits all alike); the figure is the median of all timed runs, after one
warm-up run per round. The CPU (lscpu's model name) and the load average are printed with the numbers.

--model defaults to the newest finished training run under $LPFC_CACHE_DIR/qa (as qa-distill's teacher).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.peak import cpu_name  # noqa: E402  (after the path line: run as a script)

os.environ.setdefault("HF_HUB_OFFLINE", "1")

LABELS = {"lpfc": "lpfc", "ort": "onnxruntime", "litert": "LiteRT+XNNPACK"}


def _max_diff(got, ref) -> tuple:
    import numpy as np
    d = max(float(np.abs(np.asarray(g, np.float64) - r).max()) for g, r in zip(got, ref))
    return d, d / max(1.0, max(float(np.abs(r).max()) for r in ref))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="trained model directory (default: the newest finished run's model/)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=20, help="timed runs per runtime per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runtimes", default="lpfc,ort,litert", help="any of lpfc, ort, litert")
    ap.add_argument("--tol", type=float, default=1e-3,
                    help="largest logit difference from onnxruntime, over max(1, max |logit|), to be timed")
    args = ap.parse_args(argv)
    wanted = [r for r in args.runtimes.split(",") if r]
    if bad := [r for r in wanted if r not in LABELS]:
        ap.error(f"unknown runtime(s) {bad}; choose from {list(LABELS)}")

    import numpy as np

    from bench import peers, qa_litert
    from examples.qa.build import OUTPUTS, build
    from examples.qa.infer import Answerer, _feeds
    from examples.qa.paths import load_tokenizer
    from lpfc.nas.evaluators.qa_distill import find_teacher
    from lpfc.nas.squad import encode, load_squad, squad_dir

    model_dir = Path(args.model) if args.model else find_teacher()
    onnx_path, lib = build(model_dir, quiet=True)
    tok = load_tokenizer()
    ex = load_squad(squad_dir() / "dev-v1.1.json", 1)[0]
    enc = encode(tok, [ex.question], [ex.context])
    feeds = _feeds(enc["input_ids"][0], enc["token_type_ids"][0], 384)
    out = Answerer(onnx_path, "ort", tokenizer=tok)._run(feeds)  # the reference logits
    ref = [np.asarray(out[k], np.float64) for k in OUTPUTS]

    # ---- check every runtime's logits against onnxruntime's before timing anything
    notes, litert = [], None
    if "lpfc" in wanted:
        out = Answerer(lib, "lpfc", threads=1, tokenizer=tok)._run(feeds)
        d, s = _max_diff([out[k] for k in OUTPUTS], ref)
        notes.append(f"lpfc vs onnxruntime: max |logit diff| {d:.2e} (scaled {s:.2e})")
        if s > args.tol:
            notes.append("lpfc: WRONG LOGITS, not timed")
            wanted.remove("lpfc")
    tmp = tempfile.TemporaryDirectory(prefix="qa-latency-")
    feeds_npz = Path(tmp.name) / "feeds.npz"
    np.savez(feeds_npz, **feeds)
    if "litert" in wanted:
        try:
            t0 = time.perf_counter()
            tfl = qa_litert.convert(qa_litert.eager_onnx(model_dir))
            w = qa_litert.Worker(tfl, feeds_npz, 1)
            try:
                c = qa_litert.check(w.outputs(), dict(zip(OUTPUTS, ref)), args.tol)
                version = w.info.get("version")
            finally:
                w.close()
            notes.append(f"LiteRT+XNNPACK (ai-edge-litert {version}, {tfl.name}, prepared in "
                         f"{time.perf_counter() - t0:.0f} s) vs onnxruntime: max |logit diff| "
                         f"{c['max_abs_diff']:.2e} (scaled {c['scaled_diff']:.2e}), same argmax: {c['same_argmax']}")
            if c["ok"]:
                litert = tfl
            else:
                notes.append("LiteRT+XNNPACK: WRONG LOGITS, not timed")
        except (peers.NotAvailable, RuntimeError, OSError) as e:
            notes.append(f"LiteRT+XNNPACK: not timed: {e}")
        if litert is None:
            wanted.remove("litert")

    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical); load average {os.getloadavg()[0]:.2f}")
    print(f"model: {lib} (seq 384, batch 1; a real dev window of {len(enc['input_ids'][0])} tokens, padded)")
    for n in notes:
        print(n)
    print(f"{args.rounds} rounds x {args.runs} runs per runtime, interleaved\n")
    cols = [LABELS[r] + " median ms" for r in wanted]
    ratios = [("lpfc", o) for o in wanted if o != "lpfc"] if "lpfc" in wanted else []
    cols += [f"lpfc / {LABELS[o]}" for _, o in ratios]
    print("| threads | " + " | ".join(cols) + " |")
    print("|---:|" + "---:|" * len(cols))
    for th in [int(t) for t in args.threads.split(",")]:
        runners, closers = {}, []
        if "lpfc" in wanted:
            a = Answerer(lib, "lpfc", threads=th, tokenizer=tok)
            runners["lpfc"] = lambda n, a=a: _time(lambda: a._run(feeds), n)
        if "ort" in wanted:
            a = Answerer(onnx_path, "ort", threads=th, tokenizer=tok)
            runners["ort"] = lambda n, a=a: _time(lambda: a._run(feeds), n)
        if "litert" in wanted:
            w = qa_litert.Worker(litert, feeds_npz, th)
            closers.append(w.close)
            runners["litert"] = lambda n, w=w: w.time(n, warmup=1)
        times = {k: [] for k in runners}
        try:
            for _ in range(args.rounds):
                for name, run in runners.items():
                    times[name] += run(args.runs)
        finally:
            for c in closers:
                c()
        med = {k: statistics.median(v) for k, v in times.items()}
        cells = [f"{med[r]:.1f}" for r in wanted] + [f"{med[a] / med[b]:.2f}" for a, b in ratios]
        print(f"| {th} | " + " | ".join(cells) + " |", flush=True)
    tmp.cleanup()
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    return 0


def _time(call, runs: int) -> list:
    call()  # warm-up
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        call()
        out.append((time.perf_counter() - t) * 1e3)
    return out


if __name__ == "__main__":
    sys.exit(main())
