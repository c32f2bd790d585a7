"""onnxruntime's contrib ops (domain ``com.microsoft``), as written by its transformer optimizer.

``onnxruntime.transformers.optimizer`` (and ``optimum``) replace a transformer's
subgraphs by fused ops: ``Attention``, ``SkipLayerNormalization``, ``BiasGelu``,
... Each is imported here as the graph ops the *unoptimized* export of the same
layer becomes after ``canonicalize`` (three Q/K/V matmuls, reshape/transpose to
heads, the scale on the left matmul operand, an additive mask, softmax, the
head merge; ``add`` then ``graph.layer_norm``; ``graph.gelu``), so LP-Fusion forms
the same fused attention, GEMM+LayerNorm and GEMM+GELU kernels from either file.

ORT's semantics are followed, not the original model's: an ``Attention`` mask
adds ``mask_filter_value`` (default -10000) to masked scores, and a 1-D
``mask_index`` holds end (and start) positions.  ``SimplifiedLayerNormalization``
is an onnxruntime op registered in the *default* domain; it is imported here too.

Attributes are checked against :data:`SCHEMAS` (name, declared type, required),
which ``tests/frontend/test_contrib_ops.py`` compares with onnxruntime's own
schemas; a bad attribute is one ``InvalidModelError`` naming the node and it.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np
from onnx import AttributeProto as A

from ..errors import InvalidModelError, ShapeError, UnsupportedError
from ..ir.types import DType
from .onnx import Converter
from .onnx_ops import _computed, _reshape, _scalar, attributes, convert_layer_norm, f32
from .onnx_versions import op_version

MS = "com.microsoft"
# Domains whose ops this module imports; every op of them is version 1.
CONTRIB_DOMAINS = (MS,)
CONTRIB_VERSION = 1
REQUIRED = object()

# (domain, op) -> {attribute: (declared type, default or REQUIRED)}; ORT's contrib schemas.
SCHEMAS: dict[tuple[str, str], dict] = {
    (MS, "Attention"): {"num_heads": (A.INT, REQUIRED), "qkv_hidden_sizes": (A.INTS, None),
                        "unidirectional": (A.INT, 0), "mask_filter_value": (A.FLOAT, -10000.0),
                        "scale": (A.FLOAT, 0.0), "past_present_share_buffer": (A.INT, 0),
                        "do_rotary": (A.INT, 0), "rotary_embedding_dim": (A.INT, 0)},
    (MS, "MultiHeadAttention"): {"num_heads": (A.INT, REQUIRED), "unidirectional": (A.INT, 0),
                                 "mask_filter_value": (A.FLOAT, -10000.0), "scale": (A.FLOAT, 0.0)},
    (MS, "SkipLayerNormalization"): {"epsilon": (A.FLOAT, 1e-12)},
    (MS, "SkipSimplifiedLayerNormalization"): {"epsilon": (A.FLOAT, 1e-12)},
    (MS, "EmbedLayerNormalization"): {"epsilon": (A.FLOAT, 1e-12), "mask_index_type": (A.INT, 1)},
    (MS, "FastGelu"): {},
    (MS, "BiasGelu"): {},
    (MS, "GroupQueryAttention"): {
        "num_heads": (A.INT, REQUIRED), "kv_num_heads": (A.INT, REQUIRED), "scale": (A.FLOAT, 0.0),
        "local_window_size": (A.INT, -1), "do_rotary": (A.INT, 0), "rotary_interleaved": (A.INT, 0),
        "softcap": (A.FLOAT, 0.0), "smooth_softmax": (A.INT, 0), "qk_output": (A.INT, 0),
        "k_quant_type": (A.STRING, "NONE"), "v_quant_type": (A.STRING, "NONE"), "kv_cache_bit_width": (A.INT, 0),
        "q_norm_epsilon": (A.FLOAT, 0.0), "k_norm_epsilon": (A.FLOAT, 0.0), "qk_norm_epsilon": (A.FLOAT, 0.0),
        "causal": (A.INT, 1), "sliding_window_cache": (A.INT, 0)},
    (MS, "MatMulNBits"): {"K": (A.INT, REQUIRED), "N": (A.INT, REQUIRED), "block_size": (A.INT, REQUIRED),
                          "bits": (A.INT, 4), "accuracy_level": (A.INT, 0), "weight_prepacked": (A.INT, 0)},
    (MS, "RotaryEmbedding"): {"num_heads": (A.INT, 0), "rotary_embedding_dim": (A.INT, 0),
                              "interleaved": (A.INT, 0), "is_packed_batching": (A.INT, 0), "scale": (A.FLOAT, 1.0)},
    (MS, "Gelu"): {},
    ("", "SimplifiedLayerNormalization"): {"axis": (A.INT, -1), "epsilon": (A.FLOAT, 1e-5),
                                           "stash_type": (A.INT, 1)},
    # ORT's LayerNormalization in the default domain from version 1: what the optimizer writes into
    # an opset < 17 model (ONNX's own LayerNormalization-17 has the same inputs and meaning).
    ("", "LayerNormalization"): {"axis": (A.INT, -1), "epsilon": (A.FLOAT, 1e-5), "stash_type": (A.INT, 1)},
}
# Inputs each op takes at most, and how many it needs.
# (required input positions, most inputs)
ARITY: dict[tuple[str, str], tuple[tuple[int, ...], int]] = {
    (MS, "Attention"): ((0, 1), 7), (MS, "MultiHeadAttention"): ((0,), 10),
    (MS, "SkipLayerNormalization"): ((0, 1, 2), 5), (MS, "SkipSimplifiedLayerNormalization"): ((0, 1, 2), 4),
    (MS, "EmbedLayerNormalization"): ((0, 2, 3, 5, 6), 9),
    (MS, "FastGelu"): ((0,), 2), (MS, "BiasGelu"): ((0, 1), 2), (MS, "Gelu"): ((0,), 1),
    (MS, "MatMulNBits"): ((0, 1, 2), 6), (MS, "GroupQueryAttention"): ((0, 5, 6), 17), (MS, "RotaryEmbedding"): ((0, 1, 2, 3), 4),
    ("", "SimplifiedLayerNormalization"): ((0, 1), 2), ("", "LayerNormalization"): ((0, 1), 3),
}
CONTRIB_CONVERTERS: dict[tuple[str, str], Callable] = {}
# (domain, op) -> (the graph ops it becomes, what is refused): docs/onnx-support.md is generated from this.
LIMITS: dict[tuple[str, str], tuple[str, str]] = {
    (MS, "Attention"): ("3 matmuls, softmax attention, head merge",
                        "masks [B] end, [2B] end+start, [B,T] raw (> 0 keeps), [B,1] dummy, [B,S,T]; "
                        "unidirectional, scale, qkv_hidden_sizes, attention_bias. Refused: past/present "
                        "(KV cache), past_sequence_length, do_rotary, past_present_share_buffer, 4-D masks"),
    (MS, "MultiHeadAttention"): ("softmax attention, head merge",
                                 "3-D query/key/value, bias, key_padding_mask [B] or [B,T], attention_bias, "
                                 "unidirectional. Refused: packed QKV/KV, BNSH key/value, past/present, qk output"),
    (MS, "SkipLayerNormalization"): ("add, layer_norm", "mean / inv_std_var / input_skip_bias_sum outputs too"),
    (MS, "SkipSimplifiedLayerNormalization"): ("add, RMS norm (reduce_mean of x², sqrt, div, mul)",
                                               "as SkipLayerNormalization"),
    (MS, "EmbedLayerNormalization"): ("gathers, add, layer_norm",
                                      "position_ids optional; mask_index output needs the mask input "
                                      "(mask_index_type 1)"),
    (MS, "FastGelu"): ("(add,) gelu tanh", ""),
    (MS, "BiasGelu"): ("add, gelu", ""),
    (MS, "Gelu"): ("gelu", ""),
    (MS, "GroupQueryAttention"): ("K/V heads repeated (reshape, expand), softmax attention, head merge",
                                  "the prompt without a cache (present_key/present_value are this step's K/V); "
                                  "past_key/past_value of fixed capacity (BNSH): first prompt, decode and later "
                                  "chunks, the step's K/V placed at seqlens_k + 1 - S per row (gather, where), "
                                  "present of max(capacity, total_sequence_length); causal, seqlens_k padding, "
                                  "attention_bias; refused: do_rotary/cos_cache, local_window_size, softcap, "
                                  "smooth_softmax, head_sink, QK norms, quantized KV, packed QKV"),
    (MS, "MatMulNBits"): ("matmul (+ add) with the weight dequantized to fp32 at import",
                          "constant B / scales / zero_points, bits 2/4/8; refused: g_idx, weight_prepacked. The fp32 "
                          "weight is 32/bits times the packed one (issue #17 item 4)"),
    (MS, "RotaryEmbedding"): ("gathers of the cos/sin caches, slices, mul/add/sub, concat",
                              "3-D [B,S,hidden] (num_heads needed for a partial rotary) or 4-D [B,N,S,H] input, "
                              "position_ids [B,S] or a [1] offset, interleaved, rotary_embedding_dim; "
                              "refused: is_packed_batching"),
    ("", "SimplifiedLayerNormalization"): ("RMS norm", "stash_type 1; inv_std_var output refused"),
    ("", "LayerNormalization"): ("layer_norm", "below opset 17, where onnxruntime defines it and ONNX does not"),
}


def _contrib(domain: str, *op_types: str):
    def deco(fn):
        for t in op_types:
            CONTRIB_CONVERTERS[(domain, t)] = fn
        return fn
    return deco


def contrib_converter(cv: Converter, node) -> Optional[Callable]:
    """The converter of an onnxruntime contrib node, after its domain version and attributes are
    checked; None when the node is no contrib op lpfc imports."""
    domain = "" if node.domain == "ai.onnx" else node.domain
    key = (domain, node.op_type)
    conv = CONTRIB_CONVERTERS.get(key)
    if conv is None or (not domain and op_version(node.op_type, cv.opset) is not None):
        return None         # ONNX's own op at this opset means what ONNX says
    if domain:
        versions = [int(i.version) for i in cv.model.opset_import if i.domain == domain]
        if versions and versions[0] != CONTRIB_VERSION:
            raise cv.error(UnsupportedError, f"{domain} opset {versions[0]}: lpfc imports its version "
                           f"{CONTRIB_VERSION} ops (the only version onnxruntime defines)")
    required, hi = ARITY[key]
    n = len(node.input)
    missing = [i for i in required if i >= n or not node.input[i]]
    if n > hi or missing:
        raise cv.error(InvalidModelError, f"the node has {n} inputs" + (f", input #{missing[0]} missing" if missing
                       else "") + f"; {domain or 'onnxruntime'} {node.op_type} takes at most {hi}, inputs "
                       f"{', '.join(f'#{i}' for i in required)} required")
    return conv


def contrib_attributes(cv: Converter, node) -> dict:
    """The node's attributes checked against SCHEMAS (name, declared type), defaults filled in."""
    domain = "" if node.domain == "ai.onnx" else node.domain
    schema = SCHEMAS[(domain, node.op_type)]
    given = {a.name: a for a in node.attribute}
    for name, a in given.items():
        if name not in schema:
            raise cv.error(InvalidModelError, f"attribute {name!r} is not an attribute of {domain or 'onnxruntime'} "
                           f"{node.op_type} (it has: {', '.join(sorted(schema)) or 'none'})")
        want = schema[name][0]
        if a.type != want:
            raise cv.error(InvalidModelError, f"attribute {name!r} is declared {A.AttributeType.Name(a.type)}, "
                           f"but {node.op_type} takes it as {A.AttributeType.Name(want)}")
    values = attributes(node)
    out = {}
    for name, (_, default) in schema.items():
        if name in values:
            out[name] = values[name]
        elif default is REQUIRED:
            raise cv.error(InvalidModelError, f"required attribute {name!r} is missing")
        else:
            out[name] = default
    return out


