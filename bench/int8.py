"""int8 in one run: lpfc fp32, lpfc int8 (``--precision int8``), onnxruntime's ``quantize_dynamic`` model and
LiteRT's dynamic-range int8 model of MiniLM (batch 1, 128 tokens), and the accuracy of lpfc's int8 embeddings.

    python -m bench.int8 build                     # compiles both libraries (cached under $LPFC_CACHE_DIR/bench/int8)
    python -m bench.int8 accuracy [--sentences 64] # cosine of int8 to fp32 mean-pooled sentence embeddings
    python -m bench.int8 speed --threads 1,2 --runs 20 --rounds 2 [--out results.json]
    python -m bench.int8 qa --limit 500 [--model DIR]  # SQuAD v1.1 dev F1 of a QA app model, lpfc fp32 vs int8

``speed`` does not compile: it times what ``build`` made, each runtime in its own process through the harness's
runners (bench/runners/), round-robin, and reports the minimum and median of every runtime's timed runs.

The peers' models: onnxruntime's is ``quantize_dynamic(minilm-ts14, QInt8, per_channel=True, reduce_range=True)``
(tests/frontend/test_quantized_models.py caches it as ``ort-quantized/minilm-dynamic-pc1-<ort>.onnx``), LiteRT's
is onnx2tf's ``-odrqt`` output (dynamic-range quantization: int8 weights, activations quantized at run time by
XNNPACK) of ``minilm-dynamo20-eager``, cached at ``bench/tflite-int8/``.  A missing peer is reported, not faked.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.peak import cpu_name

ROOT = Path(__file__).resolve().parents[1]
RESULT_PREFIX = "BENCH-RESULT "


def cache_root() -> Path:
    root = os.environ.get("LPFC_CACHE_DIR")
    return Path(root) if root else Path.home() / ".cache" / "lpfc"


def paths() -> dict:
    c = cache_root()
    import onnxruntime as ort
    return {"onnx": c / "zoo" / "minilm-ts14.onnx", "fp32": c / "bench" / "int8" / "minilm-ts14-fp32.so",
            "int8": c / "bench" / "int8" / "minilm-ts14-int8.so",
            "ort_int8": c / "ort-quantized" / f"minilm-dynamic-pc1-{ort.__version__}.onnx",
            "tflite_int8": c / "bench" / "tflite-int8" / "minilm-dynamo20-eager_dynamic_range_quant.tflite",
            "tflite_fp32": c / "bench" / "tflite-int8" / "minilm-dynamo20-eager_float32.tflite",
            "inputs": c / "bench" / "int8" / "inputs.npz"}


def sentences(n: int) -> list:
    """Real sentences: the demo's, then those of SQuAD v1.1 dev's contexts in file order (when it is here), then
    the QA app's Super Bowl 50 passage."""
    from examples.minilm_demo import SENTENCES
    texts = []
    try:
        from lpfc.nas.squad import load_squad, squad_dir
        seen: set = set()
        for e in load_squad(squad_dir() / "dev-v1.1.json", 40 * n):
            if e.context not in seen:
                seen.add(e.context)
                texts.append(e.context)
    except Exception:
        pass
    texts.append((ROOT / "examples" / "qa" / "super_bowl_50.txt").read_text())
    parts = [s.strip() for t in texts for s in re.split(r"(?<=[.!?])\s+", t) if len(s.split()) >= 4]
    return (list(SENTENCES) + parts)[:n]


def cmd_build(args) -> int:
    import lpfc
    p = paths()
    p["fp32"].parent.mkdir(parents=True, exist_ok=True)
    for prec in ("fp32", "int8"):
        t0 = time.perf_counter()
        lpfc.compile(str(p["onnx"]), str(p[prec]), precision=prec, force=True)
        print(f"built {p[prec]} ({prec}) in {time.perf_counter() - t0:.1f} s")
    from examples.minilm_demo import tokenize
    feeds = tokenize(sentences(1), 128)
    np.savez(p["inputs"], **feeds)
    _convert_litert_int8(p)
    return 0


