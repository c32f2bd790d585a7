"""A small MLP whose node and tensor names are hostile to generated C: comment terminators, quotes,
backslashes, newlines, preprocessor lines, trigraphs, non-ASCII."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INPUT = 'x */ "in"\n#include <stdio.h>'
OUTPUT = 'y\\"; system("rm -rf /"); /*'
NAMES = ['W1 */ #include "evil.h"', 'b1\n#define float int', 'h ??= \t\x01 \u00e9\u4e2d',
         'W2" ); abort(); //', 'b2 \\', 'relu */ /*', 'mm1 #pragma once', 'add1 ??/']


def build(path, seed=0):
    rng = np.random.default_rng(seed)
    w1 = rng.standard_normal((8, 16)).astype(np.float32)
    b1 = rng.standard_normal(16).astype(np.float32)
    w2 = rng.standard_normal((16, 4)).astype(np.float32)
    b2 = rng.standard_normal(4).astype(np.float32)
    W1, B1, H, W2, B2, RELU, MM1, ADD1 = NAMES
    nodes = [
        helper.make_node("MatMul", [INPUT, W1], ["mm1 out */"], name=MM1),
        helper.make_node("Add", ["mm1 out */", B1], [H], name=ADD1),
        helper.make_node("Relu", [H], ["r\"elu\n"], name=RELU),
        helper.make_node("MatMul", ["r\"elu\n", W2], ["mm2 \\n"], name="mm2 \"\n"),
        helper.make_node("Add", ["mm2 \\n", B2], [OUTPUT], name="add2 */"),
    ]
    graph = helper.make_graph(
        nodes, 'hostile */ "graph"\n#include',
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [2, 8])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, [2, 4])],
        [numpy_helper.from_array(w1, W1), numpy_helper.from_array(b1, B1), numpy_helper.from_array(w2, W2),
         numpy_helper.from_array(b2, B2)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def reference(x, seed=0):
    rng = np.random.default_rng(seed)
    w1 = rng.standard_normal((8, 16)).astype(np.float32)
    b1 = rng.standard_normal(16).astype(np.float32)
    w2 = rng.standard_normal((16, 4)).astype(np.float32)
    b2 = rng.standard_normal(4).astype(np.float32)
    return np.maximum(x @ w1 + b1, 0) @ w2 + b2
