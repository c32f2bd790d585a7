"""QuantizeLinear / DequantizeLinear by their versions' rules, against onnxruntime, and a QDQ zoo model.

The QDQ model is tiny-bert after ``onnxruntime.quantization.quantize_static`` (QDQ format,
int8 weights and activations).  onnxruntime runs it with graph optimizations off, so it
computes the QDQ nodes as written (its optimized run fuses them into integer kernels with
their own rounding); lpfc must give the same answer.
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

rng = np.random.default_rng(5)
X = (rng.standard_normal((2, 3, 8)) * 4).astype(np.float32)


def run_all(node, feeds, weights, opset):
    """Every output of a one-node model, through lpfc's interpreter and through onnxruntime (unoptimized)."""
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is the oracle")
    m = model(node, feeds, weights, opset)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    theirs = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, feeds)
    ours = lpfc.interpret(lpfc.import_onnx(m), feeds)
    return [ours[o] for o in node.output], theirs


def run_both(node, feeds, weights, opset):
    ours, theirs = run_all(node, feeds, weights, opset)
    return ours[0], theirs[0]


@pytest.mark.parametrize("opset", [10, 13, 21])
@pytest.mark.parametrize("zp_type", [np.uint8, np.int8, None])
def test_quantize_then_dequantize_per_tensor(opset, zp_type):
    weights = {"s": np.array(0.05, np.float32)}
    if zp_type is not None:
        weights["zp"] = np.array(3, zp_type)
    q = helper.make_node("QuantizeLinear", ["x", "s"] + (["zp"] if zp_type else []), ["q"], name="q")
    got, want = run_both(q, {"x": X}, weights, opset)
    assert got.dtype == want.dtype and np.array_equal(got, want)
    dq = helper.make_node("DequantizeLinear", ["q", "s"] + (["zp"] if zp_type else []), ["y"], name="dq")
    got, want = run_both(dq, {"q": want}, weights, opset)
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("opset", [13, 21])
@pytest.mark.parametrize("axis", [1, 2, -1])
def test_per_axis(opset, axis):
    n = X.shape[axis]
    weights = {"s": (rng.random(n) * 0.1 + 0.01).astype(np.float32), "zp": rng.integers(-5, 5, n).astype(np.int8)}
    q = helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"], name="q", axis=axis)
    got, want = run_both(q, {"x": X}, weights, opset)
    assert np.array_equal(got, want)
    dq = helper.make_node("DequantizeLinear", ["q", "s", "zp"], ["y"], name="dq", axis=axis)
    got, want = run_both(dq, {"q": want}, weights, opset)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_blocked_dequantize_opset_21():
    q = rng.integers(-100, 100, (4, 10)).astype(np.int8)
    weights = {"s": (rng.random((4, 3)) * 0.1).astype(np.float32), "zp": rng.integers(-3, 3, (4, 3)).astype(np.int8)}
    node = helper.make_node("DequantizeLinear", ["q", "s", "zp"], ["y"], name="dq", axis=1, block_size=4)
    got, want = run_both(node, {"q": q}, weights, 21)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_per_axis_scale_before_13_is_one_clear_error():
    node = helper.make_node("DequantizeLinear", ["q", "s"], ["y"], name="dq")
    m = model(node, {"q": np.zeros((2, 3), np.int8)}, {"s": np.ones(3, np.float32)}, opset=10)
    with pytest.raises(lpfc.ShapeError, match="scalar before version 13") as e:
        lpfc.import_onnx(m)
    assert "node 'dq'" in str(e.value)


def quantized_zoo_model(model: str, variant: str, stem: str) -> tuple[Path, Path]:
    """(the zoo export, where onnxruntime's quantization of it is cached): exported first when missing."""
    ort = pytest.importorskip("onnxruntime")
    src = zoo.export(model, variant)
    root = os.environ.get("LPFC_CACHE_DIR")
    out = ((Path(root) if root else Path.home() / ".cache" / "lpfc") / "ort-quantized"
           / f"{stem}-{ort.__version__}.onnx")
    return src, out


def _qdq_model() -> Path:
    src, out = quantized_zoo_model("tiny-bert", "ts14", "tiny-bert-qdq")
    if out.exists():
        return out
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            r = np.random.default_rng(0)
            self.data = iter([{"input_ids": r.integers(0, 1000, (1, 128)), "attention_mask": np.ones((1, 128), np.int64),
                               "token_type_ids": np.zeros((1, 128), np.int64)} for _ in range(2)])

        def get_next(self):
            return next(self.data, None)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.onnx")
    quantize_static(str(src), str(tmp), Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])
    os.replace(tmp, out)
    return out


@pytest.mark.zoo
def test_qdq_zoo_model_matches_onnxruntime():
    import onnx
    import onnxruntime as ort

    path = _qdq_model()
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    r = np.random.default_rng(1)
    mask = np.ones((1, 128), np.int64)
    mask[0, -16:] = 0
    feeds = {"input_ids": r.integers(0, 1000, (1, 128)), "attention_mask": mask,
             "token_type_ids": r.integers(0, 2, (1, 128))}
    theirs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
    ours = lpfc.interpret(lpfc.import_onnx(str(path)), feeds)
    for name, want in theirs.items():
        # Activations are re-quantized after every MatMul: a float32 rounding difference before a
        # QuantizeLinear can move a value by one quantization step; nearly all must agree exactly.
        close = np.isclose(ours[name], want, rtol=1e-4, atol=1e-4)
        assert close.mean() > 0.99, f"{name}: {close.mean():.4f} of the values agree"
