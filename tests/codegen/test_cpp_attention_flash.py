"""The online-softmax ("flash") attention kernels (cpp_attention._emit_flash_stream, the default schedule, and
_emit_flash, "flash-packed", the default where a score operand has a row per query, e.g. GPT-2's causal mask): several
key blocks with a partial last one, odd sequence lengths, masks that cover whole key blocks (the running
max starts at -inf), fully masked rows, NaN scores, and every other schedule on the same inputs."""
from __future__ import annotations

import numpy as np
import pytest

import lpfc
import lpfc.passes
from lpfc.codegen import cpp_attention
from lpfc.testing import zoo

from .cpp_harness import HOST, KernelLib, assert_close, make_inputs, reference

# (model, variant, sequence length): ts14 masks with -inf (nan_to_zero softmax), dynamo20 with finfo.min
CASES = [("tiny-bert", "ts14", 37), ("tiny-bert", "dynamo20", 100), ("tiny-gpt2", "ts14", 53)]
SCHEDULES = [{"key_block": 8}, {"key_block": 24, "query_block": 18}, {}, {"attention": "tiled"},
             {"attention": "rows"}, {"attention": "flash-packed", "key_block": 8}, {"attention": "flash-packed"}]


def _blocks_at(model, variant, seq, cache):
    path = zoo.export(model, variant, cache=cache, seq_len=seq)
    m = lpfc.import_onnx(path)
    lpfc.passes.Pipeline.parse("default").run(m)
    return [op for op in m.main.ops if op.name == "graph.fused" and op.attributes["kind"] == "attention"]


@pytest.fixture(scope="module")
def odd_lib(tmp_path_factory):
    cache = tmp_path_factory.mktemp("zoo-odd")
    kernels = []
    for model, variant, seq in CASES:
        op = _blocks_at(model, variant, seq, cache)[0]
        assert cpp_attention.ATTENTION_EMITTER.accepts(op, HOST)
        for n, choice in enumerate(SCHEDULES):
            sym = f"{model}_{variant}_{seq}_{n}".replace("-", "_")
            kernels.append((op, cpp_attention.ATTENTION_EMITTER.emit(op, HOST, sym, choice)))
    return KernelLib(kernels, tmp_path_factory.mktemp("attention-odd")), kernels


@pytest.mark.zoo
def test_odd_lengths_and_key_blocks_match_the_interpreter(odd_lib):
    lib, kernels = odd_lib
    rng = np.random.default_rng(3)
    # several key blocks (the smallest is the register tile's width), the last one partial
    assert any("flash" in ks.variant and 37 % int(ks.variant.split("KB=")[1]) for _, ks in kernels)
    for op, ks in kernels:
        ins = make_inputs(op, rng)
        want = reference(op, ins)
        for threads in (1, 3):
            assert_close(lib.run(op, ks, ins, threads)[0], want[0], what=f"{ks.symbol} ({ks.variant}), {threads} T")


@pytest.mark.zoo
def test_masks_over_whole_key_blocks(odd_lib):
    """Leading keys masked (whole key blocks of -inf / finfo.min before any live key), padding at the end,
    every key masked, and a NaN score: as numpy's softmax (NaN rows, 0 with nan_to_zero)."""
    lib, kernels = odd_lib
    rng = np.random.default_rng(4)
    checked = 0
    for op, ks in kernels:
        ins = make_inputs(op, rng)
        # the padding mask: a [B, 1, 1, T] operand (tiny-gpt2's causal mask is a constant of the model)
        mask_i = next((i for i, a in enumerate(ins) if i > 0 and a.ndim == 4 and a.shape[-2] == 1), None)
        if mask_i is None:
            continue
        mask = ins[mask_i]
        # what each exporter's mask holds: TorchScript -inf, dynamo finfo.min
        low = -np.inf if "ts14" in ks.symbol else np.finfo(np.float32).min
        for pattern in ("lead", "lead+tail", "all"):
            mask[...] = 0.0
            if pattern in ("lead", "lead+tail"):
                mask[..., :27] = low
            if pattern == "lead+tail":
                mask[..., -5:] = low
            if pattern == "all":
                mask[...] = low
            want = reference(op, ins)
            assert_close(lib.run(op, ks, ins, 2)[0], want[0], what=f"{ks.symbol} ({ks.variant}), mask {pattern}")
            checked += 1
    assert checked


@pytest.mark.zoo
def test_nan_query_gives_numpys_nan_rows(odd_lib):
    lib, kernels = odd_lib
    rng = np.random.default_rng(5)
    for op, ks in kernels:
        ins = make_inputs(op, rng)
        ins[0].reshape(-1)[7] = np.nan        # one NaN in the fused QKV input: some score rows are NaN
        want = reference(op, ins)[0]
        got = lib.run(op, ks, ins, 2)[0]
        assert np.array_equal(np.isnan(got), np.isnan(want)), f"{ks.symbol} ({ks.variant}): NaN pattern"
        assert_close(np.nan_to_num(got), np.nan_to_num(want), what=f"{ks.symbol} ({ks.variant}) with a NaN")
