"""Measurement and calibration for real, on tiny models (builds: slow)."""
import json

import pytest

import lpfc
from lpfc.cost.calibrate import calibrate

TINY = [dict(layers=2, hidden=32, heads=[2, 4], ffn=[64, 48], seq=8, batch=1, vocab=50),
        dict(layers=2, hidden=16, heads=[2, 1], ffn=[32, 16], seq=4, batch=2, vocab=20)]


@pytest.mark.slow
def test_calibrate_then_estimate_and_measure(tmp_path, monkeypatch):
    monkeypatch.setenv("LPFC_CACHE_DIR", str(tmp_path))
    lines = []
    paths = calibrate("host", threads=(1,), archs=TINY, runs=3, profile_runs=2, progress=lines.append)
    data = json.loads(paths[1].read_text())
    assert len(data["models"]) == 2 and data["threads"] == 1
    assert all(s["ms"] > 0 for m in data["models"] for s in m["samples"])
    assert any("[2/2]" in ln for ln in lines)
    est = lpfc.estimate_latency(TINY[0])
    assert est.mode == "model" and est.ms > 0
    m = lpfc.estimate_latency(TINY[0], mode="measure")
    assert m.mode == "measure" and len(m.runs) >= 20 and m.ms > 0
    assert len(m.kernels) == len(est.kernels) and all(k.ms >= 0 for k in m.kernels)
    # measured again: the cache (by kernel signatures) answers
    assert lpfc.estimate_latency(TINY[0], mode="measure").runs == m.runs
    # cache=False times it again (20 fresh perf_counter readings never repeat the stored ones) and stores that
    fresh = lpfc.estimate_latency(TINY[0], mode="measure", cache=False)
    assert fresh.runs != m.runs and len(fresh.runs) >= 20
    assert lpfc.estimate_latency(TINY[0], mode="measure").runs == fresh.runs
