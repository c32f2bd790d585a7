"""The row-wise emitter (lpfc/codegen/cpp_rowwise.py): embedding, layer_norm and softmax blocks."""
from __future__ import annotations

import numpy as np
import pytest

from lpfc.codegen import cpp_rowwise
from lpfc.ir.parser import parse_module

from .cpp_harness import HOST, TARGETS, KernelLib, assert_close, fused_blocks, kernel_target, make_inputs, reference


def t(*shape, dt="f32"):
    return "tensor<" + "".join(f"{d}x" for d in shape) + dt + ">"


def block(kind, args, body, yields):
    """One fused block over arguments ``[(name, shape, dtype)]``; ``yields``: [(value, shape)]."""
    sig = ", ".join(f"%{n}1: {t(*s, dt=d)}" for n, s, d in args)
    types = ", ".join(t(*s, dt=d) for _, s, d in args)
    ytypes = ", ".join(t(*s) for _, s in yields)
    outs = ", ".join(f"%r{i}" for i in range(len(yields)))
    text = f"""module {{
  func @main({", ".join(f"%{n}: {t(*s, dt=d)}" for n, s, d in args)}) -> ({ytypes}) attributes {{input_names = [{", ".join(f'"{n}"' for n, _, _ in args)}], output_names = [{", ".join(f'"o{i}"' for i in range(len(yields)))}]}} {{
    {outs} = graph.fused {", ".join("%" + n for n, _, _ in args)} {{kind = "{kind}", name = "k0"}} ({{
      ^bb0({sig}):
        {chr(10).join("        " + b for b in body).strip()}
        graph.yield {", ".join(v for v, _ in yields)} : ({ytypes}) -> ()
    }}) : ({types}) -> ({ytypes})
    func.return {outs} : ({ytypes}) -> ()
  }}
}}
"""
    return next(o for o in parse_module(text).main.ops if o.name == "graph.fused")


