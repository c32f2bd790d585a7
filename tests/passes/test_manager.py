"""The pass manager: the pass table, pipeline text, options, verification, timing, IR dumps."""
import dataclasses
import io
import re
import subprocess
import sys

import pytest

import lpfc
from lpfc.errors import PipelineError
from lpfc.passes import DEFAULT_PIPELINE, Pass, Pipeline, get_all_passes, option, registered_passes


def test_registered_names_are_kebab_case_and_match_files():
    import importlib
    for name, cls in registered_passes().items():
        module = importlib.import_module(cls.__module__)
        assert module.__name__.rsplit(".", 1)[1] == name.replace("-", "_"), (name, module.__name__)
        assert cls.__name__.lower() == name.replace("-", "").lower(), (name, cls.__name__)


def test_the_table_is_ordered_and_each_entry_names_its_class():
    table = get_all_passes()
    assert list(table) == ["canonicalize", "fold-constants", "cse", "dce", "lp-fusion", "quantize-int8"]
    for name, load in table.items():
        cls = load()
        assert cls.name == name and re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", name), name
        assert dataclasses.is_dataclass(cls) and issubclass(cls, Pass), name
    assert set(DEFAULT_PIPELINE.split(",")) <= set(table)


def test_no_pass_module_is_imported_to_parse_a_pipeline():
    # The table loads a pass when a pipeline names it, not before (no registration by import).
    code = ("import sys; from lpfc.passes import Pipeline; Pipeline.parse('cse,dce'); "
            "print(sorted(m for m in sys.modules if m.startswith('lpfc.passes.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = eval(out)
    assert "lpfc.passes.cse" in loaded and "lpfc.passes.dce" in loaded
    assert not any(m.startswith(("lpfc.passes.canonicalize", "lpfc.passes.lp_fusion")) for m in loaded), loaded


def test_options_are_typed_dataclass_fields():
    cls = registered_passes()["lp-fusion"]
    assert [(f.name, f.type) for f in dataclasses.fields(cls)] == [
        ("max_block_ops", "int"), ("algebra", "bool"), ("blocks", "bool")]
    p = Pipeline.parse("lp-fusion{max-block-ops=8 blocks=false}").passes[0]
    assert (p.max_block_ops, p.algebra, p.blocks) == (8, True, False)
    assert p.option("max-block-ops") == 8 and str(p) == "lp-fusion{max-block-ops=8 blocks=false}"
    assert cls(blocks=False) == p.__class__(max_block_ops=64, algebra=True, blocks=False)
    with pytest.raises(PipelineError, match="pass 'lp-fusion' has no option 'max_block_ops'; its options are "
                                            "algebra, blocks, max-block-ops"):
        cls.from_options({"max_block_ops": 3})


@dataclasses.dataclass
class Scale(Pass):
    name = "scale"
    factor: float = option(1.0, "a float option")

    def run(self, module):
        pass


def test_a_pass_outside_the_table_declares_options_the_same_way():
    assert Scale.options["factor"].type is float and Scale.options["factor"].help == "a float option"
    assert str(Scale.from_options({"factor": 2.5})) == "scale{factor=2.5}" and str(Scale()) == "scale"


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


def test_canonicalize_lists_every_pattern_of_its_package_once():
    # canonicalize's patterns are one explicit table (PATTERNS); a pattern class written in one of its
    # modules but left out of the table would silently never run.
    import importlib
    import inspect
    import pkgutil

    import lpfc.passes.canonicalize as canon
    from lpfc.passes.rewrite import RewritePattern

    defined = set()
    for info in pkgutil.iter_modules(canon.__path__):
        module = importlib.import_module(f"{canon.__name__}.{info.name}")
        defined |= {c for _, c in inspect.getmembers(module, inspect.isclass)
                    if issubclass(c, RewritePattern) and c.__module__ == module.__name__}
    assert len(canon.PATTERNS) == len(set(canon.PATTERNS))
    assert set(canon.PATTERNS) == defined
