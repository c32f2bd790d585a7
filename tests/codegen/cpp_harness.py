"""Builds kernels emitted for real fused blocks and runs them against the interpreter.

On the host the kernels go into one small .so called through ctypes; for ``arm64-linux`` into one
executable with a small driver (``main`` below) run under qemu, the arrays passing through files.
``kernel_target(name)`` gives the target to emit for, skipping (with the reason) when its toolchain or
qemu is missing; tests parametrized over ``TARGETS`` run on both.
"""
from __future__ import annotations

import ctypes
import functools
import os
from pathlib import Path

import numpy as np
import pytest

from lpfc.ir.constants import constant_value
from lpfc.codegen.targets import get_target
from lpfc.codegen.toolchain import compile_executable, compile_shared, find_toolchain, run_program
from lpfc.errors import ToolchainError
from lpfc.interp.interpreter import evaluate_op, run_block
from lpfc.ir.types import DType
from lpfc.codegen.kernel_source import headers_and_helpers

HOST = get_target("host")
ARM64 = get_target("arm64-linux")

#: pytest parameters for the targets a kernel test runs on: the host natively, arm64-linux under qemu
TARGETS = [pytest.param("host", id="host"), pytest.param("arm64-linux", id="arm64-qemu")]


@functools.lru_cache(maxsize=None)
def _arm64_problem():
    try:
        tc = find_toolchain(ARM64)
    except ToolchainError as e:
        return f"no arm64-linux toolchain: {e}"
    if not tc.can_run:
        return f"arm64-linux programs cannot run here: {tc.run_problem}"
    if "neon" not in tc.features():
        return f"{' '.join(tc.cc)} {' '.join(tc.cflags)} does not enable NEON"
    return None


def kernel_target(name):
    """The Target to emit for; skips the test (saying why) when arm64-linux cannot be built or run here."""
    if name == "host":
        return HOST
    problem = _arm64_problem()
    if problem:
        pytest.skip(problem)
    return ARM64


@functools.lru_cache(maxsize=None)
def fused_blocks(model: str, variant: str = "dynamo20"):
    """The ``graph.fused`` ops of a zoo model after the default pipeline (skips without the zoo file)."""
    import lpfc
    import lpfc.passes
    from lpfc.testing import zoo
    path = zoo.export(model, variant)   # cached and atomic: a fresh CI machine exports it, never skips
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
        c = constant_value(op.operands[i], through_reshapes=True)
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
    """Kernels ``[(op, KernelSource)]`` compiled for ``target`` with a C entry point each: into one library
    (host: called through ctypes) or into one program with a driver (another architecture: run through the
    toolchain's runner, qemu)."""

    def __init__(self, kernels, tmpdir, extra_flags=(), build=True, compile=True, target=HOST):
        self.kernels = kernels
        self.target = target
        self.native = target.name == "host"
        headers, helpers = headers_and_helpers(ks for _, ks in kernels)
        src = [f"#include {h}" for h in headers] + helpers
        for _, ks in kernels:
            src.append(ks.code)
            src.append(f'extern "C" __attribute__((visibility("default"))) void call_{ks.symbol}'
                       f'(const void *const *in, void *const *out, int nt) {{ {ks.symbol}(in, out, nt); }}')
        if not self.native:
            src.append(_DRIVER.replace("TABLE", ", ".join(f'{{"{ks.symbol}", call_{ks.symbol}}}'
                                                           for _, ks in kernels)))
        self.source = "\n".join(src) + "\n"
        self.lib = None
        self.tmpdir = Path(tmpdir)
        if not compile:
            return
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        path = self.tmpdir / "kernels.cc"
        path.write_text(self.source)
        if self.native:
            self.path = compile_shared(HOST, [path], self.tmpdir / "libkernels.so", list(extra_flags),
                                       with_runtime=False)
            self.lib = ctypes.CDLL(str(self.path)) if build else None
        else:
            self.toolchain = find_toolchain(target)
            self.path = compile_executable(self.toolchain, [path], self.tmpdir / "kernels", list(extra_flags))
        self.calls = 0

    def run(self, op, ks, ins, threads=1):
        packed = [np.require(ks.packed[i](a), requirements="C") if i in ks.packed else np.require(a, requirements="C")
                  for i, a in enumerate(ins)]
        outs = [np.full(r.type.shape, np.nan, dtype=np.float32 if r.type.dtype == DType.f32 else np.int64)
                for r in op.results]
        return self.call(ks.symbol, packed, outs, threads)

    def call(self, symbol, ins, outs, threads=1):
        """Runs kernel ``symbol`` on the arrays ``ins`` (C-contiguous) and ``outs`` (filled in); returns outs."""
        if self.native:
            in_ptrs = (ctypes.c_void_p * max(1, len(ins)))(*[a.ctypes.data for a in ins])
            out_ptrs = (ctypes.c_void_p * max(1, len(outs)))(*[a.ctypes.data for a in outs])
            getattr(self.lib, f"call_{symbol}")(in_ptrs, out_ptrs, ctypes.c_int(threads))
            return outs
        d = self.tmpdir / f"call{self.calls}"
        self.calls += 1
        d.mkdir()
        argv = [self.path, symbol, str(threads), str(len(ins))]
        for i, a in enumerate(ins):
            np.require(a, requirements="C").tofile(d / f"in{i}.bin")
            argv.append(d / f"in{i}.bin")
        argv.append(str(len(outs)))
        for j, a in enumerate(outs):
            a.tofile(d / f"out{j}.bin")
            argv.append(d / f"out{j}.bin")
        r = run_program(self.toolchain, argv, timeout=300)
        assert r.returncode == 0, f"{symbol} under {self.toolchain.runner}: exit {r.returncode}\n{r.stderr[-2000:]}"
        for j, a in enumerate(outs):
            a[...] = np.fromfile(d / f"out{j}.bin", dtype=a.dtype).reshape(a.shape)
        return outs