def _convert_litert_int8(p: dict) -> None:
    """LiteRT's int8 peer: onnx2tf -odrqt of the dynamo export with eager attention (the spelling onnx2tf
    converts), in the tflite peer venv (``python -m bench setup-peers``); said, not faked, when it cannot be made."""
    from bench import peers
    from lpfc.testing import zoo
    if p["tflite_int8"].exists() and p["tflite_fp32"].exists():
        print(f"LiteRT int8 model: {p['tflite_int8']} (cached)")
        return
    py = peers.venv_python("tflite")
    if not py.exists():
        print(f"LiteRT int8 model: not made, the tflite peer venv is missing ({py}; python -m bench setup-peers)")
        return
    src = zoo.export("minilm", "dynamo20-eager")
    out = p["tflite_int8"].parent
    t0 = time.perf_counter()
    r = subprocess.run([str(py), "-m", "bench.runners.tflite_convert", str(src), str(out), str(out / "work"),
                        "--dynamic-range-quant"], cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0 or not p["tflite_int8"].exists():
        print(f"LiteRT int8 model: onnx2tf failed ({(r.stdout.strip() or r.stderr.strip())[-500:]})")
        return
    print(f"built {p['tflite_int8']} (onnx2tf -odrqt) in {time.perf_counter() - t0:.1f} s")


def cmd_accuracy(args) -> int:
    import lpfc
    from examples.minilm_demo import mean_pool, tokenize
    p = paths()
    sess = {k: lpfc.load(str(p[k]), threads=1) for k in ("fp32", "int8")}
    peers = {}
    if p["ort_int8"].exists():
        import onnxruntime as ort
        peers["ort_int8"] = ort.InferenceSession(str(p["ort_int8"]), providers=["CPUExecutionProvider"])
    cos = {k: [] for k in ["int8", *peers]}
    sents = sentences(args.sentences)
    for s in sents:
        feeds = tokenize([s], 128)
        ref = mean_pool(sess["fp32"].run(None, feeds)[0], feeds["attention_mask"])[0]
        got = {"int8": sess["int8"].run(None, feeds)[0]}
        for k, ps in peers.items():
            got[k] = ps.run(None, {i.name: feeds[i.name] for i in ps.get_inputs()})[0]
        for k, h in got.items():
            e = mean_pool(h, feeds["attention_mask"])[0]
            cos[k].append(float(np.dot(e, ref)))
    res = {"sentences": len(sents), "cpu": cpu_name(),
           **{f"cosine_{k}_vs_lpfc_fp32": {"min": min(v), "mean": statistics.fmean(v)} for k, v in cos.items()}}
    print(json.dumps(res, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=1))
    return 0


def cmd_qa(args) -> int:
    """SQuAD F1 of the QA app's model (examples/qa; its default training run) through lpfc fp32 and int8."""
    import lpfc
    from examples.qa.build import build
    from examples.qa.eval import predict
    from examples.qa.infer import Answerer
    from examples.qa.paths import load_tokenizer
    from lpfc.nas.squad import STRIDE, encode, evaluate, load_squad, squad_dir
    onnx_path, lib32 = build(args.model, quiet=True)
    lib8 = Path(onnx_path).with_name("libqa384-int8.so")
    if not lib8.exists() or lib8.stat().st_mtime < Path(onnx_path).stat().st_mtime:
        lib8.parent.mkdir(parents=True, exist_ok=True)
        lpfc.compile(str(onnx_path), str(lib8), precision="int8", force=True)
    tok = load_tokenizer()
    examples = load_squad(squad_dir() / "dev-v1.1.json", args.limit)
    enc = encode(tok, [e.question for e in examples], [e.context for e in examples], stride=STRIDE)
    truths = {e.qid: e.answers for e in examples}
    res = {"model": str(onnx_path), "questions": len(examples), "subset": f"the first {len(examples)} SQuAD v1.1 "
           "dev questions (file order)", "cpu": cpu_name(), "results": {}}
    for name, lib in (("lpfc fp32", lib32), ("lpfc int8", lib8)):
        ans = Answerer(lib, runtime="lpfc", threads=args.threads, tokenizer=tok)
        preds, _, model_s = predict(ans, tok, examples, enc, progress=False)
        sc = evaluate(truths, preds)
        sc["ms_per_window"] = round(1e3 * model_s / max(len(enc["input_ids"]), 1), 2)
        res["results"][name] = sc
        print(f"{name}: EM {sc['exact_match']:.2f} F1 {sc['f1']:.2f} ({sc['ms_per_window']} ms per window, noisy)",
              flush=True)
    res["f1_drop"] = res["results"]["lpfc fp32"]["f1"] - res["results"]["lpfc int8"]["f1"]
    print(json.dumps(res, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=1))
    return 0


def _run_one(kind: str, artifact: Path, inputs: Path, threads: int, runs: int) -> dict:
    from bench import peers
    module = {"lpfc": "bench.runners.lpfc", "ort": "bench.runners.ort", "tflite": "bench.runners.tflite"}[kind]
    py = str(peers.venv_python("tflite")) if kind == "tflite" else sys.executable
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS=str(threads), TF_CPP_MIN_LOG_LEVEL="2")
    r = subprocess.run([py, "-m", module, "--artifact", str(artifact), "--inputs", str(inputs), "--threads",
                        str(threads), "--runs", str(runs), "--warmup", "3"], capture_output=True, text=True,
                       cwd=ROOT, env=env, timeout=600)
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith(RESULT_PREFIX)), None)
    if line is None:
        return {"error": (r.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(line[len(RESULT_PREFIX):])


def cmd_speed(args) -> int:
    p = paths()
    cells = [("lpfc fp32", "lpfc", p["fp32"]), ("lpfc int8", "lpfc", p["int8"]),
             ("onnxruntime quantize_dynamic", "ort", p["ort_int8"]), ("LiteRT int8 (dynamic range)", "tflite",
                                                                       p["tflite_int8"])]
    if args.fp32_peers:
        cells += [("onnxruntime fp32", "ort", p["onnx"]), ("LiteRT fp32", "tflite", p["tflite_fp32"])]
    times: dict = {}
    errors: dict = {}

    def report(rounds_done: int) -> dict:
        ms = {k: {"min": min(v), "median": statistics.median(v)} for k, v in times.items()}
        ratios = {}
        for t in args.threads.split(","):
            base = ms.get(f"lpfc int8 @{t}")
            if base:
                ratios[f"@{t}"] = {k.rsplit(" @", 1)[0]: round(v["min"] / base["min"], 3) for k, v in ms.items()
                                   if k.endswith(f" @{t}")}
        return {"cpu": cpu_name(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "model": "MiniLM-L6 (all-MiniLM-L6-v2 weights), batch 1 x 128 tokens", "runs": args.runs,
                "rounds": rounds_done, "ms": ms, "min_over_lpfc_int8_min": ratios, "errors": errors}

    for r in range(args.rounds):
        for threads in [int(t) for t in args.threads.split(",")]:
            for name, kind, art in cells:
                key = f"{name} @{threads}"
                if not Path(art).exists():
                    errors[key] = f"missing {art}"
                    continue
                res = _run_one(kind, art, p["inputs"], threads, args.runs)
                if "error" in res:
                    errors[key] = res["error"]
                else:
                    times.setdefault(key, []).extend(res["times_ms"])
        if args.out:        # after every round: a run cut short still leaves its figures
            Path(args.out).write_text(json.dumps(report(r + 1), indent=1))
    out = report(args.rounds)
    print(json.dumps(out, indent=1))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build").set_defaults(func=cmd_build)
    a = sub.add_parser("accuracy")
    a.add_argument("--sentences", type=int, default=64)
    a.add_argument("--out")
    a.set_defaults(func=cmd_accuracy)
    q = sub.add_parser("qa")
    q.add_argument("--limit", type=int, default=500)
    q.add_argument("--model", default=None, help="a trained model directory (default: the QA app's default run)")
    q.add_argument("--threads", type=int, default=1)
    q.add_argument("--out")
    q.set_defaults(func=cmd_qa)
    s = sub.add_parser("speed")
    s.add_argument("--threads", default="1,2")
    s.add_argument("--runs", type=int, default=20)
    s.add_argument("--rounds", type=int, default=2)
    s.add_argument("--out")
    s.add_argument("--fp32-peers", action="store_true", help="also onnxruntime and LiteRT on the fp32 models")
    s.set_defaults(func=cmd_speed)
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
