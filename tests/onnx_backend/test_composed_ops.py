"""Ops lpfc imports as compositions of graph ops, against onnx's reference evaluator at opset 21.

ONNX's own node tests for most of these ops pin opset 22 or later and cover few
attribute values; these run one node through ``LpfcBackend.run_node`` with more
attributes and compare with ``onnx.reference``.
"""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from lpfc.errors import LpfcError
from lpfc.testing.onnx_backend import LpfcBackend

from ..frontend.onnx_builders import single_node_model

OPSET = 21
rng = np.random.default_rng(7)


def randn(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def reference(node, inputs):
    names = [n for n in node.input if n]
    return ReferenceEvaluator(single_node_model(node, inputs, OPSET)).run(None, dict(zip(names, inputs)))


def check(op_type, inputs, n_outputs=1, rtol=1e-5, atol=1e-6, **attrs):
    node = helper.make_node(op_type, [f"x{i}" for i in range(len(inputs))], [f"y{i}" for i in range(n_outputs)],
                            **attrs)
    ours = LpfcBackend.run_node(node, inputs)
    theirs = reference(node, inputs)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        b = np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, a.shape, b.dtype, b.shape)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


X = randn(2, 3, 4, 5) * 3


@pytest.mark.parametrize("op_type,attrs", [
    ("Elu", {}), ("Elu", {"alpha": 0.5}), ("Selu", {}), ("Selu", {"alpha": 2.0, "gamma": 3.0}),
    ("Celu", {}), ("Celu", {"alpha": 2.0}), ("HardSigmoid", {}), ("HardSigmoid", {"alpha": 0.5, "beta": 0.6}),
    ("HardSwish", {}), ("Softsign", {}), ("Mish", {}), ("ThresholdedRelu", {}), ("ThresholdedRelu", {"alpha": 2.0}),
    ("Shrink", {}), ("Shrink", {"lambd": 1.5, "bias": 1.5}), ("Hardmax", {}), ("Hardmax", {"axis": 1}),
    ("GlobalAveragePool", {}), ("GlobalMaxPool", {}), ("MeanVarianceNormalization", {}),
    ("MeanVarianceNormalization", {"axes": [1, 3]}),
])
def test_unary(op_type, attrs):
    check(op_type, [X], **attrs)


@pytest.mark.parametrize("op_type", ["Elu", "HardSwish", "Mish", "Softsign"])
def test_float16_and_double(op_type):
    check(op_type, [X.astype(np.float16)], rtol=2e-3, atol=2e-3)
    check(op_type, [X.astype(np.float64)], rtol=1e-6, atol=1e-7)   # onnx.reference rounds HardSwish's 1/6 to float32


def test_hardmax_picks_the_first_maximum():
    check("Hardmax", [np.array([[1, 3, 3, 0], [2, 2, 2, 2]], np.float32)])


def test_prelu_broadcasts_the_slope():
    check("PRelu", [X, randn(3, 1, 1)])
    check("PRelu", [X, randn(5)])


@pytest.mark.parametrize("exclusive", [0, 1])
@pytest.mark.parametrize("reverse", [0, 1])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint64])
def test_cumsum(exclusive, reverse, dtype):
    x = (X * 4).astype(dtype) if dtype != np.uint64 else np.abs(X * 4).astype(dtype)
    check("CumSum", [x, np.array(-2, np.int64)], exclusive=exclusive, reverse=reverse)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_one_hot(axis):
    idx = np.array([[0, 3, -1], [2, -4, 1]], np.int64)
    check("OneHot", [idx, np.array(4, np.int64), np.array([-2.0, 5.0], np.float32)], axis=axis)
    check("OneHot", [idx.astype(np.float32), np.array(4.0, np.float32), np.array([0, 1], np.int32)], axis=axis)


def test_batch_norm_and_instance_norm():
    c = X.shape[1]
    check("BatchNormalization", [X, randn(c), randn(c), randn(c), np.abs(randn(c)) + 0.1], epsilon=1e-3)
    check("InstanceNormalization", [X, randn(c), randn(c)], epsilon=1e-3, rtol=1e-4, atol=1e-5)


