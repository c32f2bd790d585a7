"""The streaming flash schedule (cpp_attention._emit_flash_stream, the default wherever every score operand is
one value per key): K and V read in place, work in (batch, head, query block) units. Checked on plans of the
zoo's BERT shape at batches 1-4, odd lengths, several query and key blocks and thread counts against numpy;
the AVX-512 build with -Werror; which plans it takes."""
from __future__ import annotations

import numpy as np
import pytest

from lpfc.codegen import cpp_attention
from lpfc.codegen.plans.attention import AttentionPlan, View

from .cpp_harness import HOST, KernelLib, assert_close


def bert_plan(batch, heads, seq, d, ops=(("graph.add", True),), nan_to_zero=True, causal=False):
    """The plan of a BERT attention block (analyse() of the zoo exports): arg 0 the fused QKV output
    [B, S, 3·H·d], arg 1.. one operand per score op ([B, 1, 1, S], or [1, 1, S, S] with ``causal``)."""
    hd, ld = heads * d, 3 * heads * d
    sq = seq * ld
    steps = []
    for n, (name, first) in enumerate(ops):
        st = (0, 0, seq, 1) if causal else (seq, 0, 0, 1)
        steps.append((name, View(1 + n, 0, (batch, heads, seq, seq), st), first))
    return AttentionPlan(batch=(batch, heads), S=seq, D=d, T=seq, DV=d,
                         q=View(0, 0, (batch, heads, seq, d), (sq, d, ld, 1)),
                         kt=View(0, hd, (batch, heads, d, seq), (sq, d, 1, ld)),
                         v=View(0, 2 * hd, (batch, heads, seq, d), (sq, d, ld, 1)),
                         steps=steps, out=View(-1, 0, (batch, heads, seq, d), (seq * hd, d, hd, 1)),
                         nan_to_zero=nan_to_zero)


def numpy_attention(plan, qkv, operands):
    B, H = plan.batch
    S, d = plan.S, plan.D
    x = qkv.astype(np.float64).reshape(B, S, 3, H, d).transpose(2, 0, 3, 1, 4)    # [3, B, H, S, d]
    s = x[0] @ x[1].transpose(0, 1, 3, 2)
    for (name, _, first), m in zip(plan.steps, operands):
        m = m.astype(np.float64)
        f = {"graph.add": np.add, "graph.sub": np.subtract, "graph.mul": np.multiply, "graph.div": np.divide}[name]
        s = f(s, m) if first else f(m, s)
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(s - s.max(-1, keepdims=True))
        p = e / e.sum(-1, keepdims=True)
    if plan.nan_to_zero:
        p = np.nan_to_num(p, nan=0.0)
    o = p @ x[2]                                            # [B, H, S, d]
    return o.transpose(0, 2, 1, 3).reshape(B, S, H * d).astype(np.float32)


# (batch, heads, seq, head size, choice): several query blocks (the last one short) and key blocks; at least
# 32 queries and head sizes of whole 32-wide tiles, so that every ISA's tile (AVX-512's is 14 x 32) streams
CASES = [(1, 2, 37, 32, {}), (3, 2, 37, 32, {"query_block": 16, "key_block": 8}),
         (4, 1, 53, 64, {"query_block": 24, "key_block": 24}), (2, 3, 100, 32, {}),
         (1, 12, 33, 32, {"key_block": 5})]


@pytest.fixture(scope="module")
def stream_lib(tmp_path_factory):
    kernels = []
    for n, (B, H, S, d, choice) in enumerate(CASES):
        plan = bert_plan(B, H, S, d)
        ks = cpp_attention.render_attention(plan, HOST, f"stream_{n}", choice)
        assert " flash " in ks.variant, ks.variant
        kernels.append((plan, ks))
    plan = bert_plan(2, 2, 33, 32, ops=(("graph.div", True), ("graph.add", False)), nan_to_zero=False)
    kernels.append((plan, cpp_attention.render_attention(plan, HOST, "stream_two_ops", {"query_block": 16})))
    lib = KernelLib([(None, ks) for _, ks in kernels], tmp_path_factory.mktemp("attention-stream"))
    return lib, kernels


def _inputs(plan, rng):
    B, H = plan.batch
    qkv = rng.standard_normal((B, plan.S, 3 * H * plan.D)).astype(np.float32)
    ops = []
    for name, _, _ in plan.steps:
        if name == "graph.div":
            ops.append(np.full((B, 1, 1, plan.S), 5.6568542, np.float32))
        else:
            ops.append(np.zeros((B, 1, 1, plan.S), np.float32))
    return qkv, ops


def _run(lib, plan, ks, qkv, ops, threads):
    B, H = plan.batch
    out = np.full((B, plan.S, H * plan.DV), np.nan, np.float32)
    return lib.call(ks.symbol, [qkv] + ops, [out], threads)[0]


