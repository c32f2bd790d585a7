"""Every element-wise op's C++ expression against the interpreter's kernel, over awkward values.

All cases go into one C++ file, built once (warnings are errors) and called through ctypes.
"""
import ctypes
import itertools

import numpy as np
import pytest

from lpfc.codegen import scalar_expr as se
from lpfc.codegen.toolchain import compile_shared
from lpfc.errors import UnsupportedError
from lpfc.interp.kernels import KERNELS
from lpfc.ir.opdef import with_defaults
from lpfc.ir.types import DType, TensorType

F = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.7, -3.7, 100.0, -100.0, 1e-3, 7.25, -88.5,
     float("nan"), float("inf"), float("-inf"), 2.0, 3.0]
I = [0, 1, -1, 2, -2, 3, 7, -7, 5, -5, 100, -128, 127, 64, 13, -13, 4, 8, 31, 62, 65]
U = [0, 1, 2, 3, 7, 5, 100, 127, 128, 255, 64, 13, 4, 8, 31, 62, 65, 16, 9, 6, 200]
B = [False, True] * 10 + [True]
N = len(F)


def values(d: DType, which=0):
    if d.is_float:
        v = F
    elif d.is_signed_int:
        v = I
    elif d.is_unsigned:
        v = U
    else:
        v = B
    v = np.array(v, dtype=object)
    if which:                     # a second operand: another order, so pairs cover many combinations
        v = np.roll(v, 5 + which * 3)
    if d.is_int:
        info = np.iinfo(d.numpy)
        v = np.array([min(max(int(x), info.min), info.max) for x in v])
    return v.astype(d.numpy)


f32, f64, i64, i32, i8, u8, u32, bl = DType.f32, DType.f64, DType.i64, DType.i32, DType.i8, DType.u8, DType.u32, \
    DType.bool

CASES = []   # (op, attrs, operand dtypes, result dtype)
for op in ["add", "sub", "mul", "div", "max", "min"]:
    for d in (f32, f64, i64, i32, i8, u8):
        CASES.append((op, {}, [d, d], d))
CASES += [("mod", {"fmod": fm}, [d, d], d) for fm in (False, True) for d in (f32, i64, i32, i8)]
CASES += [("pow", {}, [f32, f32], f32), ("pow", {}, [f64, f64], f64), ("pow", {}, [i64, i64], i64),
          ("pow", {}, [i32, i64], i32), ("pow", {}, [f32, i64], f32), ("pow", {}, [i32, f32], i32)]
CASES += [(op, {}, [bl, bl], bl) for op in ("and", "or", "xor")]
CASES += [("add", {}, [bl, bl], bl), ("max", {}, [bl, bl], bl)]
CASES += [(op, {}, [d, d], d) for op in ("bitwise_and", "bitwise_or", "bitwise_xor") for d in (i64, i8, u8)]
CASES += [(op, {}, [d, d], d) for op in ("bitshift_left", "bitshift_right") for d in (u8, u32, DType.u64)]
CASES += [(op, {}, [d, d], bl) for op in ("equal", "less", "less_equal", "greater", "greater_equal")
          for d in (f32, i64, bl)]
CASES += [("where", {}, [bl, d, d], d) for d in (f32, i64, bl)]
for op in ["neg", "abs", "sign", "relu", "identity", "floor", "ceil", "round"]:
    CASES += [(op, {}, [d], d) for d in (f32, f64, i64, i32, i8)]
for op in ["exp", "log", "sqrt", "reciprocal", "erf", "tanh", "sigmoid", "sin", "cos", "softplus"]:
    CASES += [(op, {}, [d], d) for d in (f32, f64)]
CASES += [("gelu", {"approximate": m}, [d], d) for m in ("none", "tanh") for d in (f32, f64)]
CASES += [("leaky_relu", {"alpha": 0.1}, [f32], f32), ("leaky_relu", {}, [f64], f64)]
CASES += [("clip", {"min": -1.0, "max": 2.0}, [f32], f32), ("clip", {"min": 0.0}, [f32], f32),
          ("clip", {"max": 6.0}, [f64], f64), ("clip", {"min": -3.5, "max": 5.5}, [i64], i64),
          ("clip", {"min": -300, "max": 100}, [i8], i8), ("clip", {}, [f32], f32)]
CASES += [("isnan", {}, [d], bl) for d in (f32, f64, i64)] + [("isinf", {}, [d], bl) for d in (f32, i32)]
CASES += [("not", {}, [bl], bl)] + [("bitwise_not", {}, [d], d) for d in (i64, u8)]
CASTS = [(f32, i64), (f32, i32), (f32, u8), (f32, bl), (f32, f64), (f64, f32), (i64, f32), (i64, i32),
         (i32, i8), (i64, bl), (bl, f32), (bl, i64), (u8, i64), (i8, u8), (i32, u32), (f64, i64)]
CASES += [("cast", {"to": dst}, [src], dst) for src, dst in CASTS]


