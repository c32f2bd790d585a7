"""Zoo models after onnxruntime's transformer optimizer (and its 4-bit weight quantizer): lpfc imports
the contrib ops they write.

``onnxruntime.transformers.optimizer.optimize_model`` rewrites an export into
com.microsoft ops (Attention, SkipLayerNormalization, BiasGelu, ...).  For each
configuration the optimized file (cached under $LPFC_CACHE_DIR/ort-optimized,
keyed by onnxruntime's version and the zoo export's fingerprint) must

* hold the contrib ops the configuration is about (so the test tests them),
* give onnxruntime's outputs on that file, through lpfc's interpreter, and
* after the default pipeline be the same kernels as the unoptimized export
  (kind and shapes, as tests/cost/test_arch.py compares them), with one
  documented exception: ORT's default 1-D ``mask_index`` is a ReduceSum in the
  optimized graph, so its mask kernel is a reduction where the export's is
  element-wise.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

import lpfc
from lpfc.passes import Pipeline
from lpfc.passes.lp_fusion.blocks import kernels
from lpfc.testing import zoo

from ..zoo_support import assert_outputs_close

MS = "com.microsoft"
# id: (zoo model, variant, optimizer model_type, heads, hidden, FusionOptions overrides, ops it must hold)
CONFIGS = {
    "bert-attention": ("tiny-bert", "ts14-eager", "bert", 4, 64, {},
                       {"Attention", "SkipLayerNormalization", "BiasGelu", "LayerNormalization"}),
    "bert-raw-mask": ("tiny-bert", "ts14-eager", "bert", 4, 64, {"attention_mask_format": 2},
                      {"Attention", "SkipLayerNormalization", "BiasGelu"}),
    "bert-mha": ("tiny-bert", "ts14-eager", "bert", 4, 64,
                 {"attention_mask_format": 2, "use_multi_head_attention": True}, {"MultiHeadAttention"}),
    "bert-gelu": ("tiny-bert", "ts14-eager", "bert", 4, 64,
                  {"attention_mask_format": 2, "enable_bias_gelu": False}, {"Gelu"}),
    "gpt2": ("tiny-gpt2", "ts14-eager", "gpt2", 4, 64, {}, {"FastGelu", "SkipLayerNormalization"}),
    "llama": ("tiny-llama", "ts14", "gpt2", 4, 64, {},
              {"SimplifiedLayerNormalization", "SkipSimplifiedLayerNormalization"}),
    # Not the optimizer: onnxruntime's 4-bit weight-only quantizer (MatMulNBitsQuantizer, block 32).
    "bert-4bit": ("tiny-bert", "ts14", "nbits", 0, 0, {"block_size": 32}, {"MatMulNBits"}),
    "distilbert": ("distilbert", "ts14", "bert", 12, 768, {"attention_mask_format": 2},
                   {"EmbedLayerNormalization", "SkipLayerNormalization", "BiasGelu"}),
}
SLOW = {"distilbert"}      # 265 MB: the one zoo model whose embeddings ORT fuses into EmbedLayerNormalization
# The configurations whose mask ORT rewrites into a ReduceSum'd 1-D mask_index.
ONE_D_MASK = {"bert-attention"}


def zoo_path(model: str, variant: str) -> Path:
    """The zoo's export (made now if it is not cached: a clean machine runs these tests too)."""
    return zoo.export(model, variant)


