"""Targets and toolchains: what is found, the errors when something is missing (never another
compiler instead), building with warnings as errors, and the OpenCL and sanitizer probes."""
import os
import shutil
import stat
import subprocess

import pytest

from lpfc.codegen import targets as targets_mod
from lpfc.codegen.targets import DEFAULT_ANDROID_API, get_target, host_arch
from lpfc.codegen.toolchain import (CompileError, compile_executable, compile_shared, find_toolchain,
                                    format_targets, list_targets, opencl_devices, run_program, runtime_sources,
                                    sanitizer_problem)
from lpfc.errors import LpfcError, ToolchainError


@pytest.fixture
def no_ndk(monkeypatch):
    for var in ("ANDROID_NDK_HOME", "ANDROID_NDK_ROOT"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def empty_path(monkeypatch, tmp_path):
    """PATH with nothing on it: every compiler lookup fails."""
    bare = tmp_path / "bin"
    bare.mkdir()
    monkeypatch.setenv("PATH", str(bare))
    return bare


# -- targets ------------------------------------------------------------------------------------

def test_targets():
    assert targets_mod.TARGET_NAMES == ("host", "arm64-linux", "arm64-android", "opencl")
    assert get_target("arm64-linux").triple == "aarch64-linux-gnu"
    android = get_target("arm64-android")
    assert android.api_level == DEFAULT_ANDROID_API and android.triple == "aarch64-linux-android29"
    assert get_target("arm64-android", api_level=33).triple == "aarch64-linux-android33"
    assert get_target(android, api_level=31).triple == "aarch64-linux-android31"
    assert get_target("host").arch == host_arch() and not get_target("host").is_cross
    assert get_target("opencl").opencl


def test_cpu_choice():
    """arm64 targets generate code for -mcpu=cortex-a77 unless cpu= names another; x86 hosts take -march."""
    assert get_target("arm64-linux").cpu_flags == ("-mcpu=cortex-a77",)
    assert get_target("arm64-android").cpu_flags == ("-mcpu=cortex-a77",)
    assert "-mcpu=cortex-a77" in get_target("arm64-linux").description
    a55 = get_target("arm64-android", api_level=31, cpu="cortex-a55")
    assert a55.cpu_flags == ("-mcpu=cortex-a55",) and a55.api_level == 31 and a55.cpu == "cortex-a55"
    assert get_target(a55, api_level=33).cpu_flags == ("-mcpu=cortex-a55",)   # a Target keeps its CPU
    assert get_target(a55, cpu="cortex-x1").api_level == 31
    if host_arch() == "x86_64":
        assert get_target("host").cpu_flags == ("-march=native",)
        assert get_target("host", cpu="haswell").cpu_flags == ("-march=haswell",)
    with pytest.raises(ToolchainError, match="bad CPU name"):
        get_target("arm64-linux", cpu="cortex-a77 -O0")


def test_the_compiler_must_know_the_cpu():
    if shutil.which("aarch64-linux-gnu-gcc") is None:
        pytest.skip("needs aarch64-linux-gnu-gcc")
    tc = find_toolchain("arm64-linux")
    assert tc.cflags[-1] == "-mcpu=cortex-a77"
    assert {"neon", "fma", "fp16", "dotprod"} <= tc.features()       # cortex-a77 implies armv8.2-a+fp16+dotprod
    a53 = find_toolchain("arm64-linux", cpu="cortex-a53")
    assert "neon" in a53.features() and "dotprod" not in a53.features()
    with pytest.raises(ToolchainError, match="does not know the CPU 'cortex-a1234'") as e:
        find_toolchain("arm64-linux", cpu="cortex-a1234")
    assert isinstance(e.value, LpfcError) and "cortex-a77" in str(e.value)   # the hint lists what it knows
    with pytest.raises(ToolchainError, match="does not know the CPU 'no-such-cpu'"):
        find_toolchain("host", cpu="no-such-cpu")


@pytest.mark.parametrize("kwargs, fragment", [
    ({"name": "riscv"}, "unknown target 'riscv'"),
    ({"name": "arm64-android", "api_level": 19}, "API level 19 is not supported"),
    ({"name": "arm64-android", "api_level": "29"}, "API level '29'"),
    ({"name": "host", "api_level": 29}, "only applies to arm64-android"),
])
def test_bad_targets(kwargs, fragment):
    with pytest.raises(ToolchainError, match=fragment.replace("(", r"\(")) as e:
        get_target(**kwargs)
    assert isinstance(e.value, LpfcError)


# -- finding toolchains -------------------------------------------------------------------------

def test_host_toolchain():
    tc = find_toolchain("host")
    assert os.path.basename(tc.cc[0]) == "gcc" and os.path.basename(tc.cxx[0]) == "g++"
    assert "-O3" in tc.cflags and tc.runner == () and tc.can_run
    feats = tc.features()
    if host_arch() == "x86_64":
        assert "sse4.2" in feats or not feats  # some x86-64 baseline is there
        flags = open("/proc/cpuinfo").read()
        # The compiler's -march=native view agrees with the CPU's flags.
        assert ("avx512f" in feats) == (" avx512f" in flags)
        assert ("avx2" in feats) == (" avx2" in flags)
    elif host_arch() == "aarch64":
        assert "neon" in feats


def test_missing_host_compiler_names_what_to_install(empty_path, monkeypatch):
    monkeypatch.delenv("LPFC_CC", raising=False)
    with pytest.raises(ToolchainError, match="'gcc' was not found") as e:
        find_toolchain("host")
    assert "apt-get install gcc g++" in str(e.value) and "LPFC_CC" in str(e.value)


def test_lpfc_cc_is_used_and_never_replaced(monkeypatch):
    monkeypatch.setenv("LPFC_CC", "no-such-cc-7")
    with pytest.raises(ToolchainError, match="'no-such-cc-7' was not found") as e:
        find_toolchain("host")
    assert "LPFC_CC" in str(e.value)
    if shutil.which("clang"):
        monkeypatch.setenv("LPFC_CC", "clang")
        tc = find_toolchain("host")
        assert os.path.basename(tc.cc[0]) == "clang" and os.path.basename(tc.cxx[0]) == "clang++"


def test_missing_arm64_cross_compiler(empty_path):
    with pytest.raises(ToolchainError, match="aarch64-linux-gnu-gcc") as e:
        find_toolchain("arm64-linux")
    assert "apt-get install gcc-aarch64-linux-gnu g++-aarch64-linux-gnu" in str(e.value)
    if host_arch() != "aarch64":
        assert "qemu-user" in str(e.value)


def test_arm64_without_qemu_builds_but_cannot_run(monkeypatch, tmp_path):
    gcc = shutil.which("aarch64-linux-gnu-gcc")
    if gcc is None or host_arch() == "aarch64":
        pytest.skip("needs aarch64-linux-gnu-gcc on a non-arm64 host")
    # A PATH with the cross compilers but no qemu.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("aarch64-linux-gnu-gcc", "aarch64-linux-gnu-g++"):
        (bindir / tool).symlink_to(shutil.which(tool))
    monkeypatch.setenv("PATH", str(bindir))
    tc = find_toolchain("arm64-linux")
    assert tc.runner is None and "apt-get install qemu-user" in tc.run_problem
    with pytest.raises(ToolchainError, match="cannot run arm64-linux programs"):
        tc.run_argv(["./a.out"])


def test_android_without_ndk_says_what_to_set(no_ndk):
    with pytest.raises(ToolchainError, match="needs the Android NDK") as e:
        find_toolchain("arm64-android")
    assert "ANDROID_NDK_HOME" in str(e.value) and "ANDROID_NDK_ROOT" in str(e.value)


def test_android_ndk_not_a_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("ANDROID_NDK_HOME", str(tmp_path / "nowhere"))
    with pytest.raises(ToolchainError, match="ANDROID_NDK_HOME = .* is not a directory"):
        find_toolchain("arm64-android")
    monkeypatch.setenv("ANDROID_NDK_HOME", str(tmp_path))
    with pytest.raises(ToolchainError, match="is not an Android NDK"):
        find_toolchain("arm64-android")


def test_android_refuses_another_compiler(monkeypatch, tmp_path):
    monkeypatch.setenv("ANDROID_NDK_HOME", str(tmp_path))
    with pytest.raises(ToolchainError, match="always builds with the Android NDK's clang"):
        find_toolchain("arm64-android", compiler="clang")


def _fake_ndk(root, levels, clang):
    """An NDK's layout: bin/aarch64-linux-android<API>-clang(++) wrappers around a real clang."""
    prebuilt = root / "toolchains" / "llvm" / "prebuilt" / "linux-x86_64"
    bindir = prebuilt / "bin"
    bindir.mkdir(parents=True)
    for level in levels:
        (prebuilt / "sysroot" / "usr" / "lib" / "aarch64-linux-android" / str(level)).mkdir(parents=True)
        for suffix, driver in (("clang", clang), ("clang++", clang + "++")):
            w = bindir / f"aarch64-linux-android{level}-{suffix}"
            w.write_text(f'#!/bin/sh\nexec {driver} --target=aarch64-linux-android{level} "$@"\n')
            w.chmod(w.stat().st_mode | stat.S_IXUSR)
    return root


@pytest.mark.skipif(os.uname().sysname != "Linux", reason="the fake NDK is the linux-x86_64 layout")
def test_android_ndk_discovery(monkeypatch, tmp_path):
    clang = shutil.which("clang")
    if clang is None:
        pytest.skip("clang is not installed (the fake NDK wraps it)")
    ndk = _fake_ndk(tmp_path / "ndk", [24, 29, 33], clang)
    monkeypatch.setenv("ANDROID_NDK_HOME", str(ndk))
    tc = find_toolchain("arm64-android")
    assert tc.cc[0].endswith("bin/aarch64-linux-android29-clang")
    assert tc.cxx[0].endswith("bin/aarch64-linux-android29-clang++")
    assert tc.runner is None and "phone" in tc.run_problem
    assert "-Wl,-z,max-page-size=16384" in tc.ldflags
    assert {"neon", "fp16", "dotprod"} <= tc.features()
    assert find_toolchain("arm64-android", api_level=33).cc[0].endswith("android33-clang")
    with pytest.raises(ToolchainError, match="does not support Android API level 35.*24 to 33"):
        find_toolchain("arm64-android", api_level=35)
    # ndk= wins over the environment; ANDROID_NDK_ROOT is read when ANDROID_NDK_HOME is unset.
    monkeypatch.setenv("ANDROID_NDK_HOME", str(tmp_path / "elsewhere"))
    assert find_toolchain("arm64-android", ndk=str(ndk)).cc[0].startswith(str(ndk))
    monkeypatch.delenv("ANDROID_NDK_HOME")
    monkeypatch.setenv("ANDROID_NDK_ROOT", str(ndk))
    assert find_toolchain("arm64-android").cc[0].startswith(str(ndk))


def test_list_targets_reports_everything(no_ndk):
    reports = list_targets(probe_devices=False)
    assert [r.name for r in reports] == ["host", "arm64-linux", "arm64-android", "opencl"]
    by_name = {r.name: r for r in reports}
    assert by_name["host"].available and by_name["host"].run_note == "natively"
    assert not by_name["arm64-android"].available and "ANDROID_NDK_HOME" in by_name["arm64-android"].problem
    text = format_targets(reports)
    assert "arm64-android  unavailable" in text and "host           available" in text


# -- building -----------------------------------------------------------------------------------

def test_compile_shared_with_runtime_and_cxx(tmp_path):
    src = tmp_path / "model.cc"
    src.write_text('#include "lpfc_model_desc.h"\n'
                   "namespace { lpfc_status run(const lpfc_run_args *) { return LPFC_OK; }\n"
                   "const lpfc_model_desc d = {LPFC_ABI_VERSION, \"m\", 0, nullptr, 0, nullptr, 0, nullptr, 0, run, nullptr}; }\n"
                   "const lpfc_model_desc *lpfc_generated_model(void) { return &d; }\n")
    lib = compile_shared("host", [src], tmp_path / "out" / "libm.so")
    assert lib.is_file() and lib.read_bytes()[:4] == b"\x7fELF"
    assert len(runtime_sources()) >= 3
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["libm.so"]  # no leftovers


def test_warnings_are_errors_with_the_compiler_output(tmp_path):
    src = tmp_path / "warn.c"
    src.write_text("int f(int x) { int unused; return x; }\n")
    with pytest.raises(CompileError) as e:
        compile_shared("host", [src], tmp_path / "libw.so", with_runtime=False)
    assert "unused" in e.value.output and "-Werror" in e.value.command
    assert "warn.c" in str(e.value) and "$ " in str(e.value)
    assert not (tmp_path / "libw.so").exists()
    compile_shared("host", [src], tmp_path / "libw.so", with_runtime=False, werror=False)


def test_missing_definition_is_a_link_error(tmp_path):
    src = tmp_path / "undef.c"
    src.write_text("int g(void); int f(void) { return g(); }\n")
    with pytest.raises(CompileError, match="linking libu.so for host failed"):
        compile_shared("host", [src], tmp_path / "libu.so", with_runtime=False)


def test_bad_sources_are_refused(tmp_path):
    with pytest.raises(ToolchainError, match="does not exist"):
        compile_shared("host", [tmp_path / "nope.c"], tmp_path / "x.so")
    (tmp_path / "a.f90").write_text("")
    with pytest.raises(ToolchainError, match="unknown source type"):
        compile_shared("host", [tmp_path / "a.f90"], tmp_path / "x.so")
    (tmp_path / "ok.c").write_text("int f(void) { return 0; }\n")
    with pytest.raises(ToolchainError, match="bad preprocessor macro name"):
        compile_shared("host", [tmp_path / "ok.c"], tmp_path / "x.so", defines={"A B": "1"})


def test_sanitizers_catch_a_heap_overflow(tmp_path):
    tc = find_toolchain("host")
    problem = sanitizer_problem(tc)
    if problem is not None:
        pytest.skip(f"AddressSanitizer unavailable: {problem}")
    src = tmp_path / "overflow.c"
    src.write_text("#include <stdlib.h>\nint main(int argc, char **argv) { (void)argv;\n"
                   "  int *p = malloc(4 * sizeof *p); p[argc + 3] = 1; int r = p[0]; free(p); return r & 0; }\n")
    exe = compile_executable(tc, [src], tmp_path / "overflow", sanitize=("address", "undefined"))
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and ("heap-buffer-overflow" in r.stderr or "runtime error" in r.stderr)


def test_opencl_target_finds_a_device():
    try:
        tc = find_toolchain("opencl")
    except ToolchainError as e:
        pytest.skip(f"OpenCL development files missing: {e}")
    assert tc.opencl.header.endswith("CL/cl.h") and "-lOpenCL" in tc.ldflags
    if not tc.can_run:
        pytest.skip(f"no OpenCL driver: {tc.run_problem}")
    devices = opencl_devices(tc)
    assert devices, "an OpenCL ICD is installed but no device was found"
    assert all(version.startswith("OpenCL ") for _, _, version in devices)


def test_run_program_natively(tmp_path):
    tc = find_toolchain("host")
    src = tmp_path / "hello.c"
    src.write_text('#include <stdio.h>\nint main(void) { puts("hello"); return 3; }\n')
    exe = compile_executable(tc, [src], tmp_path / "hello")
    r = run_program(tc, [exe])
    assert (r.returncode, r.stdout) == (3, "hello\n")
