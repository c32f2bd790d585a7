"""`lpfc explain`: the fusion report as text, JSON, DOT and SVG; model strings stay data."""
import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from onnx import helper, numpy_helper

from lpfc.cli import main
from lpfc.explain import dot_escape

from ..frontend.onnx_builders import make, mlp, save, vi

HOSTILE = 'evil"node\n*/ \\N {x} <b>\r\x07 // "'


def block_model(prefix=""):
    """x -> MatMul -> Add(bias) -> Relu -> MatMul -> Add(residual x) -> LayerNormalization: two kernels."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((8, 8)).astype(np.float32) * 0.3, "W1"),
             numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "b1"),
             numpy_helper.from_array(rng.standard_normal((8, 8)).astype(np.float32) * 0.3, "W2"),
             numpy_helper.from_array(np.ones(8, np.float32), "gamma"),
             numpy_helper.from_array(np.zeros(8, np.float32), "beta")]
    n = lambda s: prefix + s  # noqa: E731
    nodes = [helper.make_node("MatMul", [n("x"), "W1"], ["h"], name=n("fc1/MatMul")),
             helper.make_node("Add", ["h", "b1"], ["hb"], name=n("fc1/Add")),
             helper.make_node("Relu", ["hb"], ["r"], name=n("act")),
             helper.make_node("MatMul", ["r", "W2"], ["h2"], name=n("fc2/MatMul")),
             helper.make_node("Add", ["h2", n("x")], ["res"], name=n("residual")),
             helper.make_node("LayerNormalization", ["res", "gamma", "beta"], [n("y")], name=n("ln"), axis=-1)]
    return make(nodes, [vi(n("x"), [4, 8])], [vi(n("y"), [4, 8])], inits)


@pytest.fixture
def model(tmp_path):
    return save(block_model(), tmp_path / "block.onnx")


@pytest.fixture
def hostile(tmp_path):
    return save(block_model(HOSTILE), tmp_path / "hostile.onnx")


def test_text_report(model, capsys):
    assert main(["explain", str(model), "-q"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"ONNX nodes\s+6\n", out)
    assert re.search(r"graph ops \(cleaned\)\s+6\n", out)
    assert re.search(r"kernels\s+2 ", out)
    assert "computations before" in out and "computations after" in out
    assert re.search(r"^k0  gemm  3 ops", out, re.M) and re.search(r"^k1  gemm_layer_norm  3 ops", out, re.M)
    assert 'graph.matmul           "fc1/MatMul" (MatMul)' in out
    assert '"ln" (LayerNormalization)' in out


def test_json_report(model, capsys):
    assert main(["explain", str(model), "-q", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for key in ("onnx_nodes", "graph_ops", "kernels", "computations_before", "computations_after", "blocks"):
        assert key in report
    assert report["onnx_nodes"] == 6 and report["kernels"] == 2 == len(report["blocks"])
    assert report["computations_after"] <= report["computations_before"]
    k0, k1 = report["blocks"]
    assert (k0["name"], k0["kind"], k1["name"], k1["kind"]) == ("k0", "gemm", "k1", "gemm_layer_norm")
    assert [o["op"] for o in k0["ops"]] == ["graph.matmul", "graph.add", "graph.relu"]
    assert k0["ops"][0] == {"op": "graph.matmul", "node": "fc1/MatMul", "op_type": "MatMul"}
    assert k0["inputs"] == ["4x8xf32", "8x8xf32", "8xf32"] and k0["outputs"] == ["4x8xf32"]


def test_pipeline_override(model, capsys):
    assert main(["explain", str(model), "-q", "--format", "json", "--pipeline", "fold-constants,cse,dce"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kernels"] == 6 and all(not b["fused"] for b in report["blocks"])
    assert report["computations_after"] == report["computations_before"]


def _dot_is_well_formed(text: str) -> None:
    """Every string closes on its own line; outside strings, braces balance and nothing but DOT syntax."""
    strings = re.compile(r'"(?:[^"\\\n]|\\.)*"')
    depth = 0
    for line in text.splitlines():
        rest = strings.sub('""', line)
        assert '"' not in rest.replace('""', ""), f"unterminated string in {line!r}"
        assert "*/" not in rest and "//" not in rest, line
        depth += rest.count("{") - rest.count("}")
    assert depth == 0


def test_dot_escapes_hostile_names(hostile, tmp_path, capsys):
    dot = tmp_path / "g.dot"
    assert main(["explain", str(hostile), "-q", "--dot", str(dot)]) == 0
    text = dot.read_text()
    _dot_is_well_formed(text)
    assert dot_escape(HOSTILE) in text  # the input name, escaped
    assert "\x07" not in text and "\r" not in text
    # the text report prints model strings as JSON string literals: one line each
    out = capsys.readouterr().out
    assert json.dumps(HOSTILE + "fc1/MatMul", ensure_ascii=False) in out


def test_dot_escape():
    assert dot_escape('a"b') == 'a\\"b'
    assert dot_escape("a\\Nb") == "a\\\\Nb"
    assert dot_escape("a\nb") == "a\\nb"
    assert dot_escape("a\x07") == "a\\\\x07"


@pytest.mark.skipif(shutil.which("dot") is None,
                    reason="Graphviz's dot is not installed (scripts/setup.sh installs it)")
def test_svg_renders_hostile_names(hostile, tmp_path):
    svg = tmp_path / "g.svg"
    assert main(["explain", str(hostile), "-q", "--svg", str(svg)]) == 0
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "</svg>" in text
    assert "&lt;b&gt;" in text and "<b>" not in text  # the model string is SVG text, not markup


def test_svg_without_graphviz_is_a_clear_error(model, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main(["explain", str(model), "-q", "--svg", str(tmp_path / "g.svg")]) == 1
    captured = capsys.readouterr()
    err = captured.err
    assert err.startswith("lpfc: error: ") and "Graphviz" in err and "apt-get install graphviz" in err
    assert captured.out == "" and err.count("\n") == 1
    assert "Traceback" not in err and not (tmp_path / "g.svg").exists()


def test_mlir_input_has_no_onnx_count(tmp_path, capsys):
    ir = tmp_path / "mlp.mlir"
    assert main(["import", str(save(mlp(), tmp_path / "mlp.onnx")), "-o", str(ir), "--with-weights", "-q"]) == 0
    assert main(["explain", str(ir), "-q", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["onnx_nodes"] is None and report["kernels"] == 1


def test_errors_are_one_line(tmp_path, capsys):
    assert main(["explain", str(tmp_path / "nope.onnx"), "-q"]) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and err.count("\n") == 1


def test_help():
    proc = subprocess.run([sys.executable, "-m", "lpfc", "explain", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "--dot" in proc.stdout and "--svg" in proc.stdout and "--pipeline" in proc.stdout
