"""Auto-tuning: measuring variants, the database, and one signature for identical layers."""
import json

import lpfc
from lpfc.codegen.generic import GENERIC
from lpfc.passes import Pipeline
from lpfc.testing import zoo
from lpfc.tune import TuningDatabase, kernel_signature, select_variant, target_key, tune_kernel

from ..poly.test_figure4 import figure4


def test_tune_then_database_hit(tmp_path):
    db = TuningDatabase(tmp_path / "tuning.json")
    op = figure4()
    lines = []
    r = tune_kernel(op, "host", GENERIC, budget_s=0.5, db=db, progress=lines.append, workdir=tmp_path)
    assert r.source == "measured"
    assert set(r.timings) == {"recompute", "hoist", "precompute", "hoist_tiled"}
    assert r.choice in GENERIC.variants(op, lpfc.codegen.get_target("host"))
    assert any("tuning graph.fused" in s for s in lines)
    data = json.loads((tmp_path / "tuning.json").read_text())
    entry = data["entries"][target_key("host")][r.signature]
    assert entry["choice"] == r.choice and entry["emitter"] == "generic"
    # a second compile (a fresh database object on the same file) reuses the winner without measuring
    again = tune_kernel(figure4(), "host", GENERIC, budget_s=0.5, db=TuningDatabase(tmp_path / "tuning.json"))
    assert again.source == "database" and again.choice == r.choice
    sel = select_variant(figure4(), "host", GENERIC, db=TuningDatabase(tmp_path / "tuning.json"))
    assert sel.source == "database"


def test_without_tune_the_default_heuristic_decides(tmp_path):
    db = TuningDatabase(tmp_path / "none.json")
    r = select_variant(figure4(), "host", GENERIC, db=db)
    assert r.source == "heuristic" and r.choice == {"variant": "recompute"}
    assert not (tmp_path / "none.json").exists()


def test_default_path_honours_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LPFC_CACHE_DIR", str(tmp_path))
    assert TuningDatabase().path == tmp_path / "tuning.json"


def test_identical_layers_share_a_signature():
    m = lpfc.import_onnx(zoo.export("tiny-bert", "dynamo20"))
    Pipeline.parse("default").run(m)
    sigs = {}
    for op in m.main.body.ops:
        if op.name == "graph.fused":
            sigs.setdefault(kernel_signature(op), []).append(op.attributes.get("name"))
    # tiny-bert has two encoder layers: each layer kernel appears twice under one signature
    assert max(len(v) for v in sigs.values()) >= 2
    assert len(sigs) < sum(len(v) for v in sigs.values())


def test_corrupt_database_is_empty(tmp_path):
    p = tmp_path / "tuning.json"
    p.write_text("{not json")
    db = TuningDatabase(p)
    assert db.lookup("x", "host") is None
    db.store("x", "host", {"choice": {"variant": "hoist"}, "emitter": "generic"})
    assert TuningDatabase(p).lookup("x", "host")["choice"] == {"variant": "hoist"}


def test_choose_variant_for_the_compile_driver(tmp_path):
    from lpfc.tune import choose_variant
    db = TuningDatabase(tmp_path / "t.json")
    c = choose_variant(figure4(), "host", GENERIC, threads=1, db=db, budget_s=0.2)
    assert c in GENERIC.variants(figure4(), lpfc.codegen.get_target("host"))
    assert choose_variant(figure4(), "host", GENERIC, tune=False, db=db) == c      # the database decides


def test_tuning_entries_are_per_processor_not_only_per_feature_set():
    """cortex-a77 and cortex-a78 enable the same features; a variant timed for one must not be reused for the
    other. The host key names the machine's processor (-march=native tunes for it)."""
    from lpfc.codegen.targets import get_target
    a77, a78 = target_key("arm64-linux"), target_key(get_target("arm64-linux", cpu="cortex-a78"))
    assert a77 != a78 and ":cortex-a77:" in a77 and ":cortex-a78:" in a78
    assert target_key(get_target("arm64-linux", cpu="cortex-a77")) == a77   # the default, named or not
    assert target_key("host").split(":")[2].startswith("native=")
