"""lpfc compile / lpfc run libx.so / lpfc targets, and their errors (one line, exit 1)."""

import numpy as np
import pytest

from lpfc.cli import main

from ..compile import standin_emitter
from ..frontend.onnx_builders import mlp, mlp_reference, save


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    standin_emitter.register()  # answers only for ops no real emitter accepts
    d = tmp_path_factory.mktemp("cli-compile")
    model = save(mlp(), d / "mlp.onnx")
    lib = d / "libmlp.so"
    return model, lib, d


def test_compile_prints_progress_and_summary(compiled, capsys):
    model, lib, d = compiled
    assert main(["compile", str(model), "-o", str(lib), "--emit-source", str(d / "src")]) == 0
    cap = capsys.readouterr()
    assert "[lpfc] importing mlp.onnx" in cap.err and "[lpfc] building libmlp.so" in cap.err
    for word in ("kernels", "arena", "weights", "time", "import", "build"):
        assert word in cap.out
    assert lib.is_file() and lib.with_suffix(".h").is_file() and (d / "src" / "src" / "model.cc").is_file()
    assert (d / "src" / "CMakeLists.txt").is_file() and (d / "src" / "include" / "libmlp.h").is_file()


def test_compile_no_fusion_and_run_library(compiled, tmp_path, capsys):
    model, _, _ = compiled
    lib = tmp_path / "libmlp_nf.so"
    assert main(["compile", str(model), "-o", str(lib), "--no-fusion", "-q"]) == 0
    x = np.random.default_rng(5).standard_normal((2, 4)).astype(np.float32)
    np.savez(tmp_path / "feed.npz", x=x)
    out = tmp_path / "out.npz"
    assert main(["run", str(lib), "--inputs", str(tmp_path / "feed.npz"), "--outputs", str(out),
                 "--threads", "2"]) == 0
    cap = capsys.readouterr()
    assert "y: float32[2, 3]" in cap.out and "(2 threads)" in cap.err
    with np.load(out) as z:
        np.testing.assert_allclose(z["y"], mlp_reference(x), rtol=1e-5, atol=1e-6)


def test_run_library_errors(compiled, tmp_path, capsys):
    model, lib, _ = compiled
    if not lib.exists():
        assert main(["compile", str(model), "-o", str(lib), "-q"]) == 0
    np.savez(tmp_path / "bad.npz", x=np.zeros((3, 4), np.float32))
    assert main(["run", str(lib), "--inputs", str(tmp_path / "bad.npz")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "lpfc: error: input 'x' has shape [3, 4], the model expects float32 [2, 4]"
    np.savez(tmp_path / "f64.npz", x=np.zeros((2, 4), np.float64))
    assert main(["run", str(lib), "--inputs", str(tmp_path / "f64.npz"), "-q"]) == 1
    assert "dtype float64" in capsys.readouterr().err
    assert main(["run", str(lib), "-q"]) == 1
    assert "no inputs given" in capsys.readouterr().err
    assert main(["run", str(lib), "--inputs", str(tmp_path / "bad.npz"), "--pipeline", "default", "-q"]) == 1
    assert main(["run", str(tmp_path / "missing.so"), "--inputs", str(tmp_path / "bad.npz"), "-q"]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_compile_errors(compiled, tmp_path, capsys):
    model, _, _ = compiled
    assert main(["compile", str(model), "-o", str(tmp_path / "x.dll"), "-q"]) == 1
    assert "*.so" in capsys.readouterr().err
    assert main(["compile", str(model), "-o", str(tmp_path / "libx.so"), "--target", "nope", "-q"]) == 1
    assert "unknown target" in capsys.readouterr().err
    assert main(["compile", str(tmp_path / "missing.onnx"), "-o", str(tmp_path / "libx.so"), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lpfc: error:")
    assert main(["compile", str(model), "-o", str(tmp_path / "libx.so"), "--pipeline", "nope", "-q"]) == 1


def test_targets(capsys):
    assert main(["targets", "--no-probe"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("host") and "arm64-linux" in out and "opencl" in out


def test_compile_tune(compiled, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LPFC_CACHE_DIR", str(tmp_path / "cache"))  # the tuning database goes there
    model, _, _ = compiled
    assert main(["compile", str(model), "-o", str(tmp_path / "libt.so"), "--tune", "-q"]) == 0
    assert (tmp_path / "libt.so").is_file()
    capsys.readouterr()
    assert main(["compile", str(model), "-o", str(tmp_path / "libt2.so"), "--tune"]) == 0
    out = capsys.readouterr().out
    assert "variants: " in out and "database" in out and str(tmp_path / "cache") in out
    assert "measured" not in out.split("variants: ")[1].split("(")[0]  # the second compile reuses the database
    # Without --tune the database still decides where it has an entry.
    assert main(["compile", str(model), "-o", str(tmp_path / "libt3.so")]) == 0
    out = capsys.readouterr().out
    assert "variants: " in out and "database" in out


class _BrokenEmitter:
    """Accepts only ops from a node named 'lpfc-test-boom' and fails to emit them."""

    name = "broken-test"

    def accepts(self, op, target):
        locs = [op.location] + [o.location for r in op.regions for o in r.block.ops]
        return any(getattr(loc, "name", None) == "lpfc-test-boom" for loc in locs)

    def variants(self, op, target):
        return [{}]

    def emit(self, op, target, symbol, choice=None):
        raise RuntimeError("boom")


def test_an_emitter_bug_is_one_line(tmp_path, capsys):
    import onnx
    from onnx import TensorProto, helper

    from lpfc.codegen.kernel_source import register_emitter

    register_emitter(_BrokenEmitter(), 1)
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="lpfc-test-boom")], "boom",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    path = tmp_path / "boom.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    assert main(["compile", str(path), "-o", str(tmp_path / "libboom.so"), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "RuntimeError: boom" in err[0] and "lpfc-test-boom" in err[0]
