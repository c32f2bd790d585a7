"""Pass tests in the before / expected form (TVM's Relax tests): run a pipeline on ``before`` and
compare the result with ``expected`` up to SSA names (:func:`lpfc.ir.structural.assert_ir_equal`).

Unlike the FileCheck tests in lit/, which check the lines they name, these pin the whole function:
an extra op, a changed attribute or a rewired operand anywhere fails.
"""
from __future__ import annotations

import pytest

import lpfc
from lpfc.ir.structural import assert_ir_equal
from lpfc.passes import Pipeline


def _func(sig: str, body: str) -> str:
    return "module {\n  func @main" + sig + " {\n" + body.strip("\n") + "\n  }\n}\n"


X4 = '(%x: tensor<4xf32>) -> (tensor<4xf32>) attributes {input_names = ["x"], output_names = ["o"]}'
X23 = '(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>) attributes {input_names = ["x"], output_names = ["o"]}'

CASES = {
    # cse: the second neg is the first; exp stays.
    "cse": ("cse", _func(X4, """
    %a = graph.neg %x : (tensor<4xf32>) -> tensor<4xf32>
    %b = graph.neg %x : (tensor<4xf32>) -> tensor<4xf32>
    %c = graph.exp %x : (tensor<4xf32>) -> tensor<4xf32>
    %s = graph.add %a, %b : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %o = graph.mul %s, %c : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    func.return %o : (tensor<4xf32>) -> ()"""), _func(X4, """
    %n = graph.neg %x : (tensor<4xf32>) -> tensor<4xf32>
    %e = graph.exp %x : (tensor<4xf32>) -> tensor<4xf32>
    %twice = graph.add %n, %n : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %r = graph.mul %twice, %e : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    func.return %r : (tensor<4xf32>) -> ()""")),
    # dce: a dead chain goes, its users first.
    "dce": ("dce", _func(X4, """
    %dead = graph.exp %x : (tensor<4xf32>) -> tensor<4xf32>
    %dead2 = graph.neg %dead : (tensor<4xf32>) -> tensor<4xf32>
    %o = graph.neg %x : (tensor<4xf32>) -> tensor<4xf32>
    func.return %o : (tensor<4xf32>) -> ()"""), _func(X4, """
    %0 = graph.neg %x : (tensor<4xf32>) -> tensor<4xf32>
    func.return %0 : (tensor<4xf32>) -> ()""")),
    # fold-constants: a transposed, scaled weight becomes one constant (W^T * 2).
    "fold-constants": ("fold-constants", _func(X23, """
    %w = graph.constant {value = dense<[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]> : tensor<3x2xf32>} : () -> tensor<3x2xf32>
    %wt = graph.transpose %w {perm = [1, 0]} : (tensor<3x2xf32>) -> tensor<2x3xf32>
    %two = graph.constant {value = dense<2.0> : tensor<f32>} : () -> tensor<f32>
    %ws = graph.mul %wt, %two : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
    %o = graph.add %x, %ws : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    func.return %o : (tensor<2x3xf32>) -> ()"""), _func(X23, """
    %c = graph.constant {value = dense<[2.0, 6.0, 10.0, 4.0, 8.0, 12.0]> : tensor<2x3xf32>} : () -> tensor<2x3xf32>
    %o = graph.add %x, %c : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    func.return %o : (tensor<2x3xf32>) -> ()""")),
    # canonicalize, data movement: transpose∘transpose cancels, reshape∘reshape merges.
    "canonicalize-movement": ("canonicalize", _func(
        '(%x: tensor<2x3x4xf32>) -> (tensor<4x6xf32>) attributes {input_names = ["x"], output_names = ["o"]}', """
    %t1 = graph.transpose %x {perm = [1, 0, 2]} : (tensor<2x3x4xf32>) -> tensor<3x2x4xf32>
    %t2 = graph.transpose %t1 {perm = [1, 0, 2]} : (tensor<3x2x4xf32>) -> tensor<2x3x4xf32>
    %r1 = graph.reshape %t2 {shape = [6, 4]} : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
    %r2 = graph.reshape %r1 {shape = [6, 4]} : (tensor<6x4xf32>) -> tensor<6x4xf32>
    %o = graph.transpose %r2 {perm = [1, 0]} : (tensor<6x4xf32>) -> tensor<4x6xf32>
    func.return %o : (tensor<4x6xf32>) -> ()"""), _func(
        '(%x: tensor<2x3x4xf32>) -> (tensor<4x6xf32>) attributes {input_names = ["x"], output_names = ["o"]}', """
    %r = graph.reshape %x {shape = [6, 4]} : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
    %o = graph.transpose %r {perm = [1, 0]} : (tensor<6x4xf32>) -> tensor<4x6xf32>
    func.return %o : (tensor<4x6xf32>) -> ()""")),
    # canonicalize, identities and placement: 0+x and 1*x go; the constant goes right, as a rank-0 splat.
    "canonicalize-identities": ("canonicalize", _func(X23, """
    %zero = graph.constant {value = dense<0.0> : tensor<3xf32>} : () -> tensor<3xf32>
    %one = graph.constant {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
    %three = graph.constant {value = dense<3.0> : tensor<1x1xf32>} : () -> tensor<1x1xf32>
    %a = graph.add %zero, %x : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    %b = graph.mul %one, %a : (tensor<f32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    %o = graph.mul %three, %b : (tensor<1x1xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    func.return %o : (tensor<2x3xf32>) -> ()"""), _func(X23, """
    %k = graph.constant {value = dense<3.0> : tensor<f32>} : () -> tensor<f32>
    %o = graph.mul %x, %k : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
    func.return %o : (tensor<2x3xf32>) -> ()""")),
    # lp-fusion's algebra (the paper's example): (A+F)*G + (A+F)*H -> (A+F)*(G+H).
    "lp-fusion-algebra": ("lp-fusion{blocks=false}", _func(
        '(%a: tensor<4xf32>, %f: tensor<4xf32>, %g: tensor<4xf32>, %h: tensor<4xf32>) -> (tensor<4xf32>) '
        'attributes {input_names = ["a", "f", "g", "h"], output_names = ["o"]}', """
    %af = graph.add %a, %f : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %p = graph.mul %af, %g : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %af2 = graph.add %a, %f : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %q = graph.mul %af2, %h : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %o = graph.add %p, %q : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    func.return %o : (tensor<4xf32>) -> ()"""), _func(
        '(%a: tensor<4xf32>, %f: tensor<4xf32>, %g: tensor<4xf32>, %h: tensor<4xf32>) -> (tensor<4xf32>) '
        'attributes {input_names = ["a", "f", "g", "h"], output_names = ["o"]}', """
    %af = graph.add %a, %f : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %gh = graph.add %g, %h : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %o = graph.mul %af, %gh : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    func.return %o : (tensor<4xf32>) -> ()""")),
    # lp-fusion's blocks: two GEMMs on x become one over the concatenated weight, split, in one kernel.
    "lp-fusion-horizontal": ("lp-fusion{algebra=false}", _func(
        '(%x: tensor<2x3xf32>) -> (tensor<2x2xf32>, tensor<2x1xf32>) '
        'attributes {input_names = ["x"], output_names = ["q", "k"]}', """
    %wq = graph.constant {value = dense<[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]> : tensor<3x2xf32>} : () -> tensor<3x2xf32>
    %wk = graph.constant {value = dense<[7.0, 8.0, 9.0]> : tensor<3x1xf32>} : () -> tensor<3x1xf32>
    %q = graph.matmul %x, %wq : (tensor<2x3xf32>, tensor<3x2xf32>) -> tensor<2x2xf32>
    %k = graph.matmul %x, %wk : (tensor<2x3xf32>, tensor<3x1xf32>) -> tensor<2x1xf32>
    func.return %q, %k : (tensor<2x2xf32>, tensor<2x1xf32>) -> ()"""), _func(
        '(%x: tensor<2x3xf32>) -> (tensor<2x2xf32>, tensor<2x1xf32>) '
        'attributes {input_names = ["x"], output_names = ["q", "k"]}', """
    %w = graph.constant {value = dense<[1.0, 2.0, 7.0, 3.0, 4.0, 8.0, 5.0, 6.0, 9.0]> : tensor<3x3xf32>} : () -> tensor<3x3xf32>
    %q, %k = graph.fused %x, %w {kind = "gemm", name = "k0"} ({
      ^bb0(%xi: tensor<2x3xf32>, %wi: tensor<3x3xf32>):
        %y = graph.matmul %xi, %wi : (tensor<2x3xf32>, tensor<3x3xf32>) -> tensor<2x3xf32>
        %yq, %yk = graph.split %y {axis = 1, sizes = [2, 1]} : (tensor<2x3xf32>) -> (tensor<2x2xf32>, tensor<2x1xf32>)
        graph.yield %yq, %yk : (tensor<2x2xf32>, tensor<2x1xf32>) -> ()
    }) : (tensor<2x3xf32>, tensor<3x3xf32>) -> (tensor<2x2xf32>, tensor<2x1xf32>)
    func.return %q, %k : (tensor<2x2xf32>, tensor<2x1xf32>) -> ()""")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_pass_turns_before_into_expected(case):
    pipeline, before, expected = CASES[case]
    module = lpfc.parse_module(before)
    Pipeline.parse(pipeline).run(module, verify_each=True)
    assert_ir_equal(module, expected)


@pytest.mark.parametrize("case", [c for c in CASES if c != "lp-fusion-horizontal"])
def test_expected_is_a_fixpoint(case):
    # What a pass produced, it leaves alone (not asked of block forming, whose input has no graph.fused).
    pipeline, _, expected = CASES[case]
    module = lpfc.parse_module(expected)
    Pipeline.parse(pipeline).run(module, verify_each=True)
    assert_ir_equal(module, expected)


def test_a_wrong_expectation_fails():
    pipeline, before, expected = CASES["fold-constants"]
    module = lpfc.parse_module(before)
    Pipeline.parse(pipeline).run(module)
    with pytest.raises(AssertionError, match="attribute 'value'"):
        assert_ir_equal(module, expected.replace("12.0]", "12.5]"))
