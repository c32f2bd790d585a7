"""The computation count follows the paper's example and the per-op rules."""
import lpfc
from lpfc.passes.lp_fusion.computation_count import computations

PAPER = """module {
  func @main(%A: tensor<1xf32>, %F: tensor<1xf32>, %G: tensor<1xf32>, %H: tensor<1xf32>) -> (tensor<1xf32>) attributes {input_names = ["A", "F", "G", "H"], output_names = ["o"]} {
    %af = graph.add %A, %F : (tensor<1xf32>, tensor<1xf32>) -> tensor<1xf32>
    %g = graph.mul %af, %G : (tensor<1xf32>, tensor<1xf32>) -> tensor<1xf32>
    %h = graph.mul %af, %H : (tensor<1xf32>, tensor<1xf32>) -> tensor<1xf32>
    %o = graph.add %g, %h : (tensor<1xf32>, tensor<1xf32>) -> tensor<1xf32>
    func.return %o : (tensor<1xf32>) -> ()
  }
}
"""


def test_paper_expression_counts_five():
    m = lpfc.parse_module(PAPER)
    assert computations(m) == 5


def test_factored_form_counts_three():
    text = PAPER.replace(
        """    %g = graph.mul %af, %G : (tensor<1xf32>, tensor<1xf32>) -> tensor<1xf32>
    %h = graph.mul %af, %H : (tensor<1xf32>, tensor<1xf32>) -> tensor<1xf32>
    %o = graph.add %g, %h : (tensor<1xf32>, tensor<1xf32>) -> tensor<1xf32>""",
        """    %gh = graph.add %G, %H : (tensor<1xf32>, tensor<1xf32>) -> tensor<1xf32>
    %o = graph.mul %af, %gh : (tensor<1xf32>, tensor<1xf32>) -> tensor<1xf32>""")
    assert computations(lpfc.parse_module(text)) == 3


def test_matmul_and_broadcast_counts():
    text = """module {
  func @main(%x: tensor<4x8xf32>, %w: tensor<8x16xf32>, %b: tensor<16xf32>) -> (tensor<4x16xf32>) attributes {input_names = ["x", "w", "b"], output_names = ["o"]} {
    %m = graph.matmul %x, %w : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
    %r = graph.reshape %m {shape = [4, 16]} : (tensor<4x16xf32>) -> tensor<4x16xf32>
    %o = graph.add %r, %b : (tensor<4x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
    func.return %o : (tensor<4x16xf32>) -> ()
  }
}
"""
    assert computations(lpfc.parse_module(text)) == 2 * 4 * 16 * 8 + 4 * 16
