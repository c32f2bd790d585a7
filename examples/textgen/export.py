"""Static-shape ONNX exports of a causal language model for incremental decoding (docs/textgen.md).

Two graphs per model, every shape fixed:

* **prefill** -- ``input_ids`` int64 [1, P] (the prompt, padded with any id) and ``length`` int64 [1]
  (its real length n, 1 <= n <= P)  ->  ``logits`` float32 [1, V] (the next-token logits after
  position n-1) and ``key.i`` / ``value.i`` float32 [1, P, Hkv, D] per layer (rows >= n are padding
  garbage; the caller copies rows [0, n) into its cache).
* **decode** -- ``input_ids`` int64 [1, 1], ``past_len`` int64 [1] (the tokens already in the cache,
  which is also this token's position), ``past_key.i`` float32 [1, Hkv, D, L] (the keys *transposed*: a
  column per position) and ``past_value.i`` float32 [1, Hkv, L, D] per layer (the caller's cache; positions
  >= past_len are ignored, masked out)  ->  ``logits`` [1, V] and only the *new* rows ``key.i`` /
  ``value.i`` [1, Hkv, 1, D], which the caller writes at position past_len (the key as a column).
  Transposed keys make ``q @ Kᵀ`` read the cache along its rows, as ``p @ V`` does: the compiled
  score loop runs over contiguous positions (5x faster than over a stride of D).

The decode step never concatenates the cache with the new row (that would copy the whole cache every
token): it scores the query against the cache and against the new key separately, concatenates the
two score vectors (L + 1 floats per head), and sums ``p[:L] @ V_cache + p[L] * v_new``.  Grouped-query
attention keeps the cache at the model's Hkv key/value heads: the query heads sharing a key/value head
are a matrix of G rows against it (HF's ``repeat_kv`` order: query head h uses key/value head h // G).

The models are transformers' own modules (embeddings, norms, projections, MLPs, LM head): only the
attention and the cache plumbing are written here, so the ONNX spells everything else as the zoo's
exports do.  Exported with torch's TorchScript exporter (opset 14), as examples/qa does.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class Shapes:
    """The fixed sizes of one model's exports."""

    layers: int
    heads: int        # query heads H
    kv_heads: int     # key/value heads Hkv (H for GPT-2; 3 for SmolLM2)
    head_dim: int     # D
    vocab: int        # V
    prefill: int      # P: the longest prompt
    capacity: int     # L: the cache rows (prompt + generated tokens)
    keys_transposed: bool = False   # the decode graph's past keys are [1, Hkv, D, L] (every export since
                                    # 2026-12-07; builds before it have [1, Hkv, L, D])
    prefill_kv_rows: bool = False   # the prefill's key.i / value.i are [1, P, Hkv, D] (since 2026-12-07;
                                    # before: [1, Hkv, P, D])

    @property
    def group(self) -> int:
        return self.heads // self.kv_heads


# --------------------------------------------------------------------------- per-architecture adapters

class _GPT2(nn.Module):
    """transformers' GPT2LMHeadModel, layer by layer."""

    def __init__(self, m):
        super().__init__()
        self.m = m
        c = m.config
        self.layers, self.heads, self.kv_heads = c.n_layer, c.n_head, c.n_head
        self.head_dim = c.n_embd // c.n_head
        self.max_positions = c.n_positions

    def embed(self, ids, positions):
        t = self.m.transformer
        return t.wte(ids) + t.wpe(positions)

    def qkv(self, i, h, positions):
        blk = self.m.transformer.h[i]
        x = blk.ln_1(h)
        q, k, v = blk.attn.c_attn(x).split(self.heads * self.head_dim, dim=2)
        return _heads(q, self.heads), _heads(k, self.kv_heads), _heads(v, self.kv_heads), x

    def qkv_rows(self, i, h, positions, scale):
        """q (not scaled: GPT-2's scores are scaled after the product), k, v as [1, S, n*D] rows."""
        blk = self.m.transformer.h[i]
        q, k, v = blk.attn.c_attn(blk.ln_1(h)).split(self.heads * self.head_dim, dim=2)
        return q, k, v, False

    def out(self, i, h, attn):
        blk = self.m.transformer.h[i]
        h = h + blk.attn.c_proj(attn)
        return h + blk.mlp(blk.ln_2(h))

    def logits(self, h):
        return self.m.lm_head(self.m.transformer.ln_f(h))


