"""onnxruntime's contrib ops (com.microsoft), one node at a time, against onnxruntime itself.

Each case is a one-node model: weights are initializers (as the optimizer writes
them), activations and masks graph inputs.  lpfc imports it and runs it through
the reference interpreter; onnxruntime runs the same file.  Bad attributes and
unsupported variants are one lpfc error naming the node (and the attribute).
"""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper, numpy_helper

import lpfc
from lpfc.errors import InvalidModelError, UnsupportedError
from lpfc.frontend.onnx_contrib import CONTRIB_CONVERTERS, REQUIRED, SCHEMAS

MS = "com.microsoft"
B, S, H, N = 2, 5, 8, 2
rng = np.random.default_rng(7)


def arr(*shape, dtype=np.float32, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def model(node, feeds: dict, weights: dict, opset=14):
    inputs = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
              for k, v in feeds.items()]
    outputs = [helper.make_empty_tensor_value_info(o) for o in node.output if o]
    g = helper.make_graph([node], "g", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in weights.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(MS, 1)])
    m.ir_version = 8
    return m


def check(node, feeds: dict, weights: dict = None, opset=14, atol=2e-5):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is the oracle for its own contrib ops")
    m = model(node, feeds, weights or {}, opset)
    theirs = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    ours = lpfc.interpret(lpfc.import_onnx(m), feeds)
    names = [o for o in node.output if o]
    assert sorted(ours) == sorted(names)
    for name, want in zip(names, theirs):
        got = ours[name]
        assert got.shape == want.shape and got.dtype == want.dtype, (name, got.shape, want.shape, got.dtype)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=atol, err_msg=name)
    return ours


def attention(inputs=("x", "w", "b"), outputs=("y",), **attrs):
    attrs.setdefault("num_heads", N)
    return helper.make_node("Attention", list(inputs), list(outputs), domain=MS, name="attn", **attrs)


W, BIAS, X = arr(H, 3 * H), arr(3 * H), arr(B, S, H)
MASK_2D = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], np.int32)


# -- attention --------------------------------------------------------------------------------------
@pytest.mark.parametrize("mask", [
    None,
    np.array([3, 5], np.int32),                                    # 1-D end positions
    np.array([4, 5, 1, 0], np.int32),                              # 1-D end and start positions
    MASK_2D,                                                       # raw key padding mask
    np.array([[1, 1, -1, 2, 0], [0, 1, 1, 1, 1]], np.int32),       # raw: > 0 keeps, -1 masks
    np.array([[1], [1]], np.int32),                                # ORT's dummy mask
    (rng.random((B, S, S)) > 0.3).astype(np.int32),                # 3-D per-query mask
], ids=["none", "1d-end", "1d-end-start", "2d", "2d-signs", "2d-dummy", "3d"])
@pytest.mark.parametrize("attrs", [{}, {"unidirectional": 1}, {"scale": 0.1, "mask_filter_value": -1e9}],
                         ids=["plain", "causal", "scale"])
def test_attention_masks(mask, attrs):
    feeds = {"x": X} if mask is None else {"x": X, "m": mask}
    node = attention(("x", "w", "b") + (("m",) if mask is not None else ()), **attrs)
    check(node, feeds, {"w": W, "b": BIAS})


def test_attention_qkv_hidden_sizes_and_attention_bias():
    w, b = arr(H, 8 + 8 + 4), arr(20)
    bias = arr(1, N, S, S)
    node = attention(("x", "w", "b", "", "", "ab"), qkv_hidden_sizes=[8, 8, 4])
    y = check(node, {"x": X, "ab": bias}, {"w": w, "b": b})["y"]
    assert y.shape == (B, S, 4)


def test_attention_without_bias_and_with_weights_as_input():
    check(attention(("x", "w")), {"x": X, "w": W})


def test_attention_weights_become_three_matmuls_as_in_the_export():
    m = lpfc.import_onnx(model(attention(("x", "w", "b")), {"x": X}, {"w": W, "b": BIAS}))
    ops = [op.name for op in m.main.body.ops]
    assert ops.count("graph.matmul") == 3 + 2 and ops.count("graph.softmax") == 1
    assert "graph.slice" not in ops                 # the constant weight was split at import


