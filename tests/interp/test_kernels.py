"""The graph-dialect kernels against onnxruntime, numpy and math.erf."""
from __future__ import annotations

import math

import numpy as np
import onnxruntime as ort
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from onnx import helper

from lpfc.errors import InputError, ShapeError
from lpfc.interp.kernels import KERNELS, erf
from lpfc.ir.attributes import DenseElements
from lpfc.ir.opdef import TERMINATOR, lookup, registered_ops
from lpfc.ir.types import DType, TensorType

# Ops the interpreter evaluates itself (terminators, ops whose meaning is their region).
NOT_KERNELS = {"graph.fused", "graph.yield"}
OPSET = 21

rng = np.random.default_rng(0)


def run(name: str, *inputs, **attrs) -> list:
    """Run kernel ``name`` the way the interpreter does: defaults filled, types inferred."""
    d = lookup(name)
    full = {k: s.default for k, s in d.attrs.items() if not s.required}
    full.update(attrs)
    types = d.infer([TensorType.of(a) for a in inputs], full)
    outs = KERNELS[name](list(inputs), full, types)
    for out, t in zip(outs, types):
        assert out.shape == t.shape and out.dtype == t.dtype.numpy, (name, out.dtype, out.shape, t)
    return outs


def run1(name: str, *inputs, **attrs) -> np.ndarray:
    return run(name, *inputs, **attrs)[0]


def ort_run(op_type: str, inputs, out_dtypes, **attrs) -> list:
    """One-node ONNX model run by onnxruntime; ``None`` inputs are omitted optionals."""
    names = [f"x{i}" if a is not None else "" for i, a in enumerate(inputs)]
    outs = [f"y{i}" for i in range(len(out_dtypes))]
    node = helper.make_node(op_type, names, outs, **attrs)
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
         for n, a in zip(names, inputs) if a is not None],
        [helper.make_tensor_value_info(o, helper.np_dtype_to_tensor_dtype(np.dtype(dt)), None)
         for o, dt in zip(outs, out_dtypes)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=10)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {n: a for n, a in zip(names, inputs) if a is not None})


def check(ours, theirs, rtol=1e-6, atol=1e-6):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, a.shape, b.dtype, b.shape)
        if a.dtype.kind == "f":
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
        else:
            np.testing.assert_array_equal(a, b)


def same_as_ort(name, op_type, inputs, ort_inputs=None, ort_attrs=None, rtol=1e-6, atol=1e-6, **attrs):
    ours = run(name, *inputs, **attrs)
    theirs = ort_run(op_type, inputs if ort_inputs is None else ort_inputs, [o.dtype for o in ours],
                     **(attrs if ort_attrs is None else ort_attrs))
    check(ours, theirs, rtol, atol)


def randn(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def randint(*shape, lo=-20, hi=20, dtype=np.int32):
    return rng.integers(lo, hi, shape).astype(dtype)


def i64(*v):
    return np.array(v, dtype=np.int64)


# -- coverage ------------------------------------------------------------------------
def test_every_graph_op_has_a_kernel():
    ops = [n for n in registered_ops()
           if TERMINATOR not in lookup(n).traits and n not in NOT_KERNELS and not n.startswith("func.")]
    assert [n for n in ops if n not in KERNELS] == []


def test_kernels_are_only_for_registered_ops():
    assert sorted(set(KERNELS) - set(registered_ops())) == []


# -- element-wise vs onnxruntime ------------------------------------------------------------
@pytest.mark.parametrize("name,op_type", [("graph.add", "Add"), ("graph.sub", "Sub"), ("graph.mul", "Mul"),
                                          ("graph.div", "Div"), ("graph.max", "Max"), ("graph.min", "Min")])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64, np.uint8, np.float16])
def test_binary_arith(name, op_type, dtype):
    if dtype == np.uint8:
        a, b = randint(3, 1, 5, lo=0, hi=255, dtype=dtype), randint(4, 1, lo=1, hi=255, dtype=dtype)
    elif np.dtype(dtype).kind == "i":
        a, b = randint(3, 1, 5, dtype=dtype), randint(4, 1, dtype=dtype)
        b[b == 0] = 7
    else:
        a, b = randn(3, 1, 5, dtype=dtype), randn(4, 1, dtype=dtype)
    tol = 1e-3 if dtype == np.float16 else 1e-6
    same_as_ort(name, op_type, [a, b], rtol=tol, atol=tol)


