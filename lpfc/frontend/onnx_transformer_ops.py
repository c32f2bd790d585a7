"""ONNX opset 23's transformer ops: RMSNormalization, RotaryEmbedding and Attention.

They import onto the same graph IR that the torch exporters' decomposed spellings canonicalize to
(docs/llama.md), so LP-Fusion fuses them the same way: RMSNormalization is ``graph.rms_norm``;
RotaryEmbedding is gather(cos/sin cache) + split/slice + mul/sub/add + concat (rotate-half or
interleaved); Attention is (Q·scale)·Kᵀ (+ mask / causal bias) → softmax → ·V, with grouped-query heads
as repeat_kv's reshape → expand → reshape of K and V, and past_key/past_value as a concat (the
present_key/present_value outputs); Attention-24's nonpad_kv_seqlen (an external KV cache of fixed
capacity) masks each batch row's keys past its length, with the causal frontier at nonpad_kv_seqlen[b] - S.
What lpfc does not implement is refused by name: softcap, qk_matmul_output_mode ≠ 0 with that output used,
sliding windows (Attention-24/25).
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, UnsupportedError
from ..ir.types import DType
from .onnx import Converter
from .onnx_ops import _axis, _reshape, _scalar, attributes, converter, f32


def _float_input(cv: Converter, node, i: int, what: str):
    v = cv.input(node, i)
    if not v.type.dtype.is_float:
        raise cv.error(ShapeError, f"{node.op_type} {what} must be floating point, got {v.type.dtype}")
    return v


def _stash(cv: Converter, a: dict) -> None:
    if a.get("stash_type", 1) != 1:
        raise cv.error(UnsupportedError, f"stash_type={a['stash_type']} is not supported (only float32 stash)")


# -- RMSNormalization ----------------------------------------------------------------------------------
@converter("RMSNormalization")
def convert_rms_normalization(cv: Converter, node):
    a = attributes(node)
    _stash(cv, a)
    x = _float_input(cv, node, 0, "input X")
    scale = cv.input(node, 1)
    axis = _axis(cv, a.get("axis", -1), x.type.rank)
    norm_shape = x.type.shape[axis:]
    if scale.type.dtype != x.type.dtype:
        raise cv.error(ShapeError, f"scale dtype {scale.type.dtype} differs from X's {x.type.dtype}")
    if scale.type.rank > len(norm_shape) or any(
            s not in (1, d) for s, d in zip(scale.type.shape[::-1], norm_shape[::-1])):
        raise cv.error(ShapeError, f"scale shape {list(scale.type.shape)} does not broadcast to the normalised "
                                   f"shape {list(norm_shape)} (axis {axis})")
    return cv.emit("graph.rms_norm", [x, scale], {"axis": axis, "epsilon": f32(a.get("epsilon", 1e-5))})


# -- RotaryEmbedding -----------------------------------------------------------------------------------
def _last_axis_slice(cv, x, start: int, end: int):
    return cv.emit1("graph.slice", [x], {"starts": [start], "ends": [end], "axes": [x.type.rank - 1],
                                        "steps": [1]})


@converter("RotaryEmbedding")
def convert_rotary_embedding(cv: Converter, node):
    a = attributes(node)
    x = _float_input(cv, node, 0, "input X")
    cos, sin = cv.input(node, 1), cv.input(node, 2)
    pos = cv.input(node, 3, optional=True)
    interleaved = int(a.get("interleaved", 0))
    num_heads = int(a.get("num_heads", 0))
    rd = int(a.get("rotary_embedding_dim", 0))
    if interleaved not in (0, 1):
        raise cv.error(ShapeError, f"interleaved must be 0 or 1, got {interleaved}")
    shape = x.type.shape
    if x.type.rank == 4:                        # [B, H, S, D] -> [B, S, H, D]
        B, H, S, D = shape
        x4 = cv.emit1("graph.transpose", [x], {"perm": [0, 2, 1, 3]})
    elif x.type.rank == 3:                      # [B, S, H*D] -> [B, S, H, D]
        if num_heads <= 0 or shape[2] % num_heads:
            raise cv.error(ShapeError, f"a 3-D input needs num_heads > 0 dividing its hidden size {shape[2]}, "
                                       f"got num_heads={num_heads}")
        B, S, H, D = shape[0], shape[1], num_heads, shape[2] // num_heads
        x4 = _reshape(cv, x, [B, S, H, D])[0]
    else:
        raise cv.error(ShapeError, f"input X must be 3-D or 4-D, got rank {x.type.rank}")
    rd = rd or D
    if rd % 2 or not 0 < rd <= D:
        raise cv.error(ShapeError, f"rotary_embedding_dim {rd} must be even and at most the head size {D}")
    half = rd // 2
    caches = []
    for c, name in ((cos, "cos_cache"), (sin, "sin_cache")):
        if c.type.dtype != x.type.dtype:
            raise cv.error(ShapeError, f"{name} dtype {c.type.dtype} differs from X's {x.type.dtype}")
        if pos is not None:
            if c.type.rank != 2 or c.type.shape[1] != half:
                raise cv.error(ShapeError, f"{name} must be [max_position, {half}] with position_ids, got "
                                           f"{list(c.type.shape)}")
            if pos.type.shape != (B, S) or not pos.type.dtype.is_int:
                raise cv.error(ShapeError, f"position_ids must be integer [{B}, {S}], got {pos.type}")
            c = cv.emit1("graph.gather", [c, pos], {"axis": 0})
        elif c.type.shape != (B, S, half):
            raise cv.error(ShapeError, f"{name} must be [{B}, {S}, {half}] without position_ids, got "
                                       f"{list(c.type.shape)}")
        caches.append(_reshape(cv, c, [B, S, 1, half])[0])
    cos4, sin4 = caches
    x_rot = x4 if rd == D else _last_axis_slice(cv, x4, 0, rd)
    if interleaved:
        pairs = _reshape(cv, x_rot, [B, S, H, half, 2])[0]
        x1, x2 = (_reshape(cv, _last_axis_slice(cv, pairs, k, k + 1), [B, S, H, half])[0] for k in (0, 1))
    else:
        x1, x2 = cv.emit("graph.split", [x_rot], {"axis": 3, "sizes": [half, half]})
    real = cv.emit1("graph.sub", [cv.emit1("graph.mul", [x1, cos4]), cv.emit1("graph.mul", [x2, sin4])])
    imag = cv.emit1("graph.add", [cv.emit1("graph.mul", [x1, sin4]), cv.emit1("graph.mul", [x2, cos4])])
    if interleaved:
        r5, i5 = (_reshape(cv, t, [B, S, H, half, 1])[0] for t in (real, imag))
        rotated = _reshape(cv, cv.emit1("graph.concat", [r5, i5], {"axis": 4}), [B, S, H, rd])[0]
    else:
        rotated = cv.emit1("graph.concat", [real, imag], {"axis": 3})
    if rd < D:
        rotated = cv.emit1("graph.concat", [rotated, _last_axis_slice(cv, x4, rd, D)], {"axis": 3})
    if x.type.rank == 4:
        return cv.emit("graph.transpose", [rotated], {"perm": [0, 2, 1, 3]})
    return _reshape(cv, rotated, list(shape))


# -- Attention -------------------------------------------------------------------------------------------
def _heads(cv, v, num_heads: int, what: str):
    """A 3-D [B, S, H*D] input as [B, H, S, D]."""
    B, S, HD = v.type.shape
    if num_heads <= 0 or HD % num_heads:
        raise cv.error(ShapeError, f"3-D {what} needs q_num_heads/kv_num_heads dividing its hidden size {HD}, "
                                   f"got {num_heads}")
    r = _reshape(cv, v, [B, S, num_heads, HD // num_heads])[0]
    return cv.emit1("graph.transpose", [r], {"perm": [0, 2, 1, 3]})


def _repeat_kv(cv, v, groups: int):
    """repeat_kv: [B, Hkv, T, D] -> [B, Hkv*groups, T, D], each KV head repeated for its query heads."""
    if groups == 1:
        return v
    B, Hkv, T, D = v.type.shape
    r = _reshape(cv, v, [B, Hkv, 1, T, D])[0]
    e = cv.emit1("graph.expand", [r], {"shape": [B, Hkv, groups, T, D]})
    return _reshape(cv, e, [B, Hkv * groups, T, D])[0]


def _refuse_unsupported_attention(cv: Converter, node, a: dict) -> None:
    """The Attention features lpfc does not import, each refused by name."""
    if float(a.get("softcap", 0.0)) != 0.0:
        raise cv.error(UnsupportedError, f"softcap={a['softcap']} is not supported")
    for w in ("left_window_size", "right_window_size"):
        if int(a.get(w, -1)) != -1:
            raise cv.error(UnsupportedError, f"{w}={a[w]} (sliding-window attention) is not supported")
    if len(node.output) > 3 and node.output[3]:
        raise cv.error(UnsupportedError, "the qk_matmul_output output is not supported")


@converter("Attention")
def convert_attention(cv: Converter, node):
    a = attributes(node)
    q, k, v = (_float_input(cv, node, i, n) for i, n in enumerate(("Q", "K", "V")))
    mask = cv.input(node, 3, optional=True)
    past_k, past_v = cv.input(node, 4, optional=True), cv.input(node, 5, optional=True)
    nonpad = cv.input(node, 6, optional=True)
    _refuse_unsupported_attention(cv, node, a)
    is_causal = int(a.get("is_causal", 0))
    if is_causal not in (0, 1):
        raise cv.error(ShapeError, f"is_causal must be 0 or 1, got {is_causal}")
    if (past_k is None) != (past_v is None):
        raise cv.error(ShapeError, "past_key and past_value must be given together")
    if nonpad is not None and past_k is not None:
        raise cv.error(ShapeError, "nonpad_kv_seqlen (an external KV cache) cannot be combined with past_key/"
                                   "past_value")
    ranks = {q.type.rank, k.type.rank, v.type.rank}
    if len(ranks) != 1 or ranks.pop() not in (3, 4):
        raise cv.error(ShapeError, "Q, K and V must all be 3-D or all 4-D, got ranks "
                                   f"{q.type.rank}, {k.type.rank}, {v.type.rank}")
    three_d = q.type.rank == 3
    if not three_d and cv.op_version(node) >= 25 and ("q_num_heads" in a or "kv_num_heads" in a):
        raise cv.error(ShapeError, "q_num_heads and kv_num_heads must not be given for 4-D inputs (Attention-25)")
    if three_d:
        qh, kvh = int(a.get("q_num_heads", 0)), int(a.get("kv_num_heads", 0))
        q, k, v = _heads(cv, q, qh, "Q"), _heads(cv, k, kvh, "K"), _heads(cv, v, kvh, "V")
    B, H, S, D = q.type.shape
    if k.type.shape[0] != B or v.type.shape[0] != B or k.type.shape[1] != v.type.shape[1] \
            or k.type.shape[3] != D or k.type.shape[2] != v.type.shape[2]:
        raise cv.error(ShapeError, f"K {list(k.type.shape)} and V {list(v.type.shape)} do not match Q "
                                   f"{list(q.type.shape)} (as [batch, heads, sequence, head size])")
    Hkv = k.type.shape[1]
    if H % Hkv:
        raise cv.error(ShapeError, f"{H} query heads cannot share {Hkv} key/value heads (not a multiple)")
    if past_k is not None:
        if past_k.type.rank != 4 or past_k.type.shape[:2] != (B, Hkv) or past_k.type.shape[3] != D \
                or past_v.type.shape[:2] != (B, Hkv) or past_v.type.shape[2] != past_k.type.shape[2]:
            raise cv.error(ShapeError, f"past_key {list(past_k.type.shape)} / past_value {list(past_v.type.shape)}"
                                       f" must be [{B}, {Hkv}, past, head size]")
        k = cv.emit1("graph.concat", [past_k, k], {"axis": 2})
        v = cv.emit1("graph.concat", [past_v, v], {"axis": 2})
    present_k, present_v = k, v
    T = k.type.shape[2]
    dt = q.type.dtype
    scale = a.get("scale")
    scale = f32(scale) if scale is not None else 1.0 / float(np.sqrt(D))
    qs = cv.emit1("graph.mul", [q, _scalar(cv, scale, dt)])
    kt = cv.emit1("graph.transpose", [_repeat_kv(cv, k, H // Hkv)], {"perm": [0, 1, 3, 2]})
    scores = cv.emit1("graph.matmul", [qs, kt])
    bias = None
    if mask is not None:
        if mask.type.rank > 4 or mask.type.shape[-1] > T:
            raise cv.error(ShapeError, f"attn_mask {list(mask.type.shape)} does not broadcast to [{B}, {H}, {S}, {T}]")
        if mask.type.dtype == DType.bool:
            mask = cv.emit1("graph.where", [mask, _scalar(cv, 0.0, dt), _scalar(cv, -np.inf, dt)])
        elif mask.type.dtype != dt:
            raise cv.error(ShapeError, f"attn_mask must be bool or {dt}, got {mask.type.dtype}")
        if mask.type.shape[-1] < T:       # a shorter mask is padded with -inf (keys it does not cover)
            mask = cv.emit1("graph.pad", [mask], {"pads": [0] * (mask.type.rank - 1) + [0]
                                                   + [0] * (mask.type.rank - 1) + [T - mask.type.shape[-1]],
                                                   "mode": "constant", "value": float("-inf")})
        bias = mask
    if nonpad is not None:       # Attention-24's external cache: batch row b holds nonpad_kv_seqlen[b] valid keys
        if nonpad.type.shape != (B,) or not nonpad.type.dtype.is_int:
            raise cv.error(ShapeError, f"nonpad_kv_seqlen must be integers of shape [{B}], got {nonpad.type}")
        it = nonpad.type.dtype
        valid = _reshape(cv, nonpad, [B, 1, 1, 1])[0]
        keys = cv.constant(np.arange(T, dtype=it.numpy).reshape(1, 1, 1, T))
        if is_causal:            # query i sees keys j <= i + nonpad[b] - S (bottom-right, per row)
            last = cv.emit1("graph.add", [cv.emit1("graph.sub", [valid, _scalar(cv, S, it)]),
                                          cv.constant(np.arange(S, dtype=it.numpy).reshape(1, 1, S, 1))])
            causal = cv.emit1("graph.where", [cv.emit1("graph.less_equal", [keys, last]), _scalar(cv, 0.0, dt),
                                              _scalar(cv, -np.inf, dt)])
            bias = causal if bias is None else cv.emit1("graph.add", [bias, causal])
        pad = cv.emit1("graph.where", [cv.emit1("graph.less", [keys, valid]), _scalar(cv, 0.0, dt),
                                       _scalar(cv, -np.inf, dt)])
        bias = pad if bias is None else cv.emit1("graph.add", [bias, pad])
    elif is_causal:
        offset = past_k.type.shape[2] if past_k is not None else 0   # bottom-right of the past, as the spec
        allowed = np.arange(T)[None, :] <= np.arange(S)[:, None] + offset
        causal = cv.constant(np.where(allowed, 0.0, -np.inf).astype(dt.numpy))
        bias = causal if bias is None else cv.emit1("graph.add", [bias, causal])
    if bias is not None:
        scores = cv.emit1("graph.add", [scores, bias])
    # A fully masked row (all -inf) gives zeros, as the reference's guard does.
    probs = cv.emit1("graph.softmax", [scores], {"axis": -1, "nan_to_zero": bias is not None})
    y = cv.emit1("graph.matmul", [probs, _repeat_kv(cv, v, H // Hkv)])
    if three_d:
        y = _reshape(cv, cv.emit1("graph.transpose", [y], {"perm": [0, 2, 1, 3]}), [B, S, H * y.type.shape[3]])[0]
    return [y, present_k, present_v]
