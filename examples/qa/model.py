"""Loading a QA model directory: a plain transformers one, or a NAS sub-network with per-layer sizes.

``lpfc nas`` (and ``bench/nas_final.py``) save the chosen sub-network with ``lpfc.nas.subnet.save_subnetwork``:
its layers may have different head and FFN counts, which ``from_pretrained`` alone cannot rebuild. Training,
export and evaluation all load through :func:`load_qa_model`, so a searched model goes through the same
recipe, export and compiled evaluation as the full one.
"""
from __future__ import annotations

import json
from pathlib import Path


def is_subnetwork(model_dir) -> bool:
    cfg = Path(model_dir) / "config.json"
    return cfg.exists() and bool(json.loads(cfg.read_text()).get("lpfc_subnet"))


def load_qa_model(model_dir, dropout: float | None = None, attn_implementation: str | None = None):
    """A ``BertForQuestionAnswering`` (or a sub-network of one) from ``model_dir``; ``dropout`` overrides the
    config's hidden and attention dropout (the training recipe turns it off); ``attn_implementation`` is
    transformers' (the LiteRT export wants "eager"), for plain models only."""
    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForQuestionAnswering

    src = str(model_dir)
    if is_subnetwork(src):
        if attn_implementation:
            raise ValueError(f"{src} is a NAS sub-network: it is rebuilt with the default attention only")
        from lpfc.nas.subnet import load_subnetwork
        model = load_subnetwork(src)
        if dropout is not None:
            model.config.hidden_dropout_prob = model.config.attention_probs_dropout_prob = dropout
            for m in model.modules():
                if isinstance(m, torch.nn.Dropout):
                    m.p = dropout
        return model
    config = AutoConfig.from_pretrained(src, local_files_only=True)
    if dropout is not None:
        config.hidden_dropout_prob = dropout
        config.attention_probs_dropout_prob = dropout
    transformers.logging.set_verbosity_error()  # "qa_outputs newly initialized" is the point of a new head
    attn = {"attn_implementation": attn_implementation} if attn_implementation else {}
    return AutoModelForQuestionAnswering.from_pretrained(src, config=config, local_files_only=True, **attn)
