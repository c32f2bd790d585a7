"""The n-best span search and the merge over windows, on synthetic logits."""
import numpy as np
import pytest

from lpfc.nas.squad import best_spans

CTX = "Paris is the capital of France."
# tokens: [CLS] q [SEP] Paris is the capital of France . [SEP]
OFFS = [None, None, None, (0, 5), (6, 8), (9, 12), (13, 20), (21, 23), (24, 30), (30, 31), None]


def logits(start_tok, end_tok, n=len(OFFS), hi=5.0):
    s = np.zeros(n, np.float32)
    e = np.zeros(n, np.float32)
    s[start_tok] = hi
    e[end_tok] = hi
    return s, e


def test_best_span_maps_to_characters():
    s, e = logits(3, 3)
    spans = best_spans([s], [e], [OFFS], CTX)
    assert spans[0].text == "Paris" and (spans[0].start, spans[0].end) == (0, 5)
    assert spans[0].score == pytest.approx(10.0)
    assert sum(sp.prob for sp in spans) == pytest.approx(1.0)


def test_spans_outside_the_context_and_reversed_spans_are_never_chosen():
    s, e = logits(0, 0, hi=50.0)          # [CLS] has the highest logits
    s[8], e[6] = 10.0, 10.0               # "France" .. "capital": end before start, invalid (20)
    s[5] = 4.0                            # "the" .. "capital": the best valid pair (14)
    best = best_spans([s], [e], [OFFS], CTX)[0]
    assert best.start <= best.end
    assert best.text == "the capital"
    assert best.score == pytest.approx(14.0)


def test_max_answer_length():
    s, e = logits(3, 8)
    assert best_spans([s], [e], [OFFS], CTX, max_answer_len=30)[0].text == "Paris is the capital of France"
    assert len(best_spans([s], [e], [OFFS], CTX, max_answer_len=2)[0].text.split()) <= 2


def test_windows_merge_by_best_score():
    s1, e1 = logits(3, 3, hi=2.0)   # window 1 likes "Paris" a little
    s2, e2 = logits(8, 8, hi=6.0)   # window 2 likes "France" a lot
    spans = best_spans([s1, s2], [e1, e2], [OFFS, OFFS], CTX, top=100)
    assert spans[0].text == "France"
    assert [sp.score for sp in spans if sp.text == "Paris"] == [pytest.approx(4.0)]
    # the same span in two windows keeps its best score, listed once
    spans = best_spans([s2, s2 * 0.5], [e2, e2 * 0.5], [OFFS, OFFS], CTX, top=50)
    assert [sp.text for sp in spans].count("France") == 1
    assert spans[0].score == pytest.approx(12.0)


def test_no_context_tokens_gives_no_span():
    s, e = logits(0, 0)
    assert best_spans([s], [e], [[None] * len(OFFS)], CTX) == []