def _refuse_nonzero(cv: Converter, attrs: dict, *names: str, why: str) -> None:
    for name in names:
        if attrs.get(name):
            raise cv.error(UnsupportedError, f"attribute {name}={attrs[name]!r} is not supported ({why})")


def _refuse_inputs(cv: Converter, node, names: dict, why: str) -> None:
    for i, name in names.items():
        if i < len(node.input) and node.input[i]:
            raise cv.error(UnsupportedError, f"input #{i} ({name}) is not supported ({why})")


def _refuse_outputs(cv: Converter, node, names: dict, why: str) -> None:
    for i, name in names.items():
        if i < len(node.output) and node.output[i]:
            raise cv.error(UnsupportedError, f"output #{i} ({name}) is not supported ({why})")


def _float(cv: Converter, v, what: str):
    if not v.type.dtype.is_float:
        raise cv.error(ShapeError, f"{what} must be floating-point, got {v.type.dtype}")
    return v


# -- element-wise ------------------------------------------------------------------------------------
@_contrib(MS, "Gelu", "BiasGelu", "FastGelu")
def convert_gelu(cv: Converter, node):
    contrib_attributes(cv, node)
    x = _float(cv, cv.input(node, 0), "input")
    bias = cv.input(node, 1, optional=True)
    if bias is not None:
        x = cv.emit1("graph.add", [x, bias])
    # FastGelu is GPT-2's tanh approximation; Gelu and BiasGelu the exact erf form.
    attrs = {"approximate": "tanh"} if node.op_type == "FastGelu" else {}
    return cv.emit("graph.gelu", [x], attrs)


