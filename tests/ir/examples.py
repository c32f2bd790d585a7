"""One well-formed instance of every graph op, for round-trip and verifier tests."""
import numpy as np

from lpfc.ir import DenseElements, DType, TensorType
from lpfc.ir.opdef import lookup

F = DType.f32
X = TensorType((2, 3, 4), F)
ROW = TensorType((4,), F)
B = TensorType((2, 3, 4), DType.bool)
I = TensorType((2, 3, 4), DType.i32)
U = TensorType((2, 3, 4), DType.u8)
IDX = TensorType((5,), DType.i64)

_BINARY_F = ["add", "sub", "mul", "div", "max", "min", "pow"]
_CMP = ["equal", "less", "less_equal", "greater", "greater_equal"]
_UNARY_F = ["neg", "abs", "exp", "log", "sqrt", "reciprocal", "erf", "tanh", "sigmoid", "relu", "floor", "ceil",
            "round", "sign", "sin", "cos", "softplus", "identity", "isnan", "isinf"]

# name -> (operand types, attributes)
EXAMPLES = {}
for n in _BINARY_F + _CMP:
    EXAMPLES[n] = ([X, ROW], {})
for n in ["and", "or", "xor"]:
    EXAMPLES[n] = ([B, B], {})
for n in ["bitshift_left", "bitshift_right"]:
    EXAMPLES[n] = ([U, U], {})
for n in ["bitwise_and", "bitwise_or", "bitwise_xor"]:
    EXAMPLES[n] = ([I, TensorType((4,), DType.i32)], {})
EXAMPLES["mod"] = ([I, I], {"fmod": False})
EXAMPLES["not"] = ([B], {})
EXAMPLES["bitwise_not"] = ([TensorType((2, 3, 4), DType.u64)], {})
for n in _UNARY_F:
    EXAMPLES[n] = ([X], {})
EXAMPLES.update({
    "where": ([B, X, ROW], {}),
    "gelu": ([X], {"approximate": "tanh"}),
    "leaky_relu": ([X], {"alpha": 0.2}),
    "clip": ([X], {"min": -1.5, "max": 6.0}),
    "cast": ([X], {"to": DType.f16}),
    "constant": ([], {"value": DenseElements(np.arange(6, dtype=np.float32).reshape(2, 3))}),
    "matmul": ([X, TensorType((4, 5), F)], {}),
    "gemm": ([TensorType((3, 4), F), TensorType((5, 4), F), TensorType((5,), F)],
             {"alpha": 0.5, "beta": 2.0, "trans_a": False, "trans_b": True}),
    "softmax": ([X], {"axis": 2}),
    "log_softmax": ([X], {"axis": 1}),
    "layer_norm": ([X, ROW, ROW], {"axis": 2, "epsilon": 1e-12}),
    "rms_norm": ([X, ROW], {"axis": 2, "epsilon": 1e-06}),
    "argmax": ([X], {"axis": 1, "keepdims": False, "select_last_index": True}),
    "argmin": ([X], {"axis": 0, "keepdims": True, "select_last_index": False}),
    "reshape": ([X], {"shape": [6, 4]}),
    "transpose": ([X], {"perm": [0, 2, 1]}),
    "expand": ([ROW], {"shape": [3, 4]}),
    "concat": ([X, X], {"axis": 1}),
    "split": ([X], {"axis": 2, "sizes": [1, 3]}),
    "slice": ([X], {"starts": [1, 0], "ends": [3, -5], "axes": [1, 2], "steps": [1, -1]}),
    "gather": ([TensorType((10, 4), F), IDX], {"axis": 0}),
    "gather_elements": ([X, TensorType((2, 3, 4), DType.i64)], {"axis": 2}),
    "gather_nd": ([X, TensorType((5, 2), DType.i64)], {"batch_dims": 0}),
    "cumsum": ([I], {"axis": 1, "exclusive": True, "reverse": False}),
    "scatter_elements": ([X, TensorType((2, 3, 2), DType.i64), TensorType((2, 3, 2), F)],
                         {"axis": 2, "reduction": "add"}),
    "scatter_nd": ([X, TensorType((5, 2), DType.i32), TensorType((5, 4), F)], {"reduction": "none"}),
    "trilu": ([X], {"upper": False, "k": 1}),
    "tile": ([X], {"repeats": [1, 2, 1]}),
    "pad": ([X], {"pads": [0, 1, 0, 0, 2, 0], "mode": "constant", "value": 0.5}),
})
for n in ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod", "reduce_l2",
          "reduce_sum_square", "reduce_log_sum_exp"]:
    EXAMPLES[n] = ([X], {"axes": [1, 2], "keepdims": False})


def result_types(name, operand_types, attrs):
    d = lookup("graph." + name)
    full = {k: attrs.get(k, s.default) for k, s in d.attrs.items() if k in attrs or not s.required}
    return d.infer(operand_types, full)
