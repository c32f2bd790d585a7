"""ONNX opset 23's RMSNormalization, RotaryEmbedding and Attention (docs/llama.md): each imported onto the IR
the decomposed torch exports canonicalize to, checked against onnx.reference (onnxruntime 1.2x does not run
all of them); bad attributes get one clear lpfc error naming the op."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper
from onnx.reference import ReferenceEvaluator

import lpfc
from lpfc.errors import ShapeError, UnsupportedError
from lpfc.frontend.onnx import import_onnx
from lpfc.passes import DEFAULT_PIPELINE, Pipeline
from lpfc.testing.onnx_backend import LpfcBackend

from .onnx_builders import single_node_model

rng = np.random.default_rng(23)


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def check(node, inputs, opset=23, atol=1e-5):
    ours = LpfcBackend.run_node(node, inputs, opset_version=opset)
    names = [n for n in node.input if n]
    ref = ReferenceEvaluator(single_node_model(node, inputs, opset)).run(None, dict(zip(names, inputs)))
    assert len(ours) == len([o for o in node.output if o])
    for a, b in zip(ours, ref):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=atol)
    return ours


def ops_after_import(node, inputs, opset=23, pipeline=None):
    module = import_onnx(single_node_model(node, inputs, opset))
    if pipeline:
        Pipeline.parse(pipeline).run(module)
    return [op for op in module.main.walk()]


# -- RMSNormalization ----------------------------------------------------------------------------------
@pytest.mark.parametrize("axis, scale_shape", [(-1, (8,)), (2, (1,)), (1, (5, 8)), (-2, (1, 8))])
@pytest.mark.parametrize("eps", [None, 1e-3])
def test_rms_normalization(axis, scale_shape, eps):
    attrs = {"axis": axis} | ({"epsilon": eps} if eps else {})
    node = helper.make_node("RMSNormalization", ["x", "s"], ["y"], **attrs)
    check(node, [f32(2, 5, 8), f32(*scale_shape)])
    assert [op.name for op in ops_after_import(node, [f32(2, 5, 8), f32(*scale_shape)])
            if op.name != "func.return"] == ["graph.rms_norm"]


def test_rms_normalization_is_refused_before_opset_23():
    node = helper.make_node("RMSNormalization", ["x", "s"], ["y"])
    with pytest.raises(UnsupportedError, match="RMSNormalization does not exist at opset 22"):
        import_onnx(single_node_model(node, [f32(2, 8), f32(8)], 22))


@pytest.mark.parametrize("attrs, inputs, error, match", [
    ({"stash_type": 0}, [f32(2, 8), f32(8)], UnsupportedError, "stash_type=0"),
    ({}, [f32(2, 8), f32(3)], ShapeError, r"scale shape \[3\] does not broadcast"),
    ({"axis": 2}, [f32(2, 8), f32(8)], ShapeError, "axis 2 is out of range"),
])
def test_rms_normalization_bad_input(attrs, inputs, error, match):
    node = helper.make_node("RMSNormalization", ["x", "s"], ["y"], name="norm", **attrs)
    with pytest.raises(error, match=match) as e:
        LpfcBackend.run_node(node, inputs, opset_version=23)
    assert "RMSNormalization" in str(e.value)


def test_rms_normalization_after_a_gemm_fuses_like_layer_norm():
    from lpfc.frontend.onnx import import_onnx as imp
    x, w, s = f32(1, 4, 8), f32(8, 8), f32(8)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["h", "x"], ["r"]),
         helper.make_node("RMSNormalization", ["r", "s"], ["y"])], "g",
        [helper.make_tensor_value_info("x", 1, x.shape)], [helper.make_empty_tensor_value_info("y")],
        [helper.make_tensor("w", 1, w.shape, w.ravel()), helper.make_tensor("s", 1, s.shape, s)])
    module = imp(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)]))
    Pipeline.parse(DEFAULT_PIPELINE).run(module)
    assert [op.attributes["kind"] for op in module.main.walk() if op.name == "graph.fused"] == ["gemm_layer_norm"]


# -- RotaryEmbedding -----------------------------------------------------------------------------------
B, S, H, D = 2, 5, 3, 8


@pytest.mark.parametrize("interleaved", [0, 1])
@pytest.mark.parametrize("layout", ["4d", "3d"])
@pytest.mark.parametrize("rd", [0, 4])
def test_rotary_embedding_with_position_ids(interleaved, layout, rd):
    half = (rd or D) // 2
    x = f32(B, H, S, D) if layout == "4d" else f32(B, S, H * D)
    attrs = {"interleaved": interleaved, "rotary_embedding_dim": rd} | ({"num_heads": H} if layout == "3d" else {})
    node = helper.make_node("RotaryEmbedding", ["x", "c", "s", "p"], ["y"], **attrs)
    check(node, [x, f32(16, half), f32(16, half), rng.integers(0, 16, (B, S)).astype(np.int64)])


@pytest.mark.parametrize("interleaved", [0, 1])
def test_rotary_embedding_with_per_token_caches(interleaved):
    node = helper.make_node("RotaryEmbedding", ["x", "c", "s"], ["y"], interleaved=interleaved)
    check(node, [f32(B, H, S, D), f32(B, S, D // 2), f32(B, S, D // 2)])


@pytest.mark.parametrize("attrs, x, match", [
    ({}, f32(B, S, H * D), "3-D input needs num_heads"),
    ({"num_heads": 5}, f32(B, S, H * D), "3-D input needs num_heads"),
    ({"rotary_embedding_dim": 3}, f32(B, H, S, D), "must be even"),
    ({"interleaved": 2}, f32(B, H, S, D), "interleaved must be 0 or 1"),
])
def test_rotary_embedding_bad_attributes(attrs, x, match):
    node = helper.make_node("RotaryEmbedding", ["x", "c", "s", "p"], ["y"], **attrs)
    with pytest.raises(ShapeError, match=match) as e:
        LpfcBackend.run_node(node, [x, f32(16, D // 2), f32(16, D // 2), np.zeros((B, S), np.int64)],
                             opset_version=23)
    assert "RotaryEmbedding" in str(e.value)


# -- Attention -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("heads", [(4, 4), (4, 2), (4, 1), (6, 3)])
@pytest.mark.parametrize("layout", ["4d", "3d"])
@pytest.mark.parametrize("causal", [0, 1])
def test_attention_gqa_ratios(heads, layout, causal):
    hq, hkv = heads
    q, k, v = f32(2, hq, 5, 8), f32(2, hkv, 6, 8), f32(2, hkv, 6, 8)
    attrs = {"is_causal": causal}
    if layout == "3d":
        q, k, v = (t.transpose(0, 2, 1, 3).reshape(t.shape[0], t.shape[2], -1) for t in (q, k, v))
        attrs |= {"q_num_heads": hq, "kv_num_heads": hkv}
    check(helper.make_node("Attention", ["q", "k", "v"], ["y"], **attrs), [q, k, v])


@pytest.mark.parametrize("mask", ["bool", "float", "short_bool", "rank4"])
@pytest.mark.parametrize("causal", [0, 1])
def test_attention_masks(mask, causal):
    q, k, v = f32(2, 4, 5, 8), f32(2, 2, 6, 8), f32(2, 2, 6, 8)
    m = {"bool": rng.random((5, 6)) > 0.3, "float": f32(5, 6), "short_bool": rng.random((5, 4)) > 0.3,
         "rank4": rng.random((2, 1, 5, 6)) > 0.3}[mask]
    m[..., 0] = True if m.dtype == bool else m[..., 0]     # keep every row attendable
    check(helper.make_node("Attention", ["q", "k", "v", "m"], ["y"], is_causal=causal, scale=0.3), [q, k, v, m])


def test_attention_fully_masked_row_gives_zeros():
    q, k, v = f32(1, 2, 3, 4), f32(1, 2, 3, 4), f32(1, 2, 3, 4)
    m = np.ones((3, 3), bool)
    m[1] = False
    (y,) = check(helper.make_node("Attention", ["q", "k", "v", "m"], ["y"]), [q, k, v, m])
    assert np.all(y[:, :, 1] == 0)


@pytest.mark.parametrize("causal", [0, 1])
def test_attention_kv_cache_inputs_and_present_outputs(causal):
    q, k, v = f32(2, 4, 1, 8), f32(2, 2, 1, 8), f32(2, 2, 1, 8)
    pk, pv = f32(2, 2, 7, 8), f32(2, 2, 7, 8)
    node = helper.make_node("Attention", ["q", "k", "v", "", "pk", "pv"], ["y", "pko", "pvo"], is_causal=causal)
    y, pko, pvo = check(node, [q, k, v, pk, pv])
    assert pko.shape == (2, 2, 8, 8) and np.array_equal(pko[:, :, :7], pk)


@pytest.mark.parametrize("causal", [0, 1])
@pytest.mark.parametrize("q_len,lengths", [(1, [5, 3]), (3, [7, 4]), (2, [1, 7])], ids=["decode", "prefill", "short"])
def test_attention_24_nonpad_kv_seqlen_external_cache(causal, q_len, lengths):
    """Attention-24 over an external KV cache of fixed capacity 7: row b holds lengths[b] valid keys,
    and causally query i sees keys up to i + lengths[b] - q_len.  Checked against onnx.reference and
    onnxruntime."""
    q, k, v = f32(2, 4, q_len, 8), f32(2, 2, 7, 8), f32(2, 2, 7, 8)
    nonpad = np.array(lengths, np.int64)
    node = helper.make_node("Attention", ["q", "k", "v", "", "", "", "nonpad"], ["y"], is_causal=causal)
    (y,) = check(node, [q, k, v, nonpad], opset=24)
    ort = pytest.importorskip("onnxruntime")
    m = single_node_model(node, [q, k, v, nonpad], 24)
    want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"q": q, "k": k, "v": v, "nonpad": nonpad})[0]
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


def test_attention_24_nonpad_kv_seqlen_with_a_past_is_one_clear_error():
    node = helper.make_node("Attention", ["q", "k", "v", "", "pk", "pv", "nonpad"], ["y"])
    inputs = [f32(1, 4, 1, 8), f32(1, 2, 1, 8), f32(1, 2, 1, 8), f32(1, 2, 3, 8), f32(1, 2, 3, 8),
              np.array([3], np.int64)]
    with pytest.raises(ShapeError, match="cannot be combined with past_key"):
        LpfcBackend.run_node(node, inputs, opset_version=24)


def test_attention_imports_to_one_attention_kernel():
    q, k, v = f32(1, 4, 5, 8), f32(1, 2, 5, 8), f32(1, 2, 5, 8)
    ops = ops_after_import(helper.make_node("Attention", ["q", "k", "v"], ["y"], is_causal=1), [q, k, v],
                           pipeline=DEFAULT_PIPELINE)
    assert [op.attributes["kind"] for op in ops if op.name == "graph.fused"] == ["attention"]


@pytest.mark.parametrize("attrs, inputs, outputs, error, match", [
    ({"softcap": 5.0}, None, ["y"], UnsupportedError, "softcap"),
    ({}, None, ["y", "", "", "qk"], UnsupportedError, "qk_matmul_output"),
    ({"is_causal": 2}, None, ["y"], ShapeError, "is_causal must be 0 or 1"),
    ({}, [f32(1, 3, 5, 8), f32(1, 2, 5, 8), f32(1, 2, 5, 8)], ["y"], ShapeError, "3 query heads cannot share 2"),
    ({"q_num_heads": 3, "kv_num_heads": 2}, [f32(1, 5, 32), f32(1, 5, 16), f32(1, 5, 16)], ["y"], ShapeError,
     "dividing its hidden size 32"),
    ({}, [f32(1, 4, 5, 8), f32(1, 2, 5, 4), f32(1, 2, 5, 4)], ["y"], ShapeError, "do not match Q"),
])
def test_attention_bad_attributes(attrs, inputs, outputs, error, match):
    inputs = inputs or [f32(1, 4, 5, 8), f32(1, 2, 5, 8), f32(1, 2, 5, 8)]
    node = helper.make_node("Attention", ["q", "k", "v"], outputs, name="attn", **attrs)
    with pytest.raises(error, match=match) as e:
        LpfcBackend.run_node(node, inputs, opset_version=23)
    assert "Attention" in str(e.value)


def test_attention_25_refuses_head_counts_for_4d_inputs():
    node = helper.make_node("Attention", ["q", "k", "v"], ["y"], q_num_heads=4, kv_num_heads=2)
    inputs = [f32(1, 4, 5, 8), f32(1, 2, 5, 8), f32(1, 2, 5, 8)]
    check(node, inputs, opset=24)                   # allowed (ignored) before version 25
    with pytest.raises(ShapeError, match="must not be given for 4-D inputs"):
        LpfcBackend.run_node(node, inputs, opset_version=25)