@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("mask", [None, MASK_2D, np.array([2, 5], np.int32)], ids=["none", "2d", "1d"])
def test_multi_head_attention(with_bias, mask):
    L = 7
    q, k, v = arr(B, S, H), arr(B, L, H), arr(B, L, H)
    if mask is not None and mask.ndim == 2:
        mask = np.ones((B, L), np.int32)
        mask[0, -3:] = 0
    names = ["q", "k", "v", "bias" if with_bias else "", "m" if mask is not None else ""]
    while names[-1] == "":
        names.pop()
    node = helper.make_node("MultiHeadAttention", names, ["y"], domain=MS, name="mha", num_heads=N)
    feeds = {"q": q, "k": k, "v": v}
    if mask is not None:
        feeds["m"] = mask
    check(node, feeds, {"bias": arr(3 * H)} if with_bias else {})


# -- normalisations -----------------------------------------------------------------------------------
@pytest.mark.parametrize("inputs", [("x", "s", "g"), ("x", "s", "g", "be"), ("x", "s", "g", "be", "bi"),
                                    ("x", "s", "g", "", "bi")], ids=["gamma", "beta", "bias", "no-beta"])
@pytest.mark.parametrize("outputs", [("y",), ("y", "", "", "sum")], ids=["y", "sum"])
def test_skip_layer_norm(inputs, outputs):
    node = helper.make_node("SkipLayerNormalization", list(inputs), list(outputs), domain=MS, name="sln",
                            epsilon=1e-5)
    weights = {k: arr(H) for k in ("g", "be", "bi") if k in inputs}
    check(node, {"x": X, "s": arr(B, S, H)}, weights)


@pytest.mark.parametrize("inputs", [("x", "s", "g"), ("x", "s", "g", "bi")], ids=["gamma", "bias"])
def test_skip_simplified_layer_norm(inputs):
    node = helper.make_node("SkipSimplifiedLayerNormalization", list(inputs), ["y", "", "", "sum"], domain=MS,
                            name="ssln", epsilon=1e-6)
    check(node, {"x": X, "s": arr(B, S, H)}, {k: arr(H) for k in ("g", "bi") if k in inputs})


@pytest.mark.parametrize("attrs", [{}, {"epsilon": 1e-3}])
def test_simplified_layer_norm_default_domain(attrs):
    node = helper.make_node("SimplifiedLayerNormalization", ["x", "g"], ["y"], name="rms", **attrs)
    check(node, {"x": X}, {"g": arr(H)})


def test_ort_layer_norm_below_opset_17():
    """The optimizer writes LayerNormalization into opset-14 models (ORT defines it there)."""
    node = helper.make_node("LayerNormalization", ["x", "g", "be"], ["y"], name="ln", epsilon=1e-5)
    check(node, {"x": X}, {"g": arr(H), "be": arr(H)}, opset=14)


@pytest.mark.parametrize("segments", [True, False])
# (onnxruntime's shape inference refuses the node without its mask_index output.)
@pytest.mark.parametrize("outputs", [("y", "mask_index"), ("y", "mask_index", "sum")])
def test_embed_layer_norm(segments, outputs):
    ids = rng.integers(0, 30, (B, S)).astype(np.int32)
    inputs = ["ids", "seg" if segments else "", "we", "pe", "se" if segments else "", "g", "be",
              "m" if "mask_index" in outputs else ""]
    node = helper.make_node("EmbedLayerNormalization", inputs, list(outputs), domain=MS, name="eln")
    feeds = {"ids": ids}
    if segments:
        feeds["seg"] = rng.integers(0, 2, (B, S)).astype(np.int32)
    if "mask_index" in outputs:
        feeds["m"] = MASK_2D
    weights = {"we": arr(30, H), "pe": arr(16, H), "g": arr(H), "be": arr(H)}
    if segments:
        weights["se"] = arr(2, H)
    check(node, feeds, weights)


# -- GELU -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("op,inputs", [("Gelu", ["x"]), ("BiasGelu", ["x", "b"]), ("FastGelu", ["x"]),
                                       ("FastGelu", ["x", "b"])])
def test_gelus(op, inputs):
    node = helper.make_node(op, inputs, ["y"], domain=MS, name="g")
    check(node, {"x": arr(B, S, H, scale=3)}, {"b": arr(H)} if "b" in inputs else {}, atol=1e-5)