# The driver of a kernel program: the arrays in files; each output file holds the output's initial contents
# and receives the result.
_DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
typedef void (*lpfc_test_kernel)(const void *const *, void *const *, int);
static const struct { const char *name; lpfc_test_kernel fn; } kKernels[] = {TABLE};

static void *read_all(const char *path, long *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc(*size > 0 ? (size_t)*size : 1);
    if (p && fread(p, 1, (size_t)*size, f) != (size_t)*size) { free(p); p = NULL; }
    fclose(f);
    return p;
}

// usage: kernels SYMBOL THREADS NIN IN.bin... NOUT OUT.bin...
int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s SYMBOL THREADS NIN IN... NOUT OUT...\n", argv[0]); return 2; }
    lpfc_test_kernel fn = NULL;
    for (size_t i = 0; i < sizeof kKernels / sizeof kKernels[0]; ++i)
        if (strcmp(kKernels[i].name, argv[1]) == 0) fn = kKernels[i].fn;
    const int threads = atoi(argv[2]), nin = atoi(argv[3]);
    if (!fn || nin < 0 || argc < 5 + nin) { fprintf(stderr, "bad kernel or arguments\n"); return 2; }
    const int nout = atoi(argv[4 + nin]);
    if (nout < 0 || argc != 5 + nin + nout) { fprintf(stderr, "bad argument count\n"); return 2; }
    void *ins[64], *outs[64];
    long in_size, out_sizes[64];
    if (nin > 64 || nout > 64) return 2;
    for (int i = 0; i < nin; ++i)
        if (!(ins[i] = read_all(argv[4 + i], &in_size))) {
            fprintf(stderr, "cannot read %s\n", argv[4 + i]);
            return 1;
        }
    for (int j = 0; j < nout; ++j)
        if (!(outs[j] = read_all(argv[5 + nin + j], &out_sizes[j]))) {
            fprintf(stderr, "cannot read %s\n", argv[5 + nin + j]);
            return 1;
        }
    fn(ins, outs, threads);
    for (int j = 0; j < nout; ++j) {
        FILE *f = fopen(argv[5 + nin + j], "wb");
        if (!f || fwrite(outs[j], 1, (size_t)out_sizes[j], f) != (size_t)out_sizes[j]) {
            fprintf(stderr, "cannot write %s\n", argv[5 + nin + j]);
            return 1;
        }
        fclose(f);
    }
    return 0;
}
"""


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
    path = zoo.export(model, variant)   # cached and atomic: a fresh CI machine exports it, never skips
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
