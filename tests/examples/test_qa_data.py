"""SQuAD windows (384 tokens, stride 128) and training labels."""
import pytest

from lpfc.nas.squad import Example, encode, load_squad, train_features


def test_labels_point_at_the_answer(tokenizer, squad_dir):
    exs = load_squad(squad_dir / "train-v1.1.json", 40)
    feats = train_features(tokenizer, exs)
    assert len(feats) >= 35
    hits = 0
    for ids, types, s, e in feats:
        assert 0 < s <= e < len(ids) and types[s] == 1 and types[e] == 1
        span = tokenizer.decode(ids[s:e + 1]).replace(" ", "")
        hits += any(span == a.lower().replace(" ", "") for a in (x.answers[0] for x in exs))
    assert hits >= 0.9 * len(feats)  # the rest differ only in accents/punctuation spacing


def test_long_context_windows_cover_every_answer(tokenizer):
    words = [f"w{i}" for i in range(1500)]
    ctx = " ".join(words)
    pos = ctx.index("w1234")
    ex = Example("q", "where is it?", ctx, ["w1234"], pos)
    enc = encode(tokenizer, [ex.question], [ctx])
    assert len(enc["input_ids"]) > 3 and max(len(i) for i in enc["input_ids"]) <= 384
    feats = train_features(tokenizer, [ex])
    assert feats, "some window must contain the answer"
    for ids, _, s, e in feats:
        assert tokenizer.decode(ids[s:e + 1]).replace(" ", "") == "w1234"


def test_overlong_question_is_cut_and_leaves_room_for_context(tokenizer):
    q = "what " * 400
    enc = encode(tokenizer, [q], ["The answer is here."])
    assert len(enc["input_ids"]) == 1
    assert sum(o is not None for o in enc["offset_mapping"][0]) >= 4