# -- attributes and errors ---------------------------------------------------------------------------
def test_schemas_match_onnxruntime():
    """SCHEMAS lists each op's attributes with onnxruntime's names, types and required flags."""
    pytest.importorskip("onnxruntime")
    from onnxruntime.capi import onnxruntime_pybind11_state as C
    theirs = {(s.domain, s.name): s for s in C.get_all_operator_schema() if s.since_version == 1}
    for key, ours in SCHEMAS.items():
        assert key in CONTRIB_CONVERTERS
        s = theirs[key]
        want = {k: (int(v.type), bool(v.required)) for k, v in s.attributes.items()}
        got = {k: (int(t), d is REQUIRED) for k, (t, d) in ours.items()}
        if key == (MS, "Attention"):
            assert set(got) <= set(want)
        assert got == {k: want[k] for k in got}, key
        # Every onnxruntime attribute we leave out of a schema would be refused as unknown; none is.
        assert set(want) == set(got), key


@pytest.mark.parametrize("node,match", [
    (attention(bogus=1), "attribute 'bogus' is not an attribute of com.microsoft Attention"),
    (attention(num_heads=2.0), "attribute 'num_heads' is declared FLOAT, but Attention takes it as INT"),
    (helper.make_node("Attention", ["x", "w", "b"], ["y"], domain=MS, name="attn"),
     "required attribute 'num_heads' is missing"),
    (attention(num_heads=0), "attribute 'num_heads'=0 must be positive"),
    (attention(qkv_hidden_sizes=[8, 4, 12]), "attribute 'qkv_hidden_sizes'"),
], ids=["unknown", "type", "missing", "zero-heads", "qkv-sizes"])
def test_bad_attributes_name_node_and_attribute(node, match):
    m = model(node, {"x": X}, {"w": W, "b": BIAS})
    with pytest.raises(InvalidModelError, match=match) as e:
        lpfc.import_onnx(m)
    assert "node 'attn'" in str(e.value)


@pytest.mark.parametrize("node,match", [
    (attention(do_rotary=1), "do_rotary=1 is not supported"),
    (attention(("x", "w", "b"), ("y", "present")), "output #1 \\(present\\) is not supported"),
    (attention(num_heads=3), "not divisible by num_heads=3"),
    (helper.make_node("QOrderedAttention", ["x"], ["y"], domain=MS, name="attn"),
     "unsupported op of domain .com.microsoft."),
    (helper.make_node("Attention", ["x", "w", "b"], ["y"], domain="com.example", name="attn", num_heads=2),
     "domain 'com.example' is not supported"),
], ids=["rotary", "kv-cache", "heads", "unknown-op", "unknown-domain"])
def test_unsupported_variants_are_one_clear_error(node, match):
    m = model(node, {"x": X}, {"w": W, "b": BIAS})
    with pytest.raises((UnsupportedError, lpfc.ShapeError), match=match) as e:
        lpfc.import_onnx(m)
    assert "node 'attn'" in str(e.value)


def test_contrib_opset_version_is_checked():
    m = model(attention(), {"x": X}, {"w": W, "b": BIAS})
    m.opset_import[1].version = 2
    with pytest.raises(UnsupportedError, match="com.microsoft opset 2"):
        lpfc.import_onnx(m)


def test_onnx_op_wins_over_the_ort_extension_where_onnx_defines_it():
    """LayerNormalization at opset 17 is ONNX's own: its validation (attribute types) applies."""
    node = helper.make_node("LayerNormalization", ["x", "g"], ["y"], name="ln", axis=-1)
    ours = lpfc.interpret(lpfc.import_onnx(model(node, {"x": X}, {"g": arr(H)}, opset=17)), {"x": X})
    assert ours["y"].shape == X.shape
    bad = helper.make_node("LayerNormalization", ["x", "g"], ["y"], name="ln", axis=1.0)
    with pytest.raises(InvalidModelError, match="'axis'"):
        lpfc.import_onnx(model(bad, {"x": X}, {"g": arr(H)}, opset=14))


def test_onnx_is_still_loaded():
    assert onnx.defs.onnx_opset_version() >= 17


# -- quantized matmul ------------------------------------------------------------------------------------
def _pack(vals: np.ndarray, bits: int) -> np.ndarray:
    per = 8 // bits
    v = vals.reshape(*vals.shape[:-1], -1, per).astype(np.uint8)
    return np.bitwise_or.reduce(v << (np.arange(per, dtype=np.uint8) * bits), axis=-1).astype(np.uint8)