def test_integer_division_truncates_toward_zero():
    a = np.array([7, -7, 7, -7, 0, np.iinfo(np.int64).max, np.iinfo(np.int64).min + 1], dtype=np.int64)
    b = np.array([2, 2, -2, -2, 3, 3, -3], dtype=np.int64)
    want = [abs(int(p)) // abs(int(q)) * (1 if (p < 0) == (q < 0) else -1) for p, q in zip(a, b)]
    np.testing.assert_array_equal(run1("graph.div", a, b), want)
    same_as_ort("graph.div", "Div", [a[:5].astype(np.int32), b[:5].astype(np.int32)])


@pytest.mark.parametrize("fmod", [False, True])
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.int8])
def test_mod_int(fmod, dtype):
    a = np.array([5, -5, 5, -5, 4, -4, 0], dtype=dtype)
    b = np.array([3, 3, -3, -3, 2, 3, 5], dtype=dtype)
    same_as_ort("graph.mod", "Mod", [a, b], fmod=fmod, ort_attrs={"fmod": int(fmod)})


def test_mod_float_fmod():
    a, b = randn(4, 5) * 10, randn(5) + 3
    same_as_ort("graph.mod", "Mod", [a, b], fmod=True, ort_attrs={"fmod": 1})


@pytest.mark.parametrize("base,exp", [
    (np.float32, np.float32), (np.float32, np.int64), (np.int32, np.float32), (np.int64, np.int64),
    (np.int32, np.int32), (np.float64, np.float64)])
def test_pow(base, exp):
    a = (np.abs(randn(3, 4)) + 0.5).astype(base) if np.dtype(base).kind == "f" else randint(3, 4, lo=-5, hi=6,
                                                                                         dtype=base)
    b = randint(4, lo=0, hi=4).astype(exp) if np.dtype(exp).kind == "i" else (randn(4) * 2).astype(exp)
    if np.dtype(base).kind == "i" and np.dtype(exp).kind == "f":
        a = np.abs(a) + 1
        b = np.abs(b).round()
    same_as_ort("graph.pow", "Pow", [a, b], rtol=1e-5)


def test_pow_int_negative_exponent_does_not_raise():
    base = np.array([2, 1, -1, -1, 3], dtype=np.int32)
    exp = np.array([-1, -3, -3, -2, 2], dtype=np.int32)
    np.testing.assert_array_equal(run1("graph.pow", base, exp), [0, 1, -1, 1, 9])


@pytest.mark.parametrize("name,op_type", [("graph.equal", "Equal"), ("graph.less", "Less"),
                                          ("graph.less_equal", "LessOrEqual"), ("graph.greater", "Greater"),
                                          ("graph.greater_equal", "GreaterOrEqual")])
def test_compare(name, op_type):
    a, b = randint(2, 3, 4, lo=-3, hi=3), randint(3, 1, lo=-3, hi=3)
    same_as_ort(name, op_type, [a, b])
    same_as_ort(name, op_type, [randn(3, 4), randn(4)])


@pytest.mark.parametrize("name,op_type", [("graph.and", "And"), ("graph.or", "Or"), ("graph.xor", "Xor")])
def test_logical(name, op_type):
    same_as_ort(name, op_type, [rng.random((3, 4)) < 0.5, rng.random((4,)) < 0.5])


def test_not_and_where():
    c = rng.random((3, 4)) < 0.5
    same_as_ort("graph.not", "Not", [c])
    same_as_ort("graph.where", "Where", [c, randn(3, 1), randn(4)])
    same_as_ort("graph.where", "Where", [c, randint(4), randint(3, 4)])


@pytest.mark.parametrize("name,direction", [("graph.bitshift_left", "LEFT"), ("graph.bitshift_right", "RIGHT")])
@pytest.mark.parametrize("dtype", [np.uint8])
def test_bitshift(name, direction, dtype):
    a = randint(3, 4, lo=0, hi=200, dtype=dtype)
    b = randint(4, lo=0, hi=7, dtype=dtype)
    same_as_ort(name, "BitShift", [a, b], ort_attrs={"direction": direction})