# -- normalisations ----------------------------------------------------------------------------------
def _row_param(cv: Converter, v, x, what: str):
    h = x.type.shape[-1] if x.type.rank else 0
    if v.type.num_elements != h:
        raise cv.error(ShapeError, f"{what} has shape {list(v.type.shape)}; it needs {h} elements "
                       f"(the input's last dimension)")
    return _reshape(cv, v, [h])[0]


def _layer_norm(cv: Converter, x, gamma, beta, eps: float):
    ops = [x, _row_param(cv, gamma, x, "gamma")]
    if beta is not None:
        ops.append(_row_param(cv, beta, x, "beta"))
    return cv.emit1("graph.layer_norm", ops, {"axis": x.type.rank - 1, "epsilon": eps})


def _rms_norm(cv: Converter, x, scale, eps: float, axis: int = -1):
    """x / sqrt(mean(x^2) + eps) * scale, spelt as canonicalize leaves an exported RMSNorm."""
    dt = x.type.dtype
    axes = list(range(axis % x.type.rank, x.type.rank))
    sq = cv.emit1("graph.pow", [x, _scalar(cv, 2.0, dt)])
    ms = cv.emit1("graph.reduce_mean", [sq], {"axes": axes, "keepdims": True})
    std = cv.emit1("graph.sqrt", [cv.emit1("graph.add", [ms, _scalar(cv, eps, dt)])])
    y = cv.emit1("graph.mul", [x, cv.emit1("graph.div", [_scalar(cv, 1.0, dt), std])])
    return cv.emit1("graph.mul", [y, scale])


def _stats(cv: Converter, x, eps: float, centred: bool):
    """The optional mean / inv_std_var outputs (float32, keepdims over the last axis)."""
    xs = x if x.type.dtype == DType.f32 else cv.emit1("graph.cast", [x], {"to": DType.f32})
    axes = [x.type.rank - 1]
    mean = cv.emit1("graph.reduce_mean", [xs], {"axes": axes, "keepdims": True})
    d = cv.emit1("graph.sub", [xs, mean]) if centred else xs
    var = cv.emit1("graph.reduce_mean", [cv.emit1("graph.mul", [d, d])], {"axes": axes, "keepdims": True})
    std = cv.emit1("graph.sqrt", [cv.emit1("graph.add", [var, _scalar(cv, eps, DType.f32)])])
    return mean, cv.emit1("graph.reciprocal", [std])


@_contrib(MS, "SkipLayerNormalization", "SkipSimplifiedLayerNormalization")
def convert_skip_layer_norm(cv: Converter, node):
    attrs = contrib_attributes(cv, node)
    eps = f32(attrs["epsilon"])
    simplified = node.op_type == "SkipSimplifiedLayerNormalization"
    x = _float(cv, cv.input(node, 0), "input")
    skip = cv.input(node, 1)
    if x.type.rank not in (2, 3):
        raise cv.error(ShapeError, f"input must be 2-D or 3-D, got shape {list(x.type.shape)}")
    gamma = cv.input(node, 2)
    beta = None if simplified else cv.input(node, 3, optional=True)
    bias = cv.input(node, 3 if simplified else 4, optional=True)
    # The export's order: (matmul + bias) + residual, the residual being `skip`.
    s = cv.emit1("graph.add", [x, _row_param(cv, bias, x, "bias")]) if bias is not None else x
    s = cv.emit1("graph.add", [s, skip])
    if s.type.shape != x.type.shape:
        raise cv.error(ShapeError, f"skip of shape {list(skip.type.shape)} does not match the input's "
                       f"{list(x.type.shape)}")
    if simplified:
        y = _rms_norm(cv, s, _row_param(cv, gamma, x, "gamma"), eps)
    else:
        y = _layer_norm(cv, s, gamma, beta, eps)
    outs = [y]
    if any(node.output[1:3]):
        mean, inv = _stats(cv, s, eps, centred=not simplified)
        outs += [mean, inv]
    elif len(node.output) > 3 and node.output[3]:
        outs += [y, y]          # placeholders for unnamed outputs #1, #2 (never read)
    if len(node.output) > 3 and node.output[3]:
        outs.append(s)          # input_skip_bias_sum: the residual stream for the next layer
    return outs


@_contrib("", "SimplifiedLayerNormalization")
def convert_simplified_layer_norm(cv: Converter, node):
    attrs = contrib_attributes(cv, node)
    if attrs["stash_type"] != 1:
        raise cv.error(UnsupportedError, f"attribute stash_type={attrs['stash_type']} is not supported "
                       "(only float32 stash)")
    _refuse_outputs(cv, node, {1: "inv_std_var"}, "training output")
    x = _float(cv, cv.input(node, 0), "X")
    r = x.type.rank
    axis = attrs["axis"]
    if not -r <= axis < r:
        raise cv.error(InvalidModelError, f"attribute 'axis'={axis} is out of range for rank {r}")
    scale = cv.input(node, 1)
    return [_rms_norm(cv, x, scale, f32(attrs["epsilon"]), axis)]


@_contrib("", "LayerNormalization")
def convert_ort_layer_norm(cv: Converter, node):
    contrib_attributes(cv, node)
    return convert_layer_norm(cv, node)


def _is_used(cv: Converter, name: str) -> bool:
    """Whether a node output is read (the optimizer names outputs nothing reads)."""
    return bool(name) and (any(name in n.input for n in cv.graph.node) or any(o.name == name for o in cv.graph.output))


