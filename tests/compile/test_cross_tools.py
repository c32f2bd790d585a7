"""Cross-compilation tooling around lpfc compile: the Android NDK's compiler (and never another one),
clang for arm64-linux only when asked, the test driver and DriverSession (lpfc.load of an arm64 library),
ELF detection, and the errors when qemu or the NDK is missing."""
import os
import shutil
import stat
import subprocess

import numpy as np
import pytest

import lpfc
from lpfc.cli import main
from lpfc.codegen.targets import host_arch
from lpfc.codegen.toolchain import CompileError, compile_shared, find_toolchain
from lpfc.runtime.foreign import DriverSession, driver_path, elf_info, foreign_library
from lpfc.errors import ModelLoadError, ToolchainError
from lpfc.runtime.session import Session

from ..frontend.onnx_builders import mlp, mlp_reference, save
from . import standin_emitter


@pytest.fixture(scope="module")
def mlp_onnx(tmp_path_factory):
    standin_emitter.register()  # answers only for ops no real emitter accepts
    return save(mlp(), tmp_path_factory.mktemp("mlp") / "mlp.onnx")


@pytest.fixture
def no_ndk(monkeypatch):
    for var in ("ANDROID_NDK_HOME", "ANDROID_NDK_ROOT"):
        monkeypatch.delenv(var, raising=False)


def _arm64(compiler=None):
    try:
        tc = find_toolchain("arm64-linux", compiler=compiler)
    except ToolchainError as e:
        pytest.skip(f"NO ARM64 TOOLCHAIN ({compiler or 'gcc'}): {e}")
    if not tc.can_run:
        pytest.skip(f"ARM64 PROGRAMS CANNOT RUN HERE: {tc.run_problem}")
    return tc


def _recording_ndk(root, levels=(29, 33)):
    """A fake NDK: the layout, and compilers that record their argv and fail (but accept the
    preprocess-only probe lpfc uses to check that the compiler knows the target's -mcpu).

    This proves discovery, the command line and the errors only; a wrapper around a host compiler
    would prove nothing about Android builds, which need the real NDK (not installable here).
    """
    prebuilt = root / "toolchains" / "llvm" / "prebuilt" / "linux-x86_64"
    bindir = prebuilt / "bin"
    bindir.mkdir(parents=True)
    log = root / "argv.log"
    for level in levels:
        (prebuilt / "sysroot" / "usr" / "lib" / "aarch64-linux-android" / str(level)).mkdir(parents=True)
        for suffix in ("clang", "clang++"):
            w = bindir / f"aarch64-linux-android{level}-{suffix}"
            w.write_text(f'#!/bin/sh\necho "$0 $*" >> "{log}"\n'
                         f'case " $* " in *" -E "*) exit 0;; esac\necho "fake NDK compiler" >&2\nexit 1\n')
            w.chmod(w.stat().st_mode | stat.S_IXUSR)
    return root, log


