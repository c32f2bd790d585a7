"""bench/nas_final.py's plumbing on the tiny QA model: a search's chosen sub-network is rebuilt, distilled from
the full model, scored through lpfc and onnxruntime beside it and timed (never its accuracy)."""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


def test_final_step_of_a_search(tiny_run, tiny_build, tmp_path, capsys):
    from bench.nas_final import main
    search = tmp_path / "search"
    search.mkdir()
    arch = {"layers": 1, "hidden": 32, "heads": [1], "ffn": [32], "seq": 384}
    opts = {"steps": 1, "questions": 4, "batch_size": 2, "importance_batches": 1, "dry_run": False}
    (search / "search.json").write_text(json.dumps({"evaluator": "qa-distill", "evaluator_opts": opts, "seed": 0,
                                                    "threads": 1, "latency_ms": 1e6, "latency_model": "oracle"}))
    (search / "best.json").write_text(json.dumps({"arch": arch, "accuracy": 1.0, "trials": 3}))
    # bench.nas's table beside the search: its target is the full model's time / 3
    (tmp_path / "nas.json").write_text(json.dumps({"full_ms": 3e6, "target_ms": 1e6}))
    teacher = tiny_run / "model"
    assert main(["--search", str(search), "--teacher", str(teacher), "--threads", "1", "--limit", "3",
                 "--max-steps", "2", "--train-limit", "8", "--rounds", "2"]) == 0
    final = json.loads((search / "final" / "final.json").read_text())
    assert final["arch"] == arch and final["eval"]["questions"] == 3 and final["full_eval"]["questions"] == 3
    assert set(final["eval"]["results"]) == {"lpfc", "ort"} and final["eval"]["f1_diff"] <= 0.1
    assert 0 < final["ms"] < final["full_ms"] * 2          # a 1-layer student against the 2-layer teacher
    assert (teacher / "build" / "eval-3-lpfc+ort.json").exists()   # the teacher's score is cached
    md = (search / "final" / "final.md").read_text()
    assert "Latency target" in md and "| full (teacher) | 3 |" in md
    assert "timed in the same run (goal: 3x" in md and final["rounds"] == 2
    with pytest.raises(SystemExit, match="holds no search.json"):
        main(["--search", str(tmp_path)])
