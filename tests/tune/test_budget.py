"""The tuning budget (lpfc compile --tune-budget, lpfc.compile(tune_budget=...)) and the progress display."""
import json
import time

import pytest

import lpfc
from lpfc.codegen.generic import GENERIC
from lpfc.errors import LpfcError
from lpfc.testing import zoo
from lpfc.tune import TuningDatabase, select_variant, tune_kernel

from ..poly.test_figure4 import figure4


class _Steps:
    """A progress callback like the CLI's: records steps and their notes."""

    def __init__(self):
        self.lines = []

    def __call__(self, what):
        steps = self

        class Ctx:
            def __enter__(self):
                steps.lines.append(what)
                return self

            def __exit__(self, *exc):
                return False

            def note(self, text):
                steps.lines.append("    " + text)
        return Ctx()


def test_deadline_reached_after_compiling_keeps_the_default(tmp_path):
    db = TuningDatabase(tmp_path / "t.json")
    lines = []
    r = tune_kernel(figure4(), "host", GENERIC, db=db, progress=lines.append, workdir=tmp_path,
                    deadline=time.monotonic())
    assert r.source == "budget" and r.choice == GENERIC.variants(figure4(), lpfc.codegen.get_target("host"))[0]
    assert not r.timings and len(db) == 0
    assert any("budget spent" in s for s in lines)
    # past the deadline select_variant does not even compile
    r = select_variant(figure4(), "host", GENERIC, tune=True, db=db, deadline=time.monotonic() - 1)
    assert r.source == "budget"


def test_progress_says_best_so_far(tmp_path):
    lines = []
    r = tune_kernel(figure4(), "host", GENERIC, budget_s=0.3, db=TuningDatabase(tmp_path / "t.json"),
                    progress=lines.append, workdir=tmp_path, deadline=time.monotonic() + 600)
    assert r.source == "measured"
    timed = [s for s in lines if "best so far" in s]
    assert len(timed) == len(r.timings) == 4


@pytest.mark.parametrize("budget", [0, 0.001])
def test_compile_with_no_budget_left_falls_back_to_the_heuristic(tmp_path, monkeypatch, budget):
    model = zoo.export("tiny-bert", "dynamo20")             # before the cache dir moves (the zoo lives there)
    monkeypatch.setenv("LPFC_CACHE_DIR", str(tmp_path / "cache"))
    steps = _Steps()
    res = lpfc.compile(model, tmp_path / "libtb.so", tune=True, tune_budget=budget,
                       progress=steps)
    note = next(n for n in res.notes if n.startswith("variants:"))
    counts = note.split("variants: ")[1].split(" (")[0]
    assert "budget" in counts and "measured" not in counts, note
    tuned = [s for s in steps.lines if s.startswith("tuning kernel ")]
    assert tuned and all("budget spent, default variant" in s for s in tuned)
    assert tuned[0].startswith("tuning kernel 1/") and tuned[-1].split()[2].split("/")[0] == tuned[-1].split()[2].split("/")[1].rstrip(":")
    db = tmp_path / "cache" / "tuning.json"
    assert not db.exists() or not any(json.loads(db.read_text()).get("entries", {}).values())


def test_bad_budget_is_refused(tmp_path):
    with pytest.raises(LpfcError, match="tune_budget"):
        lpfc.compile(zoo.export("tiny-bert", "dynamo20"), tmp_path / "libtb.so", tune=True, tune_budget=-1)


def test_cli_tune_budget(tmp_path, monkeypatch, capsys):
    from lpfc.cli import main

    model = zoo.export("tiny-bert", "dynamo20")
    monkeypatch.setenv("LPFC_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["compile", str(model), "-o", str(tmp_path / "libtb.so"),
                 "--tune-budget", "0"]) == 0
    cap = capsys.readouterr()
    assert "tuning budget 0 s" in cap.out and "budget spent, default variant" in cap.err
