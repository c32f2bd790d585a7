"""Type rules of graph ops reject operands the op is not defined for, with a ShapeError."""
import numpy as np
import pytest

from lpfc.errors import ShapeError
from lpfc.ir import DType, TensorType
from lpfc.ir.opdef import lookup


def infer(name, operand_types, **attrs):
    d = lookup("graph." + name)
    full = {k: attrs.get(k, s.default) for k, s in d.attrs.items() if k in attrs or not s.required}
    return d.infer(operand_types, full)


def t(*shape, dtype=DType.f32):
    return TensorType(shape, dtype)


@pytest.mark.parametrize("name, operands, attrs, needle", [
    ("and", [t(3, dtype=DType.i32), t(3, dtype=DType.i32)], {}, "logical operands must be i1"),
    ("xor", [t(3, dtype=DType.bool), t(3, dtype=DType.u8)], {}, "logical operands must be i1"),
    ("not", [t(3, dtype=DType.i64)], {}, "not needs an i1"),
    ("bitwise_or", [t(3), t(3)], {}, "bitwise operands must be integers"),
    ("bitwise_not", [t(3, dtype=DType.bool)], {}, "bitwise_not needs an integer"),
    ("bitshift_left", [t(3, dtype=DType.i32), t(3, dtype=DType.i32)], {}, "unsigned"),
    ("softmax", [t(2, 3, dtype=DType.i32)], {"axis": 1}, "floating-point"),
    ("log_softmax", [t(2, 3, dtype=DType.i64)], {"axis": 1}, "floating-point"),
    ("layer_norm", [t(2, 3, dtype=DType.i32)], {"axis": 1}, "floating-point"),
    ("gemm", [t(2, 3), t(3, 4, dtype=DType.f16)], {}, "different dtypes"),
    ("gemm", [t(2, 3), t(3, 4), t(3, 2, 4)], {}, "does not broadcast to"),
    ("gemm", [t(2, 3), t(3, 4), t(3, 4)], {}, "do not broadcast"),
    ("gather_nd", [t(2, 3, 4), t(3, 1, 1, dtype=DType.i64)], {"batch_dims": 1}, "batch dimensions differ"),
    ("gather_nd", [t(2, 3, 4), t(2, dtype=DType.i64)], {"batch_dims": 1}, "rank > 1"),
    ("gather_nd", [t(2, 3), t(2, 1)], {}, "indices must be integers"),
    ("pad", [t(2, 3)], {"pads": [0, -2, 0, -2]}, "crop more than it has"),
    ("pad", [t(2, 3)], {"pads": [0, -5, 0, 2]}, "crop more than it has"),
    ("pad", [t(2, 3)], {"pads": [0, 0, 0, 1], "mode": "mirror"}, "pad mode 'mirror'"),
    ("pad", [t(2, 3)], {"pads": [0, 3, 0, 0], "mode": "reflect"}, "smaller than its size"),
    ("pad", [t(2, 0)], {"pads": [0, 1, 0, 0], "mode": "edge"}, "needs it non-empty"),
    ("cumsum", [t(3, dtype=DType.bool)], {"axis": 0}, "numeric"),
    ("cumsum", [t(3)], {"axis": 1}, "out of range"),
    ("scatter_elements", [t(3, 4), t(3, 2, dtype=DType.i64), t(2, 3)], {"axis": 1}, "one shape"),
    ("scatter_elements", [t(3, 4), t(3, 2, dtype=DType.i64), t(3, 2)], {"reduction": "avg"}, "reduction 'avg'"),
    ("scatter_nd", [t(3, 4), t(2, 1, dtype=DType.i64), t(2, 3)], {}, "need \\[2, 4\\]"),
    ("scatter_nd", [t(3, 4), t(2, 1, dtype=DType.i64), t(2, 4, dtype=DType.f16)], {}, "updates are f16"),
])
def test_rejected(name, operands, attrs, needle):
    with pytest.raises(ShapeError, match=needle):
        infer(name, operands, **attrs)


def test_accepted():
    assert infer("and", [t(3, dtype=DType.bool), t(2, 1, dtype=DType.bool)]) == [t(2, 3, dtype=DType.bool)]
    assert infer("bitwise_xor", [t(3, dtype=DType.u16), t(3, dtype=DType.u16)]) == [t(3, dtype=DType.u16)]
    assert infer("bitshift_right", [t(3, dtype=DType.u64), t(1, dtype=DType.u64)]) == [t(3, dtype=DType.u64)]
    assert infer("gather_nd", [t(2, 3, 4), t(2, 5, 1, dtype=DType.i64)], batch_dims=1) == [t(2, 5, 4)]
    assert infer("pad", [t(2, 3)], pads=[1, -1, 0, 2]) == [t(3, 4)]
    assert infer("pad", [t(2, 3)], pads=[0, 2, 0, 2], mode="reflect") == [t(2, 7)]
    assert infer("reduce_sum", [t(2, 3)], axes=[]) == [t(2, 3)]                  # [] reduces nothing


def test_unsigned_dtypes():
    for d, np_name in [(DType.u16, "uint16"), (DType.u32, "uint32"), (DType.u64, "uint64")]:
        assert d.numpy == np.dtype(np_name) and DType.from_numpy(np_name) is d
        assert d.is_int and d.is_unsigned and not d.is_signed_int and not d.is_float
        assert DType.parse(str(d)) is d
    assert DType.i16.is_signed_int and not DType.bool.is_int


def test_negative_dimension_is_a_shape_error():
    with pytest.raises(ShapeError, match="negative dimension"):
        TensorType((2, -1), DType.f32)


def test_unsigned_constants_round_trip_exactly():
    from lpfc.errors import ParseError
    from lpfc.ir import DenseElements, Function, Module, Operation, parse_module, print_module

    for arr in [np.array([0, 1, 2**64 - 1, 2**63], np.uint64), np.array([-2**63, 2**63 - 1], np.int64),
                np.full(20, 65535, np.uint16)]:
        a = DenseElements(arr)
        f = Function("main", [], [])
        op = f.body.append(Operation("graph.constant", [], [a.type], {"value": a}))
        f.set_return([op.result], ["o"])
        text = print_module(Module([f]))
        back = parse_module(text).main.ops[0].attributes["value"].array
        assert back.dtype == arr.dtype and np.array_equal(back, arr)
    with pytest.raises(ParseError, match="does not fit u16"):
        parse_module(text.replace("dense<65535>", "dense<65536>"))
