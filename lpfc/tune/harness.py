"""Builds kernels (KernelSource) into a small shared library to call or time them from Python.

Each kernel gets two exported wrappers: ``lpfc_call_<symbol>(in, out, num_threads)`` and
``lpfc_bench_<symbol>(in, out, num_threads, reps, times)`` which runs the kernel ``reps`` times and
stores each run's seconds in ``times`` (monotonic clock).
"""
from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Sequence

import numpy as np

from ..codegen.toolchain import compile_shared


def library_source(sources: Sequence) -> str:
    headers = ["<time.h>", "<stdint.h>"]
    for s in sources:
        for h in s.headers:
            if h not in headers:
                headers.append(h)
    lines = [f"#include {h}" for h in headers]
    seen = set()
    for s in sources:
        for h in s.helpers:
            if h not in seen:
                seen.add(h)
                lines.append(h)
    lines.append('#define LPFC_EXPORT extern "C" __attribute__((visibility("default")))')
    codes = set()
    for s in sources:
        if s.code not in codes:
            codes.add(s.code)
            lines.append(s.code)
        lines.append(f"LPFC_EXPORT void lpfc_call_{s.symbol}(const void *const *in, void *const *out, int nt) "
                     f"{{ {s.symbol}(in, out, nt); }}")
        lines.append(
            f"LPFC_EXPORT void lpfc_bench_{s.symbol}(const void *const *in, void *const *out, int nt, int reps, "
            f"double *times) {{\n"
            f"    for (int r = 0; r < reps; ++r) {{\n"
            f"        struct timespec a, b;\n"
            f"        clock_gettime(CLOCK_MONOTONIC, &a);\n"
            f"        {s.symbol}(in, out, nt);\n"
            f"        clock_gettime(CLOCK_MONOTONIC, &b);\n"
            f"        times[r] = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);\n"
            f"    }}\n}}")
    return "\n".join(lines) + "\n"


class KernelLibrary:
    def __init__(self, path: Path):
        self.path = path
        self.lib = ctypes.CDLL(str(path))

    @staticmethod
    def _ptrs(arrays):
        arr = (ctypes.c_void_p * max(len(arrays), 1))()
        for i, a in enumerate(arrays):
            arr[i] = a.ctypes.data
        return arr

    def call(self, symbol: str, inputs: list, outputs: list, num_threads: int = 1) -> list:
        ins = [np.ascontiguousarray(a) for a in inputs]
        getattr(self.lib, f"lpfc_call_{symbol}")(self._ptrs(ins), self._ptrs(outputs), ctypes.c_int(num_threads))
        return outputs

    def bench(self, symbol: str, inputs: list, outputs: list, reps: int, num_threads: int = 1) -> np.ndarray:
        ins = [np.ascontiguousarray(a) for a in inputs]
        times = np.zeros(reps, dtype=np.float64)
        getattr(self.lib, f"lpfc_bench_{symbol}")(self._ptrs(ins), self._ptrs(outputs), ctypes.c_int(num_threads),
                                                  ctypes.c_int(reps), times.ctypes.data_as(ctypes.c_void_p))
        return times


def build_library(sources: Sequence, directory, name: str = "kernels", target="host") -> KernelLibrary:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    src = d / f"{name}.cpp"
    src.write_text(library_source(sources))
    so = compile_shared(target, [src], d / f"{name}.so", with_runtime=False)
    return KernelLibrary(so)
