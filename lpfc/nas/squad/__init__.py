"""SQuAD v1.1 for lpfc's question-answering pieces: reading, tokenized windows, the official metric, spans.

Used by the QA app (examples/qa) and by the NAS's ``qa-distill`` evaluator, so the logic exists once:

- ``data``: ``squad_dir()``, ``load_squad``, ``encode`` (384-token windows, stride 128), ``train_features``;
- ``metric``: the official evaluate-v1.1.py EM/F1 (``evaluate``, ``f1_score``, ...);
- ``postprocess``: start/end logits of a question's windows -> ranked answer spans (``best_spans``);
- ``bf16``: ``cpu_has_bf16()``, whether torch's bf16 autocast speeds training up on this CPU.

Only numpy and the standard library at import time; the tokenizer is whatever HF fast tokenizer the caller passes.
"""
from .bf16 import cpu_has_bf16
from .data import MAX_LEN, MAX_QUERY, STRIDE, Example, encode, load_squad, squad_dir, train_features
from .metric import evaluate, exact_match_score, f1_score, metric_max_over_ground_truths, normalize_answer
from .postprocess import MAX_ANSWER_LEN, N_BEST, Span, best_spans

__all__ = ["MAX_ANSWER_LEN", "MAX_LEN", "MAX_QUERY", "N_BEST", "STRIDE", "Example", "Span", "best_spans",
           "cpu_has_bf16", "encode", "evaluate", "exact_match_score", "f1_score", "load_squad", "metric_max_over_ground_truths",
           "normalize_answer", "squad_dir", "train_features"]
