"""The C++ emitters' kernels under AddressSanitizer + UndefinedBehaviorSanitizer.

The kernels are built with ``sanitize=("address", "undefined")`` and run through ctypes in a
child Python process that preloads libasan (leak checking off: CPython itself never frees
everything).  Any out-of-bounds access or UB aborts the child (``-fno-sanitize-recover=all``).
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lpfc.codegen.toolchain import find_toolchain, sanitizer_problem

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent("""
    import ctypes, sys
    from pathlib import Path
    import numpy as np
    sys.path.insert(0, {root!r})
    from lpfc.codegen.kernel_source import emitter_for
    from lpfc.codegen.toolchain import compile_shared
    from tests.codegen.cpp_harness import HOST, KernelLib, assert_close, fused_blocks, make_inputs, reference
    from tests.codegen import test_cpp_gemm, test_cpp_rowwise
    ops = []
    if {zoo!r}:
        for model, variant in [("tiny-gpt2", "ts14"), ("tiny-bert", "dynamo20")]:
            ops += [op for op in fused_blocks(model, variant) if emitter_for(op, HOST).name.startswith("cpp-")]
    ops += list(test_cpp_gemm.CASES.values()) + list(test_cpp_rowwise.CASES.values())
    kernels = []
    for i, op in enumerate(ops):
        e = emitter_for(op, HOST)
        kernels.append((op, e.emit(op, HOST, f"s{{i}}", {{"kc_max": 8, "nc_target": 16}} if e.name == "cpp-gemm" else None)))
    out = Path({tmp!r})
    lib = KernelLib(kernels, out, compile=False)
    (out / "k.cc").write_text(lib.source)
    so = compile_shared(HOST, [out / "k.cc"], out / "libk.so", with_runtime=False,
                        sanitize=("address", "undefined"))
    lib.lib = ctypes.CDLL(str(so))
    rng = np.random.default_rng(12)
    for op, ks in kernels:
        ins = make_inputs(op, rng)
        for threads in (1, 2):
            for g, w in zip(lib.run(op, ks, ins, threads), reference(op, ins)):
                assert_close(g, w, what=ks.symbol)
    print("sanitized kernels ok:", len(kernels))
""")


def test_kernels_run_clean_under_asan_and_ubsan(tmp_path):
    tc = find_toolchain("host")
    problem = sanitizer_problem(tc)
    if problem:
        pytest.skip(problem)
    libasan = subprocess.run([*tc.cc, "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    if not libasan or not Path(libasan).exists():
        pytest.skip("libasan.so not found")
    from lpfc.testing import zoo
    have_zoo = all(Path(zoo.export(m, v)).exists() for m, v in [("tiny-gpt2", "ts14"), ("tiny-bert", "dynamo20")])
    env = dict(os.environ, LD_PRELOAD=libasan, ASAN_OPTIONS="detect_leaks=0:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1")
    r = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), tmp=str(tmp_path), zoo=have_zoo)],
                       capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
    assert "sanitized kernels ok" in r.stdout
