"""``lpfc.compile(..., precision="int8")`` / ``lpfc compile --precision int8`` end to end (docs/int8.md): the
library runs the int8 GEMMs (host AVX2, arm64 sdot under qemu) and matches the interpreter of the same
quantized module, and bad precisions are one clear error."""
from __future__ import annotations

import numpy as np
import pytest

import lpfc
from lpfc.cli import main
from lpfc.errors import ToolchainError
from lpfc.interp import run_module
from lpfc.passes import Pipeline
from lpfc.testing import zoo

from ..arm64_support import arm64_toolchain_or_skip


def _interpreted_int8(path, feeds):
    m = lpfc.import_onnx(path)
    Pipeline.parse("default,quantize-int8").run(m)
    return run_module(m, feeds)


def _check(result, path, feeds, got):
    want = _interpreted_int8(path, feeds)
    fp32 = zoo.reference_outputs(path, feeds)
    for name, w in want.items():
        g = np.asarray(got[name])
        np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-3, err_msg=name)
        ref = np.asarray(fp32[name])
        # int8 is not fp32, but close to it (tiny-bert's random weights: within a few percent of the range)
        assert np.abs(g - ref).max() < 0.1 * max(1.0, np.abs(ref).max()), name


@pytest.mark.zoo
def test_int8_library_matches_the_interpreter_on_the_host(tmp_path):
    path = zoo.export("tiny-bert", "dynamo20")
    feeds = zoo.sample_inputs("tiny-bert")
    r8 = lpfc.compile(path, tmp_path / "lib8.so", precision="int8")
    r32 = lpfc.compile(path, tmp_path / "lib32.so")
    assert "quantize-int8" in r8.pipeline and "quantize-int8" not in r32.pipeline
    assert r8.weights_bytes < r32.weights_bytes
    sess = lpfc.load(str(r8.library), threads=2)
    _check(r8, path, feeds, sess.run(feeds))


@pytest.mark.zoo
@pytest.mark.slow
def test_int8_library_under_qemu_uses_sdot(tmp_path, capsys):
    arm64_toolchain_or_skip()
    path = zoo.export("tiny-bert", "dynamo20")
    feeds = zoo.sample_inputs("tiny-bert")
    src = tmp_path / "src"
    r = lpfc.compile(path, tmp_path / "libmodel.so", target="arm64-linux", precision="int8", emit_source=src)
    assert "lpfc_i8_sdot::run" in "".join(p.read_text() for p in src.rglob("kernels_*.cc"))
    np.savez(tmp_path / "feed.npz", **feeds)
    out = tmp_path / "out.npz"
    assert main(["run", str(r.library), "--inputs", str(tmp_path / "feed.npz"), "--outputs", str(out),
                 "--threads", "2"]) == 0
    with np.load(out) as z:
        _check(r, path, feeds, dict(z))


def test_an_unknown_precision_is_refused_before_any_work(tmp_path):
    with pytest.raises(lpfc.InputError, match="precision 'int4' is not one of fp32, fp16, int8"):
        lpfc.compile(tmp_path / "missing.onnx", tmp_path / "lib.so", precision="int4")
    assert not list(tmp_path.iterdir())


def test_the_cli_offers_fp32_and_int8(capsys):
    with pytest.raises(SystemExit) as e:
        main(["compile", "m.onnx", "-o", "x.so", "--precision", "int4"])
    assert e.value.code == 2
    assert "invalid choice: 'int4'" in capsys.readouterr().err


def test_int8_on_opencl_is_refused(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"")
    try:
        lpfc.compile(path, tmp_path / "lib.so", target="opencl", precision="int8")
    except lpfc.UnsupportedError as e:
        assert "precision int8" in str(e) and "opencl" in str(e)
    except ToolchainError as e:
        pytest.skip(f"no opencl toolchain here: {e}")
    else:
        raise AssertionError("compiled int8 for opencl")


@pytest.mark.zoo
@pytest.mark.parametrize("cpu, kind", [("skylake-avx512", "avx2"), ("icelake-server", "vnni512")])
def test_int8_builds_for_avx512_machines(tmp_path, cpu, kind):
    """Built (-Werror), not run: this machine has no AVX-512. Skylake-X has no VNNI: the AVX2 int8 kernel with
    AVX-512 epilogues; Ice Lake has it: vpdpbusd."""
    src = tmp_path / "src"
    r = lpfc.compile(zoo.export("tiny-bert", "dynamo20"), tmp_path / "lib.so", cpu=cpu, precision="int8",
                     emit_source=src)
    assert r.library.is_file()
    code = "".join(p.read_text() for p in src.rglob("kernels_*.cc"))
    assert f"lpfc_i8_{kind}::run" in code and "lpfc_avx512" in code
