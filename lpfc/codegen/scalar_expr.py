"""C++ expressions for the element-wise graph ops: the scalar half of every kernel emitter.

:func:`c_expr` turns one element-wise op, applied to C++ expressions for its
operands, into a C++ expression for its result, with the semantics of
``lpfc/interp/kernels.py`` (ONNX, numpy broadcasting aside):

* **dtypes.** :func:`c_type` maps f64 → ``double``, f32 → ``float``, the
  integers → ``<stdint.h>`` types and **i1 → ``bool``** (kernels are C++; a
  ``bool`` is one byte holding 0 or 1, exactly numpy's bool storage).  **f16 is
  rejected** with an :class:`~lpfc.errors.UnsupportedError` (no kernel emitter
  handles half precision yet; keep models in f32).
* **float32 math** uses the f-suffixed libm functions (``expf``, ``erff``,
  ``nearbyintf`` for round-half-to-even, ...); f64 the plain ones.
* **integers.** Signed add/sub/mul/neg wrap (computed in the unsigned type, as
  numpy does, never signed-overflow UB); ``div`` truncates toward zero as C
  does, and x/0 is 0 (numpy's value, not a trap); ``mod`` is Python's
  (divisor's sign) unless ``fmod``; integer ``pow`` is exact, wrapping, with
  a negative exponent giving ``trunc(1/b**-e)``.  Results of integer
  arithmetic are cast back to the result type (C promotes i8/i16 to int).
* **NaN.** ``max``/``min``/``clip``/``relu``/``sign`` propagate NaN like numpy.

Ops whose operands would otherwise be evaluated twice go through small inline
helper templates: :func:`c_helpers_needed` names those an op needs and
:data:`C_HELPERS` holds their code (each ``static inline``, emit each once per
translation unit, after :data:`C_HEADERS`).  Every helper is a template, so
one definition serves every dtype.

Operands are passed already in the op's operand dtypes and the expression has
the result dtype (an explicit cast where C's promotions would differ).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..errors import UnsupportedError
from ..ir.types import DType
from ..poly.model import ELEMENTWISE_OPS

#: headers every expression may need
C_HEADERS = ("<math.h>", "<stdint.h>", "<cmath>")

_C_TYPES = {
    DType.f64: "double", DType.f32: "float",
    DType.i64: "int64_t", DType.i32: "int32_t", DType.i16: "int16_t", DType.i8: "int8_t",
    DType.u64: "uint64_t", DType.u32: "uint32_t", DType.u16: "uint16_t", DType.u8: "uint8_t",
    DType.bool: "bool",
}
_UNSIGNED_OF = {DType.i64: "uint64_t", DType.i32: "uint32_t", DType.i16: "uint16_t", DType.i8: "uint8_t"}


def c_type(dtype: DType) -> str:
    """The C++ type of one element of ``dtype`` (i1 → ``bool``; f16 is rejected)."""
    if dtype == DType.f16:
        raise UnsupportedError("f16 tensors are not supported by lpfc's C++ kernels yet",
                               hint="keep the model in float32 (export without .half())")
    return _C_TYPES[dtype]


def c_literal(value, dtype: DType) -> str:
    """A C++ literal of ``value`` in ``dtype`` (exact for floats: shortest round-trip decimal)."""
    ct = c_type(dtype)
    if dtype.is_float:
        v = float(value)
        if math.isnan(v):
            return f"(({ct})NAN)"
        if math.isinf(v):
            return f"(({ct})INFINITY)" if v > 0 else f"(-({ct})INFINITY)"
        if dtype == DType.f32:
            text = str(np.float32(v))            # shortest decimal that round-trips in f32
            return f"{text}f" if text[0] != "-" else f"({text}f)"
        text = repr(v)
        return text if text[0] != "-" else f"({text})"
    if dtype == DType.bool:
        return "true" if value else "false"
    v = int(value)
    if dtype.is_unsigned:
        return f"(({ct}){v}ULL)"
    if v == -(2 ** 63):
        return "((int64_t)(-9223372036854775807LL - 1))"
    return f"(({ct}){v}LL)" if v >= 0 else f"(({ct})({v}LL))"


# -- helpers ------------------------------------------------------------------------------------------

C_HELPERS: dict[str, str] = {
    "lpfc_isnan": ("template <class T> static inline bool lpfc_isnan(T) { return false; }\n"
                   "static inline bool lpfc_isnan(float a) { return std::isnan(a); }\n"
                   "static inline bool lpfc_isnan(double a) { return std::isnan(a); }"),
    # numpy maximum/minimum: NaN in either operand gives NaN (needs lpfc_isnan).
    "lpfc_max": "template <class T> static inline T lpfc_max(T a, T b) { return (a > b || lpfc_isnan(a)) ? a : b; }",
    "lpfc_min": "template <class T> static inline T lpfc_min(T a, T b) { return (a < b || lpfc_isnan(a)) ? a : b; }",
    "lpfc_relu": "template <class T> static inline T lpfc_relu(T a) { return a < (T)0 ? (T)0 : a; }",
    "lpfc_sign": ("template <class T> static inline T lpfc_sign(T a) "
                  "{ return a > (T)0 ? (T)1 : (a < (T)0 ? (T)-1 : a); }"),
    # integer division truncating toward zero; x/0 = 0 and MIN/-1 = MIN (numpy's values, never a trap)
    "lpfc_idiv": ("template <class T> static inline T lpfc_idiv(T a, T b) {\n"
                  "    if (b == 0) return 0;\n"
                  "    if ((T)-1 < (T)0 && b == (T)-1) return (T)((uint64_t)0 - (uint64_t)a);\n"
                  "    return (T)(a / b);\n}"),
    # Python-style remainder (divisor's sign); x%0 = 0
    "lpfc_imod": ("template <class T> static inline T lpfc_imod(T a, T b) {\n"
                  "    if (b == 0 || ((T)-1 < (T)0 && b == (T)-1)) return 0;\n"
                  "    T r = (T)(a % b);\n"
                  "    if (r != 0 && ((r < 0) != (b < 0))) r = (T)(r + b);\n"
                  "    return r;\n}"),
    # C remainder (dividend's sign); x%0 = 0
    "lpfc_ifmod": ("template <class T> static inline T lpfc_ifmod(T a, T b) {\n"
                   "    if (b == 0 || ((T)-1 < (T)0 && b == (T)-1)) return 0;\n"
                   "    return (T)(a % b);\n}"),
    # numpy float mod: fmod, moved to the divisor's sign
    "lpfc_fpmod": ("template <class T> static inline T lpfc_fpmod(T a, T b) {\n"
                   "    T r = (T)std::fmod(a, b);\n"
                   "    if (r != 0 && ((r < 0) != (b < 0))) r += b;\n"
                   "    return r;\n}"),
    # exact integer power (wrapping), negative exponents as trunc(1 / b**-e)
    "lpfc_ipow": ("template <class T, class E> static inline T lpfc_ipow(T b, E e) {\n"
                  "    if (e < 0) {\n"
                  "        if (b == 1) return 1;\n"
                  "        if (b == (T)-1) return (e % 2) ? (T)-1 : (T)1;\n"
                  "        return 0;\n"
                  "    }\n"
                  "    uint64_t r = 1, x = (uint64_t)(int64_t)b, n = (uint64_t)e;\n"
                  "    while (n) { if (n & 1) r *= x; x *= x; n >>= 1; }\n"
                  "    return (T)r;\n}"),
    "lpfc_iabs": ("template <class T> static inline T lpfc_iabs(T a) "
                  "{ return a < 0 ? (T)((uint64_t)0 - (uint64_t)a) : a; }"),
    # shifts by the bit width or more give 0 (numpy), never C's UB
    "lpfc_shl": ("template <class T> static inline T lpfc_shl(T a, T b) "
                 "{ return b >= (T)(8 * sizeof(T)) ? (T)0 : (T)((uint64_t)a << b); }"),
    "lpfc_shr": ("template <class T> static inline T lpfc_shr(T a, T b) "
                 "{ return b >= (T)(8 * sizeof(T)) ? (T)0 : (T)(a >> b); }"),
    "lpfc_leaky_relu": ("template <class T> static inline T lpfc_leaky_relu(T a, T alpha) "
                        "{ return a < (T)0 ? a * alpha : a; }"),
    "lpfc_sigmoid": ("static inline float lpfc_sigmoid(float a) { return 1.0f / (1.0f + expf(-a)); }\n"
                     "static inline double lpfc_sigmoid(double a) { return 1.0 / (1.0 + exp(-a)); }"),
    # log(1 + exp(x)) without overflow
    "lpfc_softplus": ("static inline float lpfc_softplus(float a) "
                      "{ return a != a ? a : (a > 0.0f ? a : 0.0f) + log1pf(expf(-fabsf(a))); }\n"
                      "static inline double lpfc_softplus(double a) "
                      "{ return a != a ? a : (a > 0.0 ? a : 0.0) + log1p(exp(-fabs(a))); }"),
    "lpfc_gelu": ("static inline float lpfc_gelu(float a) "
                  "{ return 0.5f * a * erfcf(a * -0.70710678118654752f); }\n"
                  "static inline double lpfc_gelu(double a) "
                  "{ return 0.5 * a * erfc(a * -0.70710678118654752); }"),
    "lpfc_gelu_tanh": ("static inline float lpfc_gelu_tanh(float a) "
                       "{ return 0.5f * a * (1.0f + tanhf(0.79788456080286536f * (a + 0.044715f * a * a * a))); }\n"
                       "static inline double lpfc_gelu_tanh(double a) "
                       "{ return 0.5 * a * (1.0 + tanh(0.79788456080286536 * (a + 0.044715 * a * a * a))); }"),
}

_FLOAT_UNARY = {  # op -> (f32 function, f64 function)
    "exp": ("expf", "exp"), "log": ("logf", "log"), "sqrt": ("sqrtf", "sqrt"), "tanh": ("tanhf", "tanh"),
    "sin": ("sinf", "sin"), "cos": ("cosf", "cos"), "erf": ("erff", "erf"), "floor": ("floorf", "floor"),
    "ceil": ("ceilf", "ceil"), "round": ("nearbyintf", "nearbyint"), "abs": ("fabsf", "fabs"),
}
_COMPARE = {"equal": "==", "less": "<", "less_equal": "<=", "greater": ">", "greater_equal": ">="}
_BITWISE = {"bitwise_and": "&", "bitwise_or": "|", "bitwise_xor": "^"}

# ELEMENTWISE_OPS (the ops c_expr prints) is poly's table (lpfc/poly/model.py): lowering decides by it and
# poly does not import codegen. Every op named here is in it; tests/codegen/test_scalar_expr.py prints each.
assert set(_FLOAT_UNARY) | set(_COMPARE) | set(_BITWISE) <= ELEMENTWISE_OPS


def _bare(op_name: str) -> str:
    return op_name[len("graph."):] if op_name.startswith("graph.") else op_name


def c_helpers_needed(op_name: str, dtypes: Sequence[DType]) -> list[str]:
    """Names of the :data:`C_HELPERS` that :func:`c_expr` uses for ``op_name`` on operands of ``dtypes``."""
    n = _bare(op_name)
    d = dtypes[0] if dtypes else DType.f32
    integer = d.is_int
    if n in ("max", "min"):
        return [] if d == DType.bool else ["lpfc_isnan", f"lpfc_{n}"]
    if n in ("relu", "sign", "leaky_relu", "sigmoid", "softplus"):
        return [f"lpfc_{n}"]
    if n == "gelu":
        return ["lpfc_gelu", "lpfc_gelu_tanh"]
    if n == "clip":
        return ["lpfc_isnan", "lpfc_max", "lpfc_min"]
    if n == "div":
        return ["lpfc_idiv"] if integer else []
    if n == "mod":
        return ["lpfc_imod", "lpfc_ifmod"] if integer else ["lpfc_fpmod"]
    if n == "pow":
        return ["lpfc_ipow"] if integer and len(dtypes) > 1 and dtypes[1].is_int else []
    if n == "abs":
        return ["lpfc_iabs"] if d.is_signed_int else []
    if n == "bitshift_left":
        return ["lpfc_shl"]
    if n == "bitshift_right":
        return ["lpfc_shr"]
    return []


def _p(x: str) -> str:
    return f"({x})"


def c_expr(op_name: str, attrs: dict, args: Sequence[str], operand_dtypes: Sequence[DType],
           result_dtype: DType) -> str:
    """A C++ expression computing element-wise op ``op_name`` (``graph.`` prefix optional) of ``args``.

    ``attrs`` must have the op's defaults filled (:func:`lpfc.ir.opdef.with_defaults`); ``args``
    are C++ expressions of the operands, each of its ``operand_dtypes``; the expression's value has
    ``result_dtype``.  Raises :class:`UnsupportedError` for ops that are not element-wise or f16.
    """
    n = _bare(op_name)
    for d in list(operand_dtypes) + [result_dtype]:
        c_type(d)                                   # rejects f16
    rt = c_type(result_dtype)
    a = [_p(x) for x in args]
    d0 = operand_dtypes[0] if operand_dtypes else result_dtype
    f32 = d0 == DType.f32
    rf32 = result_dtype == DType.f32

    def cast(x: str) -> str:
        return f"(({rt}){x})"

    if n in ("add", "sub", "mul"):
        sym = {"add": "+", "sub": "-", "mul": "*"}[n]
        if d0 == DType.bool:
            if n == "sub":
                raise UnsupportedError("sub on i1 tensors", op="graph.sub")
            return f"({a[0]} {'||' if n == 'add' else '&&'} {a[1]})"
        if d0.is_signed_int:
            ut = _UNSIGNED_OF[d0]
            return cast(f"(({ut}){a[0]} {sym} ({ut}){a[1]})")
        if d0.is_unsigned:
            return cast(f"({a[0]} {sym} {a[1]})")
        return f"({a[0]} {sym} {a[1]})"
    if n == "div":
        if d0.is_int:
            return f"lpfc_idiv<{rt}>({args[0]}, {args[1]})"
        return f"({a[0]} / {a[1]})"
    if n == "mod":
        if d0.is_int:
            return f"lpfc_{'ifmod' if attrs.get('fmod') else 'imod'}<{rt}>({args[0]}, {args[1]})"
        if attrs.get("fmod"):
            return f"{'fmodf' if f32 else 'fmod'}({args[0]}, {args[1]})"
        return f"lpfc_fpmod<{rt}>({args[0]}, {args[1]})"
    if n == "pow":
        d1 = operand_dtypes[1]
        if d0.is_int and d1.is_int:
            return f"lpfc_ipow<{rt}, {c_type(d1)}>({args[0]}, {args[1]})"
        if d0 == DType.f32 and d1 == DType.f32:
            return f"powf({args[0]}, {args[1]})"
        return cast(f"pow((double){a[0]}, (double){a[1]})")
    if n in ("max", "min"):
        if d0 == DType.bool:
            return f"({a[0]} {'||' if n == 'max' else '&&'} {a[1]})"
        return f"lpfc_{n}<{rt}>({args[0]}, {args[1]})"
    if n == "and":
        return f"({a[0]} && {a[1]})"
    if n == "or":
        return f"({a[0]} || {a[1]})"
    if n == "xor":
        return f"({a[0]} != {a[1]})"
    if n in _BITWISE:
        return cast(f"({a[0]} {_BITWISE[n]} {a[1]})")
    if n == "bitwise_not":
        return cast(f"(~{a[0]})")
    if n == "bitshift_left":
        return f"lpfc_shl<{rt}>({args[0]}, {args[1]})"
    if n == "bitshift_right":
        return f"lpfc_shr<{rt}>({args[0]}, {args[1]})"
    if n in _COMPARE:
        return f"({a[0]} {_COMPARE[n]} {a[1]})"
    if n == "where":
        return f"({a[0]} ? {a[1]} : {a[2]})"
    if n == "neg":
        if d0.is_signed_int:
            return cast(f"((({_UNSIGNED_OF[d0]})0) - ({_UNSIGNED_OF[d0]}){a[0]})")
        if d0.is_int:
            return cast(f"(-{a[0]})")
        return f"(-{a[0]})"
    if n == "abs":
        if d0.is_signed_int:
            return f"lpfc_iabs<{rt}>({args[0]})"
        if d0.is_unsigned or d0 == DType.bool:
            return a[0]
        return f"{_FLOAT_UNARY['abs'][0 if f32 else 1]}({args[0]})"
    if n in ("floor", "ceil", "round"):
        if not d0.is_float:
            return a[0]
        return f"{_FLOAT_UNARY[n][0 if f32 else 1]}({args[0]})"
    if n in _FLOAT_UNARY:                           # exp log sqrt tanh sin cos erf
        if d0.is_float:
            return f"{_FLOAT_UNARY[n][0 if f32 else 1]}({args[0]})"
        return cast(f"{_FLOAT_UNARY[n][1]}((double){a[0]})")
    if n == "reciprocal":
        if d0.is_float:
            return f"({'1.0f' if f32 else '1.0'} / {a[0]})"
        return cast(f"(1.0 / (double){a[0]})")
    if n == "identity":
        return a[0]
    if n == "sigmoid":
        if not d0.is_float:
            return cast(f"lpfc_sigmoid((double){a[0]})")
        return f"lpfc_sigmoid({args[0]})"
    if n == "softplus":
        if not d0.is_float:
            return cast(f"lpfc_softplus((double){a[0]})")
        return f"lpfc_softplus({args[0]})"
    if n == "relu":
        return f"lpfc_relu<{rt}>({args[0]})"
    if n == "sign":
        return f"lpfc_sign<{rt}>({args[0]})"
    if n == "gelu":
        mode = attrs.get("approximate", "none")
        if mode not in ("none", "tanh"):
            raise UnsupportedError(f"gelu approximate={mode!r} (expected 'none' or 'tanh')", op="graph.gelu")
        fn = "lpfc_gelu" if mode == "none" else "lpfc_gelu_tanh"
        if not d0.is_float:
            return cast(f"{fn}((double){a[0]})")
        return f"{fn}({args[0]})"
    if n == "leaky_relu":
        alpha = attrs.get("alpha", 0.01)
        if d0.is_float:
            return f"lpfc_leaky_relu<{rt}>({args[0]}, {c_literal(alpha, d0)})"
        return cast(f"lpfc_leaky_relu<double>((double){a[0]}, {c_literal(alpha, DType.f64)})")
    if n == "clip":
        return _clip(args[0], attrs, d0, rt)
    if n == "cast":
        return _cast(a[0], d0, result_dtype)
    if n == "isnan":
        return f"std::isnan({args[0]})" if d0.is_float else f"std::isnan((double){a[0]})"
    if n == "isinf":
        return f"std::isinf({args[0]})" if d0.is_float else f"std::isinf((double){a[0]})"
    if n == "not":
        return f"(!{a[0]})"
    del rf32
    raise UnsupportedError(f"{op_name} is not an element-wise op lpfc can express as a C++ expression",
                           op=op_name if op_name.startswith("graph.") else f"graph.{op_name}")


def _clip(x: str, attrs: dict, d: DType, rt: str) -> str:
    lo, hi = attrs.get("min"), attrs.get("max")
    if d.is_int:
        info = np.iinfo(d.numpy)

        def bound(v, to_int):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                return None
            if isinstance(v, float) and math.isinf(v):
                return info.min if v < 0 else info.max
            return min(max(to_int(v), info.min), info.max)
        lo, hi = bound(lo, math.ceil), bound(hi, math.floor)
    elif d == DType.bool:
        raise UnsupportedError("clip on i1 tensors", op="graph.clip")
    out = x
    if lo is not None:
        out = f"lpfc_max<{rt}>({out}, {c_literal(lo, d)})"
    if hi is not None:
        out = f"lpfc_min<{rt}>({out}, {c_literal(hi, d)})"
    return out


def _cast(x: str, src: DType, dst: DType) -> str:
    rt = c_type(dst)
    if dst == src:
        return x
    if dst == DType.bool:
        return f"({x} != 0)"
    if src.is_float and dst.is_unsigned and dst != DType.u64:
        return f"(({rt})(int64_t){x})"           # numpy: through int64, so -1.0 -> 255
    if src.is_float and dst == DType.u64:
        return f"(({rt})(int64_t){x})"
    return f"(({rt}){x})"


def helper_code(names) -> str:
    """The code of the helpers ``names`` (deduplicated, in :data:`C_HELPERS` order)."""
    wanted = set(names)
    return "\n".join(code for name, code in C_HELPERS.items() if name in wanted)


__all__ = ["C_HEADERS", "C_HELPERS", "ELEMENTWISE_OPS", "c_expr", "c_helpers_needed", "c_literal", "c_type",
           "helper_code"]