def test_group_norm():
    x = randn(2, 6, 3, 2)
    check("GroupNormalization", [x, randn(6), randn(6)], num_groups=3, epsilon=1e-3, rtol=1e-4, atol=1e-5)


def test_layer_norm_mean_and_inv_std_dev():
    check("LayerNormalization", [X, randn(4, 5), randn(4, 5)], n_outputs=3, axis=2, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("op_type", ["DepthToSpace", "SpaceToDepth"])
def test_depth_space(op_type):
    x = np.arange(2 * 8 * 4 * 6, dtype=np.float32).reshape(2, 8, 4, 6)
    check(op_type, [x], blocksize=2)
    if op_type == "DepthToSpace":
        check(op_type, [x], blocksize=2, mode="CRD")


def test_eye_like():
    check("EyeLike", [randn(3, 5)], k=1)
    check("EyeLike", [randn(4, 2)], k=-1, dtype=TensorProto.INT32)


@pytest.mark.parametrize("op_type", ["HannWindow", "HammingWindow", "BlackmanWindow"])
@pytest.mark.parametrize("periodic", [0, 1])
def test_windows(op_type, periodic):
    check(op_type, [np.array(10, np.int64)], periodic=periodic)
    check(op_type, [np.array(7, np.int32)], periodic=periodic, output_datatype=TensorProto.DOUBLE)


def test_center_crop_pad():
    check("CenterCropPad", [X, np.array([5, 2, 7, 4], np.int64)])
    check("CenterCropPad", [X, np.array([7, 1], np.int64)], axes=[-1, 1])


@pytest.mark.parametrize("op_type", ["ReduceL1", "ReduceLogSum"])
@pytest.mark.parametrize("keepdims", [0, 1])
def test_composed_reductions(op_type, keepdims):
    x = np.abs(X) + 0.5
    check(op_type, [x, np.array([1, -1], np.int64)], keepdims=keepdims)
    check(op_type, [x], keepdims=keepdims)                                   # all axes
    check(op_type, [x, np.array([], np.int64)], keepdims=keepdims, noop_with_empty_axes=1)


@pytest.mark.parametrize("op_type", ["ReduceSumSquare", "ReduceL2", "ReduceLogSumExp", "ReduceMax", "ReduceMean"])
def test_reduce_noop_with_empty_axes(op_type):
    check(op_type, [X, np.array([], np.int64)], noop_with_empty_axes=1)


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
def test_scatter(reduction):
    data = randn(4, 5)
    check("ScatterElements", [data, np.array([[1, -1], [0, 3]], np.int64), randn(2, 2)], axis=1,
          reduction=reduction)
    check("ScatterND", [data, np.array([[1], [-2]], np.int64), randn(2, 5)], reduction=reduction)
    check("ScatterND", [data, np.array([[1, 2], [3, 4]], np.int32), randn(2)], reduction=reduction)


@pytest.mark.parametrize("op_type", ["BitwiseAnd", "BitwiseOr", "BitwiseXor"])
@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int64])
def test_bitwise(op_type, dtype):
    info = np.iinfo(dtype)
    a = rng.integers(info.min, info.max, (3, 4), dtype=dtype, endpoint=True)
    b = rng.integers(info.min, info.max, (4,), dtype=dtype, endpoint=True)
    check(op_type, [a, b])
    if op_type == "BitwiseAnd":
        check("BitwiseNot", [a])


def test_rejections_are_lpfc_errors():
    with pytest.raises(LpfcError, match="training mode"):
        check("BatchNormalization", [X] + [randn(3)] * 4, training_mode=1)
    with pytest.raises(LpfcError, match="floating-point"):
        check("Elu", [np.arange(4, dtype=np.int32)])
    with pytest.raises(LpfcError, match="depth must be positive"):
        check("OneHot", [np.array([0], np.int64), np.array(0, np.int64), np.array([0.0, 1.0], np.float32)])
    with pytest.raises(LpfcError, match="multiple"):
        check("SpaceToDepth", [X], blocksize=3)
