"""Operator-format quantized models (onnxruntime.quantization.quantize_dynamic) and int8 weights kept int8.

Node by node against onnxruntime: DynamicQuantizeLinear, MatMulInteger, QLinearMatMul.  onnxruntime's
u8 x s8 kernel on AVX2 (vpmaddubsw) saturates pairs of products at int16, so the node tests keep
B in [-64, 63] (the reason quantize_dynamic has ``reduce_range``); lpfc computes exactly.

Weights: an int8/uint8 constant is never folded into a wider fp32 one (import-time folding and
fold-constants), so the library keeps 1 byte per weight and dequantizes at run time.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from onnx import helper

import lpfc
from lpfc.testing import zoo

from .test_contrib_ops import model
from .test_qdq import quantized_zoo_model, run_all

rng = np.random.default_rng(11)


def run_both(node, feeds, weights, opset=13):
    return run_all(node, feeds, weights, opset)


@pytest.mark.parametrize("shape,scale", [((2, 5, 16), 3.0), ((7, 9), 0.01), ((4, 8), 0.0)])
@pytest.mark.parametrize("shift", [0.0, 5.0, -5.0])
def test_dynamic_quantize_linear(shape, scale, shift):
    x = (rng.standard_normal(shape) * scale + (shift if scale else 0.0)).astype(np.float32)
    node = helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "s", "z"], name="dql")
    ours, theirs = run_both(node, {"x": x}, {})
    for got, want in zip(ours, theirs):
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.array_equal(got, want)


# per-row a_zero_point is defined for a 2-D A only, so that case has no 3-D variant
@pytest.mark.parametrize("a_shape, zps", [(shape, zps) for shape in [(5, 16), (2, 5, 16)]
                                          for zps in ["none", "scalar", "per-column", "per-row"]
                                          if not (zps == "per-row" and len(shape) != 2)])
@pytest.mark.parametrize("b_type", [np.int8, np.uint8])
def test_matmul_integer(a_shape, zps, b_type):
    a = rng.integers(0, 256, a_shape).astype(np.uint8)
    b = (rng.integers(-64, 64, (16, 7)) if b_type == np.int8 else rng.integers(0, 128, (16, 7))).astype(b_type)
    weights, inputs = {"b": b}, ["a", "b"]
    if zps != "none":
        weights["az"] = (np.array(117, np.uint8) if zps != "per-row"
                         else rng.integers(100, 140, a_shape[0]).astype(np.uint8))
        weights["bz"] = (np.array(3, b_type) if zps != "per-column" else rng.integers(0, 6, 7).astype(b_type))
        inputs += ["az", "bz"]
    node = helper.make_node("MatMulInteger", inputs, ["y"], name="mmi")
    if zps == "per-row":     # onnxruntime takes a scalar a_zero_point only: numpy in int64 is the oracle
        got = lpfc.interpret(lpfc.import_onnx(model(node, {"a": a}, weights, 13)), {"a": a})["y"]
        want = ((a.astype(np.int64) - weights["az"][:, None]) @ (b.astype(np.int64) - weights["bz"])).astype(np.int32)
        assert got.dtype == np.int32 and np.array_equal(got, want)
        return
    (got,), (want,) = run_both(node, {"a": a}, weights)
    assert got.dtype == want.dtype == np.int32 and np.array_equal(got, want)


def _graph_and_ort_output(nodes, name: str, x: np.ndarray, initializers, opset: int):
    """A one-input, one-output ("y") model of ``nodes``, and onnxruntime's output for ``x``."""
    ort = pytest.importorskip("onnxruntime")
    elem = helper.np_dtype_to_tensor_dtype(x.dtype)
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(name, elem, x.shape)],
                          [helper.make_tensor_value_info("y", 1, None)], initializers)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m, ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {name: x})[0]