def test_matches_numpy_at_every_batch_and_thread_count(stream_lib):
    lib, kernels = stream_lib
    rng = np.random.default_rng(11)
    for plan, ks in kernels:
        qkv, ops = _inputs(plan, rng)
        want = numpy_attention(plan, qkv, ops)
        for threads in (1, 2, 3):
            assert_close(_run(lib, plan, ks, qkv, ops, threads), want, what=f"{ks.symbol} ({ks.variant}) {threads} T")


def test_masks_per_batch_row(stream_lib):
    """Each batch row its own padding (leading keys, trailing keys, every key: NaN, or 0 under nan_to_zero);
    -inf as TorchScript exports, finfo.min as dynamo does."""
    lib, kernels = stream_lib
    rng = np.random.default_rng(12)
    for plan, ks in kernels:
        for low in (-np.inf, np.finfo(np.float32).min):
            qkv, ops = _inputs(plan, rng)
            mask = ops[-1]                                   # the add's operand (the div's is the scale)
            B, S = plan.batch[0], plan.S
            for b in range(B):
                pattern = b % 3
                if pattern == 0:
                    mask[b, ..., : S * 2 // 3] = low         # whole key blocks masked before the first live key
                elif pattern == 1:
                    mask[b, ..., S - 5:] = low
                else:
                    mask[b] = low
            want = numpy_attention(plan, qkv, ops)
            got = _run(lib, plan, ks, qkv, ops, 2)
            assert_close(got, want, what=f"{ks.symbol} ({ks.variant}), mask {low}")


def test_nan_in_one_query_or_key(stream_lib):
    lib, kernels = stream_lib
    rng = np.random.default_rng(13)
    for plan, ks in kernels:
        qkv, ops = _inputs(plan, rng)
        qkv[0, 3, 1] = np.nan                                # query 3 of head 0
        qkv[-1, plan.S - 1, plan.batch[1] * plan.D + 2] = np.nan   # the last key of head 0, last batch row
        want = numpy_attention(plan, qkv, ops)
        got = _run(lib, plan, ks, qkv, ops, 2)
        assert np.array_equal(np.isnan(got), np.isnan(want)), f"{ks.symbol}: NaN pattern"
        assert_close(np.nan_to_num(got), np.nan_to_num(want), what=f"{ks.symbol} with NaNs")


def test_units_are_query_blocks():
    """Batch x heads x query blocks units: at batch 1 with 12 heads and 512 queries, 12 x 11 of them with
    blocks of 48 (equal blocks of whole 16-query panels: 6 of 96 by default)."""
    ks = cpp_attention.render_attention(bert_plan(1, 12, 512, 64), HOST, "units", {"isa": "avx2", "query_block": 48})
    assert "UNITS = 132" in ks.code and "IB=48" in ks.variant
    ks = cpp_attention.render_attention(bert_plan(4, 12, 128, 64), HOST, "units", {"isa": "avx2"})
    assert "UNITS = 96" in ks.code and "IB=64" in ks.variant
    # no K or V copy: the only packing loop is the unit's queries
    assert ks.code.count("panels of NR") == 1


def test_takes_only_plans_with_one_value_per_key():
    """A causal mask (one row per query) goes to the packed flash schedule; so do V with a head size that
    is no whole number of tiles and fewer queries than a tile."""
    causal = cpp_attention.render_attention(bert_plan(1, 2, 40, 32, causal=True), HOST, "c")
    assert causal.variant.split()[1] == "flash-packed" and "kp[" in causal.code         # packed K
    assert "kp[" in cpp_attention.render_attention(bert_plan(1, 2, 40, 20), HOST, "d").code
    assert "kp[" not in cpp_attention.render_attention(bert_plan(1, 2, 40, 32), HOST, "e").code
    # fewer queries than the scores tile is wide (one query: decoding with a KV cache)
    one = cpp_attention.render_attention(bert_plan(1, 2, 1, 32), HOST, "f", {"isa": "avx2"})
    assert "flash-packed" in one.variant


@pytest.mark.parametrize("isa, flags", [("avx512", ["-march=skylake-avx512"]), ("avx2", ["-march=x86-64-v3"]),
                                        ("scalar", [])])
def test_builds_with_werror_for_every_x86_isa(isa, flags, tmp_path):
    """AVX-512 cannot run here: built only (-Werror, the toolchain's warnings); scalar runs."""
    kernels = [(None, cpp_attention.render_attention(bert_plan(2, 2, 37, 64), HOST, f"w_{isa}_{n}",
                                                     dict(choice, isa=isa)))
               for n, choice in enumerate([{}, {"query_block": 16, "key_block": 7}])]
    assert all(f"{isa} flash" in ks.variant for _, ks in kernels)
    lib = KernelLib(kernels, tmp_path, extra_flags=flags, build=isa == "scalar")
    if isa == "scalar":
        plan = bert_plan(2, 2, 37, 64)
        qkv, ops = _inputs(plan, np.random.default_rng(14))
        for _, ks in kernels:
            assert_close(_run(lib, plan, ks, qkv, ops, 2), numpy_attention(plan, qkv, ops), what=ks.symbol)
