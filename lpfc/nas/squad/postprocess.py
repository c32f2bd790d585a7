"""From start/end logits of a question's windows to answer spans (the standard SQuAD post-processing).

For each window the ``n_best`` highest start and end logits are paired; a pair is a candidate when
both tokens lie in the context, end >= start and the span is at most ``max_answer_len`` tokens. Its
score is start logit + end logit; candidates of all windows of a question are merged and ranked by
score (a span seen in two overlapping windows keeps its best score). Spans map back to characters of
the original context through the tokenizer's offsets, so the answer is an exact substring.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_BEST = 20
MAX_ANSWER_LEN = 30


@dataclass
class Span:
    text: str
    start: int      # character offsets in the context, [start, end)
    end: int
    score: float    # start logit + end logit
    prob: float = 0.0  # softmax of the scores over the returned candidates


def best_spans(start_logits, end_logits, offsets, context: str, n_best: int = N_BEST,
               max_answer_len: int = MAX_ANSWER_LEN, top: int = 5) -> list[Span]:
    """Rank answer spans over the windows of one question.

    ``start_logits``/``end_logits``: one 1-D array per window; ``offsets``: per window, per token a
    (char start, char end) pair or None for tokens outside the context (question, specials, padding).
    """
    best: dict[tuple[int, int], float] = {}
    for s_log, e_log, offs in zip(start_logits, end_logits, offsets):
        n = min(len(offs), len(s_log))
        s_log = np.asarray(s_log[:n], np.float64)
        e_log = np.asarray(e_log[:n], np.float64)
        in_ctx = np.array([o is not None for o in offs[:n]])
        if not in_ctx.any():
            continue
        masked_s = np.where(in_ctx, s_log, -np.inf)
        masked_e = np.where(in_ctx, e_log, -np.inf)
        starts = np.argsort(-masked_s)[:n_best]
        ends = np.argsort(-masked_e)[:n_best]
        for s in starts:
            if not in_ctx[s]:
                continue
            for e in ends:
                if not in_ctx[e] or e < s or e - s + 1 > max_answer_len:
                    continue
                c0, c1 = offs[s][0], offs[e][1]
                score = float(s_log[s] + e_log[e])
                if score > best.get((c0, c1), -np.inf):
                    best[(c0, c1)] = score
    ranked = sorted(best.items(), key=lambda kv: -kv[1])[:max(top, 1)]
    if not ranked:
        return []
    scores = np.array([sc for _, sc in ranked])
    probs = np.exp(scores - scores.max())
    probs /= probs.sum()
    return [Span(context[c0:c1], c0, c1, sc, float(p)) for ((c0, c1), sc), p in zip(ranked, probs)]
