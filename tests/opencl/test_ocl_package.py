"""``lpfc compile --target opencl --emit-source DIR``: a CMake package like the C++ targets' (model.cc, kernels.cl,
weights.bin, the runtime and the OpenCL host glue), with no path of lpfc's temporary build directory left in it;
it builds with cmake (after being moved) and, where an OpenCL device is found, runs like lpfc's own build."""
import re
import shutil
import subprocess

import numpy as np
import pytest

import lpfc
from lpfc.codegen.toolchain import find_toolchain
from lpfc.errors import ToolchainError

from ..frontend.onnx_builders import save
from .support import opencl_or_skip
from .test_opencl import gemm_model


def _run(argv):
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"$ {' '.join(map(str, argv))}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"


def test_opencl_source_package_builds_with_cmake_and_names_no_temporary_path(tmp_path, monkeypatch):
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.skip("CMAKE NOT INSTALLED: apt-get install cmake (the package test builds with it)")
    try:
        find_toolchain("opencl")
    except ToolchainError as e:
        pytest.skip(f"NO OPENCL TOOLCHAIN (headers / ICD loader): {e}")
    model, feeds, want = gemm_model(layer_norm=True)
    pkg = tmp_path / "pkg"
    res = lpfc.compile(save(model, tmp_path / "g.onnx"), output=None, target="opencl", emit_source=pkg)
    assert res.source_dir == pkg / "src"
    for rel in ("CMakeLists.txt", "README.md", "include/libg.h", "src/model.cc", "src/kernels.cl", "src/weights.bin",
                "runtime/include/lpfc_runtime.h", "runtime/opencl/lpfc_opencl.c", "runtime/opencl/lpfc_opencl.h"):
        assert (pkg / rel).is_file(), rel
    for f in pkg.rglob("*"):      # the build directory lpfc generated in is gone: nothing may point into it
        if f.is_file() and f.suffix in (".cc", ".h", ".txt", ".cl", ".md"):
            assert not re.search(r"lpfc-gen-|/tmp/", f.read_text(errors="replace")), f
    model_cc = (pkg / "src" / "model.cc").read_text()
    assert '#define LPFC_OCL_SOURCE_FILE "kernels.cl"' in model_cc
    assert '#define LPFC_WEIGHTS_FILE "weights.bin"' in model_cc

    moved = tmp_path / "moved here" / "pkg"
    moved.parent.mkdir()
    shutil.move(str(pkg), str(moved))
    build = tmp_path / "build"
    _run([cmake, "-S", moved, "-B", build, "-DCMAKE_BUILD_TYPE=Release"])
    _run([cmake, "--build", build, "-j", "2"])
    lib = build / "libg.so"
    assert lib.is_file()
    opencl_or_skip()              # running needs a device (PoCL here); building did not
    monkeypatch.setenv("LPFC_OPENCL_CACHE_DIR", str(tmp_path / "clcache"))
    with lpfc.load(lib) as s:
        got = s.run(feeds)
    for k in want:
        assert np.max(np.abs(got[k] - want[k])) < 1e-4, k
