"""The estimator with a tiny synthetic calibration (no builds): plans, prediction, errors, CLI.

No accuracy is asserted here (bench/oracle.py measures it); these check the mechanics.
"""
import json

import numpy as np
import pytest

import lpfc
from lpfc.cost.arch import build_encoder
from lpfc.cost.calibrate import fit_calibration
from lpfc.cost.model import VERSION, calibration_path, features, save_calibration
from lpfc.cost.plan import plan_arch, plan_module, target_key_cached
from lpfc.errors import ArchitectureError, CalibrationError

ARCH = dict(layers=2, hidden=32, heads=[2, 4], ffn=[64, 48], seq=8, batch=1, vocab=50)


def _kernel_set(plans):
    return sorted((k.kind, k.shapes, k.emitter, k.variant) for k in plans)


@pytest.mark.parametrize("arch", [
    ARCH,
    dict(layers=1, hidden=64, heads=4, ffn=128, seq=16, batch=2, vocab=100),
    dict(layers=3, hidden=48, heads=[3, 6, 2], ffn=[40, 96, 40], seq=7, batch=1, vocab=30),
], ids=["2-layer", "1-layer", "3-layer-lists"])
def test_per_part_plan_equals_the_whole_models_plan(arch):
    assert _kernel_set(plan_arch(arch)) == _kernel_set(plan_module(build_encoder(arch)))


def test_plans_carry_lpfcs_own_choices():
    plans = plan_arch(ARCH)
    gemms = [k for k in plans if k.emitter == "cpp-gemm"]
    assert gemms and all(k.flop > 0 and k.padded_flop >= k.flop and k.bytes > 0 for k in gemms)
    assert all(k.variant and k.variant != "-" for k in gemms)          # the emitter's tile, e.g. "avx2 6x16 MC=.."
    assert [k.part for k in plans][0] == "embeddings" and plans[-1].part == "pooler"
    assert {k.part for k in plans} >= {"layer 0", "layer 1"}
    # a different FFN per layer shows in that layer's kernels
    assert any("32x64" in k.shapes for k in plans if k.part == "layer 0")
    assert any("32x48" in k.shapes for k in plans if k.part == "layer 1")


@pytest.fixture
def tiny_calibration(tmp_path, monkeypatch):
    """A calibration made from synthetic 'measurements' (ms = 0.001 + 0.5 · padded GFLOP per kernel)."""
    monkeypatch.setenv("LPFC_CACHE_DIR", str(tmp_path))
    tkey = target_key_cached("host")
    models = []
    for arch in (ARCH, dict(ARCH, hidden=64, heads=[4, 8], ffn=[128, 256]), dict(ARCH, seq=16, ffn=[32, 96])):
        samples = []
        for p in plan_arch(arch):
            x = features(p).tolist()
            samples.append({"cls": p.cls, "x": x, "ms": 0.001 + 0.5 * x[1]})
        ks = sum(s["ms"] for s in samples)
        models.append({"arch": arch, "ms": ks + 0.02, "kernel_sum_ms": ks, "samples": samples})
    data = {"version": VERSION, "target": "host", "target_key": tkey, "threads": 1, "models": models,
            **fit_calibration(models)}
    return save_calibration(data, tkey, 1)


def test_estimate_from_a_dict(tiny_calibration):
    est = lpfc.estimate_latency(ARCH)
    assert isinstance(est, lpfc.LatencyEstimate)
    assert float(est) == est.ms > 0
    assert len(est.kernels) == len(plan_arch(ARCH))
    assert est.ms == pytest.approx(sum(k.ms for k in est.kernels) + est.overhead_ms)
    assert est.overhead_ms == pytest.approx(0.02, rel=1e-6)
    # the synthetic costs are exactly linear in a feature: the fit recovers them
    want = sum(0.001 + 0.5 * k.padded_flop / 1e9 for k in plan_arch(ARCH)) + 0.02
    assert est.ms == pytest.approx(want, rel=1e-3)
    assert est.band_pct is not None and est.low_ms <= est.ms <= est.high_ms
    table = est.table()
    assert "cpp-gemm" in table and "layer 1" in table and "run overhead" in table
    assert json.loads(json.dumps(est.to_dict()))["ms"] == pytest.approx(est.ms)


