"""The attention emitter (lpfc/codegen/cpp_attention.py) on the zoo's attention blocks."""
from __future__ import annotations

import numpy as np
import pytest

from lpfc.codegen import cpp_attention
from lpfc.codegen.plans.attention import contiguous_strides, reshape_strides

from .cpp_harness import HOST, TARGETS, KernelLib, assert_close, fused_blocks, kernel_target, make_inputs, reference

MODELS = [("tiny-bert", "dynamo20"), ("tiny-bert", "ts14"), ("tiny-gpt2", "dynamo20"), ("tiny-gpt2", "ts14"),
          ("minilm", "dynamo20"), ("minilm", "ts14")]


def _attention_blocks(model, variant):
    return [op for op in fused_blocks(model, variant) if op.attributes["kind"] == "attention"]


@pytest.mark.zoo
@pytest.mark.parametrize("model, variant", MODELS)
def test_accepts_exactly_the_attention_blocks(model, variant):
    for op in fused_blocks(model, variant):
        assert cpp_attention.ATTENTION_EMITTER.accepts(op, HOST) == (op.attributes["kind"] == "attention"), \
            op.attributes["name"]


@pytest.fixture(scope="module", params=TARGETS)
def zoo_lib(request, tmp_path_factory):
    target = kernel_target(request.param)
    kernels = []
    for model, variant in MODELS:
        blocks = _attention_blocks(model, variant)[:2]
        for op in blocks:
            sym = f"{model}_{variant}_{op.attributes['name']}".replace("-", "_")
            kernels.append((op, cpp_attention.ATTENTION_EMITTER.emit(op, target, sym)))
        if model == "tiny-bert" and variant == "ts14" and target is HOST:
            kernels.append((blocks[0], cpp_attention.ATTENTION_EMITTER.emit(blocks[0], HOST, "tb_scalar",
                                                                             {"isa": "scalar"})))
    return KernelLib(kernels, tmp_path_factory.mktemp("attention"), target=target), kernels


@pytest.mark.zoo
def test_zoo_attention_matches_the_interpreter(zoo_lib):
    lib, kernels = zoo_lib
    rng = np.random.default_rng(9)
    for op, ks in kernels:
        ins = make_inputs(op, rng)
        want = reference(op, ins)
        for threads in (1, 2):
            for g, w in zip(lib.run(op, ks, ins, threads), want):
                assert_close(g, w, what=f"{ks.symbol} at {threads} threads")


@pytest.mark.zoo
def test_masked_rows(zoo_lib):
    """TorchScript's -inf mask: a fully masked query row gives NaN in softmax, 0 with nan_to_zero (ts14)."""
    lib, kernels = zoo_lib
    rng = np.random.default_rng(10)
    checked = 0
    for op, ks in kernels:
        ins = make_inputs(op, rng)
        mask = ins[1]
        mask[...] = 0.0
        mask[..., -5:] = -np.inf                   # padding: the last five keys
        want = reference(op, ins)
        assert_close(lib.run(op, ks, ins, 2)[0], want[0], what=ks.symbol)
        if mask.shape[-2] == 1:
            mask[...] = -np.inf                    # every key masked
            want = reference(op, ins)[0]
            got = lib.run(op, ks, ins, 2)[0]
            assert_close(got, want, what=ks.symbol + " (all masked)")
            checked += 1
    assert checked


def test_reshape_strides():
    # a [1, 128, 1152] row-major buffer, split into its first third, viewed as heads [1, 128, 12, 32]
    st = reshape_strides((1, 128, 384), (0, 1152, 1), (1, 128, 12, 32))
    assert st[1:] == (1152, 32, 1)
    assert reshape_strides((4, 6), contiguous_strides((4, 6)), (24,)) == (1,)
    assert reshape_strides((4, 6), (1, 4), (24,)) is None          # a transposed view cannot flatten
    assert reshape_strides((2, 3, 4), contiguous_strides((2, 3, 4)), (6, 4)) == (4, 1)
    assert reshape_strides((6, 4), (4, 1), (2, 3, 2, 2)) == (12, 4, 2, 1)
