"""Cross compilation: zoo models compiled for arm64-linux (NEON kernels, -mcpu=cortex-a77), run through the
example C host under qemu, match onnxruntime."""
import numpy as np
import pytest

import lpfc
from lpfc.cli import main
from lpfc.codegen.toolchain import compile_executable, find_toolchain, run_program
from lpfc.errors import ToolchainError
from lpfc.testing import zoo

from .test_capi import ROOT


def _arm64_toolchain():
    try:
        tc = find_toolchain("arm64-linux")
    except ToolchainError as e:
        pytest.skip(f"no arm64-linux toolchain: {e}")
    if not tc.can_run:
        pytest.skip(f"arm64-linux programs cannot run here: {tc.run_problem}")
    return tc


def _compile_and_run_under_qemu(model, tmp_path, threads=2):
    """Compiles zoo ``model`` (dynamo20) for arm64-linux, runs it on the sample inputs through the C host
    under qemu; returns (the CompileResult, max abs difference to onnxruntime per output)."""
    tc = _arm64_toolchain()
    path = zoo.export(model, "dynamo20")
    result = lpfc.compile(path, tmp_path / "libmodel.so", target="arm64-linux", emit_source=tmp_path / "src")
    exe = compile_executable(tc, [ROOT / "examples" / "c_host" / "main.c"], tmp_path / "host",
                             include_dirs=[tmp_path], link_flags=[str(result.library), f"-Wl,-rpath,{tmp_path}"])
    feeds = zoo.sample_inputs(model)
    expected = zoo.reference_outputs(path, feeds)
    names = lpfc.import_onnx(path).main.input_names  # the library's input order
    args = [exe, "--threads", str(threads)]
    for n in names:
        feeds[n].tofile(tmp_path / f"{n}.bin")
        args += ["--in", tmp_path / f"{n}.bin"]
    outs = list(expected)
    for j, _ in enumerate(outs):
        args += ["--out", tmp_path / f"out{j}.bin"]
    r = run_program(tc, args, timeout=600)
    assert r.returncode == 0, r.stderr
    diffs = {}
    for j, name in enumerate(outs):
        got = np.fromfile(tmp_path / f"out{j}.bin", np.float32).reshape(expected[name].shape)
        diffs[name] = float(np.abs(got - expected[name]).max())
    return result, diffs


@pytest.mark.zoo
def test_tiny_bert_for_arm64_linux_under_qemu(tmp_path):
    _, diffs = _compile_and_run_under_qemu("tiny-bert", tmp_path)
    assert all(d <= 1e-3 for d in diffs.values()), diffs


@pytest.mark.zoo
def test_minilm_for_arm64_linux_under_qemu(tmp_path):
    """MiniLM with its real weights: every GEMM, attention and row-wise kernel is NEON (the generated source
    says so), two threads under qemu, within 1e-3 of onnxruntime."""
    result, diffs = _compile_and_run_under_qemu("minilm", tmp_path)
    assert all(d <= 1e-3 for d in diffs.values()), diffs
    src = "\n".join(p.read_text() for p in sorted((tmp_path / "src").rglob("*.cc")))
    assert "namespace lpfc_neon_gemm" in src and "V::fma_lane<3>" in src and "#include <arm_neon.h>" in src
    assert "namespace V = lpfc_scalar" not in src and "lpfc_avx2" not in src


def test_compile_refuses_an_unknown_cpu(tmp_path, capsys):
    _arm64_toolchain()
    model = zoo.export("tiny-bert", "dynamo20")
    capsys.readouterr()     # the zoo's own log line
    assert main(["compile", str(model), "-o", str(tmp_path / "libx.so"), "--target", "arm64-linux",
                 "--cpu", "cortex-a1234", "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lpfc: error:") and "does not know the CPU 'cortex-a1234'" in err[0]
    assert not (tmp_path / "libx.so").exists()


@pytest.mark.zoo
def test_tune_for_arm64_falls_back_to_the_heuristic(tmp_path, monkeypatch):
    """Variants are timed natively only: --tune for arm64-linux (qemu here) takes the emitters' defaults."""
    _arm64_toolchain()
    monkeypatch.setenv("LPFC_CACHE_DIR", str(tmp_path / "cache"))
    result = lpfc.compile(zoo.export("tiny-bert", "dynamo20"), tmp_path / "libt.so", target="arm64-linux", tune=True)
    assert result.library.is_file()
    assert any("heuristic" in n and "measured " not in n.split("(")[0] for n in result.notes), result.notes
