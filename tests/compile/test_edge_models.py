"""Models at the edges of the generator: outputs that are inputs, constants or views (copied at the
end), a model with no kernel at all, an output read by a later kernel, non-f32 dtypes."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import lpfc

from . import standin_emitter


def _save(tmp_path, nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, "edge", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(m)
    p = tmp_path / "edge.onnx"
    onnx.save(m, str(p))
    return p


@pytest.mark.parametrize("fusion", [True, False], ids=["fused", "no-fusion"])
def test_outputs_that_need_copies(tmp_path, fusion):
    standin_emitter.register()
    c = np.arange(6, dtype=np.float32).reshape(2, 3) + 0.5
    x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    nodes = [helper.make_node("Identity", ["x"], ["same"]),
             helper.make_node("Reshape", ["x", "shape"], ["flat"]),
             helper.make_node("Identity", ["c"], ["const"]),
             helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Add", ["r", "c"], ["sum"])]
    outs = [helper.make_tensor_value_info("same", TensorProto.FLOAT, [2, 3]),
            helper.make_tensor_value_info("flat", TensorProto.FLOAT, [6]),
            helper.make_tensor_value_info("const", TensorProto.FLOAT, [2, 3]),
            helper.make_tensor_value_info("r", TensorProto.FLOAT, [2, 3]),
            helper.make_tensor_value_info("sum", TensorProto.FLOAT, [2, 3])]
    p = _save(tmp_path, nodes, [x_info], outs,
              [numpy_helper.from_array(c, "c"), numpy_helper.from_array(np.array([6], np.int64), "shape")])
    r = lpfc.compile(p, tmp_path / "libedge.so", fusion=fusion)
    sess = lpfc.load(r.library)
    x = np.array([[-1, 2, -3], [4, -5, 6]], np.float32)
    out = sess.run({"x": x})
    np.testing.assert_array_equal(out["same"], x)
    np.testing.assert_array_equal(out["flat"], x.reshape(6))
    np.testing.assert_array_equal(out["const"], c)
    np.testing.assert_array_equal(out["r"], np.maximum(x, 0))
    np.testing.assert_array_equal(out["sum"], np.maximum(x, 0) + c)


def test_model_without_kernels(tmp_path):
    x_info = helper.make_tensor_value_info("x", TensorProto.INT64, [4])
    p = _save(tmp_path, [helper.make_node("Reshape", ["x", "shape"], ["y"])], [x_info],
              [helper.make_tensor_value_info("y", TensorProto.INT64, [2, 2])],
              [numpy_helper.from_array(np.array([2, 2], np.int64), "shape")])
    r = lpfc.compile(p, tmp_path / "libnone.so")
    assert r.kernels == 0
    x = np.array([1, -2, 3, 2**40], np.int64)
    np.testing.assert_array_equal(lpfc.load(r.library).run({"x": x})["y"], x.reshape(2, 2))