def test_bigger_models_cost_more(tiny_calibration):
    small = lpfc.estimate_latency(ARCH)
    big = lpfc.estimate_latency(dict(ARCH, layers=4, heads=4, ffn=128))
    assert big.ms > small.ms


def test_onnx_module_and_dict_agree(tiny_calibration):
    a = lpfc.estimate_latency(ARCH).ms
    b = lpfc.estimate_latency(build_encoder(ARCH)).ms
    assert a == pytest.approx(b)


def test_no_calibration_falls_back_and_says_which_command_makes_one(tmp_path, monkeypatch):
    monkeypatch.setenv("LPFC_CACHE_DIR", str(tmp_path))
    with pytest.warns(lpfc.cost.UncalibratedWarning, match="lpfc calibrate --target host --threads 2"):
        est = lpfc.estimate_latency(ARCH, threads=2)
    assert est.source == "analytic" and not est.calibrated and est.ms > 0
    with pytest.raises(CalibrationError, match="lpfc calibrate --target host --threads 2"):
        lpfc.estimate_latency(ARCH, threads=2, require_calibration=True)


def test_a_corrupt_calibration_is_one_clear_error(tiny_calibration):
    tiny_calibration.write_text("{not json")
    with pytest.raises(CalibrationError, match="remake it"):
        lpfc.estimate_latency(ARCH)


def test_bad_arguments(tiny_calibration):
    with pytest.raises(ArchitectureError, match="'ffn'"):
        lpfc.estimate_latency(dict(ARCH, ffn=[64]))
    with pytest.raises(lpfc.LpfcError, match="mode"):
        lpfc.estimate_latency(ARCH, mode="guess")
    with pytest.raises(lpfc.LpfcError, match="threads"):
        lpfc.estimate_latency(ARCH, threads=0)
    with pytest.raises(lpfc.LpfcError, match="architecture dict"):
        lpfc.estimate_latency(42)


def test_calibration_file_is_keyed_by_target_and_threads(tiny_calibration):
    tkey = target_key_cached("host")
    assert calibration_path(tkey, 1) == tiny_calibration
    assert calibration_path(tkey, 2) != tiny_calibration
    assert tiny_calibration.parent.name == "latency"
    data = json.loads(tiny_calibration.read_text())          # plain JSON, no pickles
    assert data["target_key"] == tkey and set(data["fit"]) >= {"classes", "all"}
    assert all(np.all(np.asarray(c) >= 0) for c in data["fit"]["classes"].values())


def test_cli_estimate(tiny_calibration, capsys, tmp_path):
    from lpfc.cli import main

    arch_file = tmp_path / "arch.json"
    arch_file.write_text(json.dumps(ARCH))
    assert main(["estimate", str(arch_file)]) == 0
    assert "ms" in capsys.readouterr().out
    assert main(["estimate", "--arch", json.dumps(ARCH), "--breakdown"]) == 0
    out = capsys.readouterr().out
    assert "gemm_layer_norm" in out and "run overhead" in out
    assert main(["estimate", "--arch", json.dumps(dict(ARCH, heads=5))]) == 1
    assert "'heads'" in capsys.readouterr().err
    assert main(["estimate", "--arch", "{broken"]) == 1
    assert "not valid JSON" in capsys.readouterr().err
    assert main(["estimate", "--arch", json.dumps(ARCH), "--threads", "3"]) == 0     # no calibration for 3 threads
    out, err = capsys.readouterr()
    assert "profile: analytic host" in out and "lpfc calibrate --target host --threads 3" in err
    assert main(["estimate", "--arch", json.dumps(ARCH)]) == 0
    assert f"profile: calibrated: {tiny_calibration}" in capsys.readouterr().out


def test_cli_calibrate_rejects_bad_threads(capsys):
    from lpfc.cli import main

    assert main(["calibrate", "--threads", "0"]) == 1
    assert "--threads" in capsys.readouterr().err
