"""bench/int8.py: a missing library or peer model is reported as such, never timed or faked."""
from __future__ import annotations

import json

import pytest

from bench import int8


def test_speed_reports_what_is_missing(tmp_path, monkeypatch, capsys):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("LPFC_CACHE_DIR", str(tmp_path))
    out = tmp_path / "speed.json"
    assert int8.main(["speed", "--threads", "1", "--runs", "1", "--rounds", "1", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["ms"] == {}
    assert set(res["errors"]) == {"lpfc fp32 @1", "lpfc int8 @1", "onnxruntime quantize_dynamic @1",
                                  "LiteRT int8 (dynamic range) @1"}
    assert all(e.startswith("missing ") and str(tmp_path) in e for e in res["errors"].values())
