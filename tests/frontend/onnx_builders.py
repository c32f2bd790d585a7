"""Tiny ONNX models built with onnx.helper for importer tests."""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def make(nodes, inputs, outputs, initializers=(), opset=17, name="g"):
    graph = helper.make_graph(nodes, name, inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def mlp(node_names=("mm", "add", "relu"), input_name="x", output_name="y"):
    """y = relu(x @ W + b), x: [2, 4] -> y: [2, 3]."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.standard_normal(3).astype(np.float32), "b")
    nodes = [helper.make_node("MatMul", [input_name, "W"], ["h"], name=node_names[0]),
             helper.make_node("Add", ["h", "b"], ["hb"], name=node_names[1]),
             helper.make_node("Relu", ["hb"], [output_name], name=node_names[2])]
    return make(nodes, [vi(input_name, [2, 4])], [vi(output_name, [2, 3])], [w, b])


def mlp_reference(x):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    return np.maximum(x @ w + b, 0)


def save(model, path):
    onnx.save(model, str(path))
    return path


def single_node_model(node, inputs, opset=17):
    """A model of ``node`` alone: graph inputs typed and shaped like the arrays ``inputs`` (one per non-empty
    input name), outputs untyped (shape inference fills them)."""
    names = [n for n in node.input if n]
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
         for n, a in zip(names, inputs)],
        [helper.make_empty_tensor_value_info(o) for o in node.output if o])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