class _Llama(nn.Module):
    """transformers' LlamaForCausalLM (SmolLM2), layer by layer; RoPE from a precomputed cos/sin table."""

    def __init__(self, m, max_positions: int):
        super().__init__()
        self.m = m
        c = m.config
        self.layers, self.heads, self.kv_heads = c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads
        self.head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
        self.max_positions = max_positions
        with torch.no_grad():   # the model's own rotary module, so the table is bit-identical to HF's
            pos = torch.arange(max_positions)[None]
            cos, sin = m.model.rotary_emb(torch.zeros(1, dtype=torch.float32), pos)
        self.register_buffer("cos", cos[0].contiguous(), persistent=False)   # [Lmax, D]
        self.register_buffer("sin", sin[0].contiguous(), persistent=False)

    def embed(self, ids, positions):
        return self.m.model.embed_tokens(ids)

    def qkv(self, i, h, positions):
        layer = self.m.model.layers[i]
        a = layer.self_attn
        x = layer.input_layernorm(h)
        q = _heads(a.q_proj(x), self.heads, self.head_dim)
        k = _heads(a.k_proj(x), self.kv_heads, self.head_dim)
        v = _heads(a.v_proj(x), self.kv_heads, self.head_dim)
        cos, sin = self.cos[positions][:, None], self.sin[positions][:, None]   # [1, 1, S, D]
        return _rope(q, cos, sin), _rope(k, cos, sin), v, x

    def qkv_rows(self, i, h, positions, scale):
        """q (RoPE'd and times ``scale``), k (RoPE'd), v as [1, S, n*D] rows, RoPE spelt without moving columns:
        rotate_half(x W) = x (R W) for the signed permutation R of each head's columns, so the rotated query is
        ``(x Wq) * cos + (x R Wq) * sin``, two projections and element-wise ops (the second projection's
        epilogue), and the attention block reads the query as it is (cpp-attention takes it).  ``scale`` (1/8
        for D = 64: a power of two, so exact) is folded into the query's tables."""
        layer = self.m.model.layers[i]
        a = layer.self_attn
        x = layer.input_layernorm(h)
        H, Hkv, D = self.heads, self.kv_heads, self.head_dim
        cos, sin = self.cos[positions[0]], self.sin[positions[0]]             # [S, D]
        wq, wk = a.q_proj.weight, a.k_proj.weight
        q = F.linear(x, wq) * (cos * scale).repeat(1, H) + F.linear(x, _rotated_rows(wq, H, D)) * (sin * scale).repeat(1, H)
        k = F.linear(x, wk) * cos.repeat(1, Hkv) + F.linear(x, _rotated_rows(wk, Hkv, D)) * sin.repeat(1, Hkv)
        return q, k, a.v_proj(x), True

    def out(self, i, h, attn):
        layer = self.m.model.layers[i]
        h = h + layer.self_attn.o_proj(attn)
        return h + layer.mlp(layer.post_attention_layernorm(h))

    def logits(self, h):
        return self.m.lm_head(self.m.model.norm(h))


