"""SQuAD reading and the standard sliding-window features (max length 384, doc stride 128).

Where the data is: ``squad_dir()`` = ``$LPFC_SQUAD_DIR``, else ``../shared/data/squad`` next to the
checkout (or next to the current directory). Shared by the QA app (examples/qa) and the NAS evaluators.

A feature is one window of the context next to the question: ``[CLS] question [SEP] context-part [SEP]``.
Consecutive windows overlap by ``stride`` tokens so that every answer lies wholly inside at least
one window; the offsets map tokens back to characters of the context for the post-processing.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAX_LEN = 384
STRIDE = 128
MAX_QUERY = 64  # question tokens kept (the standard recipe's max_query_length)
REPO = Path(__file__).resolve().parents[3]


def squad_dir() -> Path:
    """SQuAD v1.1/v2.0 json files: $LPFC_SQUAD_DIR, else ../shared/data/squad next to the checkout."""
    env = os.environ.get("LPFC_SQUAD_DIR")
    if env:
        return Path(env)
    for base in (REPO, Path.cwd()):
        cand = base.parent / "shared" / "data" / "squad"
        if cand.is_dir():
            return cand
    return REPO.parent / "shared" / "data" / "squad"


@dataclass
class Example:
    qid: str
    question: str
    context: str
    answers: list = field(default_factory=list)        # answer texts (dev: several)
    answer_start: int = -1                               # char offset of the first answer (train)


def load_squad(path: Path | str, limit: int | None = None) -> list[Example]:
    """Examples of a SQuAD json file in file order (``limit``: the first N questions)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    out: list[Example] = []
    for article in data:
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                answers = [a["text"] for a in qa.get("answers", [])]
                start = qa["answers"][0]["answer_start"] if qa.get("answers") else -1
                out.append(Example(qa["id"], qa["question"], para["context"], answers, start))
                if limit is not None and len(out) >= limit:
                    return out
    return out


def _truncate_question(tok, question: str) -> str:
    """Questions longer than MAX_QUERY tokens are cut (the window must leave room for the context)."""
    q = question.lstrip()  # SQuAD has questions with leading blanks that only waste window space
    ids = tok(q, add_special_tokens=False)["input_ids"]
    if len(ids) <= MAX_QUERY:
        return q
    return tok.decode(ids[:MAX_QUERY])


def encode(tok, questions: list[str], contexts: list[str], max_len: int = MAX_LEN, stride: int = STRIDE):
    """Tokenize question/context pairs into overlapping windows (HF fast tokenizer, 'only_second').

    ``stride`` is the overlap of consecutive windows in tokens (the transformers run_qa convention
    for ``--doc_stride 128``). Returns the BatchEncoding with ``overflow_to_sample_mapping`` (window -> pair) and
    ``offset_mapping`` (token -> char span in the context; None for question/special tokens).
    """
    questions = [_truncate_question(tok, q) for q in questions]
    enc = tok(questions, contexts, truncation="only_second", max_length=max_len, stride=stride,
              return_overflowing_tokens=True, return_offsets_mapping=True,
              padding=False)
    # Null the offsets of the non-context tokens so the post-processing only picks context spans.
    for i in range(len(enc["input_ids"])):
        seq = enc.sequence_ids(i)
        enc["offset_mapping"][i] = [o if s == 1 else None for o, s in zip(enc["offset_mapping"][i], seq)]
    return enc


def train_features(tok, examples: list[Example], max_len: int = MAX_LEN, stride: int = STRIDE):
    """(input_ids, token_type_ids, start, end) per window that contains its answer.

    Windows without the answer are dropped for training: SQuAD v1.1 always has an answer, they are
    ~3% of the windows, and a short CPU budget is better spent on windows that teach the span.
    """
    enc = encode(tok, [e.question for e in examples], [e.context for e in examples], max_len, stride)
    feats = []
    for i, ids in enumerate(enc["input_ids"]):
        ex = examples[enc["overflow_to_sample_mapping"][i]]
        if ex.answer_start < 0 or not ex.answers:
            continue
        a0 = ex.answer_start
        a1 = a0 + len(ex.answers[0])
        offs = enc["offset_mapping"][i]
        ctx = [t for t, o in enumerate(offs) if o is not None]
        if offs[ctx[0]][0] > a0 or offs[ctx[-1]][1] < a1:
            continue  # the answer is not wholly inside this window
        s = next(t for t in ctx if offs[t][1] > a0)
        e = next(t for t in reversed(ctx) if offs[t][0] < a1)
        if e < s:
            continue
        feats.append((np.asarray(ids, np.int64), np.asarray(enc["token_type_ids"][i], np.int64), s, e))
    return feats