def test_matmul_integer_with_activation_weights_from_dynamic_quantize():
    """quantize_dynamic's pattern: DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul(scales)."""
    x = rng.standard_normal((3, 32)).astype(np.float32)
    w = rng.integers(-64, 64, (32, 8)).astype(np.int8)
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"], name="dql"),
             helper.make_node("MatMulInteger", ["xq", "w", "xz", "wz"], ["acc"], name="mmi"),
             helper.make_node("Cast", ["acc"], ["accf"], to=1, name="cast"),
             helper.make_node("Mul", ["xs", "ws"], ["sc"], name="scale"),
             helper.make_node("Mul", ["accf", "sc"], ["y"], name="out")]
    m, want = _graph_and_ort_output(nodes, "x", x, [helper.make_tensor("w", 3, w.shape, w.tobytes(), raw=True),
                                                    helper.make_tensor("wz", 3, [], [0]),
                                                    helper.make_tensor("ws", 1, [], [0.02])], opset=13)
    module = lpfc.import_onnx(m)
    np.testing.assert_allclose(lpfc.interpret(module, {"x": x})["y"], want, rtol=1e-6, atol=1e-6)
    from lpfc.passes.manager import Pipeline
    Pipeline.parse("dce").run(module)
    assert "to = i32" not in lpfc.print_module(module), "the int32 product is not cast back and forth"


