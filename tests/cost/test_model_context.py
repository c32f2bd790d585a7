"""The cost model's context feature: a GEMM's weights come from DRAM when the model's weights exceed the LLC."""
import json
import types

import pytest

from lpfc.cost import model as M
from lpfc.cost.plan import plan_arch

ARCH = dict(layers=2, hidden=32, heads=[2, 4], ffn=[64, 48], seq=8, batch=1, vocab=50)


def test_weight_bytes_are_the_gemm_weight_operands():
    plans = plan_arch(ARCH)
    w = {p.shapes: M.weight_bytes(p) for p in plans}
    gemms = [p for p in plans if p.kind.startswith("gemm")]
    assert gemms and all(M.weight_bytes(p) > 0 for p in gemms)
    assert all(M.weight_bytes(p) == 0 for p in plans if not p.kind.startswith("gemm"))
    assert w["1x8x32,32x96,96->1x8x96"] == 4 * 32 * 96           # Q/K/V: hidden x 3·hidden floats
    total = sum(M.weight_bytes(p) for p in plans)
    assert M.model_context(plans, total - 1) == {"dram": True}
    assert M.model_context(plans, total) == {"dram": False}


def test_dram_term_applies_only_beyond_the_llc():
    k = types.SimpleNamespace(cls="cpp-gemm/gemm", kind="gemm", shapes="4x8,8x1000->4x1000",
                              padded_flop=0, flop=0, bytes=0, elements=0)
    coefs = {"classes": {"cpp-gemm/gemm": [1.0, 0, 0, 0, 0, 2.0]}, "all": [0.0] * 6}
    assert M.predict_ms(coefs, k, {"dram": False})[0] == pytest.approx(1.0)
    assert M.predict_ms(coefs, k, {"dram": True})[0] == pytest.approx(1.0 + 2.0 * 0.032)
    assert list(M.features(k, {"dram": True})) == pytest.approx([1, 0, 0, 0, 0, 0.032])
    assert M.features(k)[5] == 0.0


def test_refit_recomputes_features_of_an_older_calibration(tmp_path, monkeypatch):
    from lpfc.cost.calibrate import refit
    from lpfc.cost.plan import target_key_cached
    from lpfc.errors import CalibrationError

    monkeypatch.setenv("LPFC_CACHE_DIR", str(tmp_path))
    tkey = target_key_cached("host")
    with pytest.raises(CalibrationError):
        refit("host", (1,))
    plans = plan_arch(ARCH)
    models = []
    for j in range(3):      # version-1 samples: five features
        ss = [{"cls": p.cls, "x": list(M.features(p)[:5]), "ms": 0.01 * (i + 1) * (j + 1)} for i, p in enumerate(plans)]
        models.append({"arch": ARCH, "ms": sum(s["ms"] for s in ss) + 0.05, "kernel_sum_ms": sum(s["ms"] for s in ss),
                       "samples": ss})
    data = {"version": 1, "target": "host", "target_key": tkey, "threads": 1, "models": models,
            "fit": {"classes": {}, "all": [0.0] * 5}, "llc_bytes": 1}
    p = M.save_calibration(data, tkey, 1)
    with pytest.raises(CalibrationError):       # an older version is not used as it is...
        M.load_calibration(tkey, "host", 1)
    refit("host", (1,))                          # ...but can be refitted from its samples
    new = json.loads(p.read_text())
    assert new["version"] == M.VERSION and all(len(s["x"]) == len(M.FEATURES) for m in new["models"]
                                                 for s in m["samples"])
    assert any(s["x"][5] > 0 for s in new["models"][0]["samples"])       # llc_bytes 1: every weight from DRAM
    assert M.load_calibration(tkey, "host", 1)["version"] == M.VERSION
