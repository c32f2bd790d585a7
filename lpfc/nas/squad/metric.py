"""The official SQuAD v1.1 evaluation (evaluate-v1.1.py): exact match and token F1, max over ground truths."""
from __future__ import annotations

import re
import string
from collections import Counter

_PUNCT = set(string.punctuation)


def normalize_answer(s: str) -> str:
    """Lower case, drop punctuation, the articles a/an/the, and extra white space (as the official script)."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def f1_score(prediction: str, ground_truth: str) -> float:
    pred = normalize_answer(prediction).split()
    truth = normalize_answer(ground_truth).split()
    common = Counter(pred) & Counter(truth)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred)
    recall = same / len(truth)
    return 2 * precision * recall / (precision + recall)


def exact_match_score(prediction: str, ground_truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(ground_truth))


def metric_max_over_ground_truths(fn, prediction: str, ground_truths) -> float:
    return max(fn(prediction, gt) for gt in ground_truths)


def evaluate(answers: dict, predictions: dict) -> dict:
    """``answers``: qid -> list of ground-truth texts; ``predictions``: qid -> text.

    Returns {"exact_match", "f1"} in percent over ``answers`` (a question without a prediction counts 0,
    as the official script does, which also warns about it) and ``missing``: how many those were.
    """
    em = f1 = 0.0
    missing = 0
    for qid, truths in answers.items():
        if qid not in predictions:
            missing += 1
            continue
        em += metric_max_over_ground_truths(exact_match_score, predictions[qid], truths)
        f1 += metric_max_over_ground_truths(f1_score, predictions[qid], truths)
    n = max(len(answers), 1)
    return {"exact_match": 100.0 * em / n, "f1": 100.0 * f1 / n, "missing": missing, "total": len(answers)}
