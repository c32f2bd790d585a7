"""QuantizeLinear / DequantizeLinear (QDQ models), composed from graph ops.

``DequantizeLinear``: y = (x - zero_point) * scale, computed in float32, in the
scale's type (or ``output_dtype``, version 23).  ``QuantizeLinear``:
y = saturate(round_half_even(x / scale) + zero_point) in the zero point's type
(or ``output_dtype``, version 21; uint8 by default).  The scale is per tensor,
per ``axis`` (version 13) or per block of ``block_size`` along it (version 21).
Versions 19, 24, 25 and 28 only add element types (float8, 4- and 2-bit), which lpfc
has no dtype for; such a model is refused when its tensors are read.

A constant int8 weight dequantized this way stays int8: the importer's folding and
``fold-constants`` never widen a large 1-byte integer constant (issue #17 item 4), so the
library keeps the int8 weight and the GEMM dequantizes it while packing B.

The operator-format ops of ``onnxruntime.quantization.quantize_dynamic`` are here too:
``DynamicQuantizeLinear`` and ``MatMulInteger`` (and ``QLinearMatMul``), composed from graph ops.
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, UnsupportedError
from ..ir.types import DType
from .onnx import Converter, onnx_dtype
from .onnx_ops import _axis, _reshape, attributes, converter

_QUANT_TYPES = (DType.i8, DType.u8, DType.i16, DType.u16, DType.i32)


def _f32(cv: Converter, v):
    return v if v.type.dtype == DType.f32 else cv.emit1("graph.cast", [v], {"to": DType.f32})


def _broadcast_param(cv: Converter, node, p, x, what: str):
    """scale / zero point shaped to broadcast against x: per tensor, per axis, or per block."""
    a = attributes(node)
    r = x.type.rank
    if p.type.num_elements == 1 and p.type.rank <= 1:
        return _reshape(cv, p, [])[0]
    if cv.op_version(node) < 13:
        raise cv.error(ShapeError, f"{what} must be a scalar before version 13, has shape {list(p.type.shape)}")
    axis = _axis(cv, a.get("axis", 1), r)
    block = int(a.get("block_size", 0))
    n = x.type.shape[axis]
    if block <= 0:
        if p.type.shape != (n,):
            raise cv.error(ShapeError, f"{what} of shape {list(p.type.shape)} is neither a scalar nor [{n}] "
                           f"(axis {axis})")
        shape = [1] * r
        shape[axis] = n
        return _reshape(cv, p, shape)[0]
    blocks = -(-n // block)
    want = list(x.type.shape)
    want[axis] = blocks
    if list(p.type.shape) != want:
        raise cv.error(ShapeError, f"{what} of shape {list(p.type.shape)}: block_size {block} along axis {axis} "
                       f"needs {want}")
    # Each block's value repeated block_size times along the axis, cut to the axis' length.
    split = want[:axis + 1] + [1] + want[axis + 1:]
    wide = want[:axis + 1] + [block] + want[axis + 1:]
    rep = cv.emit1("graph.expand", _reshape(cv, p, split), {"shape": wide})
    full = list(x.type.shape)
    full[axis] = blocks * block
    rep = _reshape(cv, rep, full)[0]
    if blocks * block != n:
        rep = cv.emit1("graph.slice", [rep], {"starts": [0], "ends": [n], "axes": [axis], "steps": [1]})
    return rep


@converter("DequantizeLinear")
def convert_dequantize_linear(cv: Converter, node):
    a = attributes(node)
    x, scale = cv.input(node, 0), cv.input(node, 1)
    zp = cv.input(node, 2, optional=True)
    if x.type.dtype not in _QUANT_TYPES:
        raise cv.error(UnsupportedError, f"DequantizeLinear of {x.type.dtype} is not supported")
    out = onnx_dtype(a["output_dtype"], "DequantizeLinear output_dtype") if a.get("output_dtype") else scale.type.dtype
    if not scale.type.dtype.is_float or not out.is_float:
        raise cv.error(ShapeError, f"the scale must be floating-point, got {scale.type.dtype}")
    y = _f32(cv, x)
    if zp is not None:
        if zp.type.dtype != x.type.dtype:
            raise cv.error(ShapeError, f"zero point of {zp.type.dtype} does not match the input's {x.type.dtype}")
        y = cv.emit1("graph.sub", [y, _f32(cv, _broadcast_param(cv, node, zp, x, "x_zero_point"))])
    y = cv.emit1("graph.mul", [y, _f32(cv, _broadcast_param(cv, node, scale, x, "x_scale"))])
    return [y if out == DType.f32 else cv.emit1("graph.cast", [y], {"to": out})]


@converter("QuantizeLinear")
def convert_quantize_linear(cv: Converter, node):
    a = attributes(node)
    x, scale = cv.input(node, 0), cv.input(node, 1)
    zp = cv.input(node, 2, optional=True)
    if a.get("output_dtype"):
        out = onnx_dtype(a["output_dtype"], "QuantizeLinear output_dtype")
        if zp is not None and zp.type.dtype != out:
            raise cv.error(ShapeError, f"output_dtype {out} differs from the zero point's {zp.type.dtype}")
    else:
        out = zp.type.dtype if zp is not None else DType.u8
    if out not in _QUANT_TYPES:
        raise cv.error(UnsupportedError, f"QuantizeLinear to {out} is not supported")
    if not x.type.dtype.is_float or not scale.type.dtype.is_float:
        raise cv.error(ShapeError, f"QuantizeLinear needs floating-point x and scale, got {x.type.dtype}, "
                       f"{scale.type.dtype}")
    # x / scale rounded half to even, plus the zero point, saturated to the output type's range.
    y = cv.emit1("graph.round", [cv.emit1("graph.div", [_f32(cv, x),
                                                         _f32(cv, _broadcast_param(cv, node, scale, x, "y_scale"))])])
    if zp is not None:
        y = cv.emit1("graph.add", [y, _f32(cv, _broadcast_param(cv, node, zp, x, "y_zero_point"))])
    info = np.iinfo(out.numpy)
    y = cv.emit1("graph.clip", [y], {"min": float(info.min), "max": float(info.max)})
    return [cv.emit1("graph.cast", [y], {"to": out})]


# -- operator-format ops (onnxruntime.quantization.quantize_dynamic) ----------------------------------
_INT8 = (DType.i8, DType.u8)


def _dtype_check(cv: Converter, v, allowed, what: str):
    if v.type.dtype not in allowed:
        raise cv.error(UnsupportedError, f"{what} of {v.type.dtype} is not supported "
                       f"({', '.join(str(d) for d in allowed)})")


@converter("DynamicQuantizeLinear")
def convert_dynamic_quantize_linear(cv: Converter, node):
    """uint8 quantization of x with a scale and zero point from x's own range (as onnxruntime computes them):
    scale = (max(x, 0) - min(x, 0)) / 255 (1 when that is 0), zero point = round(clip(-min / scale, 0, 255)),
    y = clip(round_half_even(x / scale) + zero point, 0, 255)."""
    x = cv.input(node, 0)
    if x.type.dtype != DType.f32:
        raise cv.error(UnsupportedError, f"DynamicQuantizeLinear of {x.type.dtype} is not supported (float32 only)")
    axes = list(range(x.type.rank))
    zero, one = cv.constant(np.array(0.0, np.float32)), cv.constant(np.array(1.0, np.float32))
    hi = cv.emit1("graph.max", [cv.emit1("graph.reduce_max", [x], {"axes": axes, "keepdims": False}), zero])
    lo = cv.emit1("graph.min", [cv.emit1("graph.reduce_min", [x], {"axes": axes, "keepdims": False}), zero])
    span = cv.emit1("graph.sub", [hi, lo])
    scale = cv.emit1("graph.div", [span, cv.constant(np.array(255.0, np.float32))])
    scale = cv.emit1("graph.where", [cv.emit1("graph.equal", [span, zero]), one, scale])
    zp = cv.emit1("graph.sub", [zero, cv.emit1("graph.div", [lo, scale])])
    zp = cv.emit1("graph.round", [cv.emit1("graph.clip", [zp], {"min": 0.0, "max": 255.0})])
    y = cv.emit1("graph.add", [cv.emit1("graph.round", [cv.emit1("graph.div", [x, scale])]), zp])
    y = cv.emit1("graph.clip", [y], {"min": 0.0, "max": 255.0})
    return [cv.emit1("graph.cast", [y], {"to": DType.u8}), scale, cv.emit1("graph.cast", [zp], {"to": DType.u8})]


def _zero_point_operand(cv: Converter, zp, x, per: str, index: int):
    """A MatMulInteger zero point shaped to broadcast against its operand: a scalar, or per row of A
    ([M]) / per column of B ([N]) of a 2-D operand, or already of a broadcasting N-D shape."""
    name = "a_zero_point" if per == "row" else "b_zero_point"
    if zp.type.dtype != x.type.dtype:
        raise cv.error(ShapeError, f"input #{index} ({name}) is {zp.type.dtype}, its operand {x.type.dtype}")
    if zp.type.num_elements == 1:
        return _reshape(cv, zp, [])[0]
    r = x.type.rank
    if r < 2:
        raise cv.error(UnsupportedError, f"input #{index} ({name}) of shape {list(zp.type.shape)} is not supported "
                       f"for a 1-D operand (a scalar only)")
    if zp.type.rank == 1:
        if per == "row" and zp.type.shape[0] == x.type.shape[-2]:
            return _reshape(cv, zp, [x.type.shape[-2], 1])[0]
        if per == "col" and zp.type.shape[0] == x.type.shape[-1]:
            return zp
    want = list(x.type.shape)
    if per == "row":
        want[-1] = 1
    else:
        want[-2] = 1
    if zp.type.rank == r and all(d in (1, w) for d, w in zip(zp.type.shape, want)):
        return zp
    raise cv.error(UnsupportedError, f"input #{index} ({name}) of shape {list(zp.type.shape)} is not supported "
                   f"for an operand of shape {list(x.type.shape)} (a scalar, or one per "
                   f"{'row [M]' if per == 'row' else 'column [N]'})")


def _centred(cv: Converter, node, x, zp_index: int, per: str):
    """float32(x) - zero point: exact, since both are small integers."""
    y = _f32(cv, x)
    zp = cv.input(node, zp_index, optional=True)
    if zp is None:
        return y
    zp = _zero_point_operand(cv, zp, x, per, zp_index)
    arr = cv.const_of(zp)
    if arr is not None and not arr.any():
        return y                           # symmetric quantization: nothing to subtract
    return cv.emit1("graph.sub", [y, _f32(cv, zp)])


@converter("MatMulInteger")
def convert_matmul_integer(cv: Converter, node):
    """(A - a_zero_point) @ (B - b_zero_point) in int32, computed as a float32 matmul of the centred operands.

    Every product and partial sum is an integer; float32 holds them exactly below 2^24 (K x 255 x 255
    reaches that only at K > 258 with extreme values), so lpfc's float GEMM kernels run it, and the
    int8 weight B stays int8 in the library (cast and centred at run time).  The int32 result is
    float32 -> int32; the model's Cast back to float32 reuses the float32 product.
    """
    a, b = cv.input(node, 0), cv.input(node, 1)
    _dtype_check(cv, a, _INT8, "input A")
    _dtype_check(cv, b, _INT8, "input B")
    if a.type.rank < 1 or b.type.rank < 1:
        raise cv.error(ShapeError, "MatMulInteger needs operands of rank >= 1")
    af, bf = _centred(cv, node, a, 2, "row"), _centred(cv, node, b, 3, "col")
    y = cv.emit1("graph.matmul", [af, bf])
    out = cv.emit1("graph.cast", [y], {"to": DType.i32})
    cv.exact_float_of[id(out)] = y
    return [out]


@converter("QLinearMatMul")
def convert_qlinear_matmul(cv: Converter, node):
    """quantize((A - a_zp) a_scale @ (B - b_zp) b_scale, y_scale, y_zp), the product in float32.

    onnxruntime requantizes its int32 product with a float multiplier: a result exactly halfway
    between two steps may round the other way."""
    a, b = cv.input(node, 0), cv.input(node, 3)
    _dtype_check(cv, a, _INT8, "input a")
    _dtype_check(cv, b, _INT8, "input b")
    zp_y = cv.input(node, 7)
    if zp_y.type.dtype not in _INT8:
        raise cv.error(UnsupportedError, f"input #7 (y_zero_point) of {zp_y.type.dtype} is not supported")
    scales = []
    for i, what, x, per in ((1, "a_scale", a, "row"), (4, "b_scale", b, "col"), (6, "y_scale", None, None)):
        s = cv.input(node, i)
        if not s.type.dtype.is_float:
            raise cv.error(ShapeError, f"input #{i} ({what}) must be floating-point, got {s.type.dtype}")
        s = _f32(cv, s)             # float16 scales (version 21) are applied in float32
        if s.type.num_elements == 1:
            s = _reshape(cv, s, [])[0]
        elif x is not None and s.type.rank == 1 and x.type.rank >= 2 and (
                per == "row" and s.type.shape[0] == x.type.shape[-2]):
            s = _reshape(cv, s, [s.type.shape[0], 1])[0]
        elif not (x is not None and s.type.rank == 1 and per == "col" and s.type.shape[0] == x.type.shape[-1]):
            raise cv.error(UnsupportedError, f"input #{i} ({what}) of shape {list(s.type.shape)} is not supported "
                           "(a scalar, per row of a or per column of b)")
        scales.append(s)
    af = cv.emit1("graph.mul", [_centred(cv, node, a, 2, "row"), scales[0]])
    bf = cv.emit1("graph.mul", [_centred(cv, node, b, 5, "col"), scales[1]])
    y = cv.emit1("graph.round", [cv.emit1("graph.div", [cv.emit1("graph.matmul", [af, bf]), scales[2]])])
    if zp_y.type.num_elements != 1:
        raise cv.error(UnsupportedError, f"input #7 (y_zero_point) of shape {list(zp_y.type.shape)} is not "
                       "supported (a scalar)")
    y = cv.emit1("graph.add", [y, _f32(cv, _reshape(cv, zp_y, [])[0])])
    info = np.iinfo(zp_y.type.dtype.numpy)
    y = cv.emit1("graph.clip", [y], {"min": float(info.min), "max": float(info.max)})
    return [cv.emit1("graph.cast", [y], {"to": zp_y.type.dtype})]


# -- gathers from a dequantized table --------------------------------------------------------------
_DEQUANT_STEPS = ("graph.cast", "graph.sub", "graph.add", "graph.mul", "graph.div")


def gather_dequantized(cv: Converter, table, indices, axis: int):
    """gather(dequantize(q), ids) as dequantize(gather(q, ids)), or None when ``table`` is not that.

    An embedding table stored as int8 and dequantized in the graph (Cast, then Sub / Mul by scalar
    constants) would otherwise be dequantized whole on every run; gathering the int8 rows first
    reads only the rows used.  The dequantizing ops stay behind unused (dce removes them)."""
    chain = []
    v = table
    while True:
        op = v.owner
        if getattr(op, "name", None) not in _DEQUANT_STEPS:
            break
        inner = [i for i, o in enumerate(op.operands) if o.type.num_elements != 1 or cv.const_of(o) is None]
        if len(inner) != 1 or op.operands[inner[0]].type.shape != v.type.shape:
            return None            # another tensor operand, or one broadcast along the table
        chain.append((op, inner[0]))
        v = op.operands[inner[0]]
    q = cv.const_of(v)
    if not chain or q is None or q.dtype.itemsize != 1 or q.dtype.kind not in "iu":
        return None
    y = cv.emit1("graph.gather", [v, indices], {"axis": axis})
    shape = y.type.shape
    for op, pos in reversed(chain):
        operands = list(op.operands)
        operands[pos] = y
        y = cv.emit1(op.name, operands, dict(op.attributes))
    # a [1]-shaped scale would broadcast a scalar row to [1]: then gather the dequantized table as written
    return [y] if y.type.shape == shape else None