def cache_dir() -> Path:
    root = os.environ.get("LPFC_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "lpfc") / "ort-optimized"


def optimized(config: str) -> Path:
    """The optimized file for ``config``, made once and reused while its inputs are unchanged."""
    ort = pytest.importorskip("onnxruntime", reason="the optimizer is onnxruntime's")
    model, variant, model_type, heads, hidden, options, _ = CONFIGS[config]
    src = zoo_path(model, variant)
    meta = zoo.read_sidecar(src)
    key = {"onnxruntime": ort.__version__, "source": meta.get("fingerprint"), "model_type": model_type,
           "heads": heads, "hidden": hidden, "options": options}
    out = cache_dir() / f"{config}.onnx"
    sidecar = out.with_suffix(".json")
    try:
        if out.exists() and json.loads(sidecar.read_text()) == key:
            return out
    except (OSError, ValueError):
        pass
    if model_type == "nbits":
        import onnx
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
        opt = MatMulNBitsQuantizer(onnx.load(str(src)), block_size=options["block_size"], is_symmetric=False)
        opt.process()
        opt = opt.model
    else:
        from onnxruntime.transformers.fusion_options import FusionOptions
        from onnxruntime.transformers.optimizer import optimize_model
        fo = FusionOptions(model_type)
        for k, v in options.items():
            setattr(fo, k, v)
        opt = optimize_model(str(src), model_type=model_type, num_heads=heads, hidden_size=hidden, opt_level=0,
                             optimization_options=fo)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.onnx")
    opt.save_model_to_file(str(tmp))
    os.replace(tmp, out)
    sidecar.write_text(json.dumps(key))
    return out


def _normalized(shape_text: str) -> str:
    """Leading unit dims dropped (GPT-2's Conv1D exports its GEMMs on 2-D [S, K] rows where ORT's
    optimizer writes 3-D [1, S, K]) and the operands sorted (a block's operands come in program
    order, and the optimized graph defines some values earlier, e.g. its int32 cast of input_ids)."""
    text = re.sub(r"(?<![0-9x])(1x)+(?=[0-9])", "", shape_text)
    ins, _, outs = text.partition("->")
    return ",".join(sorted(ins.split(","))) + "->" + outs


def kernel_list(module):
    """(kind, shapes) of every kernel after the default pipeline, sorted (the optimized graph orders
    independent ops differently), shapes normalized."""
    from lpfc.codegen.model_gen import _shape_text, kernel_kind

    Pipeline.parse("default").run(module)
    return sorted((kernel_kind(op), _normalized(_shape_text(op))) for op in kernels(module.main))


def feeds_for(model: str, names) -> dict:
    rng = np.random.default_rng(0)
    s = zoo.SEQ_LEN
    mask = np.ones((1, s), np.int64)
    mask[0, -zoo.PAD_LEN:] = 0
    vocab = zoo.SPECS[model].vocab_size if model in zoo.SPECS else 1000
    all_feeds = {"input_ids": rng.integers(0, vocab, (1, s)), "attention_mask": mask,
                 "token_type_ids": rng.integers(0, 2, (1, s))}
    return {k: all_feeds[k] for k in names}


def params():
    for c in CONFIGS:
        marks = [pytest.mark.zoo] + ([pytest.mark.slow] if c in SLOW else [])
        yield pytest.param(c, marks=marks, id=c)


@pytest.mark.parametrize("config", list(params()))
def test_optimized_zoo_model_matches_onnxruntime_and_the_export(config):
    import onnx
    import onnxruntime as ort

    path = optimized(config)
    m = onnx.load(str(path), load_external_data=False)
    ops = {n.op_type for n in m.graph.node if n.domain in ("", MS)}
    contrib = {n.op_type for n in m.graph.node if n.domain == MS}
    want_ops = CONFIGS[config][6]
    assert want_ops <= ops, f"the optimizer wrote {sorted(contrib)}; the test needs {sorted(want_ops)}"

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = feeds_for(CONFIGS[config][0], [i.name for i in sess.get_inputs()])
    theirs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
    module = lpfc.import_onnx(str(path))
    assert_outputs_close(config, lpfc.interpret(module, feeds), theirs, 1e-5)

    export = lpfc.import_onnx(str(zoo_path(*CONFIGS[config][:2])))
    ours, exported = kernel_list(module), kernel_list(export)
    if config in ONE_D_MASK:
        extra = [k for k in ours if k not in exported]
        missing = [k for k in exported if k not in ours]
        assert len(extra) == len(missing) == 1 and extra[0][0] == "reduction" and missing[0][0] == "elementwise"
        ours = [k for k in ours if k not in extra]
        exported = [k for k in exported if k not in missing]
    assert ours == exported


@pytest.mark.zoo
@pytest.mark.slow
def test_optimized_bert_compiles_and_matches_onnxruntime(tmp_path):
    """The optimized file through the whole compiler: a native library, run, against onnxruntime."""
    import onnxruntime as ort

    path = optimized("bert-raw-mask")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = feeds_for("tiny-bert", [i.name for i in sess.get_inputs()])
    theirs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
    lib = lpfc.compile(str(path), output=str(tmp_path / "libbert.so"))
    with lpfc.load(lib.library) as s:
        ours = s.run(feeds)
    assert_outputs_close("compiled", ours, theirs, 1e-5)