R, N = 7, 37
CASES = {
    "layer_norm_affine": block("layer_norm", [("x", (R, N), "f32"), ("g", (N,), "f32"), ("b", (N,), "f32")],
                               [f"%y = graph.layer_norm %x1, %g1, %b1 {{axis = 1, epsilon = 1e-05}} : "
                                f"({t(R, N)}, {t(N)}, {t(N)}) -> {t(R, N)}"], [("%y", (R, N))]),
    "add_layer_norm_plain": block("layer_norm", [("x", (1, R, N), "f32"), ("r", (1, R, N), "f32")],
                                  [f"%s = graph.add %x1, %r1 : ({t(1, R, N)}, {t(1, R, N)}) -> {t(1, R, N)}",
                                   f"%y = graph.layer_norm %s {{axis = 2, epsilon = 1e-12}} : ({t(1, R, N)}) -> {t(1, R, N)}",
                                   f"%z = graph.reshape %y {{shape = [{R}, {N}]}} : ({t(1, R, N)}) -> {t(R, N)}"],
                                  [("%s", (1, R, N)), ("%z", (R, N))]),
    "softmax": block("softmax", [("x", (2, R, N), "f32")],
                     [f"%y = graph.softmax %x1 {{axis = -1}} : ({t(2, R, N)}) -> {t(2, R, N)}"], [("%y", (2, R, N))]),
    "scaled_masked_softmax_nan_to_zero": block(
        "softmax", [("x", (2, R, N), "f32"), ("m", (1, 1, N), "f32"), ("c", (), "f32")],
        [f"%a = graph.mul %x1, %c1 : ({t(2, R, N)}, {t()}) -> {t(2, R, N)}",
         f"%b = graph.add %a, %m1 : ({t(2, R, N)}, {t(1, 1, N)}) -> {t(2, R, N)}",
         f"%y = graph.softmax %b {{axis = 2, nan_to_zero = true}} : ({t(2, R, N)}) -> {t(2, R, N)}"],
        [("%y", (2, R, N))]),
    # big enough (R * N >= 65536) for the rows to run on several threads
    "softmax_threaded": block("softmax", [("x", (256, 300), "f32")],
                              [f"%y = graph.softmax %x1 {{axis = 1}} : ({t(256, 300)}) -> {t(256, 300)}"],
                              [("%y", (256, 300))]),
    "embedding": block("embedding", [("tab", (11, N), "f32"), ("ids", (1, R), "i64"), ("pos", (1, R, N), "f32"),
                                     ("g", (N,), "f32")],
                       [f"%e = graph.gather %tab1, %ids1 {{axis = 0}} : ({t(11, N)}, {t(1, R, dt='i64')}) -> {t(1, R, N)}",
                        f"%s = graph.add %e, %pos1 : ({t(1, R, N)}, {t(1, R, N)}) -> {t(1, R, N)}",
                        f"%y = graph.layer_norm %s, %g1 {{axis = -1, epsilon = 1e-05}} : ({t(1, R, N)}, {t(N)}) -> {t(1, R, N)}"],
                       [("%y", (1, R, N))]),
    # Llama (docs/llama.md): RMSNorm with and without its scale, and the embedding gather + RMSNorm
    "rms_norm_scale": block("layer_norm", [("x", (R, N), "f32"), ("g", (N,), "f32")],
                            [f"%y = graph.rms_norm %x1, %g1 {{axis = 1, epsilon = 1e-06}} : "
                             f"({t(R, N)}, {t(N)}) -> {t(R, N)}"], [("%y", (R, N))]),
    "add_rms_norm_plain": block("layer_norm", [("x", (1, R, N), "f32"), ("r", (1, R, N), "f32")],
                                [f"%s = graph.add %x1, %r1 : ({t(1, R, N)}, {t(1, R, N)}) -> {t(1, R, N)}",
                                 f"%y = graph.rms_norm %s {{axis = 2, epsilon = 1e-05}} : ({t(1, R, N)}) -> {t(1, R, N)}"],
                                [("%s", (1, R, N)), ("%y", (1, R, N))]),
    "embedding_rms_norm": block("embedding", [("tab", (11, N), "f32"), ("ids", (1, R), "i64"), ("g", (N,), "f32")],
                                [f"%e = graph.gather %tab1, %ids1 {{axis = 0}} : ({t(11, N)}, {t(1, R, dt='i64')}) -> {t(1, R, N)}",
                                 f"%y = graph.rms_norm %e, %g1 {{axis = -1, epsilon = 1e-05}} : ({t(1, R, N)}, {t(N)}) -> {t(1, R, N)}"],
                                [("%y", (1, R, N))]),
}


@pytest.fixture(scope="module", params=TARGETS)
def lib(request, tmp_path_factory):
    target = kernel_target(request.param)
    kernels = []
    for isa in ("host", "scalar") if target is HOST else ("host",):
        for name, op in CASES.items():
            ch = {"isa": isa} if isa != "host" else None
            kernels.append((op, cpp_rowwise.ROWWISE_EMITTER.emit(op, target, f"r_{name}_{isa}", ch)))
    return KernelLib(kernels, tmp_path_factory.mktemp("rowwise"), target=target), kernels


def test_synthetic_blocks_match_the_interpreter(lib):
    klib, kernels = lib
    rng = np.random.default_rng(5)
    for op, ks in kernels:
        ins = make_inputs(op, rng)
        want = reference(op, ins)
        for threads in (1, 2):
            for g, w in zip(klib.run(op, ks, ins, threads), want):
                assert_close(g, w, what=f"{ks.symbol} at {threads} threads")


def test_softmax_special_rows(lib):
    klib, kernels = lib
    for op, ks in kernels:
        if "scaled_masked" not in ks.symbol:
            continue
        rng = np.random.default_rng(6)
        x, m, c = make_inputs(op, rng)
        c[...] = 0.5
        x[0, 0, :] = -np.inf           # fully masked: NaN, and 0 with nan_to_zero
        x[0, 1, 3] = np.nan            # a NaN: the row is NaN -> 0
        x[1, 2, 5] = np.inf            # +inf: NaN -> 0
        m[0, 0, :4] = -np.inf          # a masked prefix on every row
        want = reference(op, [x, m, c])[0]
        got = klib.run(op, ks, [x, m, c])[0]
        assert_close(got, want, what=ks.symbol)
        assert (got[0, 0] == 0).all() and (got[0, 1] == 0).all() and (got[1, 2] == 0).all()
        assert (got[1, 1, :4] == 0).all()


