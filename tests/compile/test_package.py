"""The CMake source package of ``lpfc compile --emit-source DIR``: it builds with cmake for the host and,
through its toolchain file, for arm64 (run under qemu); it still builds after being moved to a path with
spaces; a consumer project uses it with add_subdirectory (as a static library)."""
import shutil
import subprocess

import numpy as np
import pytest

import lpfc
from lpfc.cli import main
from lpfc.codegen.targets import host_arch
from lpfc.testing import zoo

from ..arm64_support import arm64_toolchain_or_skip
from ..zoo_support import assert_outputs_close
from .test_capi import ROOT

TOLERANCE = 1e-3
pytestmark = pytest.mark.zoo


def _cmake():
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.skip("CMAKE NOT INSTALLED: apt-get install cmake (the package tests build with it)")
    return cmake


def _run(argv, cwd=None, timeout=600):
    r = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"$ {' '.join(map(str, argv))}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def _cmake_build(cmake, src, build, *defs):
    _run([cmake, "-S", src, "-B", build, "-DCMAKE_BUILD_TYPE=Release", *defs])
    _run([cmake, "--build", build, "-j", "2"])


@pytest.fixture(scope="module")
def tiny_bert():
    path = zoo.export("tiny-bert", "dynamo20")
    feeds = zoo.sample_inputs("tiny-bert")
    return path, feeds, zoo.reference_outputs(path, feeds)


def test_package_layout_and_host_build_after_moving(tiny_bert, tmp_path):
    cmake = _cmake()
    path, feeds, expected = tiny_bert
    first = tmp_path / "first place" / "pkg"
    result = lpfc.compile(path, tmp_path / "libtinybert.so", emit_source=first)
    assert result.package == first and result.source_dir == first / "src" and result.driver is None
    for rel in ("CMakeLists.txt", "README.md", "include/libtinybert.h", "src/model.cc", "src/weights.bin",
                "runtime/include/lpfc_runtime.h", "runtime/src/run.c", "runtime/driver/lpfc_driver.c",
                "cmake/aarch64-linux-gnu.cmake"):
        assert (first / rel).is_file(), rel
    assert (first / "include/libtinybert.h").read_text() == result.header.read_text()
    model_cc = (first / "src" / "model.cc").read_text()
    assert '#define LPFC_WEIGHTS_FILE "weights.bin"' in model_cc and str(tmp_path) not in model_cc
    cml = (first / "CMakeLists.txt").read_text()
    assert "-march=native" in cml and "add_library(lpfc::tinybert ALIAS tinybert)" in cml

    moved = tmp_path / "moved  here" / "the package"  # spaces, and not where it was generated
    moved.parent.mkdir()
    shutil.move(str(first), str(moved))
    build = tmp_path / "build dir"
    _cmake_build(cmake, moved, build)
    lib = build / "libtinybert.so"
    assert lib.is_file() and (build / "libtinybert-driver").is_file()
    _run(["ctest", "--output-on-failure"], cwd=build)
    got = lpfc.load(lib, threads=2).run(feeds)
    assert_outputs_close("cmake-built tiny-bert (host)", got, expected, TOLERANCE)
    ours = lpfc.load(result.library, threads=2).run(feeds)
    for name in expected:  # the same sources and flags as lpfc's own build
        np.testing.assert_allclose(got[name], ours[name], rtol=1e-6, atol=1e-6)


def test_package_for_arm64_with_its_toolchain_file_runs_under_qemu(tiny_bert, tmp_path, capsys):
    cmake = _cmake()
    arm64_toolchain_or_skip()
    path, feeds, expected = tiny_bert
    pkg = tmp_path / "arm pkg"
    result = lpfc.compile(path, tmp_path / "libtinybert.so", target="arm64-linux", emit_source=pkg)
    assert result.driver == tmp_path / "libtinybert-driver"
    assert "-mcpu=cortex-a77" in (pkg / "CMakeLists.txt").read_text()
    # Without the toolchain file the package refuses to build its arm64 kernels for x86-64.
    r = subprocess.run([cmake, "-S", pkg, "-B", tmp_path / "wrong"], capture_output=True, text=True)
    if host_arch() != "aarch64":
        assert r.returncode != 0 and "cmake/aarch64-linux-gnu.cmake" in r.stderr
    build = tmp_path / "build arm64"
    _cmake_build(cmake, pkg, build, f"-DCMAKE_TOOLCHAIN_FILE={pkg / 'cmake' / 'aarch64-linux-gnu.cmake'}")
    _run(["ctest", "--output-on-failure"], cwd=build)  # the driver, through CMAKE_CROSSCOMPILING_EMULATOR
    np.savez(tmp_path / "feed.npz", **feeds)
    out = tmp_path / "out.npz"
    assert main(["run", str(build / "libtinybert.so"), "--inputs", str(tmp_path / "feed.npz"),
                 "--outputs", str(out), "--threads", "2"]) == 0
    assert "under qemu-aarch64" in capsys.readouterr().err
    with np.load(out) as z:
        assert_outputs_close("cmake-built tiny-bert (arm64, qemu)", dict(z), expected, TOLERANCE)


def test_add_subdirectory_from_a_consumer_project_static(tiny_bert, tmp_path):
    cmake = _cmake()
    path, feeds, expected = tiny_bert
    pkg = tmp_path / "third_party" / "model pkg"
    result = lpfc.compile(path, tmp_path / "libmodel.so", emit_source=pkg)
    app = tmp_path / "app"
    app.mkdir()
    shutil.copy(ROOT / "examples" / "c_host" / "main.c", app / "main.c")
    (app / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.18)\nproject(consumer C CXX)\n"  # CXX: the model is C++

        "set(MODEL_BUILD_SHARED OFF CACHE BOOL \"\" FORCE)\n"
        f'add_subdirectory("{pkg}" model)\n'
        "add_executable(app main.c)\n"
        "target_link_libraries(app PRIVATE lpfc::model)\n")
    build = tmp_path / "app build"
    _cmake_build(cmake, app, build)
    assert (build / "model" / "libmodel.a").is_file() and not (build / "model" / "libmodel-driver").exists()
    names = [i.name for i in lpfc.load(result.library).get_inputs()]
    args = [build / "app", "--threads", "2"]
    for n in names:
        feeds[n].tofile(tmp_path / f"{n}.bin")
        args += ["--in", tmp_path / f"{n}.bin"]
    for j, _ in enumerate(expected):
        args += ["--out", tmp_path / f"out{j}.bin"]
    _run(args)
    got = {name: np.fromfile(tmp_path / f"out{j}.bin", np.float32).reshape(want.shape)
           for j, (name, want) in enumerate(expected.items())}
    assert_outputs_close("tiny-bert linked statically through add_subdirectory", got, expected, TOLERANCE)
