"""The importer fuzzer in the suite (bounded budget): zero crashes, zero non-lpfc exceptions, no hang, no leak.

``LPFC_FUZZ_EXAMPLES`` / ``LPFC_FUZZ_SECONDS`` raise the budget; the long run is
``LPFC_FUZZ_EXAMPLES=40000 nice -n 10 python -m tests.fuzz.import_fuzz`` (docs/reliability.md).
"""
import os
import random
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lpfc
from lpfc.errors import LpfcError

from . import import_fuzz
from .import_fuzz import SECRET, Sandbox, check_one, fuzz
from .mutations import MUTATIONS, mutate_bytes
from .seeds import all_seeds

EXAMPLES = int(os.environ.get("LPFC_FUZZ_EXAMPLES", 1500))
SECONDS = float(os.environ.get("LPFC_FUZZ_SECONDS", 15))


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    return Sandbox(tmp_path_factory.mktemp("fuzz"))


def test_coverage_guided_import_fuzz(record_property):
    stats = fuzz(EXAMPLES, seed=int(os.environ.get("LPFC_FUZZ_SEED", 0)), seconds=SECONDS)
    record_property("terminal_summary", f"importer fuzz: {stats.tried} inputs, {stats.edges} edges, "
                    f"{len(stats.findings)} findings")
    assert not stats.findings, stats.findings[:5]
    assert stats.tried > len(all_seeds()) and stats.imported > 0 and stats.corpus > len(all_seeds())


@settings(max_examples=int(os.environ.get("LPFC_FUZZ_HYPOTHESIS", 150)), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), steps=st.lists(st.tuples(st.integers(0, len(MUTATIONS) - 1),
                                                           st.integers(0, 2**32)), min_size=1, max_size=4),
       damage=st.one_of(st.none(), st.integers(0, 2**32)))
def test_hypothesis_mutated_protos(box, seed, steps, damage):
    """Hypothesis picks a seed and a list of mutations (and shrinks a failure to the fewest)."""
    seeds = all_seeds()
    name, model = seeds[seed % len(seeds)]
    m = model.__class__()
    m.CopyFrom(model)
    for which, s in steps:
        MUTATIONS[which](m, random.Random(s))
    data = m.SerializeToString()
    if damage is not None:
        data = mutate_bytes(data, random.Random(damage))
    with import_fuzz.memory_cap():
        outcome, detail = check_one(data, box)
    assert not outcome.startswith("finding"), (name, [MUTATIONS[w].__name__ for w, _ in steps], detail)


# -- the harness can fail: each kind of finding is detected ----------------------------------------------------
def _model_bytes():
    return all_seeds()[0][1].SerializeToString()


def test_harness_reports_a_non_lpfc_exception(box, monkeypatch):
    def broken(path):
        raise KeyError("planted")
    monkeypatch.setattr(lpfc, "import_onnx", broken)
    outcome, detail = check_one(_model_bytes(), box)
    assert outcome == "finding:crash" and "KeyError" in detail


def test_harness_reports_a_hang(box, monkeypatch):
    monkeypatch.setattr(lpfc, "import_onnx", lambda path: time.sleep(5))
    assert check_one(_model_bytes(), box, timeout_s=0.2)[0] == "finding:hang"


def test_harness_reports_a_leak(box, monkeypatch):
    import numpy as np
    real = lpfc.import_onnx

    def leaky(path):
        from onnx import helper, numpy_helper
        node = helper.make_node("Constant", [], ["y"], value=numpy_helper.from_array(
            np.frombuffer((Path(box.root) / "secret.bin").read_bytes(), np.uint8), "v"))
        g = helper.make_graph([node], "g", [], [helper.make_tensor_value_info("y", 2, None)])
        return real(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    monkeypatch.setattr(lpfc, "import_onnx", leaky)
    assert check_one(_model_bytes(), box)[0] == "finding:leak"


def test_harness_reports_memory_blowup(box, monkeypatch):
    def bomb(path):
        try:
            raise MemoryError()
        except MemoryError as e:
            raise LpfcError("wrapped") from e
    monkeypatch.setattr(lpfc, "import_onnx", bomb)
    assert check_one(_model_bytes(), box)[0] == "finding:memory"


def test_sandbox_secret_is_outside_the_model_dir(box):
    assert (box.root / "secret.bin").read_bytes().startswith(SECRET) and box.dir in box.path.parents


def test_mutations_never_raise():
    """The mutations themselves must not fail (a ValueError there would make the hypothesis test flaky)."""
    from .mutations import mutate
    seeds = all_seeds()
    for k in range(600):
        rng = random.Random(k)
        mutate(seeds[k % len(seeds)][1], rng, n=4).SerializeToString()
