"""``--precision``: which arithmetic the GEMM kernels use, checked once against the target.

* ``fp32`` (the default): everything in single precision.
* ``fp16``: the GEMM weights are stored in half precision (the library's weights shrink by about half) and
  the GEMM kernels multiply in FP16 with fp32 accumulation (docs/fp16.md):

  - arm64 targets: ARMv8.2-A FP16 vector arithmetic (``fmla v.8h``; ``-mcpu=cortex-a77`` has it), in the
    NEON micro-kernel of ``templates/gemm_driver_neon_f16.h.j2``;
  - opencl: the weights are ``half`` in the device buffer, read with ``vload_half4`` (core OpenCL 1.2, no
    extension needed) and multiplied in fp32 (PoCL's CPU device does not report ``cl_khr_fp16``).

  Attention, LayerNorm/softmax statistics, epilogues and everything else stay fp32.  The host target
  (x86-64) has no fp16 kernels: one clear error.
* ``int8``: the ``quantize-int8`` pass marks the GEMMs with constant weights, which run int8 kernels (weights
  per output channel, activations per row at run time; docs/int8.md) on the C++ targets (host: AVX2 / VNNI,
  arm64: sdot); opencl has none: one clear error.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import InputError, UnsupportedError
from .targets import Target

PRECISIONS = ("fp32", "fp16", "int8")

#: fp16's largest finite value
FP16_MAX = 65504.0


def check_precision(precision) -> None:
    """An unknown precision is one InputError (before any work: ``lpfc.compile`` calls this first)."""
    if precision not in PRECISIONS:
        raise InputError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")


def half_weights(a: np.ndarray, what: str) -> np.ndarray:
    """``a`` (constant weights: packed GEMM panels, a gather table) as fp16, round to nearest even.  A value beyond
    fp16's range (or NaN) is refused with one UnsupportedError naming ``what``, never stored as infinity."""
    a = np.asarray(a, dtype=np.float32)
    big = float(np.max(np.abs(a))) if a.size else 0.0
    if not big <= FP16_MAX:
        raise UnsupportedError(f"{what} holds {big:g}, outside fp16's range ({FP16_MAX:g})",
                               hint='compile with weights="fp32" and precision="fp32"')
    return a.astype(np.float16)


def with_precision(target: Target, precision: str) -> Target:
    """``target`` carrying ``precision`` (checked: a precision the target cannot run is one UnsupportedError)."""
    check_precision(precision)
    if precision == "fp32":
        return target
    if precision == "int8":
        if target.opencl:
            raise UnsupportedError("precision int8 has kernels for the C++ targets (host, arm64-*), not for opencl",
                                   hint="use --precision fp32 or fp16 on opencl")
        return replace(target, precision=precision)
    if target.arch == "aarch64" and not target.opencl:
        if target.toolchain is not None and target.toolchain.has_compiler:
            features = target.toolchain.features()
            if "fp16" not in features:
                raise UnsupportedError(
                    f"--precision fp16 needs ARMv8.2-A FP16 arithmetic, which -mcpu={target.cpu} does not have",
                    hint="use a CPU with FP16 (the default cortex-a77, cortex-a55/a75 and newer) or --precision fp32")
        return replace(target, precision=precision)
    if target.opencl:
        return replace(target, precision=precision)
    raise UnsupportedError(f"--precision fp16 is not available for target {target.name!r} ({target.arch}): lpfc has "
                           "fp16 kernels for the arm64 targets (NEON FP16) and opencl only",
                           hint="use --target arm64-linux, arm64-android or opencl, or --precision fp32")


__all__ = ["FP16_MAX", "PRECISIONS", "check_precision", "half_weights", "with_precision"]
