"""Answering with a compiled QA model: tokenize into windows, run each window, rank the spans.

``Answerer`` runs the lpfc libraries (``lpfc.load``) or, for comparison, onnxruntime on the same ONNX files.
Given several (one per window length, ``build.build_buckets``), each window runs on the shortest that
holds it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from lpfc.nas.squad import STRIDE, Span, best_spans, encode

from .paths import load_tokenizer

MAX_CONTEXT_CHARS = 200_000  # ~500 windows; beyond that an answer would take minutes, say so instead


class QAError(ValueError):
    """A question/paragraph the app cannot answer (empty, too long): a message for the user, not a crash."""


@dataclass
class Answer:
    spans: list[Span]           # best first
    windows: int                # model runs it took
    model_ms: float             # time inside the compiled model (all windows)
    total_ms: float             # tokenizing + model + post-processing
    notes: list = field(default_factory=list)

    @property
    def best(self) -> Span | None:
        return self.spans[0] if self.spans else None


def _feeds(ids, types, seq_len):
    n = len(ids)
    a = np.zeros((1, seq_len), np.int64)
    t = np.zeros_like(a)
    m = np.zeros_like(a)
    a[0, :n], t[0, :n], m[0, :n] = ids, types, 1
    return {"input_ids": a, "attention_mask": m, "token_type_ids": t}


def _open(path, runtime: str, threads: int | None):
    """(window length, feeds -> {output name: array}) of one library or ONNX file."""
    if runtime == "lpfc":
        import lpfc
        session = lpfc.load(path, threads=threads)
        return int(session.get_inputs()[0].shape[1]), session.run
    if runtime == "ort":
        import onnxruntime as ort
        so = ort.SessionOptions()
        if threads:
            so.intra_op_num_threads = threads
        session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        return int(session.get_inputs()[0].shape[1]), lambda feeds: dict(zip(names, session.run(None, feeds)))
    raise ValueError(f"runtime must be 'lpfc' or 'ort', not {runtime!r}")


class Answerer:
    """``Answerer(lib_or_onnx, runtime="lpfc"|"ort", threads=N)``; ``.answer(question, context)``.

    ``lib_or_onnx`` may be a list, one per window length: a window runs on the shortest that holds it.
    """

    def __init__(self, path, runtime: str = "lpfc", threads: int | None = None, tokenizer=None):
        self.runtime = runtime
        paths = list(path) if isinstance(path, (list, tuple)) else [path]
        self.buckets = sorted((_open(p, runtime, threads) for p in paths), key=lambda b: b[0])
        self.seq_len, self._run = self.buckets[-1]  # windows are cut at the longest length
        self.tokenizer = tokenizer or load_tokenizer()

    def logits(self, ids, types):
        """Start and end logits of one window, from the shortest bucket that holds it (its length)."""
        seq_len, run = next((b for b in self.buckets if b[0] >= len(ids)), (None, None))
        if run is None:
            raise QAError(f"a window of {len(ids)} tokens is longer than the longest model ({self.seq_len})")
        out = run(_feeds(ids, types, seq_len))
        return out["start_logits"][0], out["end_logits"][0]

    def answer(self, question: str, context: str, top: int = 5) -> Answer:
        t0 = time.perf_counter()
        notes = []
        if not question or not question.strip():
            raise QAError("the question is empty: type a question about the paragraph")
        if not context or not context.strip():
            raise QAError("the paragraph is empty: paste a paragraph that may contain the answer")
        if len(context) > MAX_CONTEXT_CHARS:
            raise QAError(f"the paragraph has {len(context):,} characters; the app reads at most "
                          f"{MAX_CONTEXT_CHARS:,}")
        enc = encode(self.tokenizer, [question], [context], self.seq_len, STRIDE)
        if len(self.tokenizer(question.strip(), add_special_tokens=False)["input_ids"]) > 64:
            notes.append("the question was cut to its first 64 tokens")
        starts, ends, offs = [], [], []
        model_s = 0.0
        for i, ids in enumerate(enc["input_ids"]):
            t = time.perf_counter()
            s, e = self.logits(ids, enc["token_type_ids"][i])
            model_s += time.perf_counter() - t
            starts.append(s)
            ends.append(e)
            offs.append(enc["offset_mapping"][i])
        spans = best_spans(starts, ends, offs, context, top=top)
        if not spans:
            notes.append("no answer span found in the paragraph")
        return Answer(spans, len(starts), model_s * 1e3, (time.perf_counter() - t0) * 1e3, notes)
