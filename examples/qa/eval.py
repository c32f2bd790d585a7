"""SQuAD v1.1 dev EM/F1 of the compiled QA model, through lpfc's .so and onnxruntime on the same ONNX.

    python -m examples.qa eval [--model DIR] [--limit 1000] [--runtimes lpfc,ort] [--threads 2] [--json OUT]
                               [--buckets 128,192,256,384]

``--limit N`` takes the first N dev questions (file order: whole articles). Both runtimes see the same
windows; the script reports both scores, their F1 difference (the issue asks for <= 0.1) and the
largest logit difference.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from lpfc.nas.squad import STRIDE, best_spans, encode, evaluate, load_squad, squad_dir  # noqa: E402

from .build import add_bucket_argument  # noqa: E402
from .paths import load_tokenizer  # noqa: E402


def predict(answerer, tok, examples, enc, progress: bool = True, desc: str = "") -> tuple[dict, list, float]:
    """qid -> best answer text, the per-window logits, and the seconds spent in the model."""
    per_q: dict[int, list[int]] = {}
    for w, q in enumerate(enc["overflow_to_sample_mapping"]):
        per_q.setdefault(q, []).append(w)
    logits, model_s = [], 0.0
    it = range(len(enc["input_ids"]))
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc=desc, unit="window", dynamic_ncols=True)
    for w in it:
        t = time.perf_counter()
        logits.append(answerer.logits(enc["input_ids"][w], enc["token_type_ids"][w]))
        model_s += time.perf_counter() - t
    preds = {}
    for q, ws in per_q.items():
        spans = best_spans([logits[w][0] for w in ws], [logits[w][1] for w in ws],
                           [enc["offset_mapping"][w] for w in ws], examples[q].context, top=1)
        preds[examples[q].qid] = spans[0].text if spans else ""
    return preds, logits, model_s


def run_eval(model_dir=None, limit: int | None = None, runtimes=("lpfc", "ort"), threads: int | None = None,
             dev_file=None, progress: bool = True, buckets=None) -> dict:
    from .build import BUCKETS, build_buckets
    from .infer import Answerer

    onnx_paths, libs = build_buckets(model_dir, buckets or BUCKETS, compile_lib="lpfc" in runtimes)
    onnx_path = onnx_paths[-1]
    tok = load_tokenizer()
    examples = load_squad(dev_file or squad_dir() / "dev-v1.1.json", limit)
    enc = encode(tok, [e.question for e in examples], [e.context for e in examples], stride=STRIDE)
    truths = {e.qid: e.answers for e in examples}
    report = {"model": str(model_dir or onnx_path.parent.parent), "questions": len(examples),
              "windows": len(enc["input_ids"]), "threads": threads, "buckets": list(buckets or BUCKETS),
              "results": {}}
    trained = Path(onnx_path).parent.parent / "trained.json"
    if trained.exists():
        t = json.loads(trained.read_text())
        report["trained_minutes"] = round(t["elapsed"] / 60, 2)
        report["trained_steps"] = t["step"]
    all_logits, all_preds = {}, {}
    for rt in runtimes:
        ans = Answerer(libs if rt == "lpfc" else onnx_paths, runtime=rt, threads=threads, tokenizer=tok)
        preds, logits, model_s = predict(ans, tok, examples, enc, progress, desc=rt)
        scores = evaluate(truths, preds)
        scores["ms_per_window"] = round(1e3 * model_s / max(len(logits), 1), 2)
        report["results"][rt] = scores
        all_logits[rt], all_preds[rt] = logits, preds
        print(f"{rt:5s} EM {scores['exact_match']:.2f}  F1 {scores['f1']:.2f}  ({len(examples)} questions, "
              f"{len(logits)} windows, {scores['ms_per_window']:.1f} ms per window)", flush=True)
    if len(runtimes) == 2:
        a, b = runtimes
        diff = abs(report["results"][a]["f1"] - report["results"][b]["f1"])
        worst = max(float(np.abs(x - y).max()) for la, lb in zip(all_logits[a], all_logits[b])
                    for x, y in zip(la, lb))
        same = sum(all_preds[a][q] == all_preds[b][q] for q in all_preds[a])
        report.update(f1_diff=diff, max_logit_diff=worst, same_answers=same)
        print(f"|F1({a}) - F1({b})| = {diff:.3f} (must be <= 0.1); max logit difference {worst:.2e}; "
              f"{same}/{len(examples)} identical answers")
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m examples.qa eval", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="trained model directory (default: the newest finished run's model/)")
    ap.add_argument("--limit", type=int, default=0, help="the first N dev questions (0: all 10,570)")
    ap.add_argument("--runtimes", default="lpfc,ort")
    ap.add_argument("--threads", type=int, default=None, help="threads per runtime (default: all)")
    ap.add_argument("--dev-file", default=None, help="default: SQuAD v1.1 dev")
    ap.add_argument("--json", default=None, help="write the report here")
    add_bucket_argument(ap)
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    rts = tuple(r for r in args.runtimes.split(",") if r)
    report = run_eval(args.model, args.limit or None, rts, args.threads, args.dev_file, not args.no_progress,
                      args.buckets)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1))
    if len(rts) == 2 and report["f1_diff"] > 0.1:
        print("FAILED: the two runtimes' F1 differ by more than 0.1")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