def test_embedding_indices(lib):
    klib, kernels = lib
    for op, ks in kernels:
        if "embedding" not in ks.symbol:
            continue
        ins = make_inputs(op, np.random.default_rng(7))
        ins[1][0, 0] = -1                              # numpy/ONNX: counts from the end
        want = reference(op, ins)[0]
        got = klib.run(op, ks, ins)[0]
        assert_close(got, want, what=ks.symbol)
        ins[1][0, 2] = 11                              # out of range: that row is NaN, no wild read
        got = klib.run(op, ks, ins)[0]
        assert np.isnan(got[0, 2]).all() and not np.isnan(got[0, 3]).any()


@pytest.mark.zoo
@pytest.mark.parametrize("target_name", TARGETS)
def test_zoo_embeddings_match_the_interpreter(tmp_path, target_name):
    target = kernel_target(target_name)
    kernels = []
    for model, variant in [("tiny-bert", "dynamo20"), ("tiny-bert", "ts14"), ("tiny-gpt2", "dynamo20"),
                           ("minilm", "dynamo20")]:
        for op in fused_blocks(model, variant):
            if op.attributes["kind"] in ("embedding", "layer_norm", "softmax"):
                assert cpp_rowwise.ROWWISE_EMITTER.accepts(op, HOST), (model, op.attributes["name"])
                sym = f"{model}_{variant}_{op.attributes['name']}".replace("-", "_")
                kernels.append((op, cpp_rowwise.ROWWISE_EMITTER.emit(op, target, sym)))
            else:
                assert not cpp_rowwise.ROWWISE_EMITTER.accepts(op, HOST)
    assert len(kernels) == 4
    klib = KernelLib(kernels, tmp_path, target=target)
    rng = np.random.default_rng(8)
    for op, ks in kernels:
        ins = make_inputs(op, rng)
        for threads in (1, 2):
            for g, w in zip(klib.run(op, ks, ins, threads), reference(op, ins)):
                assert_close(g, w, what=ks.symbol)


def test_declines():
    # softmax over a leading axis
    op = block("softmax", [("x", (R, N), "f32")],
               [f"%y = graph.softmax %x1 {{axis = 0}} : ({t(R, N)}) -> {t(R, N)}"], [("%y", (R, N))])
    assert not cpp_rowwise.ROWWISE_EMITTER.accepts(op, HOST)
    # layer_norm over two axes
    op = block("layer_norm", [("x", (2, R, N), "f32")],
               [f"%y = graph.layer_norm %x1 {{axis = 1, epsilon = 1e-05}} : ({t(2, R, N)}) -> {t(2, R, N)}"],
               [("%y", (2, R, N))])
    assert not cpp_rowwise.ROWWISE_EMITTER.accepts(op, HOST)
    # element-wise ops after the anchor
    op = block("softmax", [("x", (R, N), "f32")],
               [f"%y = graph.softmax %x1 {{axis = 1}} : ({t(R, N)}) -> {t(R, N)}",
                f"%z = graph.exp %y : ({t(R, N)}) -> {t(R, N)}"], [("%z", (R, N))])
    assert not cpp_rowwise.ROWWISE_EMITTER.accepts(op, HOST)
    # an op without a vector form in the prologue
    op = block("softmax", [("x", (R, N), "f32")],
               [f"%a = graph.floor %x1 : ({t(R, N)}) -> {t(R, N)}",
                f"%y = graph.softmax %a {{axis = 1}} : ({t(R, N)}) -> {t(R, N)}"], [("%y", (R, N))])
    assert not cpp_rowwise.ROWWISE_EMITTER.accepts(op, HOST)
    for op in CASES.values():
        assert cpp_rowwise.ROWWISE_EMITTER.accepts(op, HOST)
