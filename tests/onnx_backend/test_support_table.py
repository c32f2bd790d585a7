"""docs/onnx-support.md's op tables are what scripts/onnx_support_table.py generates from the code."""
import importlib.util
from pathlib import Path

from .expected_failures import EXPECTED_FAILURES
from .test_node import ALL_CASES, SELECTED

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("onnx_support_table", ROOT / "scripts" / "onnx_support_table.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_committed_doc_is_generated():
    gen = _script()
    doc = gen.DOC.read_text()
    assert gen.splice(doc, gen.generate(ALL_CASES, SELECTED, EXPECTED_FAILURES)) == doc, \
        "docs/onnx-support.md is stale: run python scripts/onnx_support_table.py"


def test_table_counts_are_the_suites():
    """Per-op counts add up to what test_node.py selects and runs (a case with two ops counts for both)."""
    gen = _script()
    counts = gen.node_test_counts(ALL_CASES, SELECTED, EXPECTED_FAILURES)
    add = counts["Add"]
    assert add[0] >= add[1] >= add[2] > 0
    using_add = [c for c in SELECTED if "Add" in {n.op_type for n in c.model.graph.node}]
    assert add[1] == len(using_add)
    assert add[2] == sum(1 for c in using_add if c.name not in EXPECTED_FAILURES)
    text = gen.generate(ALL_CASES, SELECTED, EXPECTED_FAILURES)
    assert "| Attention | com.microsoft |" in text and "| Loop |" in text