@_contrib(MS, "EmbedLayerNormalization")
def convert_embed_layer_norm(cv: Converter, node):
    attrs = contrib_attributes(cv, node)
    ids = cv.input(node, 0)
    if ids.type.rank != 2 or not ids.type.dtype.is_int:
        raise cv.error(ShapeError, f"input_ids must be a 2-D integer tensor, got {ids.type}")
    b, s = ids.type.shape
    word, pos = cv.input(node, 2), cv.input(node, 3)
    seg_ids, seg = cv.input(node, 1, optional=True), cv.input(node, 4, optional=True)
    if (seg_ids is None) != (seg is None):
        raise cv.error(InvalidModelError, "segment_ids and segment_embedding must be given together")
    for t, what in ((word, "word_embedding"), (pos, "position_embedding")) + (((seg, "segment_embedding"),)
                                                                              if seg is not None else ()):
        if t.type.rank != 2:
            raise cv.error(ShapeError, f"{what} must be 2-D, got shape {list(t.type.shape)}")
    y = cv.emit1("graph.gather", [word, ids], {"axis": 0})
    if seg is not None:
        y = cv.emit1("graph.add", [y, cv.emit1("graph.gather", [seg, seg_ids], {"axis": 0})])
    pos_ids = cv.input(node, 8, optional=True)
    if pos_ids is None:
        if s > pos.type.shape[0]:
            raise cv.error(ShapeError, f"sequence length {s} exceeds the {pos.type.shape[0]} positions of "
                           "position_embedding")
        pos_ids = cv.constant(np.arange(s, dtype=np.int64).reshape(1, s))
    y = cv.emit1("graph.add", [y, cv.emit1("graph.gather", [pos, pos_ids], {"axis": 0})])
    if y.type.shape != (b, s, word.type.shape[1]):
        raise cv.error(ShapeError, f"position_ids of shape {list(pos_ids.type.shape)} do not match "
                       f"input_ids {[b, s]}")
    outs = [_layer_norm(cv, y, cv.input(node, 5), cv.input(node, 6), f32(attrs["epsilon"]))]
    want_index = len(node.output) > 1 and _is_used(cv, node.output[1])
    want_sum = len(node.output) > 2 and _is_used(cv, node.output[2])
    if want_index or want_sum:
        mask = cv.input(node, 7, optional=True)
        if want_index and (mask is None or attrs["mask_index_type"] != 1):
            raise cv.error(UnsupportedError, "output #1 (mask_index) without a mask input or with "
                           f"mask_index_type={attrs['mask_index_type']} is not supported")
        if want_index:
            m = mask if mask.type.dtype == DType.i32 else cv.emit1("graph.cast", [mask], {"to": DType.i32})
            outs.append(cv.emit1("graph.reduce_sum", [m], {"axes": [1], "keepdims": False}))
        else:
            outs.append(outs[0])     # placeholder for the unnamed output #1 (never read)
        if want_sum:
            outs.append(y)
    return outs


# -- attention -----------------------------------------------------------------------------------------
def _positive(cv: Converter, attrs: dict, name: str) -> int:
    v = attrs[name]
    if v <= 0:
        raise cv.error(InvalidModelError, f"attribute {name!r}={v} must be positive")
    return int(v)


def _mask_bias(cv: Converter, mask, batch: int, q_len: int, kv_len: int, fill: float, causal: bool, dt: DType):
    """The additive score bias [B|1, 1, S|1, T] of ORT's mask formats (None: nothing to add)."""
    valid = None
    if mask is not None:
        shape = mask.type.shape
        if not mask.type.dtype.is_int:
            raise cv.error(ShapeError, f"the mask must be an integer tensor, got {mask.type.dtype}")
        ar = cv.constant(np.arange(kv_len, dtype=mask.type.dtype.numpy).reshape(1, kv_len))
        # A raw mask keeps a key where it is > 0 (onnxruntime: a -1 masks, a 2 keeps).  bool(relu(m)) is
        # m > 0 with no constant operand, so the mask kernel is the export's cast(m, bool) kernel.
        positive = (cv.emit1("graph.cast", [cv.emit1("graph.relu", [mask])], {"to": DType.bool})
                    if len(shape) > 1 else None)
        if len(shape) == 1 and shape[0] in (batch, 2 * batch):
            # 1-D: end positions [B] (right padding), or end then start positions [2B].
            end = _reshape(cv, cv.emit1("graph.slice", [mask], {"starts": [0], "ends": [batch], "axes": [0],
                                                                "steps": [1]}), [batch, 1])[0]
            valid = cv.emit1("graph.less", [ar, end])
            if shape[0] == 2 * batch:
                start = cv.emit1("graph.slice", [mask], {"starts": [batch], "ends": [2 * batch], "axes": [0],
                                                          "steps": [1]})
                start = _reshape(cv, start, [batch, 1])[0]
                valid = cv.emit1("graph.and", [valid, cv.emit1("graph.greater_equal", [ar, start])])
            valid = _reshape(cv, valid, [batch, 1, 1, kv_len])[0]
        elif len(shape) == 2 and shape[0] in (1, batch) and shape[1] == 1:
            valid = None                     # ORT's dummy mask: no masking
        elif len(shape) == 2 and shape[0] in (1, batch) and shape[1] == kv_len:
            valid = _reshape(cv, positive, [shape[0], 1, 1, kv_len])[0]
        elif len(shape) == 3 and shape[0] in (1, batch) and shape[1:] == (q_len, kv_len):
            valid = _reshape(cv, positive, [shape[0], 1, q_len, kv_len])[0]
        else:
            raise cv.error(UnsupportedError, f"a mask of shape {list(shape)} is not supported (batch {batch}, "
                           f"sequence {q_len}, total sequence {kv_len}: [B], [2B], [B, T] or [B, S, T])")
    bias = None if valid is None else cv.emit1("graph.where", [valid, _scalar(cv, 0.0, dt), _scalar(cv, fill, dt)])
    if causal:
        # Query i sees keys up to i + (T - S).  onnxruntime gives a future key the lowest float, not
        # the fill: in a row whose visible keys are all padded, the padded ones still win.
        _computed(cv, [q_len, kv_len], 4, "causal mask")      # before it is allocated (untrusted shapes)
        tri = np.tril(np.ones((q_len, kv_len), dtype=bool), k=kv_len - q_len).reshape(1, 1, q_len, kv_len)
        lowest = np.finfo(dt.numpy).min
        if bias is None:
            bias = cv.constant(np.where(tri, 0.0, lowest).astype(dt.numpy))
        else:
            bias = cv.emit1("graph.where", [cv.constant(tri), bias, _scalar(cv, lowest, dt)])
    return bias


