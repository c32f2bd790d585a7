"""LpfcBackend as an onnx.backend.base.Backend: prepare/run, run_node, devices, specialisation."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.backend.base import Backend

from lpfc.errors import InputError, LpfcError, UnsupportedError
from lpfc.testing.onnx_backend import LpfcBackend, SpecializingBackendRep, deciding_inputs


def vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def model(nodes, inputs, outputs, initializers=(), opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def two_outputs():
    w = numpy_helper.from_array(np.full((3,), 2, np.float32), "w")
    return model([helper.make_node("Mul", ["x", "w"], ["p"]), helper.make_node("Add", ["x", "y"], ["s"])],
                 [vi("x", [3]), vi("w", [3]), vi("y", [3])], [vi("s", [3]), vi("p", [3])], [w])


def test_is_a_backend():
    assert issubclass(LpfcBackend, Backend)
    assert LpfcBackend.supports_device("CPU") and not LpfcBackend.supports_device("CUDA")
    assert not LpfcBackend.supports_device("TPU:0")


def test_positional_inputs_skip_initializers_and_outputs_keep_graph_order():
    rep = LpfcBackend.prepare(two_outputs())
    x, y = np.arange(3, dtype=np.float32), np.ones(3, np.float32)
    s, p = rep.run([x, y])
    np.testing.assert_array_equal(s, x + y)
    np.testing.assert_array_equal(p, x * 2)
    out = rep.run({"y": y, "x": numpy_helper.from_array(x)})       # by name; TensorProtos accepted
    np.testing.assert_array_equal(out["p"], x * 2)
    with pytest.raises(InputError, match="1 input"):
        rep.run([x])


def test_run_model_and_run_node():
    x, y = np.arange(3, dtype=np.float32), np.ones(3, np.float32)
    s, _ = LpfcBackend.run_model(two_outputs(), [x, y])
    np.testing.assert_array_equal(s, x + y)
    (out,) = LpfcBackend.run_node(helper.make_node("Relu", ["a"], ["b"]), [x - 1])
    np.testing.assert_array_equal(out, np.maximum(x - 1, 0))
    # A shape-deciding input of the node is baked in.
    (out,) = LpfcBackend.run_node(helper.make_node("Reshape", ["a", "shape"], ["b"]),
                                  [x, np.array([3, 1], np.int64)])
    assert out.shape == (3, 1)


def test_unsupported_is_an_lpfc_error_at_prepare():
    m = model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [2])], [vi("y", [2])], opset=6)
    assert not LpfcBackend.is_compatible(m)
    with pytest.raises(UnsupportedError, match="opset 6"):
        LpfcBackend.prepare(m)
    conv = model([helper.make_node("Conv", ["x", "w"], ["y"])], [vi("x", [1, 1, 3, 3]), vi("w", [1, 1, 1, 1])],
                  [vi("y", [1, 1, 3, 3])])
    assert not LpfcBackend.is_compatible(conv)
    assert LpfcBackend.is_compatible(two_outputs())


def test_specialization_follows_computed_shapes_but_not_shape_queries():
    # shape = Concat(Shape(x)[0:1], k * 1, [-1]): depends on the value of k, only on the shape of x.
    nodes = [helper.make_node("Shape", ["x"], ["sx"], start=0, end=1),
             helper.make_node("Mul", ["k", "one"], ["k1"]),
             helper.make_node("Concat", ["sx", "k1", "rest"], ["shape"], axis=0),
             helper.make_node("Reshape", ["y", "shape"], ["out"])]
    consts = [numpy_helper.from_array(np.array([1], np.int64), "one"),
              numpy_helper.from_array(np.array([-1], np.int64), "rest")]
    m = model(nodes, [vi("x", [2, 5]), vi("k", [1], TensorProto.INT64), vi("y", [2, 6])], [helper.make_tensor_value_info("out", TensorProto.FLOAT, [2, None, None])],
              consts)
    assert deciding_inputs(m, "shape") == ["k"]
    with pytest.raises(LpfcError, match="computed at run time"):
        LpfcBackend.prepare(m)
    rep = LpfcBackend.prepare(m, specialize=True)
    assert isinstance(rep, SpecializingBackendRep) and rep.frozen == ["k"]
    y = np.arange(12, dtype=np.float32).reshape(2, 6)
    x = np.zeros((2, 5), np.float32)
    (out,) = rep.run([x, np.array([1], np.int64), y])
    np.testing.assert_array_equal(out, y.reshape(2, 1, 6))
    (out,) = rep.run([x, np.array([3], np.int64), y])                # new value: imported again
    np.testing.assert_array_equal(out, y.reshape(2, 3, 2))
    with pytest.raises(InputError, match="missing input 'k'"):
        rep.run({"x": x, "y": y})


def test_checker_runs_on_prepare():
    bad = model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [2])], [vi("y", [2])])
    bad.graph.node[0].op_type = "NoSuchOp"
    with pytest.raises(onnx.checker.ValidationError):
        LpfcBackend.prepare(bad)
