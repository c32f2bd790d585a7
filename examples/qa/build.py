"""Export the fine-tuned QA model to ONNX (static [1, L]) and compile it with ``lpfc.compile`` (both cached).

    python -m examples.qa build [--model DIR] [--buckets 128,192,256,384]

One export and one library per window length L ("bucket"): a window runs on the shortest library that
holds it, so a 150-token window is not computed at 384 (the attention mask makes the padding inert, so
every bucket gives the same logits on the window's tokens).

``DIR`` is a model directory written by ``train`` (default: the newest finished training run's ``model/``).
The export and the library live in ``DIR/build/`` beside the weights they come from, so they are
rebuilt only when the weights change (the cache key is the weights file's size and mtime).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from lpfc.nas.squad import MAX_LEN  # noqa: E402

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
BUCKETS = (128, 192, 256, MAX_LEN)  # SQuAD v1.1 dev windows: mean 176 tokens; 21% <= 128, 68% <= 192, 88% <= 256
OUTPUTS = ("start_logits", "end_logits")


def default_model_dir() -> Path:
    """The model of the newest finished training run in the cache (test runs on a few questions aside; the
    qa-distill evaluator's choice of teacher), else where ``python -m examples.qa train`` will write it."""
    from lpfc.errors import NasError
    from lpfc.nas.evaluators.qa_distill import find_teacher

    from .paths import cache_dir
    from .train import add_arguments, run_dir
    try:
        return find_teacher(cache_dir())
    except NasError:
        ap = argparse.ArgumentParser()
        add_arguments(ap)
        return run_dir(ap.parse_args([])) / "model"


def parse_buckets(text: str) -> tuple[int, ...]:
    """``"128,256,384"`` -> (128, 256, 384); the longest must be the window length (384)."""
    try:
        lengths = tuple(sorted({int(x) for x in str(text).split(",") if x.strip()}))
    except ValueError:
        raise SystemExit(f"--buckets: expected window lengths like 128,256,384, not {text!r}") from None
    if not lengths or lengths[0] < 16 or lengths[-1] != MAX_LEN:
        raise SystemExit(f"--buckets {text!r}: lengths of at least 16 tokens, the longest {MAX_LEN} "
                         "(the window length the model reads)")
    return lengths


def _weights_key(model_dir: Path, seq_len: int) -> dict:
    files = sorted(p for p in model_dir.iterdir() if p.suffix in (".safetensors", ".bin"))
    return {"weights": [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in files], "seq_len": seq_len}


def export_onnx(model_dir: Path, dest: Path, seq_len: int = MAX_LEN, dynamo: bool = False,
                attn_implementation: str | None = None) -> Path:
    """The span model as ONNX with static shapes: inputs [1, seq] int64, outputs start/end logits [1, seq].

    The app's export is torch's legacy exporter at opset 14 with transformers' default attention;
    ``dynamo=True, attn_implementation="eager"`` is the spelling onnx2tf converts (bench/qa_litert.py).
    """
    import torch

    from .model import load_qa_model

    class Span(torch.nn.Module):  # plain tensors out (the exporter does not take the HF output object)
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.start_logits, out.end_logits

    model = load_qa_model(model_dir, attn_implementation=attn_implementation).eval()
    ids = torch.ones(1, seq_len, dtype=torch.int64)
    args = (ids, torch.ones_like(ids), torch.zeros_like(ids))
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer/deprecation notices; the result is checked by eval
        opts = ({"dynamo": True, "optimize": True, "verbose": False, "external_data": False} if dynamo else {"opset_version": 14, "dynamo": False})
        torch.onnx.export(Span(model), args, str(tmp), input_names=list(INPUTS), output_names=list(OUTPUTS), **opts)
    os.replace(tmp, dest)
    return dest


def build(model_dir: Path | str | None = None, quiet: bool = False, compile_lib: bool = True,
          seq_len: int = MAX_LEN) -> tuple[Path, Path]:
    """(onnx path, library path) of the ``seq_len`` bucket of ``model_dir``, built only when out of date.

    ``compile_lib=False`` stops after the ONNX export (onnxruntime-only evaluations of snapshots).
    """
    import lpfc

    model_dir = Path(model_dir) if model_dir else default_model_dir()
    if not (model_dir / "config.json").exists():
        raise SystemExit(f"no trained QA model in {model_dir}: run `python -m examples.qa train` first")
    out = model_dir / "build"
    onnx_path, lib = out / f"qa-{seq_len}.onnx", out / f"libqa{seq_len}.so"
    stamp = out / f"stamp-{seq_len}.json"
    key = _weights_key(model_dir, seq_len)
    fresh = stamp.exists() and json.loads(stamp.read_text()) == key and onnx_path.exists()
    if fresh and (lib.exists() or not compile_lib):
        if not quiet:
            print(f"reusing {lib if compile_lib else onnx_path}")
        return onnx_path, lib
    t0 = time.perf_counter()
    if not fresh:
        lib.unlink(missing_ok=True)
        export_onnx(model_dir, onnx_path, seq_len)
        stamp.write_text(json.dumps(key))
    t1 = time.perf_counter()
    if not compile_lib:
        if not quiet:
            print(f"exported {onnx_path} ({onnx_path.stat().st_size / 1e6:.1f} MB) in {t1 - t0:.1f} s")
        return onnx_path, lib
    result = lpfc.compile(onnx_path, lib)
    if not quiet:
        print(f"exported {onnx_path} ({onnx_path.stat().st_size / 1e6:.1f} MB) in {t1 - t0:.1f} s; "
              f"lpfc.compile -> {lib} in {result.total_seconds:.1f} s, {result.kernels} kernels")
    return onnx_path, lib


def build_buckets(model_dir: Path | str | None = None, buckets=BUCKETS, quiet: bool = False,
                  compile_lib: bool = True) -> tuple[list[Path], list[Path]]:
    """``build`` for each window length in ``buckets``: (onnx paths, library paths), shortest first."""
    pairs = [build(model_dir, quiet, compile_lib, seq_len=n) for n in sorted(buckets)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def add_bucket_argument(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--buckets", type=parse_buckets, default=BUCKETS,
                    help="window lengths to compile, each window runs on the shortest that holds it "
                         f"(default {','.join(map(str, BUCKETS))}; {MAX_LEN}: one library)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m examples.qa build", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="trained model directory (default: the newest finished run's model/)")
    add_bucket_argument(ap)
    args = ap.parse_args(argv)
    build_buckets(args.model, args.buckets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