def _inputs(case):
    op, _, dts, _ = case
    ins = [values(d, k) for k, d in enumerate(dts)]
    if op == "pow" and dts[0].is_int and dts[1].is_int:
        ins[1] = np.array([0, 1, 2, 3, -1, -2, 5, 7, 1, 0, 2, 3, 62, 4, 2, 3, 1, -3, 2, 9, 1])[:N].astype(dts[1].numpy)
    if op == "pow" and dts[0].is_int and not dts[1].is_int:
        ins[1] = np.array([0.0, 1, 2, 0.5, 2, 3, 1, 2, 1, 0, 2, 3, 1, 1, 2, 1, 1, 2, 2, 1, 1]).astype(dts[1].numpy)
    if op.startswith("bitshift"):
        ins[1] = np.array([0, 1, 2, 3, 7, 8, 9, 31, 32, 33, 63, 64, 65, 4, 5, 6, 1, 0, 2, 3, 200])[:N].astype(
            dts[1].numpy)
    if op == "cast" and dts[0].is_float and case[3].is_int:
        # out-of-range and NaN float -> int are undefined in ONNX: keep to values both sides agree on
        ins[0] = np.where(np.isfinite(ins[0]) & (np.abs(ins[0]) < 100), ins[0], 3.0).astype(dts[0].numpy)
        if case[3].is_unsigned:
            ins[0] = np.abs(ins[0])   # C's float -> unsigned of a negative is undefined
    return ins


def _source():
    lines = [f"#include {h}" for h in se.C_HEADERS]
    names = set()
    for op, attrs, dts, rt in CASES:
        names.update(se.c_helpers_needed(op, dts))
    lines.append(se.helper_code(names))
    lines.append('#define API extern "C" __attribute__((visibility("default")))')
    for k, (op, attrs, dts, rt) in enumerate(CASES):
        full = with_defaults(f"graph.{op}", attrs)
        params = ", ".join(f"const {se.c_type(d)} *x{j}" for j, d in enumerate(dts))
        expr = se.c_expr(f"graph.{op}", full, [f"x{j}[i]" for j in range(len(dts))], dts, rt)
        lines.append(f"API void case{k}({params}, {se.c_type(rt)} *out, int n) "
                     f"{{ for (int i = 0; i < n; ++i) out[i] = {expr}; }}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    d = tmp_path_factory.mktemp("scalar_expr")
    src = d / "cases.cpp"
    src.write_text(_source())
    so = compile_shared("host", [src], d / "cases.so", with_runtime=False)
    return ctypes.CDLL(str(so))


@pytest.mark.parametrize("k", range(len(CASES)), ids=[f"{c[0]}-{'-'.join(str(d) for d in c[2])}-{c[3]}"
                                                       for c in CASES])
def test_matches_interpreter(lib, k):
    op, attrs, dts, rt = CASES[k]
    ins = [np.ascontiguousarray(x) for x in _inputs(CASES[k])]
    out = np.zeros(N, dtype=rt.numpy)
    fn = getattr(lib, f"case{k}")
    fn(*[x.ctypes.data_as(ctypes.c_void_p) for x in ins], out.ctypes.data_as(ctypes.c_void_p), ctypes.c_int(N))
    want = KERNELS[f"graph.{op}"](ins, with_defaults(f"graph.{op}", attrs), [TensorType((N,), rt)])[0]
    if rt.is_float:
        tol = 2e-6 if rt == DType.f32 else 1e-12
        # tanh-gelu's 1 + tanh(...) cancels for x << 0: f32 keeps absolute, not relative, accuracy there
        atol = 1e-7 if (op == "gelu" and rt == DType.f32) else tol * 1e-3
        np.testing.assert_allclose(out, want, rtol=tol, atol=atol, equal_nan=True,
                                   err_msg=f"{op} {dts}: inputs {[list(x) for x in ins]}")
        assert np.array_equal(np.isnan(out), np.isnan(want))
    else:
        np.testing.assert_array_equal(out, want, err_msg=f"{op} {dts}: inputs {[list(x) for x in ins]}")


def test_every_elementwise_op_has_a_case():
    covered = {c[0] for c in CASES}
    assert se.ELEMENTWISE_OPS <= covered, se.ELEMENTWISE_OPS - covered


def test_types_and_literals():
    assert se.c_type(DType.f32) == "float" and se.c_type(DType.bool) == "bool" and se.c_type(i64) == "int64_t"
    with pytest.raises(UnsupportedError, match="f16"):
        se.c_type(DType.f16)
    assert se.c_literal(0.1, f32) == "0.1f"
    assert se.c_literal(float("-inf"), f32) == "(-(float)INFINITY)"
    assert se.c_literal(-(2 ** 63), i64).startswith("((int64_t)(-9223372036854775807LL")
    with pytest.raises(UnsupportedError):
        se.c_expr("graph.matmul", {}, ["a", "b"], [f32, f32], f32)


def test_helpers_listed_for_every_use():
    for op, attrs, dts, rt in CASES:
        expr = se.c_expr(op, with_defaults(f"graph.{op}", attrs), ["a", "b", "c"][:len(dts)], dts, rt)
        for name in itertools.chain(se.C_HELPERS):
            if f"{name}(" in expr or f"{name}<" in expr:
                assert name in se.c_helpers_needed(op, dts), (op, name)
