"""QuantizeLinear / DequantizeLinear (QDQ models), composed from graph ops.

``DequantizeLinear``: y = (x - zero_point) * scale, computed in float32, in the
scale's type (or ``output_dtype``, version 23).  ``QuantizeLinear``:
y = saturate(round_half_even(x / scale) + zero_point) in the zero point's type
(or ``output_dtype``, version 21; uint8 by default).  The scale is per tensor,
per ``axis`` (version 13) or per block of ``block_size`` along it (version 21).
Versions 19, 24, 25 and 28 only add element types (float8, 4- and 2-bit), which lpfc
has no dtype for; such a model is refused when its tensors are read.

A constant int8 weight dequantized this way becomes an fp32 constant when
``fold-constants`` runs (issue #17 item 4: keeping it int8 in the library needs
the passes and the GEMM kernels to take int8 weights).
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
