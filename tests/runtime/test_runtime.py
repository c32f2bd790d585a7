"""The C runtime built with the tiny hand-written model and exercised by the C driver:
natively (gcc and clang), under AddressSanitizer + UBSan, and for arm64 under qemu (gcc and clang).
Every build uses -Wall -Wextra -Werror -Wpedantic -Wshadow -Wconversion, C99 and C++17."""
import ctypes
import os
import re
import shutil

import pytest

from lpfc.codegen.toolchain import compile_executable, find_toolchain, run_program, sanitizer_problem
from lpfc.errors import ToolchainError

from .conftest import DRIVER, HEADER_CHECK, TINY_MODEL, build_tiny, tiny_defines, write_bias

DRIVER_OK = re.compile(r"driver: (\d+) checks passed\n")


def _check_driver_output(result):
    assert result.returncode == 0, result.stdout + result.stderr
    assert DRIVER_OK.fullmatch(result.stdout), result.stdout
    assert int(DRIVER_OK.fullmatch(result.stdout).group(1)) >= 90
    assert result.stderr == ""  # the runtime itself writes nothing, even on errors


def test_driver_host(tiny_host, host_toolchain):
    _, driver = tiny_host
    _check_driver_output(run_program(host_toolchain, [driver]))


def test_library_exports_only_the_api(tiny_host):
    lib = ctypes.CDLL(str(tiny_host[0]))
    for name in ("lpfc_model_create", "lpfc_model_run", "lpfc_model_last_error", "lpfc_model_create_from_desc",
                 "lpfc_status_name", "tiny_last_threads"):
        assert hasattr(lib, name), name
    # Internal symbols of the runtime and of generated code stay hidden.
    for name in ("lpfc_generated_model", "lpfc_run_fail", "lpfc_append", "lpfc_check_desc", "tiny_bias",
                 "tiny_run"):
        assert not hasattr(lib, name), name


def test_driver_with_clang(tmp_path):
    """clang builds the runtime, the C model and the C++ header check warning-free too."""
    try:
        clang = find_toolchain("host", compiler="clang")
    except ToolchainError as e:
        pytest.skip(f"clang is not available: {e}")
    _, driver = build_tiny(clang, tmp_path, "-clang")
    _check_driver_output(run_program(clang, [driver]))


def test_driver_under_sanitizers(host_toolchain, tmp_path):
    problem = sanitizer_problem(host_toolchain)
    if problem is not None:
        pytest.skip(f"AddressSanitizer/UBSan unavailable with {host_toolchain.cc[0]}: {problem}")
    bias = write_bias(tmp_path)
    # One executable (runtime + model + driver): a sanitized .so would need the runtime preloaded.
    driver = compile_executable(host_toolchain, [TINY_MODEL, HEADER_CHECK, DRIVER], tmp_path / "driver-asan",
                                with_runtime=True, defines=tiny_defines(bias), sanitize=("address", "undefined"))
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    import subprocess
    result = subprocess.run([str(driver)], capture_output=True, text=True, env=env, timeout=60)
    _check_driver_output(result)


def test_driver_arm64_under_qemu(tmp_path):
    try:
        tc = find_toolchain("arm64-linux")
    except ToolchainError as e:
        pytest.skip(f"arm64-linux toolchain missing: {e}")
    if not tc.can_run:
        pytest.skip(f"cannot run arm64 programs here: {tc.run_problem}")
    assert "neon" in tc.features()
    _, driver = build_tiny(tc, tmp_path, "-arm64")
    with open(driver, "rb") as f:
        header = f.read(20)
    assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 183  # EM_AARCH64
    _check_driver_output(run_program(tc, [driver]))


def test_driver_arm64_with_clang(tmp_path):
    """clang --target=aarch64-linux-gnu builds the same code (the NDK is clang too)."""
    if shutil.which("clang") is None:
        pytest.skip("clang is not installed")
    try:
        tc = find_toolchain("arm64-linux", compiler="clang")
    except ToolchainError as e:
        pytest.skip(f"arm64 clang toolchain missing: {e}")
    if not tc.can_run:
        pytest.skip(f"cannot run arm64 programs here: {tc.run_problem}")
    _, driver = build_tiny(tc, tmp_path, "-arm64-clang")
    _check_driver_output(run_program(tc, [driver]))
