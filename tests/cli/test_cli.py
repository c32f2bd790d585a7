"""The lpfc command line: import, run, ops, and its error handling."""
import subprocess
import sys

import numpy as np
import pytest

from lpfc.cli import main

from ..frontend.onnx_builders import mlp, mlp_reference, save


@pytest.fixture
def model(tmp_path):
    return save(mlp(), tmp_path / "mlp.onnx")


@pytest.fixture
def x():
    return np.random.default_rng(5).standard_normal((2, 4)).astype(np.float32)


def test_import_prints_ir(model, capsys):
    assert main(["import", str(model), "-q"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("module {") and "graph.matmul" in out and 'loc("mm", "MatMul")' in out


def test_import_to_file_then_run_the_ir(model, tmp_path, x, capsys):
    ir = tmp_path / "mlp.mlir"
    assert main(["import", str(model), "-o", str(ir), "--with-weights", "-q"]) == 0
    assert "{-# resources:" in ir.read_text() or "dense<" in ir.read_text()
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "out.npz"
    assert main(["run", str(ir), "--input", f"x={tmp_path / 'x.npy'}", "--outputs", str(out), "-q"]) == 0
    with np.load(out) as z:
        np.testing.assert_allclose(z["y"], mlp_reference(x), rtol=1e-5, atol=1e-6)


def test_run_with_npz(model, tmp_path, x, capsys):
    feed = tmp_path / "feed.npz"
    np.savez(feed, x=x)
    out = tmp_path / "out.npz"
    assert main(["run", str(model), "--inputs", str(feed), "--outputs", str(out)]) == 0
    captured = capsys.readouterr()
    assert "y: float32[2, 3]" in captured.out
    assert "[lpfc] importing mlp.onnx" in captured.err and "[lpfc] interpreting" in captured.err
    with np.load(out) as z:
        np.testing.assert_allclose(z["y"], mlp_reference(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("feed, needle", [
    ({}, "no inputs given"),
    ({"z": np.zeros(1)}, "missing input 'x'; the model's inputs are 'x' tensor<2x4xf32>"),
    ({"x": np.zeros((3, 4), np.float32)}, "input 'x' has shape [3, 4], the model expects [2, 4]"),
    ({"x": np.zeros((2, 4), np.float64)}, "input 'x' has dtype float64, the model expects float32"),
    ({"x": np.zeros((2, 4), np.float32), "z": np.zeros(1)}, "unexpected input 'z'"),
])
def test_run_reports_bad_inputs(model, tmp_path, capsys, feed, needle):
    path = tmp_path / "feed.npz"
    np.savez(path, **feed)
    assert main(["run", str(model), "--inputs", str(path), "-q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lpfc: error: ") and needle in err
    assert "Traceback" not in err


def test_run_without_inputs_lists_them(model, capsys):
    assert main(["run", str(model), "-q"]) == 1
    assert "'x' tensor<2x4xf32>" in capsys.readouterr().err


@pytest.mark.parametrize("args, needle", [
    (["import", "nope.onnx"], "does not exist"),
    (["run", "nope.onnx", "--inputs", "x.npz"], "does not exist"),
    (["import", "model.onnx", "--input-shape", "x=2xq"], "integers separated by 'x'"),
])
def test_errors_are_one_line(tmp_path, capsys, args, needle, model, monkeypatch):
    monkeypatch.chdir(model.parent)
    assert main(args + ["-q"]) == 1
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_bad_feed_file(model, tmp_path, capsys):
    bad = tmp_path / "feed.npz"
    bad.write_bytes(b"not a zip")
    assert main(["run", str(model), "--inputs", str(bad), "-q"]) == 1
    assert "cannot read inputs file" in capsys.readouterr().err


@pytest.mark.parametrize("command", [[], ["import"], ["run"], ["ops"]])
def test_help_for_every_command(command):
    proc = subprocess.run([sys.executable, "-m", "lpfc", *command, "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "usage: lpfc" in proc.stdout


def test_console_script_and_ops():
    proc = subprocess.run([sys.executable, "-m", "lpfc", "ops"], capture_output=True, text=True)
    assert proc.returncode == 0 and "MatMul" in proc.stdout and "LayerNormalization" in proc.stdout


def test_usage_error_exit_code():
    proc = subprocess.run([sys.executable, "-m", "lpfc", "frobnicate"], capture_output=True, text=True)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
