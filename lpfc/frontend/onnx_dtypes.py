"""ONNX element types lpfc supports, and their IR dtypes (shared by the loader and the converter)."""
from __future__ import annotations

import onnx

from ..errors import UnsupportedError
from ..ir.types import DType

ONNX_DTYPES = {
    onnx.TensorProto.FLOAT: DType.f32, onnx.TensorProto.DOUBLE: DType.f64, onnx.TensorProto.FLOAT16: DType.f16,
    onnx.TensorProto.INT64: DType.i64, onnx.TensorProto.INT32: DType.i32, onnx.TensorProto.INT16: DType.i16,
    onnx.TensorProto.INT8: DType.i8, onnx.TensorProto.UINT8: DType.u8, onnx.TensorProto.UINT16: DType.u16,
    onnx.TensorProto.UINT32: DType.u32, onnx.TensorProto.UINT64: DType.u64, onnx.TensorProto.BOOL: DType.bool,
}


def onnx_dtype(code: int, what: str) -> DType:
    if code in ONNX_DTYPES:
        return ONNX_DTYPES[code]
    name = onnx.TensorProto.DataType.Name(code) if code in onnx.TensorProto.DataType.values() else str(code)
    raise UnsupportedError(f"{what} has element type {name}, which lpfc does not support",
                           hint="supported: " + ", ".join(sorted(d.name for d in ONNX_DTYPES.values())))