FLOAT_UNARY = [("graph.neg", "Neg"), ("graph.abs", "Abs"), ("graph.exp", "Exp"), ("graph.log", "Log"),
               ("graph.sqrt", "Sqrt"), ("graph.reciprocal", "Reciprocal"), ("graph.erf", "Erf"),
               ("graph.tanh", "Tanh"), ("graph.sigmoid", "Sigmoid"), ("graph.relu", "Relu"),
               ("graph.floor", "Floor"), ("graph.ceil", "Ceil"), ("graph.round", "Round"),
               ("graph.sign", "Sign"), ("graph.sin", "Sin"), ("graph.cos", "Cos"),
               ("graph.softplus", "Softplus"), ("graph.identity", "Identity")]


@pytest.mark.parametrize("name,op_type", FLOAT_UNARY)
def test_float_unary(name, op_type):
    x = randn(4, 33) * 4
    x[0, :6] = [0.5, 1.5, 2.5, -0.5, -2.5, 0.0]          # round half to even
    x[1, :4] = [30.0, -30.0, 100.0, -100.0]             # sigmoid/softplus/erf tails
    if op_type in ("Log", "Sqrt"):
        x = np.abs(x) + 1e-3
    same_as_ort(name, op_type, [x], rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("name,op_type", [("graph.neg", "Neg"), ("graph.abs", "Abs"), ("graph.sign", "Sign"),
                                          ("graph.relu", "Relu")])
@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64])
def test_int_unary(name, op_type, dtype):
    if op_type == "Relu" and dtype == np.int64:
        pytest.skip("onnxruntime has no int64 Relu")
    same_as_ort(name, op_type, [randint(5, 6, dtype=dtype)])


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu(approximate):
    x = randn(8, 64) * 3
    same_as_ort("graph.gelu", "Gelu", [x], approximate=approximate, rtol=1e-5, atol=1e-6)


def test_leaky_relu():
    same_as_ort("graph.leaky_relu", "LeakyRelu", [randn(5, 7)], alpha=0.2)


@pytest.mark.parametrize("lo,hi", [(-0.5, 0.5), (None, 0.3), (-0.3, None), (None, None), (0.5, -0.5)])
def test_clip_float(lo, hi):
    x = randn(4, 9)
    ort_in = [x, None if lo is None else np.array(lo, np.float32), None if hi is None else np.array(hi, np.float32)]
    while ort_in[-1] is None and len(ort_in) > 1:
        ort_in.pop()
    same_as_ort("graph.clip", "Clip", [x], ort_inputs=ort_in, ort_attrs={}, min=lo, max=hi)


def test_clip_int_keeps_dtype():
    x = randint(4, 9, dtype=np.int64)
    same_as_ort("graph.clip", "Clip", [x], ort_inputs=[x, np.array(-3), np.array(5)], ort_attrs={}, min=-3, max=5)
    np.testing.assert_array_equal(run1("graph.clip", np.array([1, 2, 3], np.int8), min=1.5, max=float("inf")),
                                  [2, 2, 3])


def test_isnan_isinf():
    x = np.array([0.0, np.nan, np.inf, -np.inf, 1.0], dtype=np.float32)
    same_as_ort("graph.isnan", "IsNaN", [x])
    same_as_ort("graph.isinf", "IsInf", [x])


# -- cast ------------------------------------------------------------------------------------
@pytest.mark.parametrize("src,dst", [(np.float32, DType.i32), (np.float32, DType.i64), (np.float32, DType.bool),
                                     (np.float32, DType.f16), (np.float64, DType.f32), (np.int64, DType.f32),
                                     (np.int32, DType.bool), (np.bool_, DType.f32), (np.bool_, DType.i64),
                                     (np.int64, DType.i32), (np.float16, DType.f32), (np.int32, DType.u8)])
def test_cast_vs_ort(src, dst):
    if np.dtype(src) == np.bool_:
        x = rng.random((3, 5)) < 0.5
    elif np.dtype(src).kind == "f":
        x = (randn(3, 5) * 50).astype(src)
        x[0, :4] = [0.0, -0.0, 2.7, -2.7]
    elif dst == DType.u8:
        x = randint(3, 5, lo=0, hi=255, dtype=src)
    else:
        x = randint(3, 5, lo=-3, hi=3, dtype=src)
    same_as_ort("graph.cast", "Cast", [x], to=dst, ort_attrs={"to": helper.np_dtype_to_tensor_dtype(dst.numpy)})


