"""What lpfc compile writes, and what it never touches (docs/compile.md, "Files lpfc writes"):
--emit-source's manifest, outputs renamed into place only after everything succeeded, -o's directory,
a header lpfc did not generate, sources without -o or a compiler."""
import json
import os

import numpy as np
import pytest

import lpfc
from lpfc.cli import main
from lpfc.codegen.package import MANIFEST

from ..frontend.onnx_builders import mlp, mlp_reference, save


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save(mlp(), tmp_path_factory.mktemp("outputs-model") / "mlp.onnx")


def snapshot(root):
    """Every file under root with its bytes (and every directory): to prove nothing was touched."""
    out = {}
    for d, dirs, files in os.walk(root):
        for name in dirs:
            out[os.path.relpath(os.path.join(d, name), root)] = None
        for name in files:
            p = os.path.join(d, name)
            with open(p, "rb") as f:
                out[os.path.relpath(p, root)] = f.read()
    return out


def one_error(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lpfc: error: "), err
    return err[0]


def user_checkout(root):
    """A directory that looks like a user's project: what the old --emit-source deleted or overwrote."""
    for rel, text in {"CMakeLists.txt": "project(mine)\n", "README.md": "# mine\n",
                      "runtime/include/mine.h": "int mine;\n", "runtime/src/mine.c": "int m;\n",
                      "src/kernels_0.cc": "// mine\n", "include/libmlp.h": "// mine\n"}.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def test_emit_source_refuses_a_users_directory(model, tmp_path, capsys):
    d = user_checkout(tmp_path / "project")
    before = snapshot(d)
    assert main(["compile", str(model), "-o", str(tmp_path / "libmlp.so"), "--emit-source", str(d), "-q"]) == 1
    line = one_error(capsys)
    assert str(d) in line and "not an lpfc source package" in line
    assert snapshot(d) == before and not (tmp_path / "libmlp.so").exists()


def test_emit_source_dot_inside_a_checkout_touches_nothing(model, tmp_path, capsys, monkeypatch):
    d = user_checkout(tmp_path / "checkout")
    before = snapshot(tmp_path)
    monkeypatch.chdir(d)
    assert main(["compile", str(model), "--emit-source", ".", "-q"]) == 1
    assert "'.'" in one_error(capsys)
    assert snapshot(tmp_path) == before


def test_sources_only_without_o_and_reemit_replaces_only_lpfcs_files(model, tmp_path, capsys):
    pkg = tmp_path / "pkg"
    result = lpfc.compile(model, output=None, emit_source=pkg)          # the Python API, no library
    assert result.library is None and result.package == pkg and (pkg / "src" / "model.cc").is_file()
    assert not list(tmp_path.glob("*.so")) and not list(tmp_path.glob("*.h"))
    manifest = json.loads((pkg / MANIFEST).read_text())
    listed = set(manifest["files"])
    on_disk = {p.relative_to(pkg).as_posix() for p in pkg.rglob("*") if p.is_file()} - {MANIFEST}
    assert listed == on_disk and "CMakeLists.txt" in listed and "src/weights.bin" in listed
    # A user's file added to the package, and a stale file of an earlier, bigger model (manifest-listed).
    (pkg / "NOTES.txt").write_text("mine\n")
    (pkg / "src" / "kernels_9.cc").write_text("// an old kernel file lpfc wrote\n")
    manifest["files"].append("src/kernels_9.cc")
    (pkg / MANIFEST).write_text(json.dumps(manifest))
    assert main(["compile", str(model), "--emit-source", str(pkg), "-q"]) == 0   # the CLI, no -o
    assert (pkg / "NOTES.txt").read_text() == "mine\n"                          # kept
    assert not (pkg / "src" / "kernels_9.cc").exists()                          # lpfc's own stale file: removed
    assert set(json.loads((pkg / MANIFEST).read_text())["files"]) == listed
    assert not [p for p in pkg.iterdir() if p.name.startswith(".lpfc")]        # no staging left


def test_a_users_file_in_the_way_of_a_reemit_stops_everything(model, tmp_path, capsys):
    pkg = tmp_path / "pkg"
    lpfc.compile(model, emit_source=pkg)
    manifest = json.loads((pkg / MANIFEST).read_text())
    manifest["files"].remove("README.md")             # as if the user wrote README.md, not lpfc
    (pkg / MANIFEST).write_text(json.dumps(manifest))
    (pkg / "README.md").write_text("my notes\n")
    before = snapshot(pkg)
    lib = tmp_path / "libmlp.so"
    assert main(["compile", str(model), "-o", str(lib), "--emit-source", str(pkg), "-q"]) == 1
    line = one_error(capsys)
    assert str(pkg / "README.md") in line and "was not written by lpfc" in line
    assert snapshot(pkg) == before                      # nothing moved, not even the files lpfc owns
    assert sorted(os.listdir(tmp_path)) == ["pkg"]      # and no library: outputs are published together


def test_a_manifest_cannot_make_lpfc_delete_outside_the_package(model, tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / MANIFEST).write_text(json.dumps({"kind": "lpfc source package", "files": ["../victim.txt"]}))
    assert main(["compile", str(model), "--emit-source", str(pkg), "-q"]) == 1
    assert "not an lpfc source package" in one_error(capsys)
    assert victim.read_text() == "precious\n"


def test_android_sources_without_an_ndk(model, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("ANDROID_NDK_HOME", raising=False)
    monkeypatch.delenv("ANDROID_NDK_ROOT", raising=False)
    pkg = tmp_path / "android pkg"
    assert main(["compile", str(model), "--target", "arm64-android", "--emit-source", str(pkg), "-q"]) == 0
    cmake = (pkg / "CMakeLists.txt").read_text()
    assert '"-mcpu=cortex-a77"' in cmake and (pkg / "src" / "weights.bin").is_file()
    assert (pkg / "include" / "libmlp.h").is_file() and not list(tmp_path.glob("*.so"))
    # No compiler to ask, but every arm64 CPU has NEON: the package has the NEON kernels, not scalar ones.
    kernels = "".join(f.read_text() for f in (pkg / "src").glob("*.cc"))
    assert "lpfc_neon" in kernels, "a sources-only arm64 package fell back to the scalar kernels"
    # A library still needs the NDK: one error, nothing written.
    assert main(["compile", str(model), "--target", "arm64-android", "-o", str(tmp_path / "libmlp.so"),
                 "--emit-source", str(tmp_path / "p2"), "-q"]) == 1
    assert "needs the Android NDK" in one_error(capsys)
    assert not (tmp_path / "p2").exists() and not (tmp_path / "libmlp.so").exists()


def test_o_does_not_create_directories(model, tmp_path, capsys):
    assert main(["compile", str(model), "-o", str(tmp_path / "no" / "such" / "libmlp.so"), "-q"]) == 1
    line = one_error(capsys)
    assert str(tmp_path / "no" / "such") in line and "does not exist" in line
    assert not (tmp_path / "no").exists()


def test_compile_needs_an_output_or_sources(model, capsys):
    assert main(["compile", str(model), "-q"]) == 1
    assert "-o" in one_error(capsys)


def test_a_header_lpfc_did_not_write_is_not_overwritten(model, tmp_path, capsys):
    lib, header = tmp_path / "libmlp.so", tmp_path / "libmlp.h"
    header.write_text("/* my own header */\n")
    assert main(["compile", str(model), "-o", str(lib), "-q"]) == 1
    line = one_error(capsys)
    assert str(header) in line and "--force" in line
    assert header.read_text() == "/* my own header */\n" and not lib.exists()
    assert sorted(os.listdir(tmp_path)) == ["libmlp.h"]
    # --force overwrites it; then lpfc's own header is replaced silently on the next compile.
    assert main(["compile", str(model), "-o", str(lib), "-q", "--force"]) == 0
    assert "Generated by lpfc" in header.read_text() and lib.is_file()
    assert main(["compile", str(model), "-o", str(lib), "-q"]) == 0
    assert sorted(os.listdir(tmp_path)) == ["libmlp.h", "libmlp.so"]     # no staging left
    x = np.random.default_rng(2).standard_normal((2, 4)).astype(np.float32)
    with lpfc.load(lib) as s:
        np.testing.assert_allclose(s.run({"x": x})["y"], mlp_reference(x), rtol=1e-5, atol=1e-6)


def test_a_write_error_names_the_users_path_not_the_staging_directory(model, tmp_path, monkeypatch, capsys):
    import lpfc.codegen.package as package

    def full_disk(dest, **kw):
        raise OSError(28, "No space left on device", str(dest / "src" / "weights.bin"))

    monkeypatch.setattr(package, "write_package", full_disk)
    pkg = tmp_path / "pkg"
    assert main(["compile", str(model), "--emit-source", str(pkg), "-q"]) == 1
    line = one_error(capsys)
    assert repr(str(pkg / "src" / "weights.bin")) in line and ".lpfc-staging" not in line
    assert not pkg.exists()        # lpfc created it for the package and removes it again


def test_other_commands_writing_into_a_missing_directory_fail_with_one_line(model, tmp_path, capsys):
    assert main(["import", str(model), "-o", str(tmp_path / "missing" / "m.mlir"), "-q"]) == 1
    line = one_error(capsys)
    assert str(tmp_path / "missing" / "m.mlir") in line and not (tmp_path / "missing").exists()


def failing_compiler(tmp_path):
    """A gcc whose g++ fails on the generated model.cc as a real compile error would (``--compiler``
    names the C compiler; lpfc takes the C++ one beside it)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gcc").write_text('#!/bin/sh\nexec gcc "$@"\n')
    (bin_dir / "g++").write_text('#!/bin/sh\nfor a in "$@"; do case "$a" in */model.cc) '
                                 'echo "$a:1:1: error: simulated failure" >&2; exit 1;; esac; done\n'
                                 'exec g++ "$@"\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    return str(bin_dir / "gcc")


def test_a_failed_build_names_the_users_paths_not_lpfcs_temporary_ones(model, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    cc = failing_compiler(tmp_path)
    assert main(["compile", str(model), "-o", str(out / "libmlp.so"), "--compiler", cc, "-q"]) == 1
    message = capsys.readouterr().err    # the compiler's command line and output follow the first line
    assert message.startswith("lpfc: error: compiling for host failed"), message
    assert "<generated>/model.cc:1:1: error: simulated failure" in message, message
    assert "lpfc-gen-" not in message and "lpfc-build-" not in message, message
    assert "--emit-source DIR keeps them" in message and "-o <build>/0_model.o" in message
    assert os.listdir(out) == []
    # With a package the message points into it, where the failing source now is.
    pkg = tmp_path / "pkg"
    assert main(["compile", str(model), "-o", str(out / "libmlp.so"), "--compiler", cc,
                 "--emit-source", str(pkg), "-q"]) == 1
    message = capsys.readouterr().err
    assert f"{pkg / 'src'}/model.cc:1:1: error: simulated failure" in message, message
    assert "lpfc-gen-" not in message and "lpfc-build-" not in message, message
    assert (pkg / "src" / "model.cc").is_file() and os.listdir(out) == []