def _attention(cv: Converter, q, k, v, heads: int, scale: float, bias, attn_bias):
    """softmax((q·s) @ kᵀ + bias) @ v over ``heads`` heads; q, k, v are [B, S|T, hidden]."""
    b, s, dq = q.type.shape
    t, dv = k.type.shape[1], v.type.shape[2]
    if k.type.shape[0] != b or v.type.shape[:2] != (b, t) or k.type.shape[2] != dq:
        raise cv.error(ShapeError, f"query {list(q.type.shape)}, key {list(k.type.shape)} and value "
                       f"{list(v.type.shape)} do not fit together")
    for d, what in ((dq, "query/key hidden size"), (dv, "value hidden size")):
        if d % heads:
            raise cv.error(ShapeError, f"{what} {d} is not divisible by num_heads={heads}")
    hd, hdv = dq // heads, dv // heads
    dt = q.type.dtype
    q4 = cv.emit1("graph.transpose", _reshape(cv, q, [b, s, heads, hd]), {"perm": [0, 2, 1, 3]})
    k4 = cv.emit1("graph.transpose", _reshape(cv, k, [b, t, heads, hd]), {"perm": [0, 2, 3, 1]})
    v4 = cv.emit1("graph.transpose", _reshape(cv, v, [b, t, heads, hdv]), {"perm": [0, 2, 1, 3]})
    scale = scale if scale else 1.0 / float(np.sqrt(hd))
    scores = cv.emit1("graph.matmul", [cv.emit1("graph.mul", [q4, _scalar(cv, f32(scale), dt)]), k4])
    for extra in (bias, attn_bias):
        if extra is not None:
            scores = cv.emit1("graph.add", [scores, extra])
    if scores.type.shape != (b, heads, s, t):
        raise cv.error(ShapeError, f"attention_bias broadcasts the scores to {list(scores.type.shape)}, "
                       f"not {[b, heads, s, t]}")
    o = cv.emit1("graph.matmul", [cv.emit1("graph.softmax", [scores], {"axis": 3}), v4])
    o = cv.emit1("graph.transpose", [o], {"perm": [0, 2, 1, 3]})
    return _reshape(cv, o, [b, s, dv])


def _columns(cv: Converter, w, start: int, stop: int):
    """w[..., start:stop]: sliced at import when w is a constant (the export's separate weights)."""
    arr = cv.const_of(w)
    if arr is not None:
        return cv.constant(np.ascontiguousarray(arr[..., start:stop]))
    return cv.emit1("graph.slice", [w], {"starts": [start], "ends": [stop], "axes": [w.type.rank - 1],
                                         "steps": [1]})


