"""The compiled library through its C API: the example C host (examples/c_host) and misuse from C."""
import shutil
from pathlib import Path

import numpy as np

import lpfc
from lpfc.codegen.toolchain import compile_executable, find_toolchain, run_program

from . import hostile_model

ROOT = Path(__file__).resolve().parents[2]


def _exe(tmp_path, result, source, name):
    tc = find_toolchain("host")
    lib = result.library
    exe = compile_executable(tc, [source], tmp_path / name, include_dirs=[lib.parent],
                             link_flags=[str(lib), f"-Wl,-rpath,{lib.parent}"])
    return tc, exe


def test_c_host_example_matches_python(hostile_libs, tmp_path):
    result = hostile_libs[True]
    tc, exe = _exe(tmp_path, result, ROOT / "examples" / "c_host" / "main.c", "host")
    x = np.random.default_rng(5).standard_normal((2, 8)).astype(np.float32)
    x.tofile(tmp_path / "x.bin")
    r = run_program(tc, [exe, "--threads", "2", "--in", tmp_path / "x.bin", "--out", tmp_path / "y.bin"])
    assert r.returncode == 0, r.stderr
    y = np.fromfile(tmp_path / "y.bin", np.float32).reshape(2, 4)
    np.testing.assert_array_equal(y, lpfc.load(result.library).run({hostile_model.INPUT: x})[hostile_model.OUTPUT])
    assert "output 0: float32 [2, 4] sum" in r.stdout
    r = run_program(tc, [exe, "--in", tmp_path / "y.bin"])  # wrong size: an error, not a crash
    assert r.returncode == 1 and "needs 64" in r.stderr


def test_c_api_misuse(hostile_libs, tmp_path):
    for fusion, result in hostile_libs.items():
        tc, exe = _exe(tmp_path, result, Path(__file__).with_name("capi_misuse.c"), f"misuse{int(fusion)}")
        r = run_program(tc, [exe])
        assert r.returncode == 0, r.stdout + r.stderr
        assert "0 failures" in r.stdout and "shape [3, 8] given" in r.stdout


def test_library_is_self_contained(hostile_libs, tmp_path):
    """The weights are inside the .so (.incbin): a copy elsewhere runs on its own."""
    result = hostile_libs[False]
    lib = tmp_path / "libcopy.so"
    shutil.copy(result.library, lib)
    sess = lpfc.load(lib)
    x = np.ones((2, 8), np.float32)
    np.testing.assert_allclose(sess.run({hostile_model.INPUT: x})[hostile_model.OUTPUT],
                               hostile_model.reference(x), rtol=1e-5, atol=1e-5)
