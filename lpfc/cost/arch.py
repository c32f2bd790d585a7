"""Architecture dict -> graph IR of a BERT-style encoder, without torch or ONNX.

``{"layers", "hidden", "heads", "ffn", "seq", "batch", "vocab"}`` (``heads`` and ``ffn`` may be lists,
one entry per layer; an optional ``head_dim`` fixes the width of one head, so that a layer's attention is
``heads × head_dim`` wide instead of ``hidden`` — what a model whose heads were pruned looks like, as
``BertModel.prune_heads`` and the NAS's weight-inherited sub-networks leave it) becomes the graph that a ``transformers`` ``BertModel`` export of that shape
canonicalizes to (TorchScript export, SDPA attention, outputs ``last_hidden_state`` and
``pooler_output``): the same ops in the same order, so the default pipeline fuses it into the same
kernels. ``tests/cost/test_arch.py`` proves it against real exports.

Weights: ``weights=`` takes a BertModel ``state_dict`` (numpy arrays, HF names) for the equivalence
test; otherwise a cheap deterministic non-constant pattern fills them (the estimator only needs the
shapes, and a pattern that is not a splat and not zero keeps every bias and LayerNorm scale alive,
as trained weights do).
"""
from __future__ import annotations

import math
from typing import Mapping, Optional

import numpy as np

from ..errors import ArchitectureError
from ..ir.attributes import DenseElements, DenseResource
from ..ir.builder import create_op
from ..ir.core import Function, Location, Module
from ..ir.types import DType, TensorType

KEYS = ("layers", "hidden", "heads", "ffn", "seq", "batch", "vocab", "head_dim")
DEFAULTS = {"batch": 1, "vocab": 30522, "head_dim": None}   # head_dim None: hidden // heads
TYPE_VOCAB = 2            # BertConfig.type_vocab_size
LN_EPS = 1e-12            # BertConfig.layer_norm_eps
INLINE_LIMIT = 16         # as the ONNX importer: larger non-splat constants are resources


def normalize(arch: Mapping) -> dict:
    """The validated dict with ``heads``/``ffn`` as per-layer lists; ArchitectureError names the bad key."""
    if not isinstance(arch, Mapping):
        raise ArchitectureError(f"an architecture is a dict with keys {', '.join(KEYS)}; got {type(arch).__name__}")
    unknown = [k for k in arch if k not in KEYS]
    if unknown:
        raise ArchitectureError(f"unknown key {unknown[0]!r} in the architecture dict",
                                hint=f"the keys are {', '.join(KEYS)}")
    out = dict(DEFAULTS)
    out.update(arch)
    missing = [k for k in KEYS if k not in out]
    if missing:
        raise ArchitectureError(f"the architecture dict lacks {missing[0]!r}", hint=f"the keys are {', '.join(KEYS)}")

    def positive(key, v, where=""):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ArchitectureError(f"{key!r}{where} must be a positive integer, got {v!r}")
        if v <= 0:
            raise ArchitectureError(f"{key!r}{where} must be positive, got {v}")
        return int(v)

    for k in ("layers", "hidden", "seq", "batch", "vocab"):
        out[k] = positive(k, out[k])
    if out["head_dim"] is not None:
        out["head_dim"] = positive("head_dim", out["head_dim"])
    n = out["layers"]
    for k in ("heads", "ffn"):
        v = out[k]
        if isinstance(v, (list, tuple)):
            if len(v) != n:
                raise ArchitectureError(f"{k!r} has {len(v)} entries but 'layers' is {n}",
                                        hint="give one entry per layer, or a single number for all")
            out[k] = [positive(k, x, f"[{i}]") for i, x in enumerate(v)]
        else:
            out[k] = [positive(k, v)] * n
    for i, h in enumerate(out["heads"]):
        if out["head_dim"] is None and out["hidden"] % h:
            where = f"[{i}]" if len(set(out["heads"])) > 1 else ""
            raise ArchitectureError(f"'hidden' ({out['hidden']}) is not divisible by 'heads'{where} ({h})",
                                    hint="or give 'head_dim', the width of one head")
    return out


def attention_width(a: Mapping, layer: int) -> tuple:
    """(heads, head width, attention width) of layer ``layer`` of a normalized architecture."""
    nh = a["heads"][layer]
    hd = a["head_dim"] or a["hidden"] // nh
    return nh, hd, nh * hd


_PATTERN = ((np.arange(4099, dtype=np.int64) * 7919 % 2003).astype(np.float32) - 1001.0) * np.float32(0.02 / 1001.0)


class _Weights:
    """HF-named parameters: from a state dict, or a cheap deterministic pattern (not a splat, not zero)."""

    def __init__(self, given: Optional[Mapping]):
        self.given = given
        self.k = 0

    def __call__(self, name: str, shape: tuple) -> np.ndarray:
        if self.given is not None:
            if name not in self.given:
                raise ArchitectureError(f"weights lack {name!r}")
            a = np.asarray(self.given[name], dtype=np.float32)
            if a.shape != tuple(shape):
                raise ArchitectureError(f"weight {name!r} has shape {list(a.shape)}, expected {list(shape)}")
            return a
        self.k += 1
        # a prime-length pattern repeated (np.resize is a memcpy: BERT-base's weights in ~0.1 s)
        off = 1.0 if name.endswith("LayerNorm.weight") else 0.0
        return np.resize(_PATTERN[self.k % 7:] + off, shape)


