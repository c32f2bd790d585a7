"""The verifier rejects ill-formed IR with an error naming the op and its ONNX node."""
import pytest

from lpfc.errors import ParseError, VerificationError
from lpfc.ir import DType, Function, Location, Module, Operation, TensorType, parse_module
from lpfc.ir.verifier import verify

T = TensorType((2, 3), DType.f32)


def module_with(op_factory):
    f = Function("main", [T, T], ["a", "b"])
    op = op_factory(f)
    f.body.append(op)
    f.set_return([op.results[0]], ["y"])
    return Module([f])


def test_wrong_result_type_names_op_and_node():
    m = module_with(lambda f: Operation("graph.add", f.args, [TensorType((3, 2), DType.f32)],
                                        location=Location("/layer.0/Add", "Add")))
    with pytest.raises(VerificationError) as e:
        verify(m)
    msg = str(e.value)
    assert "graph.add" in msg and "/layer.0/Add" in msg and "tensor<3x2xf32>" in msg


@pytest.mark.parametrize("factory, needle", [
    (lambda f: Operation("graph.nope", f.args, [T]), "unknown op"),
    (lambda f: Operation("graph.add", [f.args[0]], [T]), "expects 2 operands"),
    (lambda f: Operation("graph.softmax", [f.args[0]], [T], {"axis": 1, "colour": 3}), "unknown attribute 'colour'"),
    (lambda f: Operation("graph.transpose", [f.args[0]], [T]), "missing required attribute 'perm'"),
    (lambda f: Operation("graph.softmax", [f.args[0]], [T], {"axis": "x"}), "should be int"),
    (lambda f: Operation("graph.matmul", f.args, [T]), "matmul contraction mismatch"),
    (lambda f: Operation("graph.reshape", [f.args[0]], [TensorType((7,), DType.f32)], {"shape": [7]}),
     "cannot reshape"),
])
def test_rule_violations(factory, needle):
    with pytest.raises(VerificationError, match=needle):
        verify(module_with(factory))


def test_dominance():
    f = Function("main", [T], ["a"])
    neg = Operation("graph.neg", [f.args[0]], [T])
    use = Operation("graph.exp", [neg.result], [T], location=Location("early", "Exp"))
    f.body.append(use)  # used before neg is defined
    f.body.append(neg)
    f.set_return([use.result], ["y"])
    with pytest.raises(VerificationError, match="does not dominate"):
        verify(Module([f]))


def test_missing_return_and_names():
    f = Function("main", [T], ["a"])
    f.body.append(Operation("graph.neg", [f.args[0]], [T]))
    with pytest.raises(VerificationError, match="func.return"):
        verify(Module([f]))


GOOD = """module {
  func @main(%a: tensor<2x3xf32>) -> (tensor<2x3xf32>) attributes {input_names = ["a"], output_names = ["y"]} {
    %0 = graph.neg %a : (tensor<2x3xf32>) -> tensor<2x3xf32> loc("n0", "Neg")
    func.return %0 : (tensor<2x3xf32>) -> ()
  }
}
"""


@pytest.mark.parametrize("bad, needle", [
    (GOOD.replace("graph.neg %a", "graph.neg %zz"), "use of undefined value %zz"),
    (GOOD.replace("-> tensor<2x3xf32> loc", "-> tensor<2x3xf33> loc"), "expected a tensor type"),
    (GOOD.replace("(tensor<2x3xf32>) -> tensor<2x3xf32> loc", "(tensor<3x2xf32>) -> tensor<2x3xf32> loc"),
     "operand %a has type tensor<2x3xf32>, the signature says tensor<3x2xf32>"),
    (GOOD.replace("%0 = graph.neg", "%a = graph.neg"), "defined twice"),
    (GOOD[:-3], "expected '}'"),
    (GOOD.replace("loc(\"n0\"", "loc(n0"), "expected a location string"),
])
def test_parse_errors_name_line_and_column(bad, needle):
    with pytest.raises(ParseError) as e:
        parse_module(bad)
    assert needle in str(e.value)
    assert "line " in str(e.value) and "column " in str(e.value)


def test_parsed_ir_is_verified_separately():
    bad = GOOD.replace("%0 = graph.neg %a : (tensor<2x3xf32>) -> tensor<2x3xf32>",
                       "%0 = graph.neg %a : (tensor<2x3xf32>) -> tensor<2x3xf32>")
    verify(parse_module(bad))
    wrong = GOOD.replace("graph.neg", "graph.reshape")
    with pytest.raises(VerificationError, match="missing required attribute 'shape'"):
        verify(parse_module(wrong))
