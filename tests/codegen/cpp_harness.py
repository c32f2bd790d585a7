"""Builds kernels emitted for real fused blocks into one small .so and runs them against the interpreter."""
from __future__ import annotations

import ctypes
import functools
import os
from pathlib import Path

import numpy as np
import pytest

from lpfc.codegen.cpp_gemm import constant_value
from lpfc.codegen.targets import get_target
from lpfc.codegen.toolchain import compile_shared
from lpfc.interp.interpreter import evaluate_op, run_block
from lpfc.ir.types import DType
from lpfc.codegen.kernel_source import headers_and_helpers

HOST = get_target("host")


@functools.lru_cache(maxsize=None)
def fused_blocks(model: str, variant: str = "dynamo20"):
    """The ``graph.fused`` ops of a zoo model after the default pipeline (skips without the zoo file)."""
    import lpfc
    import lpfc.passes
    from lpfc.testing import zoo
    path = zoo.model_path(model, variant)
    if not Path(path).exists():
        pytest.skip(f"zoo model {path} not exported (run the zoo export first)")
    m = lpfc.import_onnx(path)
    lpfc.passes.Pipeline.parse("default").run(m)
    return [op for op in m.main.ops if op.name == "graph.fused"]


def _index_bound(op, i):
    """For an integer block argument used as gather indices: the indexed dimension's length."""
    if not op.regions:
        return 2
    arg = op.regions[0].block.args[i]
    for user in arg.users:
        if user.name == "graph.gather" and user.operands[1] is arg:
            d = user.operands[0].type
            axis = user.attributes.get("axis", 0)
            return d.shape[axis + d.rank if axis < 0 else axis]
    return 2


def make_inputs(op, rng, overrides=None):
    """Arrays for each operand: constants as in the model, others random (indices in range)."""
    ins = []
    for i, v in enumerate(op.operands):
        if overrides and i in overrides:
            ins.append(overrides[i])
            continue
        c = constant_value(op, i)
        if c is not None:
            ins.append(np.require(c, requirements="C"))
            continue
        t = v.type
        if t.dtype == DType.f32:
            ins.append(rng.standard_normal(t.shape).astype(np.float32))
        elif t.dtype in (DType.i64, DType.i32):
            ins.append(rng.integers(0, _index_bound(op, i), size=t.shape).astype(
                np.int64 if t.dtype == DType.i64 else np.int32))
        elif t.dtype == DType.bool:
            ins.append(rng.integers(0, 2, size=t.shape).astype(bool))
        else:
            raise NotImplementedError(t)
    return ins


class KernelLib:
    """Kernels ``[(op, KernelSource)]`` compiled into one library with a C entry point each."""

    def __init__(self, kernels, tmpdir, extra_flags=(), build=True, compile=True):
        self.kernels = kernels
        headers, helpers = headers_and_helpers(ks for _, ks in kernels)
        src = [f"#include {h}" for h in headers] + helpers
        for _, ks in kernels:
            src.append(ks.code)
            src.append(f'extern "C" __attribute__((visibility("default"))) void call_{ks.symbol}'
                       f'(const void *const *in, void *const *out, int nt) {{ {ks.symbol}(in, out, nt); }}')
        self.source = "\n".join(src) + "\n"
        self.lib = None
        if not compile:
            return
        Path(tmpdir).mkdir(parents=True, exist_ok=True)
        path = Path(tmpdir) / "kernels.cc"
        path.write_text(self.source)
        self.path = compile_shared(HOST, [path], Path(tmpdir) / "libkernels.so", ["-fopenmp", *extra_flags],
                                   with_runtime=False, link_flags=["-fopenmp"])
        self.lib = ctypes.CDLL(str(self.path)) if build else None

    def run(self, op, ks, ins, threads=1):
        packed = [np.require(ks.packed[i](a), requirements="C") if i in ks.packed else np.require(a, requirements="C")
                  for i, a in enumerate(ins)]
        outs = [np.full(r.type.shape, np.nan, dtype=np.float32 if r.type.dtype == DType.f32 else np.int64)
                for r in op.results]
        in_ptrs = (ctypes.c_void_p * max(1, len(packed)))(*[a.ctypes.data for a in packed])
        out_ptrs = (ctypes.c_void_p * max(1, len(outs)))(*[a.ctypes.data for a in outs])
        getattr(self.lib, f"call_{ks.symbol}")(in_ptrs, out_ptrs, ctypes.c_int(threads))
        return outs


def reference(op, ins):
    """The interpreter's result for a kernel op: a fused block's region, or a bare op."""
    if op.regions:
        return [np.asarray(r) for r in run_block(op.regions[0].block, ins)]
    return [np.asarray(r) for r in evaluate_op(op, ins)]


@functools.lru_cache(maxsize=None)
def unfused_ops(model: str, variant: str = "dynamo20"):
    """The kernel ops of a zoo model without lp-fusion (``--no-fusion``): bare graph ops."""
    import lpfc
    import lpfc.passes
    from lpfc.testing import zoo
    path = zoo.model_path(model, variant)
    if not Path(path).exists():
        pytest.skip(f"zoo model {path} not exported (run the zoo export first)")
    m = lpfc.import_onnx(path)
    lpfc.passes.Pipeline.parse("canonicalize,fold-constants,cse,dce").run(m)
    return [op for op in m.main.ops if op.name not in ("graph.constant", "graph.reshape", "func.return")]


def assert_close(got, want, atol=1e-4, rtol=1e-4, what=""):
    want = np.asarray(want, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    assert got.shape == want.shape, what
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=what)
    ok = ~np.isnan(want)
    err = np.abs(got[ok] - want[ok])
    tol = atol + rtol * np.abs(want[ok])
    assert np.all(err <= tol), f"{what}: max abs diff {err.max() if err.size else 0}"


def threads_available():
    return max(1, min(2, os.cpu_count() or 1))
