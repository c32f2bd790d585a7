"""Llama's decomposed layers as torch exports them, recognised by canonicalize (TVM style: the IR before,
the IR expected, compared structurally), the numbers kept, and near misses left alone."""
import numpy as np
import pytest

import lpfc
from lpfc.ir.attributes import constant_array
from lpfc.passes import Pipeline

T = "tensor<2x3x8xf32>"
R = "tensor<2x3x1xf32>"
HEADER = (f'module {{\n  func @main(%x: {T}, %w8: tensor<8xf32>) -> ({T}) attributes '
          f'{{input_names = ["x", "w"], output_names = ["y"]}} {{\n')
FOOTER = f"    func.return %y : ({T}) -> ()\n  }}\n}}\n"


def module(body: str):
    return lpfc.parse_module(HEADER + body + FOOTER)


def structure(fn) -> list:
    """The function as a list of (op, operand positions, attributes, result types), SSA names ignored:
    an operand is ("arg", i) or ("op", index of its defining op); constants compare by value."""
    pos, out = {}, []
    for i, a in enumerate(fn.args):
        pos[id(a)] = ("arg", i)
    for k, op in enumerate(fn.body.ops):
        attrs = {}
        for name, value in sorted(op.attributes.items()):
            arr = constant_array(value) if name == "value" else None
            attrs[name] = (arr.dtype.str, arr.shape, arr.tolist()) if arr is not None else repr(value)
        out.append((op.name, [pos[id(v)] for v in op.operands], attrs, [str(r.type) for r in op.results]))
        for r in op.results:
            pos[id(r)] = ("op", k)
    return out


def check(before: str, expected: str, pipeline="canonicalize,dce"):
    m, want = module(before), module(expected)
    feeds = {"x": np.random.default_rng(0).standard_normal((2, 3, 8)).astype(np.float32),
             "w": np.random.default_rng(1).standard_normal(8).astype(np.float32)}
    ref = lpfc.interpret(m, feeds)["y"]
    Pipeline.parse(pipeline).run(m, verify_each=True)
    Pipeline.parse("dce").run(want)
    assert structure(m.main) == structure(want.main), lpfc.print_module(m)
    np.testing.assert_allclose(lpfc.interpret(m, feeds)["y"], ref, rtol=1e-5, atol=1e-6)


def rms_parts(square="pow", inverse="div1", eps="1e-06", axes="[-1]", of="%x"):
    sq = (f"    %two = graph.constant {{value = dense<2.0> : tensor<f32>}} : () -> tensor<f32>\n"
          f"    %sq = graph.pow {of}, %two : ({T}, tensor<f32>) -> {T}\n" if square == "pow" else
          f"    %sq = graph.mul {of}, {of} : ({T}, {T}) -> {T}\n")
    body = sq + (
        f"    %ms = graph.reduce_mean %sq {{axes = {axes}, keepdims = true}} : ({T}) -> {R}\n"
        f"    %eps = graph.constant {{value = dense<{eps}> : tensor<f32>}} : () -> tensor<f32>\n"
        f"    %ve = graph.add %ms, %eps : ({R}, tensor<f32>) -> {R}\n"
        f"    %sd = graph.sqrt %ve : ({R}) -> {R}\n")
    if inverse == "div":
        return body + f"    %n = graph.div %x, %sd : ({T}, {R}) -> {T}\n"
    if inverse == "div1":       # TorchScript: torch.rsqrt exported as Div(1, Sqrt(.))
        body += (f"    %one = graph.constant {{value = dense<1.0> : tensor<f32>}} : () -> tensor<f32>\n"
                 f"    %inv = graph.div %one, %sd : (tensor<f32>, {R}) -> {R}\n")
    else:                       # dynamo: Reciprocal(Sqrt(.))
        body += f"    %inv = graph.reciprocal %sd : ({R}) -> {R}\n"
    return body + f"    %n = graph.mul %x, %inv : ({T}, {R}) -> {T}\n"