def test_cast_semantics():
    f = np.array([2.7, -2.7, 0.0, -0.0, np.nan, 0.4], dtype=np.float32)
    np.testing.assert_array_equal(run1("graph.cast", f[:4], to=DType.i32), [2, -2, 0, 0])
    np.testing.assert_array_equal(run1("graph.cast", f, to=DType.bool), [True, True, False, False, True, True])
    np.testing.assert_array_equal(run1("graph.cast", np.array([True, False]), to=DType.f32), [1.0, 0.0])
    assert np.isinf(run1("graph.cast", np.array([1e6]), to=DType.f16)).all()
    with np.errstate(all="raise"):   # NaN/inf to int: undefined, but no crash and no warning
        run1("graph.cast", np.array([np.nan, np.inf, 1e30], dtype=np.float32), to=DType.i32)


# -- erf -------------------------------------------------------------------------------------
def test_erf_matches_math_erf_on_a_dense_grid():
    x = np.concatenate([np.linspace(-8, 8, 160001), np.geomspace(1e-300, 1e-2, 500),
                        -np.geomspace(1e-300, 1e-2, 500), [0.0, -0.0, 5.9, 6.0, 26.0, 1e300]])
    want = np.array([math.erf(v) for v in x])
    got = erf(x)
    err = np.abs(got - want) / np.maximum(np.abs(want), np.finfo(np.float64).tiny)
    assert err.max() < 1e-14
    assert np.signbit(erf(np.array([-0.0])))[0]
    np.testing.assert_array_equal(erf(np.array([np.inf, -np.inf])), [1.0, -1.0])
    assert np.isnan(erf(np.array([np.nan])))[0]


def test_erf_float32_is_correctly_rounded_on_a_grid():
    x = np.linspace(-5, 5, 20001, dtype=np.float32)
    want = np.array([math.erf(float(v)) for v in x]).astype(np.float32)
    got = run1("graph.erf", x)
    assert got.dtype == np.float32
    ulps = np.abs(got.view(np.int32).astype(np.int64) - want.view(np.int32))
    assert ulps.max() <= 1


# -- linear algebra ------------------------------------------------------------------------------
@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((2, 1, 3, 4), (5, 4, 6)), ((4,), (4, 5)), ((3, 4), (4,)),
                                   ((4,), (4,))])
def test_matmul(sa, sb):
    same_as_ort("graph.matmul", "MatMul", [randn(*sa), randn(*sb)], rtol=1e-5, atol=1e-5)


