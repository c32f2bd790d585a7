"""assert_ir_equal / structural_diff (lpfc/ir/structural.py): equal up to SSA names, nothing more."""
from __future__ import annotations

import numpy as np
import pytest

import lpfc
from lpfc.ir.attributes import DenseElements, DenseResource
from lpfc.ir.structural import assert_ir_equal, canonical_text, structural_diff, structural_equal
from lpfc.ir.types import DType, TensorType

BASE = """module {
  func @main(%x: tensor<2x3xf32>, %y: tensor<2x3xf32>) -> (tensor<3x2xf32>) attributes {input_names = ["x", "y"], output_names = ["o"]} {
    %c = graph.constant {value = dense<[1.0, 2.0, 3.0]> : tensor<3xf32>} : () -> tensor<3xf32>
    %s = graph.sub %x, %y : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    %m = graph.mul %s, %c : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
    %o = graph.transpose %m {perm = [1, 0]} : (tensor<2x3xf32>) -> tensor<3x2xf32> loc("t", "Transpose")
    func.return %o : (tensor<3x2xf32>) -> ()
  }
}
"""


def _variant(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new)


def test_equal_up_to_renaming_and_locations():
    renamed = (BASE.replace("%s", "%diff").replace("%m", "%0").replace("%c ", "%k ").replace("%c)", "%k)")
               .replace(", %c :", ", %k :").replace('loc("t", "Transpose")', ""))
    assert renamed != BASE
    assert_ir_equal(lpfc.parse_module(renamed), lpfc.parse_module(BASE))
    assert_ir_equal(renamed, BASE)  # text on either side is parsed
    m = lpfc.parse_module(BASE)
    assert_ir_equal(m.main, lpfc.parse_module(renamed).main)  # functions too


def test_a_resource_name_does_not_count_but_its_bytes_do():
    a, b = lpfc.parse_module(BASE), lpfc.parse_module(BASE)
    const = b.main.ops[0]
    const.attributes["value"] = DenseResource("weights_7", np.array([1, 2, 3], np.float32))
    assert structural_equal(a, b)
    const.attributes["value"] = DenseResource("weights_7", np.array([1, 2, 4], np.float32))
    assert "attribute 'value'" in structural_diff(a, b)


@pytest.mark.parametrize("old, new, needle", [
    ("perm = [1, 0]", "perm = [0, 1]", "op 3 (graph.transpose): attribute 'perm': [1, 0] != [0, 1]"),
    ("dense<[1.0, 2.0, 3.0]>", "dense<[1.0, 2.0, 3.5]>", "op 0 (graph.constant): attribute 'value'"),
    ("graph.sub %x, %y", "graph.sub %y, %x", "op 1 (graph.sub): operand 0 is not the corresponding value"),
    ("graph.mul %s, %c", "graph.add %s, %c", "op graph.mul != graph.add"),
    ('output_names = ["o"]', 'output_names = ["out"]', "output_names"),
])
def test_a_difference_fails_and_is_named(old, new, needle):
    changed = _variant(old, new)
    diff = structural_diff(lpfc.parse_module(BASE), lpfc.parse_module(changed))
    assert diff is not None and needle in diff, diff
    with pytest.raises(AssertionError, match="IR differs"):
        assert_ir_equal(BASE, changed)


def test_a_type_and_an_extra_op_fail():
    m, n = lpfc.parse_module(BASE), lpfc.parse_module(BASE)
    n.main.ops[1].results[0].type = TensorType((2, 3), DType.f16)
    assert "op 1 (graph.sub), result 0: type tensor<2x3xf32> != tensor<2x3xf16>" in structural_diff(m, n)
    n = lpfc.parse_module(BASE)
    n.main.args[1].type = TensorType((2, 3), DType.f16)
    assert "argument 1: type tensor<2x3xf32> != tensor<2x3xf16>" in structural_diff(m, n)
    extra = _variant("    func.return", "    %u = graph.neg %x : (tensor<2x3xf32>) -> tensor<2x3xf32>\n    func.return")
    assert "op 4 (func.return): op func.return != graph.neg" in structural_diff(BASE, extra)


def test_the_failure_shows_a_diff_with_canonical_names():
    with pytest.raises(AssertionError) as e:
        assert_ir_equal(BASE, _variant("perm = [1, 0]", "perm = [0, 1]"))
    text = str(e.value)
    assert "-    %5 = graph.transpose %4 {perm = [0, 1]}" in text
    assert "+    %5 = graph.transpose %4 {perm = [1, 0]}" in text
    assert "loc(" not in canonical_text(BASE)


def test_attribute_values_keep_their_kind():
    a, b = lpfc.parse_module(BASE), lpfc.parse_module(BASE)
    b.main.ops[3].attributes["perm"] = [1.0, 0.0]  # prints as [1.0, 0.0]: a different attribute
    assert structural_diff(a, b) is not None
    a.main.ops[0].attributes["value"] = DenseElements(np.array([np.nan, 2, 3], np.float32))
    b = lpfc.parse_module(BASE)
    b.main.ops[0].attributes["value"] = DenseElements(np.array([np.nan, 2, 3], np.float32))
    a.main.ops[3].attributes["perm"] = [1, 0]
    assert structural_equal(a, b)  # NaN equals NaN in a constant array
