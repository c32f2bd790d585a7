"""A corrupt tuning database never breaks a compile: bad entries are ignored with a TuningWarning."""
import json

import numpy as np
import pytest

import lpfc
from lpfc.cli import main
from lpfc.codegen.generic import GENERIC
from lpfc.tune import TuningDatabase, TuningWarning, kernel_signature, select_variant, target_key

from ..frontend.onnx_builders import mlp, mlp_reference, save
from ..poly.test_figure4 import figure4

# (what, entry) pairs no kernel may be emitted with
BAD_CHOICES = [("kc_max 0", {"kc_max": 0}), ("kc_max negative", {"kc_max": -4}),
               ("kc_max a string", {"kc_max": "big"}), ("mc_target a float", {"mc_target": 1.5}),
               ("unknown variant", {"variant": "fastest"})]
BAD_SHAPES = [("unknown key", {"emitter": "generic", "choice": {}, "speedup": 3}),
              ("choice a list", {"emitter": "generic", "choice": [1, 2]}),
              ("emitter a number", {"emitter": 7, "choice": {}}),
              ("no choice", {"emitter": "generic"}),
              ("timings negative", {"emitter": "generic", "choice": {}, "timings": {"x": -1}}),
              ("an entry that is a string", "hoist")]


def _db_with(path, sig, key, entry):
    path.write_text(json.dumps({"version": 1, "entries": {key: {sig: entry}}}))
    return TuningDatabase(path)


@pytest.mark.parametrize("what,entry", BAD_SHAPES + [(w, {"emitter": "generic", "choice": c}) for w, c in BAD_CHOICES],
                         ids=[w for w, _ in BAD_SHAPES + BAD_CHOICES])
def test_a_bad_entry_is_ignored_with_a_warning(tmp_path, what, entry):
    op = figure4()
    db = _db_with(tmp_path / "t.json", kernel_signature(op), target_key("host"), entry)
    with pytest.warns(TuningWarning, match="ignored") as w:
        r = select_variant(op, "host", GENERIC, db=db)
    assert r.source == "heuristic" and r.choice == GENERIC.variants(op, lpfc.codegen.get_target("host"))[0]
    assert str(tmp_path / "t.json") in str(w[0].message)


def test_a_malformed_file_structure_is_an_empty_database(tmp_path):
    p = tmp_path / "t.json"
    p.write_text(json.dumps({"version": 1, "entries": ["x"]}))
    with pytest.warns(TuningWarning):
        assert TuningDatabase(p).lookup("x", "host") is None
    p.write_text(json.dumps({"version": 1, "entries": {"host": 3}}))
    with pytest.warns(TuningWarning):
        assert TuningDatabase(p).lookup("x", "host") is None


def test_a_good_entry_is_used(tmp_path):
    op = figure4()
    db = _db_with(tmp_path / "t.json", kernel_signature(op), target_key("host"),
                  {"emitter": "generic", "choice": {"variant": "hoist"}, "timings": {"hoist": 1e-5}})
    r = select_variant(op, "host", GENERIC, db=db)
    assert r.source == "database" and r.choice == {"variant": "hoist"}


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """The MLP compiled once with --tune: its database holds one entry per distinct kernel."""
    d = tmp_path_factory.mktemp("tuned")
    model = save(mlp(), d / "mlp.onnx")
    mp = pytest.MonkeyPatch()
    mp.setenv("LPFC_CACHE_DIR", str(d / "cache"))
    try:
        assert main(["compile", str(model), "-o", str(d / "libt.so"), "--tune", "-q"]) == 0
    finally:
        mp.undo()
    data = json.loads((d / "cache" / "tuning.json").read_text())
    assert data["entries"], "the tuned compile stored nothing"
    return model, data


@pytest.mark.parametrize("choice,tune", [({"kc_max": 0}, False), ({"kc_max": "big"}, False), ({"kc_max": -4}, True)],
                         ids=["kc_max-0", "kc_max-string", "kc_max-negative-with-tune"])
def test_a_corrupt_database_never_breaks_a_compile(tuned, tmp_path, monkeypatch, capsys, choice, tune):
    """Every entry of a real database corrupted as a careless edit would: the compile succeeds, says which
    entries it ignored (one 'lpfc: warning:' line each), and the library computes the right thing."""
    model, data = tuned
    bad = json.loads(json.dumps(data))
    for per_target in bad["entries"].values():
        for entry in per_target.values():
            entry["choice"] = dict(choice)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "tuning.json").write_text(json.dumps(bad))
    monkeypatch.setenv("LPFC_CACHE_DIR", str(tmp_path / "cache"))
    lib = tmp_path / "libm.so"
    assert main(["compile", str(model), "-o", str(lib), "-q"] + (["--tune", "--tune-budget", "2"] if tune else [])) == 0
    err = capsys.readouterr().err
    assert "lpfc: warning: tuning database" in err and "ignored" in err and "Traceback" not in err
    x = np.random.default_rng(1).standard_normal((2, 4)).astype(np.float32)
    with lpfc.load(lib) as s:
        np.testing.assert_allclose(s.run({"x": x})["y"], mlp_reference(x), rtol=1e-5, atol=1e-6)
