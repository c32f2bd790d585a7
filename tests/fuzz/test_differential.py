"""Differential fuzzing (issue #12): random small graphs of the supported ops, each run through lpfc's
reference interpreter, the compiled library and onnxruntime; zero wrong answers.

Many random subgraphs go into one model per compile (tests/fuzz/differential_gen.py); a model that lpfc
refuses or fails to build is split and its subgraphs compiled one by one, so the culprit is named.  The CI
budget is small and fixed (seeded, < ~90 s here); a longer run is one environment variable away:

    LPFC_FUZZ_MODELS=40 LPFC_FUZZ_SEED=1000 .venv/bin/python -m pytest tests/fuzz/test_differential.py -q -s

``-s`` prints the figures (models, subgraphs, ops, wrong answers).  Each model uses seed ``SEED + i``; a
failure message names the seed and the subgraph's recipe.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

import lpfc
from lpfc.errors import LpfcError

from . import differential_gen as gen

MODELS = int(os.environ.get("LPFC_FUZZ_MODELS", "2"))
SUBGRAPHS = int(os.environ.get("LPFC_FUZZ_SUBGRAPHS", "12"))
SEED = int(os.environ.get("LPFC_FUZZ_SEED", "20261206"))
FUSION = os.environ.get("LPFC_FUZZ_FUSION", "both")       # both | on | off

ort = pytest.importorskip("onnxruntime")


def _ort(path, feeds):
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in s.get_outputs()], s.run(None, feeds)))


def _check(subgraphs, path, feeds, want, lib, what) -> list:
    """[(subgraph, output, which)] of wrong answers: the interpreter and the library against onnxruntime."""
    wrong = []
    interp = lpfc.interpret(lpfc.import_onnx(path), feeds)
    got = lpfc.load(lib, threads=2).run(feeds)
    for g in subgraphs:
        for name, _ in g.outputs:
            for who, res in (("interpreter", interp), (what, got)):
                if not gen.close(np.asarray(res[name]), want[name]):
                    wrong.append((g, name, who))
    return wrong


def _compile_and_check(subgraphs, d, fusion, stats) -> list:
    path = d / "fuzz.onnx"
    gen.batch_model(subgraphs, path)
    feeds = gen.feeds_for(subgraphs, np.random.default_rng(subgraphs[0].seed))
    want = _ort(path, feeds)
    try:
        r = lpfc.compile(path, d / "libfuzz.so", fusion=fusion)
    except LpfcError as e:
        if len(subgraphs) == 1:
            return [(subgraphs[0], None, f"compile failed: {type(e).__name__}: {e}")]
        wrong = []
        for i, g in enumerate(subgraphs):          # name the culprit(s)
            sub = d / f"one{i}"
            sub.mkdir()
            wrong += _compile_and_check([g], sub, fusion, stats)
        return wrong
    stats["compiles"] += 1
    stats["kernels"] += r.kernels
    return _check(subgraphs, path, feeds, want, r.library, "library" + (" (fused)" if fusion else " (no fusion)"))


def _fusions():
    return {"both": [True, False], "on": [True], "off": [False]}[FUSION]


@pytest.mark.parametrize("model", range(MODELS))
def test_random_graphs_agree(model, tmp_path):
    seed = SEED + model
    rng = np.random.default_rng(seed)
    subgraphs = [gen.random_subgraph(rng, k, seed=seed) for k in range(SUBGRAPHS)]
    stats = {"compiles": 0, "kernels": 0}
    # alternate fusion on and off between models (both at once doubles the compiles)
    fusions = _fusions()
    fusion = fusions[model % len(fusions)]
    wrong = _compile_and_check(subgraphs, tmp_path, fusion, stats)
    ops = sum(len(g.ops) for g in subgraphs)
    print(f"\nfuzz model {model} (seed {seed}, fusion {'on' if fusion else 'off'}): {len(subgraphs)} subgraphs, "
          f"{ops} ops, {stats['kernels']} kernels, {len(wrong)} wrong")
    assert not wrong, "wrong answers:\n" + "\n".join(
        f"  {w[2]} on {w[1]}: {w[0].describe()}" if w[1] else f"  {w[2]}: {w[0].describe()}" for w in wrong)


def test_the_comparison_can_fail():
    """the tolerance rejects what a wrong kernel would produce (an off-by-one element, a NaN, a sign)"""
    want = np.linspace(-3, 3, 40, dtype=np.float32).reshape(5, 8)
    assert gen.close(want + 1e-6, want)
    for bad in (np.roll(want, 1, axis=1), np.where(want > 2.9, np.nan, want), -want, want * 1.01, want[:4]):
        assert not gen.close(bad.astype(np.float32), want)
    assert gen.close(np.array([np.inf, 1.0], np.float32), np.array([np.inf, 1.0], np.float32))
