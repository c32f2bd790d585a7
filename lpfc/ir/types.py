"""Types of the IR: element dtypes and statically shaped tensors.

Every value in lpfc's IR is a tensor with a static shape; a scalar is a
rank-0 tensor.  Types are immutable and hashable so they can key caches.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np


class DType(Enum):
    """Element types.  The value is the spelling used in the textual IR."""

    f64 = "f64"
    f32 = "f32"
    f16 = "f16"
    i64 = "i64"
    i32 = "i32"
    i16 = "i16"
    i8 = "i8"
    u64 = "u64"
    u32 = "u32"
    u16 = "u16"
    u8 = "u8"
    bool = "i1"

    @property
    def numpy(self) -> np.dtype:
        return np.dtype(_TO_NUMPY[self])

    @property
    def is_float(self) -> bool:
        return self in (DType.f64, DType.f32, DType.f16)

    @property
    def is_int(self) -> bool:
        """Signed or unsigned integer (bool is not an integer)."""
        return self.is_signed_int or self.is_unsigned

    @property
    def is_signed_int(self) -> bool:
        return self in (DType.i64, DType.i32, DType.i16, DType.i8)

    @property
    def is_unsigned(self) -> bool:
        return self in (DType.u64, DType.u32, DType.u16, DType.u8)

    @property
    def itemsize(self) -> int:
        return self.numpy.itemsize

    @staticmethod
    def from_numpy(dtype) -> "DType":
        dt = np.dtype(dtype)
        for k, v in _TO_NUMPY.items():
            if np.dtype(v) == dt:
                return k
        raise KeyError(f"numpy dtype {dt} has no lpfc equivalent")

    @staticmethod
    def parse(text: str) -> "DType":
        return DType(text)

    def __str__(self) -> str:
        return self.value


_TO_NUMPY = {
    DType.f64: "float64",
    DType.f32: "float32",
    DType.f16: "float16",
    DType.i64: "int64",
    DType.i32: "int32",
    DType.i16: "int16",
    DType.i8: "int8",
    DType.u64: "uint64",
    DType.u32: "uint32",
    DType.u16: "uint16",
    DType.u8: "uint8",
    DType.bool: "bool",
}


@dataclass(frozen=True)
class TensorType:
    """A tensor with a static shape, e.g. ``tensor<1x128x384xf32>``."""

    shape: tuple[int, ...]
    dtype: DType

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        for d in self.shape:
            if d < 0:
                from ..errors import ShapeError    # (lpfc.errors imports nothing from the IR)
                raise ShapeError(f"negative dimension in shape {list(self.shape)}")

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def num_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        return self.num_elements * self.dtype.itemsize

    def with_shape(self, shape) -> "TensorType":
        return TensorType(tuple(shape), self.dtype)

    def with_dtype(self, dtype: DType) -> "TensorType":
        return TensorType(self.shape, dtype)

    @staticmethod
    def of(array: np.ndarray) -> "TensorType":
        return TensorType(tuple(array.shape), DType.from_numpy(array.dtype))

    def __str__(self) -> str:
        dims = "".join(f"{d}x" for d in self.shape)
        return f"tensor<{dims}{self.dtype.value}>"