@pytest.mark.skipif(os.uname().sysname != "Linux", reason="the fake NDK is the linux-x86_64 layout")
def test_compile_for_android_uses_the_ndk_compiler_and_api_level(mlp_onnx, tmp_path, monkeypatch, capsys, no_ndk):
    ndk, log = _recording_ndk(tmp_path / "ndk")
    with pytest.raises(CompileError) as e:
        lpfc.compile(mlp_onnx, tmp_path / "liba.so", target="arm64-android", ndk=str(ndk), emit_source=tmp_path / "p")
    # The package is written even though the build failed (to debug it), for the NDK's CMake.
    assert (tmp_path / "p" / "src" / "weights.bin").is_file() and (tmp_path / "p" / "include" / "liba.h").is_file()
    assert '"-mcpu=cortex-a77"' in (tmp_path / "p" / "CMakeLists.txt").read_text()
    assert "-DANDROID_PLATFORM=android-29" in (tmp_path / "p" / "README.md").read_text()
    assert e.value.command[0].startswith(str(ndk / "toolchains" / "llvm" / "prebuilt" / "linux-x86_64" / "bin"))
    assert "aarch64-linux-android29-clang" in e.value.command[0] and "fake NDK compiler" in e.value.output
    assert "-mcpu=cortex-a77" in e.value.command and not (tmp_path / "liba.so").exists()
    # The CLI: --ndk and --android-api reach the toolchain; one error line, exit 1.
    assert main(["compile", str(mlp_onnx), "-o", str(tmp_path / "libb.so"), "--target", "arm64-android",
                 "--ndk", str(ndk), "--android-api", "33", "-q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lpfc: error: compiling for arm64-android failed") and "android33-clang" in err
    assert "android33-clang" in log.read_text()
    # ANDROID_NDK_ROOT is read too.
    monkeypatch.setenv("ANDROID_NDK_ROOT", str(ndk))
    assert find_toolchain("arm64-android").cc[0].startswith(str(ndk))


def test_compile_for_android_without_an_ndk_never_falls_back(mlp_onnx, tmp_path, capsys, no_ndk):
    assert main(["compile", str(mlp_onnx), "-o", str(tmp_path / "liba.so"), "--target", "arm64-android"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lpfc: error: the arm64-android target needs the Android NDK")
    for word in ("ANDROID_NDK_HOME", "ANDROID_NDK_ROOT", "--ndk", "developer.android.com/ndk"):
        assert word in err[0]
    assert not (tmp_path / "liba.so").exists()
    assert main(["compile", str(mlp_onnx), "-o", str(tmp_path / "liba.so"), "--target", "arm64-android",
                 "--ndk", str(tmp_path / "nowhere")]) == 1
    assert f"--ndk = {str(tmp_path / 'nowhere')!r} is not a directory" in capsys.readouterr().err
    assert main(["compile", str(mlp_onnx), "-o", str(tmp_path / "liba.so"), "--ndk", str(tmp_path)]) == 1
    assert "only applies to arm64-android" in capsys.readouterr().err


def test_arm64_linux_with_clang_only_when_asked(mlp_onnx, tmp_path, monkeypatch):
    if shutil.which("clang") is None:
        pytest.skip("CLANG NOT INSTALLED: apt-get install clang")
    monkeypatch.setenv("LPFC_ARM64_CC", "clang")
    tc = _arm64()
    assert os.path.basename(tc.cc[0]) == "clang" and tc.cc[1:] == ("--target=aarch64-linux-gnu",)
    monkeypatch.delenv("LPFC_ARM64_CC")
    assert find_toolchain("arm64-linux").cc[0].endswith("aarch64-linux-gnu-gcc")  # the default again
    monkeypatch.setenv("LPFC_ARM64_CC", "clang")
    # (links now that the kernels' threads need no OpenMP runtime: Debian has no aarch64 libomp)
    result = lpfc.compile(mlp_onnx, tmp_path / "libmlp.so", target="arm64-linux")
    assert elf_info(result.library).machine == "aarch64" and elf_info(result.driver).machine == "aarch64"
    x = np.random.default_rng(3).standard_normal((2, 4)).astype(np.float32)
    with lpfc.load(result.library) as sess:
        assert isinstance(sess, DriverSession)
        np.testing.assert_allclose(sess.run({"x": x})["y"], mlp_reference(x), rtol=1e-5, atol=1e-6)


def test_missing_cross_gcc_names_the_clang_option(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("LPFC_ARM64_CC", raising=False)
    with pytest.raises(ToolchainError) as e:
        find_toolchain("arm64-linux")
    assert "apt-get install gcc-aarch64-linux-gnu" in str(e.value) and "LPFC_ARM64_CC=clang" in str(e.value)


@pytest.fixture(scope="module")
def arm64_mlp(mlp_onnx, tmp_path_factory):
    _arm64()
    d = tmp_path_factory.mktemp("arm64-mlp")
    return lpfc.compile(mlp_onnx, d / "libmlp.so", target="arm64-linux")


def test_driver_session_matches_the_reference(arm64_mlp, tmp_path, capsys):
    lib = arm64_mlp.library
    assert arm64_mlp.driver == driver_path(lib) == lib.with_name("libmlp-driver")
    assert foreign_library(lib) is not None or host_arch() == "aarch64"
    sess = lpfc.load(lib, threads=2)
    assert [(i.name, i.shape, i.type) for i in sess.get_inputs()] == [("x", [2, 4], "tensor(float)")]
    assert [(o.name, o.shape) for o in sess.get_outputs()] == [("y", [2, 3])]
    assert sess.threads == 2
    x = np.random.default_rng(7).standard_normal((2, 4)).astype(np.float32)
    np.testing.assert_allclose(sess.run(None, {"x": x})[0], mlp_reference(x), rtol=1e-5, atol=1e-6)
    with pytest.raises(lpfc.errors.InputError, match=r"shape \[3, 4\]"):
        sess.run({"x": np.zeros((3, 4), np.float32)})
    # The driver on its own: a wrong-sized input file is one clear line and exit status 1.
    runner = getattr(sess, "runner", ())
    (tmp_path / "short.bin").write_bytes(bytes(12))
    r = subprocess.run([*runner, str(arm64_mlp.driver), "--lib", str(lib), "--in", str(tmp_path / "short.bin")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.strip() == (f"lpfc-driver: {tmp_path / 'short.bin'} holds 12 bytes, "
                                                      "the input needs 32")
    r = subprocess.run([*runner, str(arm64_mlp.driver), "--lib", str(lib), "--repeat", "3"],
                       capture_output=True, text=True)  # zero-filled inputs
    assert r.returncode == 0 and "ms_per_run" in r.stdout and "y: float32 [2, 3] sum" in r.stdout


def test_driver_is_built_into_the_cache_when_missing(arm64_mlp, tmp_path, monkeypatch):
    if host_arch() == "aarch64":
        pytest.skip("arm64 libraries load natively here")
    lib = tmp_path / "libcopy.so"
    shutil.copy(arm64_mlp.library, lib)  # no libcopy-driver next to it
    monkeypatch.setenv("LPFC_CACHE_DIR", str(tmp_path / "cache"))
    sess = lpfc.load(lib)
    assert sess.driver.parent.parent == tmp_path / "cache" / "driver" and sess.driver.is_file()
    x = np.ones((2, 4), np.float32)
    np.testing.assert_allclose(sess.run({"x": x})["y"], mlp_reference(x), rtol=1e-5, atol=1e-6)


def test_arm64_library_without_qemu_says_what_to_install(arm64_mlp, tmp_path, monkeypatch):
    if host_arch() == "aarch64":
        pytest.skip("arm64 libraries load natively here")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolchainError, match=r"aarch64 library.*apt-get install qemu-user"):
        lpfc.load(arm64_mlp.library)


def test_elf_detection_and_android_libraries(arm64_mlp, tmp_path):
    (tmp_path / "one.c").write_text("int one(void);\nint one(void) { return 1; }\n")
    host_lib = compile_shared("host", [tmp_path / "one.c"], tmp_path / "libnative.so", with_runtime=False)
    assert elf_info(host_lib).machine == host_arch() and foreign_library(host_lib) is None
    assert isinstance(lpfc.load(arm64_mlp.library), DriverSession if host_arch() != "aarch64" else Session)
    # An arm64 library marked as Android (the NDK's crtbegin adds .note.android.ident): refused clearly.
    tc = _arm64()
    src = tmp_path / "note.c"
    src.write_text('__attribute__((section(".note.android.ident"), used)) static const char note[4] = "abc";\n')
    fake = compile_shared(tc, [src], tmp_path / "libandroid.so", with_runtime=False)
    assert elf_info(fake).android
    with pytest.raises(ModelLoadError, match="Android library.*adb push"):
        lpfc.load(fake)
    (tmp_path / "notelf.so").write_bytes(b"not an ELF file at all" * 4)
    with pytest.raises(ModelLoadError):
        lpfc.load(tmp_path / "notelf.so")