# (onnxruntime's CPU kernel has no 8-bit weights with float zero points.)
@pytest.mark.parametrize("bits,zero_points", [(4, None), (4, "packed"), (4, "float"), (8, None), (8, "packed")])
@pytest.mark.parametrize("k", [64, 40])                  # 40: the last block is partial
def test_matmul_nbits(bits, zero_points, k):
    n, block = 12, 16
    blocks = -(-k // block)
    q = rng.integers(0, 1 << bits, (n, blocks, block))
    weights = {"B": _pack(q, bits).reshape(n, blocks, block * bits // 8),
               "s": (rng.random(n * blocks) * 0.1 + 0.01).astype(np.float32), "bias": arr(n)}
    inputs = ["a", "B", "s", "", "", "bias"]
    if zero_points == "packed":
        zp = rng.integers(0, 1 << bits, (n, blocks))
        per = 8 // bits
        zp = np.pad(zp, ((0, 0), (0, -blocks % per)))
        weights["zp"] = _pack(zp, bits).reshape(-1)
        inputs[3] = "zp"
    elif zero_points == "float":
        weights["zp"] = (rng.random(n * blocks) * (1 << bits)).astype(np.float32)
        inputs[3] = "zp"
    node = helper.make_node("MatMulNBits", inputs, ["y"], domain=MS, name="mmq", K=k, N=n, bits=bits,
                            block_size=block)
    check(node, {"a": arr(2, 3, k)}, weights, atol=1e-4)


def test_matmul_nbits_bad_bits_names_the_attribute():
    node = helper.make_node("MatMulNBits", ["a", "B", "s"], ["y"], domain=MS, name="mmq", K=16, N=2, bits=3,
                            block_size=16)
    m = model(node, {"a": arr(1, 16)}, {"B": np.zeros((2, 1, 6), np.uint8), "s": arr(2)})
    with pytest.raises(InvalidModelError, match="'bits'=3"):
        lpfc.import_onnx(m)


# -- rotary embedding --------------------------------------------------------------------------------------
@pytest.mark.parametrize("interleaved", [0, 1])
@pytest.mark.parametrize("layout,rot", [("bsh", 16), ("bnsh", 16), ("bsh", 8)], ids=["3d", "4d", "partial"])
@pytest.mark.parametrize("positions", ["ids", "offset"])
def test_rotary_embedding(interleaved, layout, rot, positions):
    heads, hd, max_pos = 2, 16, 20
    x = arr(B, S, heads * hd) if layout == "bsh" else arr(B, heads, S, hd)
    pos = (rng.integers(0, max_pos - S, (B, S)) if positions == "ids" else np.array([3])).astype(np.int64)
    attrs = {"interleaved": interleaved}
    if layout == "bsh":
        attrs["num_heads"] = heads
    if rot < hd:
        attrs["rotary_embedding_dim"] = rot
    node = helper.make_node("RotaryEmbedding", ["x", "p", "cos", "sin"], ["y"], domain=MS, name="rope", **attrs)
    ang = rng.random((max_pos, rot // 2)).astype(np.float32) * 3
    check(node, {"x": x, "p": pos}, {"cos": np.cos(ang), "sin": np.sin(ang)})


# -- grouped-query attention (the prompt, no KV cache) ---------------------------------------------------
@pytest.mark.parametrize("kv_heads", [1, 2, 4])
@pytest.mark.parametrize("outputs", [("y",), ("y", "pk", "pv")])
@pytest.mark.parametrize("seqlens", [[S - 1, S - 1], [2, S - 1]], ids=["full", "padded"])
def test_group_query_attention_prompt(kv_heads, outputs, seqlens):
    heads, hd = 4, 8
    q, k, v = arr(B, S, heads * hd), arr(B, S, kv_heads * hd), arr(B, S, kv_heads * hd)
    feeds = {"q": q, "k": k, "v": v, "seqlens": np.array(seqlens, np.int32)}
    node = helper.make_node("GroupQueryAttention", ["q", "k", "v", "", "", "seqlens", "total"], list(outputs),
                            domain=MS, name="gqa", num_heads=heads, kv_num_heads=kv_heads)
    check(node, feeds, {"total": np.array(S, np.int32)})


# -- grouped-query attention with a KV cache of fixed capacity (past_key/past_value, BNSH) ----------------
@pytest.mark.parametrize("kv_heads", [1, 2, 4])
@pytest.mark.parametrize("batch,seq,cap,seqlens,total", [
    (2, 1, 6, [4, 2], 5),           # decode: rows at different lengths, capacity above the total
    (2, 1, 3, [3, 3], 4),           # decode: the present grows past the capacity
    (2, 3, 6, [2, 1], 3),           # first prompt with a cache buffer (the past is not read), padded row
    (1, 3, 6, [4], 5),              # a later chunk of several tokens (onnxruntime allows it at batch 1)
], ids=["decode", "decode-grow", "first-prompt", "chunk"])
def test_group_query_attention_kv_cache(kv_heads, batch, seq, cap, seqlens, total):
    heads, hd = 4, 8
    q, k, v = arr(batch, seq, heads * hd), arr(batch, seq, kv_heads * hd), arr(batch, seq, kv_heads * hd)
    feeds = {"q": q, "k": k, "v": v, "pk": arr(batch, kv_heads, cap, hd), "pv": arr(batch, kv_heads, cap, hd),
             "seqlens": np.array(seqlens, np.int32)}
    node = helper.make_node("GroupQueryAttention", ["q", "k", "v", "pk", "pv", "seqlens", "total"],
                            ["y", "present_k", "present_v"], domain=MS, name="gqa", num_heads=heads,
                            kv_num_heads=kv_heads)
    check(node, feeds, {"total": np.array(total, np.int32)})


@pytest.mark.parametrize("inputs,feeds_extra,match", [
    (["q", "k", "v", "pk", "", "seqlens", "total"], {}, "past_key and past_value must be given together"),
    (["q", "k", "v", "pk", "pv", "seqlens", "total", "cos", "sin"], {"cos": arr(8, 4), "sin": arr(8, 4)},
     r"input #7 \(cos_cache\)"),
])
def test_group_query_attention_unsupported_cache_variants(inputs, feeds_extra, match):
    node = helper.make_node("GroupQueryAttention", inputs, ["y"], domain=MS, name="gqa", num_heads=2, kv_num_heads=1)
    feeds = {"q": arr(1, 1, 16), "k": arr(1, 1, 8), "v": arr(1, 1, 8), "pk": arr(1, 1, 3, 8), "pv": arr(1, 1, 3, 8),
             "seqlens": np.array([3], np.int32), **feeds_extra}
    feeds = {n: a for n, a in feeds.items() if n in inputs}
    with pytest.raises((UnsupportedError, InvalidModelError), match=match) as e:
        lpfc.import_onnx(model(node, feeds, {"total": np.array(4, np.int32)}))
    assert "node 'gqa'" in str(e.value)


def test_a_huge_dequantized_weight_is_refused_before_it_is_allocated(monkeypatch):
    """The fp32 weight is 8x a 4-bit one: it is bounded like every constant the importer computes."""
    from lpfc.errors import LimitError
    monkeypatch.setattr("lpfc.frontend.limits.MAX_COMPUTED_BYTES", 1024)      # the 64 x 12 weight is 3 KiB
    node = helper.make_node("MatMulNBits", ["a", "B", "s"], ["y"], domain=MS, name="mmq", K=64, N=12, bits=4,
                            block_size=16)
    m = model(node, {"a": arr(1, 64)}, {"B": np.zeros((12, 4, 8), np.uint8), "s": arr(48)})
    with pytest.raises(LimitError, match="MatMulNBits dequantized weight") as e:
        lpfc.import_onnx(m)
    assert "node 'mmq'" in str(e.value)


@pytest.mark.slow
def test_group_query_attention_decode_step_compiles(tmp_path):
    """The decode step (fixed-capacity cache, rows at different lengths) as a library, against onnxruntime."""
    ort = pytest.importorskip("onnxruntime")
    heads, kv_heads, hd, cap = 4, 2, 8, 6
    feeds = {"q": arr(2, 1, heads * hd), "k": arr(2, 1, kv_heads * hd), "v": arr(2, 1, kv_heads * hd),
             "pk": arr(2, kv_heads, cap, hd), "pv": arr(2, kv_heads, cap, hd), "seqlens": np.array([4, 2], np.int32)}
    node = helper.make_node("GroupQueryAttention", ["q", "k", "v", "pk", "pv", "seqlens", "total"],
                            ["y", "present_k", "present_v"], domain=MS, name="gqa", num_heads=heads,
                            kv_num_heads=kv_heads)
    m = model(node, feeds, {"total": np.array(5, np.int32)})
    path = tmp_path / "gqa.onnx"
    onnx.save(m, str(path))
    want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    result = lpfc.compile(str(path), output=str(tmp_path / "libgqa.so"))
    assert result.kinds.get("attention") == 1
    with lpfc.load(result.library) as session:
        ours = session.run(feeds)
    for name, w in zip(["y", "present_k", "present_v"], want):
        np.testing.assert_allclose(ours[name], w, rtol=1e-5, atol=2e-6, err_msg=name)
