"""The official SQuAD v1.1 EM/F1 logic, on known cases and on the leaderboard's published dev scores."""
import json

import pytest

from lpfc.nas.squad import evaluate, exact_match_score, f1_score, normalize_answer


@pytest.mark.parametrize("raw, norm", [
    ("The Denver Broncos", "denver broncos"),
    ("  an   apple, a pear!", "apple pear"),
    ("Theatre (the play)", "theatre play"),        # 'the' only as a word
    ("U.S.A.", "usa"),
    ("", ""),
])
def test_normalize_answer(raw, norm):
    assert normalize_answer(raw) == norm


def test_f1_and_em_known_values():
    assert exact_match_score("the Broncos", "Broncos.") == 1.0
    assert exact_match_score("Denver Broncos", "Broncos") == 0.0
    # pred 2 tokens, truth 1, overlap 1: P=1/2, R=1 -> 2/3
    assert f1_score("Denver Broncos", "Broncos") == pytest.approx(2 / 3)
    assert f1_score("Carolina Panthers", "Denver Broncos") == 0.0
    assert f1_score("", "Broncos") == 0.0
    # repeated tokens count with multiplicity (Counter intersection)
    assert f1_score("x y y", "y y z") == pytest.approx(2 / 3)
    # articles are dropped before counting: "a b b" is "b b" (P=1, R=2/3)
    assert f1_score("a b b", "b b c") == pytest.approx(0.8)


def test_evaluate_max_over_ground_truths_and_missing():
    answers = {"q1": ["Denver Broncos", "Broncos"], "q2": ["1990"], "q3": ["x"]}
    preds = {"q1": "Broncos", "q2": "in 1990"}
    r = evaluate(answers, preds)
    assert r["exact_match"] == pytest.approx(100 / 3)            # q1 exact on its second truth
    assert r["f1"] == pytest.approx(100 * (1 + 2 / 3) / 3)       # q2: P=1/2 R=1; q3 missing -> 0
    assert r["missing"] == 1 and r["total"] == 3


@pytest.mark.parametrize("name, em, f1", [
    ("BERT (ensemble) (Google AI Language).v1.1-dev.json", 86.206, 92.196),
    ("Logistic Regression Baseline (Stanford University).v1.1-dev.json", 40.142, 50.982),
])
def test_published_leaderboard_scores(squad_dir, name, em, f1):
    from lpfc.nas.squad import load_squad
    path = squad_dir / "reference_predictions" / name
    if not path.exists():
        pytest.skip(f"{path} is missing")
    truths = {e.qid: e.answers for e in load_squad(squad_dir / "dev-v1.1.json")}
    r = evaluate(truths, json.loads(path.read_text()))
    assert round(r["exact_match"], 3) == em
    assert round(r["f1"], 3) == f1
