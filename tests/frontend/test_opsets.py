"""Ops whose meaning changed between ONNX versions, each imported by its own version's rules.

Every case runs one node through lpfc (import + reference interpreter) at a pinned opset
and compares it with onnxruntime at the same opset (onnx.reference is no oracle here:
it evaluates Softmax-1/11 with Softmax-13's meaning).  Where two versions
differ in meaning (Softmax before 13 coerces to 2-D), the test also checks that the
versions' results really differ, so a converter that ignored the version would fail.
"""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

from lpfc.errors import UnsupportedError
from lpfc.frontend import onnx_versions
from lpfc.frontend.onnx import import_onnx
from lpfc.frontend.onnx_loader import MAX_OPSET, MIN_OPSET
from lpfc.testing.onnx_backend import LpfcBackend

from .onnx_builders import single_node_model

rng = np.random.default_rng(11)
X = (rng.standard_normal((2, 3, 4)) * 3).astype(np.float32)



def check(node, inputs, opset, rtol=1e-5, atol=1e-6):
    """lpfc's outputs at ``opset`` against onnxruntime's; returns lpfc's."""
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is the oracle for old op versions")
    ours = LpfcBackend.run_node(node, inputs, opset_version=opset)
    names = [n for n in node.input if n]
    sess = ort.InferenceSession(single_node_model(node, inputs, opset).SerializeToString(),
                                providers=["CPUExecutionProvider"])
    theirs = sess.run(None, dict(zip(names, inputs)))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        b = np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, a.shape, b.dtype, b.shape)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    return ours


def test_range_is_7_to_the_installed_onnx():
    assert MIN_OPSET == 7 and MAX_OPSET == onnx.defs.onnx_opset_version()


@pytest.mark.parametrize("op_type", ["Softmax", "LogSoftmax", "Hardmax"])
@pytest.mark.parametrize("attrs", [{}, {"axis": 0}, {"axis": 1}, {"axis": -2}, {"axis": 2}])
def test_softmax_family_coerces_to_2d_before_13(op_type, attrs):
    node = helper.make_node(op_type, ["x"], ["y"], **attrs)
    old = check(node, [X], 11)[0]
    new = check(node, [X], 13)[0]
    if attrs.get("axis", 1) % 3 != 2:
        # Before 13 the op works over all dims from axis on; from 13 over axis alone.
        assert not np.allclose(old, new)


def test_softmax_opset_11_default_axis_is_1():
    node = helper.make_node("Softmax", ["x"], ["y"])
    y = check(node, [X], 11)[0]
    np.testing.assert_allclose(y.reshape(2, -1).sum(axis=1), [1, 1], rtol=1e-5)


@pytest.mark.parametrize("attrs", [{}, {"min": -1.0}, {"max": 0.5}, {"min": -1.5, "max": 2.0}])
def test_clip_6_takes_attributes(attrs):
    check(helper.make_node("Clip", ["x"], ["y"], **attrs), [X], 10)


@pytest.mark.parametrize("attrs", [{"pads": [0, 1, 0, 0, 2, 1]}, {"pads": [1, 0, 1, 1, 0, 0], "value": 2.5},
                                   {"pads": [0, 1, 1, 0, 1, 1], "mode": "reflect"},
                                   {"pads": [1, 1, 1, 1, 1, 1], "mode": "edge"}])
def test_pad_2_takes_attributes(attrs):
    check(helper.make_node("Pad", ["x"], ["y"], **attrs), [X], 10)


@pytest.mark.parametrize("attrs", [{"starts": [1], "ends": [3]}, {"starts": [0, -3], "ends": [1, 100], "axes": [0, 2]},
                                   {"starts": [1, 1], "ends": [-1, 3], "axes": [2, 1]}])
def test_slice_1_takes_attributes(attrs):
    check(helper.make_node("Slice", ["x"], ["y"], **attrs), [X], 9)


@pytest.mark.parametrize("opset", [7, 11])
def test_split_before_13_takes_the_split_attribute(opset):
    check(helper.make_node("Split", ["x"], ["a", "b"], axis=2, split=[1, 3]), [X], opset)
    check(helper.make_node("Split", ["x"], ["a", "b"], axis=2), [X], opset)


def test_squeeze_unsqueeze_before_13_take_axes_attributes():
    x1 = X.reshape(2, 1, 3, 4)
    check(helper.make_node("Squeeze", ["x"], ["y"], axes=[1]), [x1], 11)
    check(helper.make_node("Unsqueeze", ["x"], ["y"], axes=[0, -1]), [X], 11)


@pytest.mark.parametrize("op_type,opset", [("ReduceSum", 11), ("ReduceMean", 13), ("ReduceMax", 17),
                                           ("ReduceL2", 11), ("ReduceLogSumExp", 7)])
def test_reductions_before_axes_input_take_the_attribute(op_type, opset):
    check(helper.make_node(op_type, ["x"], ["y"], axes=[0, 2], keepdims=0), [X], opset)


def test_dropout_7_and_10_are_the_identity_at_inference():
    for opset in (7, 10):
        check(helper.make_node("Dropout", ["x"], ["y"], ratio=0.3), [X], opset)


def test_batch_norm_7_spatial_0_is_refused():
    c = np.ones(3, np.float32)
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], spatial=0)
    with pytest.raises(UnsupportedError, match="spatial=0"):
        LpfcBackend.run_node(node, [X.reshape(2, 3, 4, 1), c, c, c, c], opset_version=7)
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"])
    check(node, [X.reshape(2, 3, 4, 1), c * 2, c, c * 0.5, c * 3], 7)


def test_bitshift_28_on_signed_types_is_refused():
    node = helper.make_node("BitShift", ["x", "s"], ["y"], direction="RIGHT")
    with pytest.raises(UnsupportedError, match=r"BitShift version 28 on signed i32"):
        LpfcBackend.run_node(node, [np.array([-8, 8], np.int32), np.array([1, 1], np.int32)], opset_version=28)
    check(node, [np.array([8, 9], np.uint32), np.array([1, 2], np.uint32)], 28)


def test_opset_below_7_is_refused():
    m = single_node_model(helper.make_node("Relu", ["x"], ["y"]), [X], 6)
    with pytest.raises(UnsupportedError, match="opset 6; lpfc supports opsets 7-"):
        import_onnx(m)


def test_an_op_version_newer_than_reviewed_is_refused_by_name(monkeypatch):
    # As if the installed onnx knew a newer Cos than lpfc was written against.
    monkeypatch.setattr("lpfc.frontend.onnx.REVIEWED_OPSET", 21)
    node = helper.make_node("Cos", ["x"], ["y"], name="the_cos")
    with pytest.raises(UnsupportedError, match=r"the_cos.*Cos version 22 \(model opset 22\) is newer"):
        import_onnx(single_node_model(node, [X], 22))
    import_onnx(single_node_model(node, [X], 21))         # Cos-7 is fine


def test_every_supported_op_version_up_to_the_reviewed_opset_is_known():
    """An installed onnx newer than REVIEWED_OPSET is the only way to meet an unreviewed version."""
    from lpfc.frontend.onnx_ops import SUPPORTED_OPS
    for op in SUPPORTED_OPS:
        v = onnx_versions.op_version(op, min(MAX_OPSET, onnx_versions.REVIEWED_OPSET))
        assert v is not None and v <= onnx_versions.REVIEWED_OPSET, op