def _rotated_rows(w, n, d):
    """The rows of a projection weight [n*d, E] permuted and signed so that x @ result.T = rotate_half(x @ w.T)."""
    w = w.reshape(n, d, -1)
    return torch.cat((-w[:, d // 2:], w[:, :d // 2]), 1).reshape(n * d, -1)


def _rope(x, cos, sin):
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


def _heads(x, n, d=None):
    """[1, S, n*d] -> [1, n, S, d]"""
    b, s, e = x.shape
    return x.view(b, s, n, d or e // n).transpose(1, 2)


def adapter(model, max_positions: int):
    kind = type(model).__name__
    if kind == "GPT2LMHeadModel":
        return _GPT2(model)
    if kind == "LlamaForCausalLM":
        return _Llama(model, max_positions)
    raise ValueError(f"no textgen export for {kind}; GPT2LMHeadModel and LlamaForCausalLM are supported")


# --------------------------------------------------------------------------- the two graphs

class Prefill(nn.Module):
    """The prompt's forward pass.  The attention is spelt so that lpfc's attention emitter takes it: grouped
    heads as a broadcast (``expand``) of each key/value head over its G query heads, [1, Hkv, G, P, D] (no
    repeat_interleave copy), the causal mask as an additive bias (finfo.min above the diagonal: the same
    probabilities as torch.where, exactly), RoPE in the projections (``qkv_rows``).  Keys and values come
    out as the projections' rows, [1, P, Hkv, D]."""

    def __init__(self, arch, prompt_len: int):
        super().__init__()
        self.a, self.P = arch, prompt_len

    def forward(self, input_ids, length):
        a, P = self.a, self.P
        H, Hkv, D = a.heads, a.kv_heads, a.head_dim
        G = H // Hkv
        positions = torch.arange(P)
        h = a.embed(input_ids, positions[None])
        # causal only: rows < length see only real tokens; padded rows are garbage nobody reads
        bias = torch.full((P, P), torch.finfo(torch.float32).min).triu(1)
        scale = D ** -0.5
        keys, values = [], []
        for i in range(a.layers):
            q, k, v, scaled = a.qkv_rows(i, h, positions[None], scale)      # [1, P, n*D]
            keys.append(k.reshape(1, P, Hkv, D))
            values.append(v.reshape(1, P, Hkv, D))
            # HF's repeat_kv order: query head j*G + r reads key/value head j
            qh = q.reshape(1, P, Hkv, G, D).permute(0, 2, 3, 1, 4)                       # [1, Hkv, G, P, D]
            kt = k.reshape(1, P, Hkv, 1, D).permute(0, 2, 3, 4, 1).expand(1, Hkv, G, D, P)
            vh = v.reshape(1, P, Hkv, 1, D).permute(0, 2, 3, 1, 4).expand(1, Hkv, G, P, D)
            s = torch.matmul(qh, kt)
            s = (s if scaled else s * scale) + bias
            o = torch.matmul(torch.softmax(s, dim=-1), vh)                                # [1, Hkv, G, P, D]
            h = a.out(i, h, o.permute(0, 3, 1, 2, 4).reshape(1, P, H * D))
        last = torch.index_select(h, 1, length - 1)            # [1, 1, E]: only the last real row
        logits = a.logits(last).reshape(1, -1)
        return (logits, *[t for kv in zip(keys, values) for t in kv])


class Decode(nn.Module):
    def __init__(self, arch, capacity: int):
        super().__init__()
        self.a, self.L = arch, capacity

    def forward(self, input_ids, past_len, *cache):
        a, L = self.a, self.L
        Hkv, G, D = a.kv_heads, a.heads // a.kv_heads, a.head_dim
        h = a.embed(input_ids, past_len[None])
        valid = torch.arange(L) < past_len                      # [L]: the rows written so far
        scale = D ** -0.5
        outs = []
        for i in range(a.layers):
            past_kt, past_v = cache[2 * i], cache[2 * i + 1]    # [1, Hkv, D, L] and [1, Hkv, L, D], read only
            q, k, v, _ = a.qkv(i, h, past_len[None])            # q [1, H, 1, D]; k, v [1, Hkv, 1, D]
            outs += [k, v]
            qg = q.reshape(1, Hkv, G, D)
            s_past = torch.matmul(qg, past_kt) * scale                            # [1, Hkv, G, L]
            s_past = torch.where(valid, s_past, torch.tensor(torch.finfo(torch.float32).min))
            s_new = (qg * k).sum(-1, keepdim=True) * scale                        # [1, Hkv, G, 1]
            p = torch.softmax(torch.cat((s_past, s_new), dim=-1), dim=-1)
            o = torch.matmul(p[..., :L], past_v) + p[..., L:] * v                 # [1, Hkv, G, D]
            h = a.out(i, h, o.reshape(1, 1, a.heads * D))
        logits = a.logits(h).reshape(1, -1)
        return (logits, *outs)


def shapes_of(arch, vocab: int, prompt_len: int, capacity: int) -> Shapes:
    if not 1 <= prompt_len <= capacity:
        raise ValueError(f"the prompt capacity P={prompt_len} must be between 1 and the cache capacity L={capacity}")
    if capacity > arch.max_positions:
        raise ValueError(f"the cache capacity L={capacity} exceeds the model's {arch.max_positions} positions")
    return Shapes(arch.layers, arch.heads, arch.kv_heads, arch.head_dim, vocab, prompt_len, capacity,
                  keys_transposed=True, prefill_kv_rows=True)


def _export(module, args, names_in, names_out, dest: Path):
    # eval() on the wrapper: the exporter restores the wrapper's training flag recursively afterwards, and a
    # fresh nn.Module is in training mode -- that would leave the wrapped model with dropout on
    module = module.eval()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")   # tracer notices; the exports are checked against transformers
        torch.onnx.export(module, args, str(tmp), input_names=names_in, output_names=names_out,
                          opset_version=14, dynamo=False)
    os.replace(tmp, dest)
    return dest


def export(model, dest_dir: Path, prompt_len: int, capacity: int) -> tuple[Path, Path, Shapes]:
    """Writes ``prefill.onnx`` and ``decode.onnx`` for ``model`` (a transformers causal LM, eval mode)."""
    model = model.eval()
    arch = adapter(model, capacity)
    sh = shapes_of(arch, model.config.vocab_size, prompt_len, capacity)
    kv_names = [f"{kind}.{i}" for i in range(sh.layers) for kind in ("key", "value")]
    ids = torch.zeros(1, prompt_len, dtype=torch.int64)
    pre = _export(Prefill(arch, prompt_len), (ids, torch.tensor([prompt_len])), ["input_ids", "length"],
                  ["logits"] + kv_names, Path(dest_dir) / "prefill.onnx")
    cache = [torch.zeros(1, sh.kv_heads, sh.head_dim, capacity) if j % 2 == 0 else
             torch.zeros(1, sh.kv_heads, capacity, sh.head_dim) for j in range(2 * sh.layers)]
    past_names = [f"past_{n}" for n in kv_names]
    dec = _export(Decode(arch, capacity), (torch.zeros(1, 1, dtype=torch.int64), torch.tensor([1]), *cache),
                  ["input_ids", "past_len"] + past_names, ["logits"] + kv_names, Path(dest_dir) / "decode.onnx")
    return pre, dec, sh
