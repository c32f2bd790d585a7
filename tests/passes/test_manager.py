"""The pass manager: registry, pipeline text, options, verification, timing, IR dumps."""
import io

import pytest

import lpfc
from lpfc.errors import PipelineError
from lpfc.passes import DEFAULT_PIPELINE, Pass, Pipeline, registered_passes


def test_registered_names_are_kebab_case_and_match_files():
    import importlib
    for name, cls in registered_passes().items():
        module = importlib.import_module(cls.__module__)
        assert module.__name__.rsplit(".", 1)[1] == name.replace("-", "_"), (name, module.__name__)
        assert cls.__name__.lower() == name.replace("-", "").lower(), (name, cls.__name__)


def test_parse_and_print_roundtrip():
    p = Pipeline.parse(" cse , fold-constants{max-elements=12} ,dce")
    assert [x.name for x in p.passes] == ["cse", "fold-constants", "dce"]
    assert p.passes[1].option("max-elements") == 12
    assert str(p) == "cse,fold-constants{max-elements=12},dce"
    assert str(Pipeline.parse(str(p))) == str(p)


def test_default_expands():
    assert str(Pipeline.parse("default")) == str(Pipeline.parse(DEFAULT_PIPELINE))


@pytest.mark.parametrize("text, needle", [
    ("nope", "unknown pass 'nope'; known passes: "),
    ("cse{x=1}", "pass 'cse' has no option 'x'; it takes no options"),
    ("fold-constants{max-elements=lots}", "not a valid int"),
    ("fold-constants{max-elements}", "is not key=value"),
    ("cse,,dce", "empty element"),
    ("cse{", "unbalanced"),
])
def test_pipeline_errors(text, needle):
    with pytest.raises(PipelineError, match=needle):
        Pipeline.parse(text)


GOOD = """module {
  func @main(%x: tensor<4xf32>) -> (tensor<4xf32>) attributes {input_names = ["x"], output_names = ["o"]} {
    %a = graph.neg %x : (tensor<4xf32>) -> tensor<4xf32>
    %b = graph.neg %x : (tensor<4xf32>) -> tensor<4xf32>
    %o = graph.add %a, %b : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    func.return %o : (tensor<4xf32>) -> ()
  }
}
"""


def test_print_ir_after_all_and_timing():
    out = io.StringIO()
    records = Pipeline.parse("cse,dce").run(lpfc.parse_module(GOOD), print_ir_after_all=True, timing=True, out=out)
    text = out.getvalue()
    assert "IR Dump After cse" in text and "IR Dump After dce" in text
    assert "Pass execution timing report" in text
    assert [(r.name, r.ops_before, r.ops_after) for r in records] == [("cse", 4, 3), ("dce", 3, 3)]


class BreakIR(Pass):
    name = "break-ir"

    def run(self, module):
        add = [op for op in module.main.ops if op.name == "graph.add"][0]
        add.attributes["bogus"] = 1


def test_verify_each_names_the_pass():
    with pytest.raises(PipelineError, match="invalid after pass 'break-ir'.*unknown attribute 'bogus'"):
        Pipeline([BreakIR()]).run(lpfc.parse_module(GOOD), verify_each=True)