@pytest.mark.parametrize("scales", ["scalar", "per-column"])
def test_qlinear_matmul(scales):
    a = rng.integers(0, 256, (4, 16)).astype(np.uint8)
    b = rng.integers(-64, 64, (16, 6)).astype(np.int8)
    bs = np.array(0.01, np.float32) if scales == "scalar" else (rng.random(6) * 0.02 + 0.005).astype(np.float32)
    weights = {"as": np.array(0.02, np.float32), "az": np.array(120, np.uint8), "b": b, "bs": bs,
               "bz": np.zeros(bs.shape, np.int8), "ys": np.array(0.5, np.float32), "yz": np.array(10, np.uint8)}
    node = helper.make_node("QLinearMatMul", ["a", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"], name="qlmm")
    (got,), (want,) = run_both(node, {"a": a}, weights)
    assert got.dtype == want.dtype
    # onnxruntime requantizes with its own float multiplier: a value halfway between steps may differ by one.
    assert np.abs(got.astype(np.int32) - want).max() <= 1 and (got == want).mean() > 0.97


def test_a_bad_zero_point_shape_is_one_error_naming_node_and_input():
    a = np.zeros((5, 16), np.uint8)
    node = helper.make_node("MatMulInteger", ["a", "b", "", "bz"], ["y"], name="mmi")
    m = model(node, {"a": a}, {"b": np.zeros((16, 7), np.int8), "bz": np.zeros((2, 7), np.int8)}, 13)
    with pytest.raises(lpfc.UnsupportedError, match=r"input #3 \(b_zero_point\) of shape \[2, 7\]") as e:
        lpfc.import_onnx(m)
    assert "node 'mmi'" in str(e.value)


def test_uint4_weights_are_one_error_naming_the_node():
    from onnx import TensorProto
    x = helper.make_tensor("q", TensorProto.UINT4, [4], [1, 2, 3, 4])
    node = helper.make_node("DequantizeLinear", ["q", "s"], ["y"], name="dq4")
    g = helper.make_graph([node], "g", [], [helper.make_tensor_value_info("y", 1, None)],
                          [x, helper.make_tensor("s", 1, [], [0.5])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
    with pytest.raises(lpfc.UnsupportedError, match="UINT4") as e:
        lpfc.import_onnx(m)
    assert "'q'" in str(e.value)


def test_int8_weight_is_not_folded_into_fp32():
    """Cast(int8 weight) * scale -> MatMul: the weight stays an i8 constant, dequantized at run time."""
    w = rng.integers(-127, 128, (64, 48)).astype(np.int8)
    nodes = [helper.make_node("Cast", ["w"], ["wf"], to=1, name="cast"),
             helper.make_node("Mul", ["wf", "s"], ["wd"], name="dq"),
             helper.make_node("MatMul", ["x", "wd"], ["y"], name="mm")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", 1, [2, 64])],
                          [helper.make_tensor_value_info("y", 1, None)],
                          [helper.make_tensor("w", 3, w.shape, w.tobytes(), raw=True),
                           helper.make_tensor("s", 1, [], [0.01])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    from lpfc.passes.manager import Pipeline
    module = lpfc.import_onnx(m)
    Pipeline.parse("default").run(module)
    text = lpfc.print_module(module)
    assert "tensor<64x48xi8>" in text and "tensor<64x48xf32>} : ()" not in text
    x = rng.standard_normal((2, 64)).astype(np.float32)
    np.testing.assert_allclose(lpfc.interpret(module, {"x": x})["y"], x @ (w.astype(np.float32) * np.float32(0.01)),
                               rtol=1e-5, atol=1e-5)


# -- a zoo model after quantize_dynamic ------------------------------------------------------------
def _dynamic_model(per_channel: bool) -> Path:
    src, out = quantized_zoo_model("minilm", "ts14", f"minilm-dynamic-pc{int(per_channel)}")
    if out.exists():
        return out
    from onnxruntime.quantization import QuantType, quantize_dynamic
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.onnx")
    # reduce_range: 7-bit weights, so onnxruntime's AVX2 u8 x s8 kernel does not saturate (lpfc never does)
    quantize_dynamic(str(src), str(tmp), weight_type=QuantType.QInt8, per_channel=per_channel, reduce_range=True)
    os.replace(tmp, out)
    return out


def _feeds():
    r = np.random.default_rng(1)
    mask = np.ones((1, 128), np.int64)
    mask[0, -16:] = 0
    return {"input_ids": r.integers(0, 30000, (1, 128)), "attention_mask": mask,
            "token_type_ids": r.integers(0, 2, (1, 128))}


@pytest.mark.zoo
@pytest.mark.slow
@pytest.mark.parametrize("per_channel", [False, True], ids=["per-tensor", "per-channel"])
def test_quantize_dynamic_zoo_model_compiles_int8_and_matches_onnxruntime(per_channel, tmp_path, capsys):
    import onnx
    import onnxruntime as ort

    path = _dynamic_model(per_channel)
    ops = {n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger", "DequantizeLinear"} <= ops
    feeds = _feeds()
    runs = {}
    for level in ("ORT_DISABLE_ALL", "ORT_ENABLE_ALL"):
        so = ort.SessionOptions()
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        runs[level] = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
    result = lpfc.compile(str(path), output=str(tmp_path / "libq.so"))
    with lpfc.load(result.library) as session:
        ours = session.run(feeds)
    want, other = runs["ORT_DISABLE_ALL"], runs["ORT_ENABLE_ALL"]
    for name in want:
        # Each layer re-quantizes its input with a scale from that input's range: a float32 rounding
        # difference anywhere moves values by a quantization step, and that spreads.  onnxruntime's
        # own optimized run differs from its unoptimized one that way; lpfc must not differ more.
        ours_err = np.abs(ours[name] - want[name]).mean()
        ort_err = np.abs(other[name] - want[name]).mean()
        assert ours_err <= 1.5 * ort_err + 1e-4, (name, ours_err, ort_err)
    # The weights stay int8: 22.6M quantized parameters at 1 byte, the rest (biases, LayerNorm) fp32.
    fp32_bytes = os.path.getsize(zoo.model_path("minilm", "ts14"))
    assert result.weights_bytes < 0.3 * fp32_bytes, (result.weights_bytes, fp32_bytes)
    with capsys.disabled():
        print(f"\nminilm quantize_dynamic per_channel={per_channel}: library weights {result.weights_bytes} bytes "
              f"(fp32 export {fp32_bytes} bytes); mean |lpfc - ort| {ours_err:.4g}, ort optimized vs not {ort_err:.4g}")


def test_gather_from_an_int8_table_gathers_the_int8_rows():
    """Cast(int8 table) -> Sub(zero point) -> Mul(scale) -> Gather: the rows are gathered from the int8
    table and only they are dequantized, as onnxruntime computes it."""
    table = rng.integers(-127, 128, (300, 16)).astype(np.int8)
    ids = np.array([[0, 5, 299, 7]], np.int64)
    nodes = [helper.make_node("Cast", ["t"], ["tf"], to=1, name="cast"),
             helper.make_node("Sub", ["tf", "zp"], ["tc"], name="sub"),
             helper.make_node("Mul", ["tc", "s"], ["td"], name="dq"),
             helper.make_node("Gather", ["td", "ids"], ["y"], name="gather")]
    m, want = _graph_and_ort_output(nodes, "ids", ids, [helper.make_tensor("t", 3, table.shape, table.tobytes(),
                                                                          raw=True),
                                                        helper.make_tensor("zp", 1, [], [2.0]),
                                                        helper.make_tensor("s", 1, [], [0.05])], opset=17)
    from lpfc.passes.manager import Pipeline
    module = lpfc.import_onnx(m)
    Pipeline.parse("default").run(module)
    text = lpfc.print_module(module)
    assert "tensor<300x16xf32>" not in text and "(tensor<300x16xi8>, tensor<1x4xi64>)" in text
    np.testing.assert_allclose(lpfc.interpret(module, {"ids": ids})["y"], want, rtol=1e-6)


@pytest.mark.zoo
@pytest.mark.slow
def test_qdq_zoo_model_compiles_with_int8_weights(tmp_path):
    """tiny-bert after quantize_static (QDQ, int8 MatMul weights): as a library, its MatMul weights are
    1 byte each, and it gives what onnxruntime gives on the same file (graph optimizations off)."""
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    from .test_qdq import _qdq_model

    path = _qdq_model()
    m = onnx.load(str(path))
    int8_bytes = sum(numpy_helper.to_array(t).nbytes for t in m.graph.initializer
                     if t.data_type in (2, 3) and np.prod(t.dims) > 1024)
    float_bytes = sum(numpy_helper.to_array(t).nbytes for t in m.graph.initializer if t.data_type == 1)
    assert int8_bytes > 0
    result = lpfc.compile(str(path), output=str(tmp_path / "libqdq.so"))
    # every float initializer (embeddings, biases, norms, scales) plus the int8 weights at one byte each
    assert result.weights_bytes <= float_bytes + int8_bytes + 4096, (result.weights_bytes, float_bytes, int8_bytes)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    feeds = {k: (v % 1000 if k == "input_ids" else v) for k, v in _feeds().items()}
    theirs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
    with lpfc.load(result.library) as session:
        ours = session.run(feeds)
    for name, want in theirs.items():
        # activations are re-quantized after each MatMul: a value may move by one step (as test_qdq.py)
        assert np.isclose(ours[name], want, rtol=1e-4, atol=1e-4).mean() > 0.99, name


def test_quantize_dynamic_pattern_compiles(tmp_path):
    """DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul as a library (-Werror): the quantize kernel's
    zero point, hoisted inside its scale, once left an unused scalar in the generated C."""
    x = rng.standard_normal((128, 64)).astype(np.float32)
    w = rng.integers(-64, 64, (64, 96)).astype(np.int8)
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"], name="dql"),
             helper.make_node("MatMulInteger", ["xq", "w", "xz", "wz"], ["acc"], name="mmi"),
             helper.make_node("Cast", ["acc"], ["accf"], to=1, name="cast"),
             helper.make_node("Mul", ["xs", "ws"], ["sc"], name="scale"),
             helper.make_node("Mul", ["accf", "sc"], ["y"], name="out")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", 1, x.shape)],
                          [helper.make_tensor_value_info("y", 1, None)],
                          [helper.make_tensor("w", 3, w.shape, w.tobytes(), raw=True),
                           helper.make_tensor("wz", 3, [], [0]), helper.make_tensor("ws", 1, [], [0.02])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    import onnx
    path = tmp_path / "dq.onnx"
    onnx.save(m, str(path))
    result = lpfc.compile(str(path), output=str(tmp_path / "libdq.so"))
    assert result.weights_bytes < w.size * 2          # the int8 weight at one byte
    with lpfc.load(result.library) as session:
        got = session.run({"x": x})["y"]
    np.testing.assert_allclose(got, lpfc.interpret(lpfc.import_onnx(m), {"x": x})["y"], rtol=1e-5, atol=1e-5)