class _Builder:
    def __init__(self, fn: Function):
        self.fn = fn
        self.names: set = set()

    def const(self, array: np.ndarray, name: str, loc: Location):
        array = np.require(array, requirements="C")
        ty = TensorType(tuple(array.shape), DType.from_numpy(array.dtype))
        if array.size > INLINE_LIMIT and not (array.size and np.all(array == array.flat[0])):
            base, k = name, 1
            while name in self.names:
                name, k = f"{base}_{k}", k + 1
            self.names.add(name)
            attr = DenseResource(name, array)
        else:
            attr = DenseElements(array)
        from ..ir.core import Operation
        op = Operation("graph.constant", [], [ty], {"value": attr}, location=loc, result_names=[name])
        self.fn.body.append(op)
        return op.result

    def op(self, name: str, operands, attrs=None, loc: Location = Location(""), hint: Optional[str] = None):
        o = create_op(name, operands, attrs, location=loc, result_names=[hint])
        self.fn.body.append(o)
        return o.result


def build_encoder(arch: Mapping, weights: Optional[Mapping] = None, pooler: bool = True) -> Module:
    """The graph IR (canonical form) of the BertModel that ``arch`` describes."""
    a = normalize(arch)
    B, S, H, V = a["batch"], a["seq"], a["hidden"], a["vocab"]
    W = _Weights(weights)
    i64 = DType.i64
    fn = Function("main", [TensorType((B, S), i64)] * 3, ["input_ids", "attention_mask", "token_type_ids"])
    ids, mask, tt = fn.args
    b = _Builder(fn)

    def loc(path, kind):
        return Location(path, kind)

    # embeddings (the position rows are a constant: the export folds Gather(position_ids))
    zero_idx = b.const(np.array(0, dtype=np.int64), "embeddings.Constant", loc("/embeddings/Constant", "Constant"))
    wte = b.const(W("embeddings.word_embeddings.weight", (V, H)), "embeddings.word_embeddings.weight",
                  loc("embeddings.word_embeddings.weight", "initializer"))
    x = b.op("graph.gather", [wte, ids], {"axis": 0}, loc("/embeddings/word_embeddings/Gather", "Gather"))
    tte = b.const(W("embeddings.token_type_embeddings.weight", (TYPE_VOCAB, H)),
                  "embeddings.token_type_embeddings.weight", loc("embeddings.token_type_embeddings.weight",
                                                                 "initializer"))
    t = b.op("graph.gather", [tte, tt], {"axis": 0}, loc("/embeddings/token_type_embeddings/Gather", "Gather"))
    x = b.op("graph.add", [x, t], None, loc("/embeddings/Add", "Add"))
    if weights is not None and "embeddings.position_embeddings.weight" in weights:
        pos_table = np.asarray(weights["embeddings.position_embeddings.weight"], np.float32)
        if pos_table.shape[0] < S or pos_table.shape[1] != H:
            raise ArchitectureError(f"position embeddings {list(pos_table.shape)} do not cover seq {S} x hidden {H}")
        pos = pos_table[:S][None]
    else:
        pos = W("embeddings.position_embeddings.weight", (S, H))[None]
    p = b.const(np.ascontiguousarray(np.broadcast_to(pos, (1, S, H))), "embeddings.position_embeddings",
                loc("/embeddings/position_embeddings/Gather", "Gather"))
    x = b.op("graph.add", [x, p], None, loc("/embeddings/Add_1", "Add"))
    x = _layer_norm(b, W, x, "embeddings.LayerNorm", "/embeddings/LayerNorm")

    # the attention mask: bool -> 0 / -inf, shared by every layer
    m = b.op("graph.cast", [mask], {"to": DType.bool}, loc("/Cast", "Cast"))
    m = b.op("graph.reshape", [m], {"shape": [B, 1, 1, S]}, loc("/Reshape_1", "Reshape"))
    mask_add = None

    for i in range(a["layers"]):
        F = a["ffn"][i]
        nh, hd, A = attention_width(a, i)
        pre, path = f"encoder.layer.{i}", f"/encoder/layer.{i}"
        sa = f"{pre}.attention.self"

        def proj(which, inp, n_out, n_in, prefix, lpath):
            w = b.const(np.ascontiguousarray(W(f"{prefix}.weight", (n_out, n_in)).T), f"{prefix}.weight.T",
                        loc(f"{prefix}.weight", "initializer"))
            y = b.op("graph.matmul", [inp, w], None, loc(f"{lpath}/MatMul", "MatMul"))
            bias = b.const(W(f"{prefix}.bias", (n_out,)), f"{prefix}.bias", loc(f"{prefix}.bias", "initializer"))
            return b.op("graph.add", [y, bias], None, loc(f"{lpath}/Add", "Add"))

        ap = f"{path}/attention/self"
        q = proj("q", x, A, H, f"{sa}.query", f"{ap}/query")
        q = b.op("graph.reshape", [q], {"shape": [B, S, nh, hd]}, loc(f"{ap}/Reshape", "Reshape"))
        q = b.op("graph.transpose", [q], {"perm": [0, 2, 1, 3]}, loc(f"{ap}/Transpose", "Transpose"))
        k = proj("k", x, A, H, f"{sa}.key", f"{ap}/key")
        k = b.op("graph.reshape", [k], {"shape": [B, S, nh, hd]}, loc(f"{ap}/Reshape_1", "Reshape"))
        v = proj("v", x, A, H, f"{sa}.value", f"{ap}/value")
        v = b.op("graph.reshape", [v], {"shape": [B, S, nh, hd]}, loc(f"{ap}/Reshape_2", "Reshape"))
        v = b.op("graph.transpose", [v], {"perm": [0, 2, 1, 3]}, loc(f"{ap}/Transpose_1", "Transpose"))
        k = b.op("graph.transpose", [k], {"perm": [0, 2, 3, 1]}, loc(f"{ap}/Transpose_2", "Transpose"))
        scale = b.const(np.array(1.0 / math.sqrt(hd), dtype=np.float32), "scale", loc(f"{ap}/Mul_1", "Mul"))
        q = b.op("graph.mul", [q, scale], None, loc(f"{ap}/Mul", "Mul"))
        s = b.op("graph.matmul", [q, k], None, loc(f"{ap}/MatMul", "MatMul"))
        if mask_add is None:
            z = b.const(np.array(0.0, dtype=np.float32), "mask.zero", loc(f"{ap}/Where", "Where"))
            ninf = b.const(np.array(-np.inf, dtype=np.float32), "mask.ninf", loc(f"{ap}/Where", "Where"))
            mask_add = b.op("graph.where", [m, z, ninf], None, loc(f"{ap}/Where", "Where"))
        s = b.op("graph.add", [s, mask_add], None, loc(f"{ap}/Add", "Add"))
        s = b.op("graph.softmax", [s], {"axis": 3, "nan_to_zero": True}, loc(f"{ap}/Softmax", "Softmax"))
        c = b.op("graph.matmul", [s, v], None, loc(f"{ap}/MatMul_1", "MatMul"))
        c = b.op("graph.transpose", [c], {"perm": [0, 2, 1, 3]}, loc(f"{ap}/Transpose_3", "Transpose"))
        c = b.op("graph.reshape", [c], {"shape": [B, S, A]}, loc(f"{ap}/Reshape_4", "Reshape"))
        o = proj("o", c, H, A, f"{pre}.attention.output.dense", f"{path}/attention/output/dense")
        o = b.op("graph.add", [o, x], None, loc(f"{path}/attention/output/Add", "Add"))
        x = _layer_norm(b, W, o, f"{pre}.attention.output.LayerNorm", f"{path}/attention/output/LayerNorm")
        f = proj("i", x, F, H, f"{pre}.intermediate.dense", f"{path}/intermediate/dense")
        f = b.op("graph.gelu", [f], None, loc(f"{path}/intermediate/intermediate_act_fn/Mul_1", "Mul"))
        f = proj("o2", f, H, F, f"{pre}.output.dense", f"{path}/output/dense")
        f = b.op("graph.add", [f, x], None, loc(f"{path}/output/Add", "Add"))
        x = _layer_norm(b, W, f, f"{pre}.output.LayerNorm", f"{path}/output/LayerNorm")

    outs, names = [x], ["last_hidden_state"]
    if pooler:
        g = b.op("graph.gather", [x, zero_idx], {"axis": 1}, loc("/pooler/Gather", "Gather"))
        pw = b.const(W("pooler.dense.weight", (H, H)), "pooler.dense.weight", loc("pooler.dense.weight", "initializer"))
        pb = b.const(W("pooler.dense.bias", (H,)), "pooler.dense.bias", loc("pooler.dense.bias", "initializer"))
        g = b.op("graph.gemm", [g, pw, pb], {"alpha": 1.0, "beta": 1.0, "trans_a": False, "trans_b": True},
                 loc("/pooler/dense/Gemm", "Gemm"))
        outs.append(b.op("graph.tanh", [g], None, loc("/pooler/activation/Tanh", "Tanh"), hint="pooler_output"))
        names.append("pooler_output")
    fn.set_return(outs, names)
    return Module([fn])


def _layer_norm(b: _Builder, W: _Weights, x, prefix: str, path: str):
    H = x.type.shape[-1]
    w = b.const(W(f"{prefix}.weight", (H,)), f"{prefix}.weight", Location(f"{prefix}.weight", "initializer"))
    bias = b.const(W(f"{prefix}.bias", (H,)), f"{prefix}.bias", Location(f"{prefix}.bias", "initializer"))
    return b.op("graph.layer_norm", [x, w, bias], {"axis": 2, "epsilon": LN_EPS}, Location(f"{path}/Add_1", "Add"))


__all__ = ["KEYS", "attention_width", "build_encoder", "normalize"]
