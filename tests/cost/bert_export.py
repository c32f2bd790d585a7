"""Tiny transformers BertModel exports (TorchScript, opset 14) for the architecture-builder tests.

Cached under $LPFC_CACHE_DIR/cost-tests (ONNX + the state dict as .npz); the weights are random but
not BertModel's init (whose zero biases and unit LayerNorm scales the canonicalizer would drop).
"""
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest


def cache_dir() -> Path:
    root = Path(os.environ.get("LPFC_CACHE_DIR") or Path.home() / ".cache" / "lpfc")
    d = root / "cost-tests"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _prune_heads(torch, model, prune: dict):
    """Drop heads as the removed ``BertModel.prune_heads`` did (transformers 5 has no such method):
    narrower query/key/value rows and attention-output columns; the attention infers its head count."""
    def keep(linear, idx, dim):
        w = linear.weight.index_select(dim, idx)
        b = linear.bias if dim == 1 else linear.bias.index_select(0, idx)
        new = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            new.weight.copy_(w)
            new.bias.copy_(b)
        return new

    for layer, heads in prune.items():
        att = model.encoder.layer[int(layer)].attention
        hd = att.self.attention_head_size
        n = att.self.query.out_features // hd
        rows = torch.tensor([h * hd + j for h in range(n) if h not in heads for j in range(hd)])
        for name in ("query", "key", "value"):
            setattr(att.self, name, keep(getattr(att.self, name), rows, 0))
        att.output.dense = keep(att.output.dense, rows, 1)


def export_bert(arch: dict, prune: dict = None):
    """(onnx path, state dict of numpy arrays) for a uniform ``arch``; skips without torch/transformers.

    ``prune`` ({layer: [head, ...]}) removes those heads with ``BertModel.prune_heads`` after the weights
    are drawn, leaving layers whose attention is narrower than ``hidden``."""
    key = "bert-" + "-".join(f"{k}{arch[k]}" for k in sorted(arch))
    if prune:
        key += "-pruned" + "".join(f"-{layer}h" + ".".join(map(str, hs)) for layer, hs in sorted(prune.items()))
    onnx_path, npz = cache_dir() / f"{key}.onnx", cache_dir() / f"{key}.npz"
    if onnx_path.exists() and npz.exists():
        return onnx_path, dict(np.load(npz))
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = transformers.BertConfig(hidden_size=arch["hidden"], num_hidden_layers=arch["layers"],
                                  num_attention_heads=arch["heads"], intermediate_size=arch["ffn"],
                                  vocab_size=arch["vocab"], max_position_embeddings=max(arch["seq"], 16))
    model = transformers.BertModel._from_config(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.2)
    if prune:
        _prune_heads(torch, model, prune)

    class Wrap(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            o = self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                       return_dict=True)
            return o.last_hidden_state, o.pooler_output

    shape = (arch["batch"], arch["seq"])
    ids = torch.zeros(shape, dtype=torch.long)
    tmp = onnx_path.with_suffix(".tmp.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Wrap().eval(), (ids, torch.ones(shape, dtype=torch.long), ids), str(tmp),
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["last_hidden_state", "pooler_output"], dynamo=False, opset_version=14)
    state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items() if v.dtype == torch.float32}
    np.savez(npz, **state)
    os.replace(tmp, onnx_path)
    (cache_dir() / f"{key}.json").write_text(json.dumps(arch))
    return onnx_path, state