@_contrib(MS, "Attention")
def convert_attention(cv: Converter, node):
    attrs = contrib_attributes(cv, node)
    heads = _positive(cv, attrs, "num_heads")
    _refuse_nonzero(cv, attrs, "do_rotary", "past_present_share_buffer", why="KV-cache / rotary variants")
    _refuse_inputs(cv, node, {4: "past", 6: "past_sequence_length"}, "KV cache")
    _refuse_outputs(cv, node, {1: "present"}, "KV cache")
    x = _float(cv, cv.input(node, 0), "input")
    w = cv.input(node, 1)
    if x.type.rank != 3 or w.type.rank != 2 or w.type.shape[0] != x.type.shape[2]:
        raise cv.error(ShapeError, f"input {list(x.type.shape)} and weights {list(w.type.shape)}: need "
                       "[batch, sequence, input_hidden] and [input_hidden, q+k+v hidden]")
    sizes = attrs["qkv_hidden_sizes"]
    total = w.type.shape[1]
    if sizes is None:
        if total % 3:
            raise cv.error(ShapeError, f"weights have {total} columns, not 3 equal Q/K/V parts "
                           "(give qkv_hidden_sizes)")
        sizes = [total // 3] * 3
    sizes = [int(d) for d in sizes]
    if len(sizes) != 3 or min(sizes) <= 0 or sum(sizes) != total or sizes[0] != sizes[1]:
        raise cv.error(InvalidModelError, f"attribute 'qkv_hidden_sizes'={sizes} must be 3 positive sizes, Q and "
                       f"K equal, summing to the weights' {total} columns")
    bias = cv.input(node, 2, optional=True)
    if bias is not None and bias.type.shape != (total,):
        raise cv.error(ShapeError, f"bias has shape {list(bias.type.shape)}, expected [{total}]")
    bounds = np.cumsum([0] + sizes)
    q, k, v = [], [], []
    for (lo, hi), dst in zip(zip(bounds[:-1], bounds[1:]), (q, k, v)):
        y = cv.emit1("graph.matmul", [x, _columns(cv, w, int(lo), int(hi))])
        if bias is not None:
            y = cv.emit1("graph.add", [y, _columns(cv, bias, int(lo), int(hi))])
        dst.append(y)
    b, s = x.type.shape[:2]
    mask = _mask_bias(cv, cv.input(node, 3, optional=True), b, s, s, f32(attrs["mask_filter_value"]),
                      bool(attrs["unidirectional"]), x.type.dtype)
    return _attention(cv, q[0], k[0], v[0], heads, f32(attrs["scale"]), mask, cv.input(node, 5, optional=True))


@_contrib(MS, "MultiHeadAttention")
def convert_multi_head_attention(cv: Converter, node):
    attrs = contrib_attributes(cv, node)
    heads = _positive(cv, attrs, "num_heads")
    _refuse_inputs(cv, node, {6: "past_key", 7: "past_value", 8: "past_sequence_length",
                              9: "cache_indirection"}, "KV cache")
    _refuse_outputs(cv, node, {1: "present_key", 2: "present_value", 3: "qk"}, "KV cache / debug output")
    q = _float(cv, cv.input(node, 0), "query")
    k, v = cv.input(node, 1, optional=True), cv.input(node, 2, optional=True)
    if k is None or v is None or any(t.type.rank != 3 for t in (q, k, v)):
        raise cv.error(UnsupportedError, "only separate 3-D query, key and value ([batch, sequence, hidden]) are "
                       "supported, not packed QKV/KV or BNSH key/value")
    bias = cv.input(node, 3, optional=True)
    if bias is not None:
        dq, dk, dv = q.type.shape[2], k.type.shape[2], v.type.shape[2]
        if bias.type.shape != (dq + dk + dv,):
            raise cv.error(ShapeError, f"bias has shape {list(bias.type.shape)}, expected [{dq + dk + dv}]")
        q = cv.emit1("graph.add", [q, _columns(cv, bias, 0, dq)])
        k = cv.emit1("graph.add", [k, _columns(cv, bias, dq, dq + dk)])
        v = cv.emit1("graph.add", [v, _columns(cv, bias, dq + dk, dq + dk + dv)])
    b, s = q.type.shape[:2]
    mask = _mask_bias(cv, cv.input(node, 4, optional=True), b, s, k.type.shape[1],
                      f32(attrs["mask_filter_value"]), bool(attrs["unidirectional"]), q.type.dtype)
    return _attention(cv, q, k, v, heads, f32(attrs["scale"]), mask, cv.input(node, 5, optional=True))


# -- quantized weights --------------------------------------------------------------------------------
def _unpack(packed: np.ndarray, bits: int, count: int) -> np.ndarray:
    """[..., bytes] of ``bits``-bit unsigned values, lowest bits first, -> [..., count] uint8."""
    per = 8 // bits
    shifts = (np.arange(per, dtype=np.uint8) * bits).astype(np.uint8)
    vals = (packed[..., None] >> shifts) & np.uint8((1 << bits) - 1)
    return vals.reshape(*packed.shape[:-1], -1)[..., :count]


@_contrib(MS, "MatMulNBits")
def convert_matmul_nbits(cv: Converter, node):
    attrs = contrib_attributes(cv, node)
    k, n, block, bits = (int(attrs[a]) for a in ("K", "N", "block_size", "bits"))
    if bits not in (2, 4, 8):
        raise cv.error(InvalidModelError, f"attribute 'bits'={bits} must be 2, 4 or 8")
    if block < 16 or block & (block - 1):
        raise cv.error(InvalidModelError, f"attribute 'block_size'={block} must be a power of 2 and >= 16")
    if k <= 0 or n <= 0:
        raise cv.error(InvalidModelError, f"attributes K={k} and N={n} must be positive")
    _refuse_nonzero(cv, attrs, "weight_prepacked", why="a prepacked weight is onnxruntime's private layout")
    _refuse_inputs(cv, node, {4: "g_idx"}, "act-order group indices")
    a = _float(cv, cv.input(node, 0), "A")
    if a.type.shape[-1] != k:
        raise cv.error(ShapeError, f"A's last dimension {a.type.shape[-1]} is not K={k}")
    blocks = -(-k // block)
    blob = block * bits // 8
    q = cv.const_input(node, 1, "B (the packed weight)")
    scales = cv.const_input(node, 2, "scales")
    if q.dtype != np.uint8 or q.size != n * blocks * blob:
        raise cv.error(ShapeError, f"B must be uint8 [N={n}, {blocks} blocks, {blob} bytes], has {q.dtype} "
                       f"{list(q.shape)}")
    if scales.size != n * blocks:
        raise cv.error(ShapeError, f"scales has {scales.size} values, expected N x blocks = {n * blocks}")
    _computed(cv, [n, blocks * block], 4, "MatMulNBits dequantized weight")   # before it is allocated
    vals = _unpack(q.reshape(n, blocks, blob), bits, block).astype(np.float32)        # [N, blocks, block]
    zp = cv.const_input(node, 3, "zero_points", optional=True)
    if zp is None:
        zero = np.full((n, blocks, 1), 1 << (bits - 1), np.float32)
    elif zp.dtype == np.uint8:
        per_row = -(-blocks * bits // 8)
        if zp.size != n * per_row:
            raise cv.error(ShapeError, f"zero_points has {zp.size} bytes, expected {n * per_row}")
        zero = _unpack(zp.reshape(n, per_row), bits, blocks).astype(np.float32)[..., None]
    else:
        if zp.size != n * blocks:
            raise cv.error(ShapeError, f"zero_points has {zp.size} values, expected {n * blocks}")
        zero = None
    s = scales.astype(np.float32).reshape(n, blocks, 1)
    if zero is None:    # float zero points: (q - zp) * s with zp in A's type
        w = (vals - zp.astype(np.float32).reshape(n, blocks, 1)) * s
    else:
        w = (vals - zero) * s
    w = w.reshape(n, blocks * block)[:, :k].T.astype(a.type.dtype.numpy)               # [K, N]
    y = cv.emit1("graph.matmul", [a, cv.constant(np.ascontiguousarray(w), node.input[1])])
    bias = cv.input(node, 5, optional=True)
    if bias is not None:
        y = cv.emit1("graph.add", [y, bias])
    return [y]


# -- rotary position embedding ------------------------------------------------------------------------
@_contrib(MS, "RotaryEmbedding")
def convert_rotary_embedding(cv: Converter, node):
    attrs = contrib_attributes(cv, node)
    _refuse_nonzero(cv, attrs, "is_packed_batching", why="packed batches")
    if attrs["scale"] != 1.0:
        raise cv.error(UnsupportedError, f"attribute scale={attrs['scale']} is not supported (1.0 only)")
    x = _float(cv, cv.input(node, 0), "input")
    pos, cos, sin = cv.input(node, 1), cv.input(node, 2), cv.input(node, 3)
    if x.type.rank not in (3, 4) or cos.type.rank != 2 or sin.type.shape != cos.type.shape:
        raise cv.error(ShapeError, f"input {list(x.type.shape)}, cos_cache {list(cos.type.shape)} and sin_cache "
                       f"{list(sin.type.shape)}: need a 3-D or 4-D input and equal 2-D caches")
    half = cos.type.shape[1]
    rot = 2 * half
    heads = int(attrs["num_heads"])
    if x.type.rank == 4:       # [B, N, S, H]
        b, nh, s, hd = x.type.shape
        x4 = x
    else:                      # [B, S, hidden]: heads of hd = hidden / num_heads (or the rotary width)
        b, s, hidden = x.type.shape
        if heads <= 0:
            if attrs["rotary_embedding_dim"]:
                raise cv.error(InvalidModelError, "attribute 'num_heads' is needed with 'rotary_embedding_dim' "
                               "and a 3-D input")
            heads = hidden // rot if rot and hidden % rot == 0 else 0
        if heads <= 0 or hidden % heads:
            raise cv.error(InvalidModelError, f"attribute 'num_heads'={heads} does not divide the hidden size {hidden}")
        nh, hd = heads, hidden // heads
        x4 = cv.emit1("graph.transpose", _reshape(cv, x, [b, s, nh, hd]), {"perm": [0, 2, 1, 3]})
    if attrs["rotary_embedding_dim"] and int(attrs["rotary_embedding_dim"]) != rot:
        raise cv.error(InvalidModelError, f"attribute 'rotary_embedding_dim'={attrs['rotary_embedding_dim']} is not "
                       f"twice the caches' width {half}")
    if rot > hd or rot == 0:
        raise cv.error(ShapeError, f"the caches' rotary width {rot} exceeds the head size {hd}")
    if not pos.type.dtype.is_int:
        raise cv.error(ShapeError, f"position_ids must be integers, got {pos.type.dtype}")
    if pos.type.shape in ((1,), ()):    # one offset: positions offset .. offset + S - 1 for every batch row
        ar = cv.constant(np.arange(s, dtype=pos.type.dtype.numpy).reshape(1, s))
        pos = cv.emit1("graph.add", [ar, _reshape(cv, pos, [1, 1])[0]])
    elif pos.type.shape not in ((b, s), (1, s)):
        raise cv.error(ShapeError, f"position_ids of shape {list(pos.type.shape)}: need [{b}, {s}] or [1]")
    c = _reshape(cv, cv.emit1("graph.gather", [cos, pos], {"axis": 0}), [pos.type.shape[0], 1, s, half])[0]
    sn = _reshape(cv, cv.emit1("graph.gather", [sin, pos], {"axis": 0}), [pos.type.shape[0], 1, s, half])[0]

    def cut(v, lo, hi, step=1):
        return cv.emit1("graph.slice", [v], {"starts": [lo], "ends": [hi], "axes": [3], "steps": [step]})

    if attrs["interleaved"]:
        x1, x2 = cut(x4, 0, rot, 2), cut(x4, 1, rot, 2)
    else:
        x1, x2 = cut(x4, 0, half), cut(x4, half, rot)
    r1 = cv.emit1("graph.sub", [cv.emit1("graph.mul", [x1, c]), cv.emit1("graph.mul", [x2, sn])])
    r2 = cv.emit1("graph.add", [cv.emit1("graph.mul", [x2, c]), cv.emit1("graph.mul", [x1, sn])])
    if attrs["interleaved"]:
        pair = [_reshape(cv, r, [b, nh, s, half, 1])[0] for r in (r1, r2)]
        y = _reshape(cv, cv.emit1("graph.concat", pair, {"axis": 4}), [b, nh, s, rot])[0]
    else:
        y = cv.emit1("graph.concat", [r1, r2], {"axis": 3})
    if rot < hd:
        y = cv.emit1("graph.concat", [y, cut(x4, rot, hd)], {"axis": 3})
    if x.type.rank == 3:
        y = _reshape(cv, cv.emit1("graph.transpose", [y], {"perm": [0, 2, 1, 3]}), [b, s, nh * hd])[0]
    return [y]


# -- grouped-query attention ------------------------------------------------------------------------------
@_contrib(MS, "GroupQueryAttention")
def convert_group_query_attention(cv: Converter, node):
    attrs = contrib_attributes(cv, node)
    heads, kv_heads = _positive(cv, attrs, "num_heads"), _positive(cv, attrs, "kv_num_heads")
    if heads % kv_heads:
        raise cv.error(InvalidModelError, f"attribute 'num_heads'={heads} is not a multiple of "
                       f"'kv_num_heads'={kv_heads}")
    _refuse_nonzero(cv, attrs, "do_rotary", "softcap", "smooth_softmax", "qk_output", "kv_cache_bit_width",
                    "q_norm_epsilon", "k_norm_epsilon", "qk_norm_epsilon", "sliding_window_cache",
                    why="not implemented")
    if attrs["local_window_size"] != -1:
        raise cv.error(UnsupportedError, f"attribute local_window_size={attrs['local_window_size']} is not "
                       "supported (sliding-window attention)")
    if not attrs["causal"]:
        raise cv.error(UnsupportedError, "attribute causal=0 is not supported")
    for a in ("k_quant_type", "v_quant_type"):
        if attrs[a] != "NONE":
            raise cv.error(UnsupportedError, f"attribute {a}={attrs[a]!r} is not supported (quantized KV cache)")
    _refuse_inputs(cv, node, {7: "cos_cache", 8: "sin_cache", 9: "position_ids",
                              11: "head_sink", 12: "k_scale", 13: "v_scale", 14: "q_norm_weight",
                              15: "k_norm_weight", 16: "query_seqlens"}, "rotary, sinks, quantized KV and QK norms "
                   "are not implemented")
    _refuse_outputs(cv, node, {3: "output_qk"}, "debug output")
    q = _float(cv, cv.input(node, 0), "query")
    k, v = cv.input(node, 1, optional=True), cv.input(node, 2, optional=True)
    if k is None or v is None or any(t.type.rank != 3 for t in (q, k, v)):
        raise cv.error(UnsupportedError, "only separate 3-D query, key and value are supported (not packed QKV)")
    b, s, dq = q.type.shape
    if dq % heads or k.type.shape != (b, s, dq // heads * kv_heads) or v.type.shape != k.type.shape:
        raise cv.error(ShapeError, f"query {list(q.type.shape)}, key {list(k.type.shape)}, value "
                       f"{list(v.type.shape)} do not fit num_heads={heads}, kv_num_heads={kv_heads}")
    hd = dq // heads
    total = cv.const_input(node, 6, "total_sequence_length")
    seqlens = cv.input(node, 5)
    if seqlens.type.shape != (b,) or not seqlens.type.dtype.is_int:
        raise cv.error(ShapeError, f"seqlens_k must be integers of shape [{b}], got {seqlens.type}")
    past_k, past_v = cv.input(node, 3, optional=True), cv.input(node, 4, optional=True)
    if (past_k is None) != (past_v is None):
        raise cv.error(InvalidModelError, "past_key and past_value must be given together")
    if total.size != 1:
        raise cv.error(ShapeError, f"total_sequence_length must be a scalar, has shape {list(total.shape)}")
    total = int(total.reshape(()))
    if past_k is not None:
        return _gqa_with_cache(cv, node, attrs, q, k, v, past_k, past_v, seqlens, total, heads, kv_heads)
    if total != s:
        raise cv.error(UnsupportedError, f"total_sequence_length {total} is not the sequence length {s}, and "
                       "there is no past_key/past_value: only the prompt is supported without a KV cache")
    present = [cv.emit1("graph.transpose", _reshape(cv, t, [b, s, kv_heads, hd]), {"perm": [0, 2, 1, 3]})
               for t in (k, v)]
    group = heads // kv_heads
    if group > 1:       # each K/V head serves `group` query heads in a row
        k, v = (_reshape(cv, cv.emit1("graph.expand", _reshape(cv, t, [b, s, kv_heads, 1, hd]),
                                      {"shape": [b, s, kv_heads, group, hd]}), [b, s, dq])[0] for t in (k, v))
    # Key j is visible to query i when j <= i and j <= seqlens_k[b] (the batch row's last token).
    dt = q.type.dtype
    ar = cv.constant(np.arange(s, dtype=seqlens.type.dtype.numpy).reshape(1, s))
    last = _reshape(cv, seqlens, [b, 1])[0]
    valid = _reshape(cv, cv.emit1("graph.less_equal", [ar, last]), [b, 1, 1, s])[0]
    _computed(cv, [s, s], 1, "causal mask")
    valid = cv.emit1("graph.and", [valid, cv.constant(np.tril(np.ones((s, s), dtype=bool)).reshape(1, 1, s, s))])
    bias = cv.emit1("graph.where", [valid, _scalar(cv, 0.0, dt), _scalar(cv, np.finfo(dt.numpy).min, dt)])
    out = _attention(cv, q, k, v, heads, f32(attrs["scale"]), bias, cv.input(node, 10, optional=True))
    return out + present


def _gqa_with_cache(cv: Converter, node, attrs, q, k, v, past_k, past_v, seqlens, total: int, heads: int,
                    kv_heads: int):
    """GroupQueryAttention with past_key/past_value [B, kv_heads, P, head size] (BNSH), as onnxruntime's CPU
    kernel computes it.  The present K/V have max(P, total_sequence_length) positions.  The first prompt
    (sequence length = total_sequence_length) writes its K/V at positions 0..S-1 (the past is not read) and
    masks as the prompt without a cache.  A later step appends at past_b = seqlens_k[b] + 1 - S: positions
    below keep the past, the S new ones follow, the rest are zero; query i sees keys j <= past_b + i.
    The cache has a fixed capacity, so every shape stays static; where the step writes is data."""
    b, s, dq = q.type.shape
    hd = dq // heads
    for t, what in ((past_k, "past_key"), (past_v, "past_value")):
        if t.type.rank != 4 or t.type.shape[:2] != (b, kv_heads) or t.type.shape[3] != hd \
                or t.type.shape != past_k.type.shape or t.type.dtype != q.type.dtype:
            raise cv.error(ShapeError, f"{what} {t.type} must be {q.type.dtype} [{b}, {kv_heads}, capacity, {hd}] "
                           "(BNSH), the same for past_key and past_value")
    cap = past_k.type.shape[2]
    if s > total:
        raise cv.error(ShapeError, f"total_sequence_length {total} is below the sequence length {s}")
    length = max(cap, total)
    dt, it = q.type.dtype, seqlens.type.dtype
    first = s == total
    zero_i = _scalar(cv, 0, it)
    # start[b]: the position of the step's first token
    start = (cv.constant(np.zeros((b, 1), it.numpy)) if first else
             cv.emit1("graph.sub", [_reshape(cv, seqlens, [b, 1])[0], _scalar(cv, s - 1, it)]))
    rel = cv.emit1("graph.sub", [cv.constant(np.arange(length, dtype=it.numpy).reshape(1, length)), start])
    idx = cv.emit1("graph.min", [cv.emit1("graph.max", [rel, zero_i]), _scalar(cv, s - 1, it)])     # [B, L]
    idx = cv.emit1("graph.expand", _reshape(cv, idx, [b, 1, length, 1]), {"shape": [b, kv_heads, length, hd]})
    in_new = cv.emit1("graph.and", [cv.emit1("graph.greater_equal", [rel, zero_i]),
                                   cv.emit1("graph.less", [rel, _scalar(cv, s, it)])])
    in_new = _reshape(cv, in_new, [b, 1, length, 1])[0]
    in_past = None if first else _reshape(cv, cv.emit1("graph.less", [rel, zero_i]), [b, 1, length, 1])[0]
    zero = _scalar(cv, 0.0, dt)
    present = []
    for new, past in ((k, past_k), (v, past_v)):
        new4 = cv.emit1("graph.transpose", _reshape(cv, new, [b, s, kv_heads, hd]), {"perm": [0, 2, 1, 3]})
        y = cv.emit1("graph.where", [in_new, cv.emit1("graph.gather_elements", [new4, idx], {"axis": 2}), zero])
        if not first:
            if cap < length:
                past = cv.emit1("graph.pad", [past], {"pads": [0, 0, 0, 0, 0, 0, length - cap, 0],
                                                      "mode": "constant", "value": 0.0})
            y = cv.emit1("graph.where", [in_past, past, y])
        present.append(y)
    # key j is visible to query i when j <= start[b] + i (and, in the first prompt, j <= seqlens_k[b])
    j = cv.constant(np.arange(length, dtype=it.numpy).reshape(1, 1, length))
    last = cv.emit1("graph.add", [_reshape(cv, start, [b, 1, 1])[0],
                                  cv.constant(np.arange(s, dtype=it.numpy).reshape(1, s, 1))])
    valid = cv.emit1("graph.less_equal", [j, last])
    if first:
        valid = cv.emit1("graph.and", [valid, cv.emit1("graph.less_equal", [j, _reshape(cv, seqlens, [b, 1, 1])[0]])])
    bias = cv.emit1("graph.where", [_reshape(cv, valid, [b, 1, s, length])[0], _scalar(cv, 0.0, dt),
                                    _scalar(cv, np.finfo(dt.numpy).min, dt)])
    group = heads // kv_heads
    kv3 = []
    for t in present:       # [B, Hkv, L, D] -> [B, L, heads * D], each K/V head serving `group` query heads
        t = cv.emit1("graph.transpose", [t], {"perm": [0, 2, 1, 3]})
        if group > 1:
            t = cv.emit1("graph.expand", _reshape(cv, t, [b, length, kv_heads, 1, hd]),
                         {"shape": [b, length, kv_heads, group, hd]})
        kv3.append(_reshape(cv, t, [b, length, dq])[0])
    out = _attention(cv, q, kv3[0], kv3[1], heads, f32(attrs["scale"]), bias, cv.input(node, 10, optional=True))
    return out + present