@pytest.mark.parametrize("square", ["pow", "mul"])
@pytest.mark.parametrize("inverse", ["div1", "reciprocal", "div"])
def test_rms_norm_with_its_scale_becomes_one_op(square, inverse):
    before = rms_parts(square, inverse) + f"    %y = graph.mul %w8, %n : (tensor<8xf32>, {T}) -> {T}\n"
    expected = f"    %y = graph.rms_norm %x, %w8 {{axis = 2, epsilon = 1e-06}} : ({T}, tensor<8xf32>) -> {T}\n"
    check(before, expected)


def test_rms_norm_with_a_ones_scale_loses_it():
    before = rms_parts() + (
        "    %ones = graph.constant {value = dense<1.0> : tensor<8xf32>} : () -> tensor<8xf32>\n"
        f"    %y = graph.mul %n, %ones : ({T}, tensor<8xf32>) -> {T}\n")
    check(before, f"    %y = graph.rms_norm %x {{axis = 2, epsilon = 1e-06}} : ({T}) -> {T}\n")


def test_rms_norm_over_two_axes():
    r2 = "tensor<2x1x1xf32>"
    before = rms_parts(axes="[1, 2]").replace(R, r2) + f"    %y = graph.mul %n, %w8 : ({T}, tensor<8xf32>) -> {T}\n"
    check(before, f"    %y = graph.rms_norm %x, %w8 {{axis = 1, epsilon = 1e-06}} : ({T}, tensor<8xf32>) -> {T}\n")


@pytest.mark.parametrize("case", ["leading_axis", "other_tensor", "negative_eps", "mean_subtracted"])
def test_rms_norm_near_misses_stay(case):
    if case == "leading_axis":
        body = rms_parts(axes="[0]").replace(f"-> {R}", "-> tensor<1x3x8xf32>").replace(
            f"({R}", "(tensor<1x3x8xf32>").replace(f", {R})", ", tensor<1x3x8xf32>)")
    elif case == "other_tensor":
        body = (f"    %z = graph.neg %x : ({T}) -> {T}\n") + rms_parts(of="%z")
    elif case == "negative_eps":
        body = rms_parts(eps="-1e-06")
    else:                           # LayerNorm's centred square: not an RMSNorm of x
        body = (f"    %mu = graph.reduce_mean %x {{axes = [-1], keepdims = true}} : ({T}) -> {R}\n"
                f"    %c = graph.sub %x, %mu : ({T}, {R}) -> {T}\n") + rms_parts(of="%c")
    m = module(body + f"    %y = graph.mul %n, %w8 : ({T}, tensor<8xf32>) -> {T}\n")
    Pipeline.parse("canonicalize,dce").run(m, verify_each=True)
    assert not any(op.name == "graph.rms_norm" for op in m.main.walk()), lpfc.print_module(m)


def test_rms_norm_fuses_as_a_gemm_epilogue():
    """matmul + residual + rms_norm is one gemm_layer_norm kernel, as BERT's GEMM + residual + LayerNorm."""
    w = "dense<0.5> : tensor<8x8xf32>"
    m = module(f"    %wc = graph.constant {{value = {w}}} : () -> tensor<8x8xf32>\n"
               f"    %h = graph.matmul %x, %wc : ({T}, tensor<8x8xf32>) -> {T}\n"
               f"    %r = graph.add %h, %x : ({T}, {T}) -> {T}\n"
               f"    %y = graph.rms_norm %r, %w8 {{axis = -1, epsilon = 1e-06}} : ({T}, tensor<8xf32>) -> {T}\n")
    Pipeline.parse("lp-fusion").run(m, verify_each=True)
    fused = [op for op in m.main.walk() if op.name == "graph.fused"]
    assert [op.attributes["kind"] for op in fused] == ["gemm_layer_norm"]