def test_matmul_int_and_f16():
    same_as_ort("graph.matmul", "MatMul", [randint(2, 3, 4), randint(4, 5)])
    same_as_ort("graph.matmul", "MatMul", [randn(3, 8, dtype=np.float16), randn(8, 2, dtype=np.float16)],
                rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("c_shape", [None, (5,), (3, 1), (3, 5)])
def test_gemm(ta, tb, c_shape):
    a = randn(4, 3) if ta else randn(3, 4)
    b = randn(5, 4) if tb else randn(4, 5)
    ins = [a, b] + ([randn(*c_shape)] if c_shape else [])
    same_as_ort("graph.gemm", "Gemm", ins, alpha=0.5, beta=2.0, trans_a=ta, trans_b=tb, rtol=1e-5, atol=1e-5,
                ort_attrs={"alpha": 0.5, "beta": 2.0, "transA": int(ta), "transB": int(tb)})


# -- normalisations ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name,op_type", [("graph.softmax", "Softmax"), ("graph.log_softmax", "LogSoftmax")])
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax(name, op_type, axis):
    x = randn(3, 4, 5) * 10
    x[0, 0, :] = 1000.0                      # stability: would overflow without the max shift
    same_as_ort(name, op_type, [x], axis=axis, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("axis,n_params", [(-1, 3), (-1, 2), (1, 3), (-2, 2)])
def test_layer_norm(axis, n_params):
    x = randn(2, 8, 384) * 3 + 1
    norm = x.shape[axis:]
    ins = [x, randn(*norm), randn(*norm)][:n_params]
    same_as_ort("graph.layer_norm", "LayerNormalization", ins, axis=axis, epsilon=1e-12, rtol=1e-5, atol=1e-5)



@pytest.mark.parametrize("axis,scale", [(-1, True), (1, True), (-2, False)])
def test_rms_norm(axis, scale):
    x = randn(2, 8, 64) * 3 + 1
    w = randn(*x.shape[axis:])
    got = run1("graph.rms_norm", *([x, w] if scale else [x]), axis=axis, epsilon=1e-6)
    axes = tuple(range(axis % 3, 3))
    want = x / np.sqrt((x.astype(np.float64) ** 2).mean(axis=axes, keepdims=True) + 1e-6) * (w if scale else 1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)

def test_layer_norm_without_scale():
    x = randn(4, 6, 10)
    got = run1("graph.layer_norm", x, axis=-2, epsilon=1e-5)
    mean = x.mean(axis=(1, 2), keepdims=True)
    want = (x - mean) / np.sqrt(((x - mean) ** 2).mean(axis=(1, 2), keepdims=True) + 1e-5)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


# -- reductions ------------------------------------------------------------------------------------------
REDUCE_OPS = [("graph.reduce_sum", "ReduceSum"), ("graph.reduce_mean", "ReduceMean"),
              ("graph.reduce_max", "ReduceMax"), ("graph.reduce_min", "ReduceMin"),
              ("graph.reduce_prod", "ReduceProd"), ("graph.reduce_l2", "ReduceL2"),
              ("graph.reduce_sum_square", "ReduceSumSquare"), ("graph.reduce_log_sum_exp", "ReduceLogSumExp")]


@pytest.mark.parametrize("name,op_type", REDUCE_OPS)
@pytest.mark.parametrize("axes,keepdims", [([1], True), ([0, -1], False), ([0, 1, 2], False), ([2], True)])
def test_reduce_float(name, op_type, axes, keepdims):
    x = randn(3, 4, 5)
    same_as_ort(name, op_type, [x], ort_inputs=[x, i64(*axes)], ort_attrs={"keepdims": int(keepdims)},
                axes=axes, keepdims=keepdims, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name,op_type", [op for op in REDUCE_OPS if op[1] != "ReduceLogSumExp"])
def test_reduce_int(name, op_type):
    x = randint(3, 4, 5, lo=-4, hi=5)
    if op_type == "ReduceProd":
        x = randint(3, 4, 2, lo=-4, hi=5)
    same_as_ort(name, op_type, [x], ort_inputs=[x, i64(1)], ort_attrs={"keepdims": 0}, axes=[1], keepdims=False)


@pytest.mark.parametrize("name,op_type", REDUCE_OPS)
def test_reduce_over_empty_axis(name, op_type):
    x = np.zeros((2, 0, 4), dtype=np.float32)
    ours = run1(name, x, axes=[1], keepdims=True)
    want = {"ReduceSum": 0.0, "ReduceMean": np.nan, "ReduceMax": -np.inf, "ReduceMin": np.inf, "ReduceProd": 1.0,
            "ReduceL2": 0.0, "ReduceSumSquare": 0.0, "ReduceLogSumExp": -np.inf}[op_type]
    np.testing.assert_array_equal(ours, np.full((2, 1, 4), want, dtype=np.float32))
    assert run1("graph.reduce_max", np.zeros((0, 3), np.int32), axes=[0], keepdims=False).tolist() == [-2 ** 31] * 3


def test_reduce_with_no_axes_reduces_nothing():
    x = randn(3, 4)
    for name in ("graph.reduce_sum", "graph.reduce_mean", "graph.reduce_max", "graph.reduce_min",
                 "graph.reduce_prod"):
        np.testing.assert_array_equal(run1(name, x, axes=[]), x)
    np.testing.assert_allclose(run1("graph.reduce_sum_square", x, axes=[]), x * x, rtol=1e-6)
    np.testing.assert_allclose(run1("graph.reduce_l2", x, axes=[]), np.abs(x), rtol=1e-6)
    np.testing.assert_allclose(run1("graph.reduce_log_sum_exp", x, axes=[]), x, rtol=1e-6, atol=1e-7)


def test_reduce_log_sum_exp_infinities():
    x = np.array([[1.0, np.inf], [-np.inf, -np.inf], [1e4, 1e4]], dtype=np.float32)
    got = run1("graph.reduce_log_sum_exp", x, axes=[1], keepdims=False)
    np.testing.assert_allclose(got, [np.inf, -np.inf, 1e4 + math.log(2)], rtol=1e-7)


@pytest.mark.parametrize("name,op_type", [("graph.argmax", "ArgMax"), ("graph.argmin", "ArgMin")])
@pytest.mark.parametrize("axis,keepdims,last", [(0, True, False), (-1, False, True), (1, True, True),
                                                (1, False, False)])
def test_arg_reduce(name, op_type, axis, keepdims, last):
    x = randint(3, 6, 4, lo=0, hi=3).astype(np.float32)     # many ties
    same_as_ort(name, op_type, [x], axis=axis, keepdims=keepdims, select_last_index=last,
                ort_attrs={"axis": axis, "keepdims": int(keepdims), "select_last_index": int(last)})


# -- data movement ------------------------------------------------------------------------------------------
def test_reshape_transpose_expand_tile():
    x = randn(2, 3, 4)
    same_as_ort("graph.reshape", "Reshape", [x], ort_inputs=[x, i64(4, 6)], ort_attrs={}, shape=[4, 6])
    same_as_ort("graph.transpose", "Transpose", [x], perm=[2, 0, 1])
    y = randn(3, 1)
    same_as_ort("graph.expand", "Expand", [y], ort_inputs=[y, i64(2, 1, 4)], ort_attrs={}, shape=[2, 1, 4])
    same_as_ort("graph.expand", "Expand", [x], ort_inputs=[x, i64(3, 1)], ort_attrs={}, shape=[3, 1])
    same_as_ort("graph.tile", "Tile", [x], ort_inputs=[x, i64(2, 1, 3)], ort_attrs={}, repeats=[2, 1, 3])


def test_concat_split():
    a, b = randint(2, 3), randint(2, 5)
    same_as_ort("graph.concat", "Concat", [a, b, a], axis=-1)
    x = randn(4, 10)
    same_as_ort("graph.split", "Split", [x], ort_inputs=[x, i64(3, 0, 7)], ort_attrs={"axis": 1},
                axis=1, sizes=[3, 0, 7])


BIG = 2 ** 63 - 1


@pytest.mark.parametrize("starts,ends,axes,steps", [
    ([1, 0], [3, 10], [0, 1], [1, 2]),
    ([-1], [-BIG - 1], [1], [-1]),
    ([BIG], [-BIG - 1], [-1], [-3]),
    ([-100, 2], [100, -1], [0, 2], [1, 1]),
    ([5], [1], [1], [1]),
    ([0], [BIG], [2], [2]),
])
def test_slice(starts, ends, axes, steps):
    x = randn(4, 7, 5)
    same_as_ort("graph.slice", "Slice", [x], ort_inputs=[x, i64(*starts), i64(*ends), i64(*axes), i64(*steps)],
                ort_attrs={}, starts=starts, ends=ends, axes=axes, steps=steps)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather(axis):
    x = randn(5, 6, 7)
    n = x.shape[axis]
    idx = np.array([[0, -1], [n - 1, -n]], dtype=np.int64)
    same_as_ort("graph.gather", "Gather", [x, idx], axis=axis)
    same_as_ort("graph.gather", "Gather", [x, np.array(-2, dtype=np.int32)], axis=axis)


def test_gather_out_of_range_is_an_input_error():
    with pytest.raises(InputError, match="out of range"):
        run1("graph.gather", randn(3, 4), np.array([3], dtype=np.int64), axis=0)


def test_gather_elements():
    x = randn(3, 4)
    idx = rng.integers(-4, 4, (3, 6))
    same_as_ort("graph.gather_elements", "GatherElements", [x, idx], axis=1)
    same_as_ort("graph.gather_elements", "GatherElements", [x, rng.integers(-3, 3, (2, 4))], axis=0)


@pytest.mark.parametrize("data_shape,idx,batch_dims", [
    ((2, 2), [[0, 0], [1, 1]], 0),
    ((2, 2), [[1], [0]], 0),
    ((2, 2, 2), [[[0, 1]], [[1, 0]]], 0),
    ((2, 2, 2), [[1], [0]], 1),
    ((2, 3, 4), [[[1, -1], [0, 2]], [[2, 3], [-3, 0]]], 1),
])
def test_gather_nd(data_shape, idx, batch_dims):
    x = randn(*data_shape)
    same_as_ort("graph.gather_nd", "GatherND", [x, np.array(idx, dtype=np.int64)], batch_dims=batch_dims)


@pytest.mark.parametrize("upper", [True, False])
@pytest.mark.parametrize("k", [0, 1, -2, 100, -100])
def test_trilu(upper, k):
    x = randn(2, 4, 5)
    same_as_ort("graph.trilu", "Trilu", [x], ort_inputs=[x, np.array(k, dtype=np.int64)],
                ort_attrs={"upper": int(upper)}, upper=upper, k=k)


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge"])
@pytest.mark.parametrize("pads", [[1, 0, 2, 3], [0, 2, 1, 0], [-1, 1, 0, -2]])
def test_pad(mode, pads):
    x = randn(4, 5)
    ins = [x, i64(*pads)] + ([np.array(1.5, np.float32)] if mode == "constant" else [])
    value = 1.5 if mode == "constant" else 0
    same_as_ort("graph.pad", "Pad", [x], ort_inputs=ins, ort_attrs={"mode": mode}, pads=pads, mode=mode,
                value=value)


def test_pad_int_constant():
    x = randint(2, 3)
    same_as_ort("graph.pad", "Pad", [x], ort_inputs=[x, i64(0, 1, 1, 0), np.array(-7, np.int32)], ort_attrs={},
                pads=[0, 1, 1, 0], value=-7)


def test_constant():
    arr = np.arange(6, dtype=np.int32).reshape(2, 3)
    d = lookup("graph.constant")
    attrs = {"value": DenseElements(arr)}
    out = KERNELS["graph.constant"]([], attrs, d.infer([], attrs))[0]
    np.testing.assert_array_equal(out, arr)


def test_shape_disagreeing_with_the_result_type_is_an_error():
    with pytest.raises(ShapeError, match="result type"):
        KERNELS["graph.add"]([randn(2), randn(2)], {}, [TensorType((3,), DType.f32)])


# -- properties vs numpy ----------------------------------------------------------------------------------------
NUMPY_BINARY = {"graph.add": np.add, "graph.sub": np.subtract, "graph.mul": np.multiply, "graph.max": np.maximum,
                "graph.min": np.minimum, "graph.div": np.divide}


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(NUMPY_BINARY)),
       hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4),
       st.sampled_from([np.float32, np.float64, np.int32, np.int64]), st.data())
