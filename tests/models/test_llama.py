"""tiny-llama (SmolLM2's architecture in miniature: RMSNorm, RoPE, 4 query heads sharing 2 key/value heads,
SiLU-gated MLP, tied LM head), both exporters: imported, interpreted and compiled, each matched against
onnxruntime on the logits; and the fused plan uses the specialised kernels (docs/llama.md)."""
import shutil

import numpy as np
import pytest

import lpfc
from lpfc.passes import DEFAULT_PIPELINE, Pipeline
from lpfc.testing import zoo

from ..zoo_support import assert_outputs_close, zoo_param

MODEL = "tiny-llama"
VARIANTS = [zoo_param(MODEL, v) for v in zoo.DEFAULT_VARIANTS]


@pytest.mark.parametrize("model, variant", VARIANTS)
def test_tiny_llama_interpreted_matches_onnxruntime(model, variant):
    path = zoo.export(model, variant)
    module = lpfc.import_onnx(path)
    lpfc.verify(module)
    feeds = zoo.sample_inputs(model)
    expected = zoo.reference_outputs(path, feeds)
    assert_outputs_close(f"{model}-{variant} imported", lpfc.interpret(module, feeds), expected, 1e-4)
    Pipeline.parse(DEFAULT_PIPELINE).run(module)
    lpfc.verify(module)
    assert_outputs_close(f"{model}-{variant} fused", lpfc.interpret(module, feeds), expected, 1e-4)


@pytest.mark.parametrize("model, variant", VARIANTS)
@pytest.mark.parametrize("fusion", [True, False], ids=["fused", "nofusion"])
def test_tiny_llama_compiled_matches_onnxruntime(tmp_path, model, variant, fusion):
    path = zoo.export(model, variant)
    result = lpfc.compile(path, tmp_path / "libmodel.so", fusion=fusion)
    feeds = zoo.sample_inputs(model)
    expected = zoo.reference_outputs(path, feeds)
    sess = lpfc.load(result.library, threads=2)
    actual = sess.run(feeds)
    sess.close()
    shutil.rmtree(tmp_path, ignore_errors=True)
    assert_outputs_close(f"{model}-{variant} compiled", actual, expected, 1e-3)
    assert actual["logits"].shape == (zoo.BATCH, zoo.SEQ_LEN, 1000)
    assert np.isfinite(actual["logits"]).all()


@pytest.mark.parametrize("model, variant", VARIANTS)
def test_tiny_llama_fuses_like_bert(model, variant):
    """Per layer: QKV GEMM, attention, o_proj + residual + RMSNorm, gate GEMM + SiLU, up GEMM x gate,
    down + residual + RMSNorm; every GEMM and norm on the specialised emitters (docs/llama.md)."""
    from lpfc.codegen import emitters  # noqa: F401  (the emitter table)
    from lpfc.codegen.kernel_source import emitter_for
    from lpfc.codegen.targets import get_target
    from lpfc.passes.lp_fusion.blocks import kernels

    module = lpfc.import_onnx(zoo.export(model, variant))
    Pipeline.parse(DEFAULT_PIPELINE).run(module)
    names = {op.name for op in module.main.walk()}
    assert "graph.rms_norm" in names and "graph.reduce_mean" not in names and "graph.sqrt" not in names
    target = get_target("host")
    plan = [(op.attributes["kind"], emitter_for(op, target).name) for op in kernels(module.main)]
    layer = [("gemm", "cpp-gemm"), ("attention", "generic"), ("gemm_layer_norm", "cpp-gemm"),
             ("gemm", "cpp-gemm"), ("gemm", "cpp-gemm"), ("gemm_layer_norm", "cpp-gemm")]
    expected = ([("embedding", "cpp-rowwise"), layer[0], ("elementwise", "generic")] + layer[1:] + layer
                + [("gemm", "cpp-gemm")])
    assert plan == expected


@pytest.mark.zoo
def test_tiny_llama_on_opencl(tmp_path):
    """The opencl target: the GEMMs run on the device; blocks with rms_norm (no OpenCL row kernel yet) and the
    GQA attention run on the host fallback, exactly (docs/llama.md)."""
    from ..opencl.support import opencl_or_skip

    opencl_or_skip()
    path = zoo.export(MODEL, "dynamo20")
    result = lpfc.compile(path, tmp_path / "libmodel.so", target="opencl", emit_source=tmp_path / "src")
    code = (result.source_dir / "model.cc").read_text()
    assert code.count("lpfc_ocl_launch(") > 0 and code.count(", on the host") > 0
    feeds = zoo.sample_inputs(MODEL)
    with lpfc.load(result.library) as sess:
        actual = sess.run(feeds)
    assert_outputs_close(f"{MODEL} opencl", actual, zoo.reference_outputs(path, feeds), 1e-3)


@pytest.mark.zoo
def test_tiny_llama_exporters_reach_the_same_ops():
    """One canonical form whichever exporter wrote the model (as tests/passes/test_canonicalize.py checks for
    the encoder zoo): after canonicalize both exports of tiny-llama have the same op counts."""
    import collections

    counts = {}
    for variant in zoo.DEFAULT_VARIANTS:
        module = lpfc.import_onnx(zoo.export(MODEL, variant))
        Pipeline.parse("canonicalize,fold-constants,cse,dce").run(module)
        counts[variant] = collections.Counter(op.name for op in module.main.walk() if op.name != "graph.constant")
    ts, dyn = (counts[v] for v in zoo.DEFAULT_VARIANTS)
    assert ts == dyn, (ts - dyn, dyn - ts)
    assert ts["graph.rms_norm"] == 5 and ts["graph.reduce_mean"] == 0 and ts["graph.sqrt"] == 0
