"""quantize-int8 (lpfc/passes/quantize_int8.py): which GEMMs it marks, its option, the attribute's meaning in
the interpreter (lpfc/ir/int8.py) and its verification."""
from __future__ import annotations

import numpy as np
import pytest

import lpfc
from lpfc.interp import run_module
from lpfc.ir.int8 import int8_matmul
from lpfc.ir.parser import parse_module
from lpfc.ir.structural import assert_ir_equal
from lpfc.passes import Pipeline

SIG = ('(%x: tensor<3x8xf32>, %y: tensor<8x5xf32>) -> (tensor<3x5xf32>, tensor<3x5xf32>, tensor<3x4xf32>) '
       'attributes {input_names = ["x", "y"], output_names = ["a", "b", "c"]}')


def _module(mm_attr: str = "", gemm_attr: str = ""):
    text = f"""module {{
  func @main{SIG} {{
    %w = graph.constant {{value = dense_resource<w> : tensor<8x5xf32>}} : () -> tensor<8x5xf32>
    %v = graph.constant {{value = dense_resource<v> : tensor<4x8xf32>}} : () -> tensor<4x8xf32>
    %a = graph.matmul %x, %w {mm_attr}: (tensor<3x8xf32>, tensor<8x5xf32>) -> tensor<3x5xf32>
    %b = graph.matmul %x, %y : (tensor<3x8xf32>, tensor<8x5xf32>) -> tensor<3x5xf32>
    %c = graph.gemm %x, %v {{alpha = 0.5, beta = 1.0, trans_a = false, trans_b = true{gemm_attr}}} : (tensor<3x8xf32>, tensor<4x8xf32>) -> tensor<3x4xf32>
    func.return %a, %b, %c : (tensor<3x5xf32>, tensor<3x5xf32>, tensor<3x4xf32>) -> ()
  }}
}}
"""
    rng = np.random.default_rng(0)
    return parse_module(text, resources={"w": rng.standard_normal((8, 5)).astype(np.float32),
                                         "v": rng.standard_normal((4, 8)).astype(np.float32)})


def test_marks_the_gemms_with_constant_weights_only():
    m = _module()
    Pipeline.parse("quantize-int8").run(m, verify_each=True)
    assert_ir_equal(m, _module('{precision = "int8"} ', ', precision = "int8"'))


def test_min_elements_leaves_small_weights_fp32():
    m = _module()
    Pipeline.parse("quantize-int8{min-elements=40}").run(m, verify_each=True)   # w has 40 elements, v 32
    assert_ir_equal(m, _module('{precision = "int8"} ', ""))


@pytest.mark.zoo
def test_marks_matmuls_inside_fused_blocks():
    from lpfc.testing import zoo
    path = zoo.export("tiny-bert", "dynamo20")
    m = lpfc.import_onnx(path)
    Pipeline.parse("default,quantize-int8").run(m, verify_each=True)
    marked = [o for o in m.main.walk() if o.name in ("graph.matmul", "graph.gemm")
              and o.attributes.get("precision") == "int8"]
    unmarked = [o for o in m.main.walk() if o.name in ("graph.matmul", "graph.gemm")
                and o.attributes.get("precision") != "int8"]
    assert marked and all(o.parent.parent.parent.name == "graph.fused" for o in marked)
    # the attention's products (activations x activations) stay fp32; every GEMM with a weight is marked
    from lpfc.passes.quantize_int8 import _constant
    assert unmarked and not any(_constant(o.operands[1]) for o in unmarked)
    assert all(_constant(o.operands[1]) for o in marked)


def test_the_interpreter_computes_the_int8_product():
    m = _module()
    Pipeline.parse("quantize-int8").run(m)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((3, 8)).astype(np.float32), rng.standard_normal((8, 5)).astype(np.float32)
    out = run_module(m, {"x": x, "y": y})
    w = next(o for o in m.main.ops if o.name == "graph.constant").attributes["value"]
    from lpfc.ir.attributes import constant_array
    wv = constant_array(w)
    np.testing.assert_array_equal(out["a"], int8_matmul(x, wv))
    np.testing.assert_array_equal(out["b"], x @ y)                 # not marked: fp32
    assert not np.array_equal(out["a"], x @ wv)                     # and the int8 one differs from fp32
    np.testing.assert_allclose(out["a"], x @ wv, atol=0.1)


def test_an_unknown_precision_is_a_verification_error():
    with pytest.raises(lpfc.LpfcError, match="precision 'int4' is not one of fp32, int8"):
        lpfc.verify(_module('{precision = "int4"} '))