def test_binary_broadcasting_matches_numpy(name, shapes, dtype, data):
    elems = st.integers(-100, 100) if np.dtype(dtype).kind == "i" else st.floats(-1e3, 1e3, width=32)
    a = data.draw(hnp.arrays(dtype, shapes.input_shapes[0], elements=elems))
    b = data.draw(hnp.arrays(dtype, shapes.input_shapes[1], elements=elems))
    if name == "graph.div" and np.dtype(dtype).kind == "i":
        b = np.where(b == 0, 1, b).astype(dtype)
        want = np.vectorize(lambda p, q: int(p / q) if abs(p) < 2 ** 52 else 0, otypes=[dtype])(a, b)
    else:
        with np.errstate(all="ignore"):
            want = NUMPY_BINARY[name](a, b)
    got = run1(name, a, b)
    assert got.shape == shapes.result_shape
    np.testing.assert_array_equal(got, want.astype(dtype))


NUMPY_REDUCE = {"graph.reduce_sum": np.sum, "graph.reduce_mean": np.mean, "graph.reduce_max": np.max,
                "graph.reduce_min": np.min, "graph.reduce_prod": np.prod}


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(NUMPY_REDUCE)),
       hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4),
                  elements=st.floats(-10, 10)),
       st.booleans(), st.data())
def test_reductions_match_numpy(name, x, keepdims, data):
    axes = data.draw(st.lists(st.integers(-x.ndim, x.ndim - 1), min_size=1, max_size=x.ndim,
                              unique_by=lambda a: a % x.ndim))
    got = run1(name, x, axes=axes, keepdims=keepdims)
    want = NUMPY_REDUCE[name](x, axis=tuple(a % x.ndim for a in axes), keepdims=keepdims)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
