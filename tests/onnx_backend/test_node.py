"""ONNX's backend node tests, run through lpfc (importer + reference interpreter).

The onnx wheel ships the test *generators* (``onnx.backend.test.case.node``); they
are collected once per process.  A case is *selected* when every node of its
model is an op lpfc imports (``SUPPORTED_OPS``, default domain); the others are
counted, not run, and reported by ``test_coverage`` (and in the terminal
summary).  Selected cases run through :class:`~lpfc.testing.onnx_backend.LpfcBackend`
and are compared as ``onnx.backend.test.runner`` does: same number of outputs,
exact shape and dtype, then ``assert_allclose`` with the case's rtol/atol
(NaN equal to NaN).  Cases in ``EXPECTED_FAILURES`` are strict xfails that must
fail with an LpfcError.

Graph inputs that decide shapes (a Slice's starts fed as a graph input, ...) are
baked in as constants (``prepare(..., specialize=True)``): lpfc compiles static
shapes, and these tests check op semantics, not dynamic shapes.
"""
from __future__ import annotations

import collections
import re
import warnings

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from lpfc.errors import LpfcError
from lpfc.frontend.onnx_ops import SUPPORTED_OPS
from lpfc.testing.onnx_backend import LpfcBackend, SpecializingBackendRep

from .expected_failures import EXPECTED_FAILURES, WRONG_RESULT

# Floors: raise them when lpfc supports more; a drop means a case was lost.
MIN_SELECTED = 1193
MIN_PASSING = 628

DEFAULT_DOMAINS = ("", "ai.onnx")


def _collect():
    # The generators compute expected outputs with numpy and warn (overflow, divide
    # by zero, deprecations) while doing so; none of that is about lpfc.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        from onnx.backend.test.case.node import collect_testcases
        return list(collect_testcases(None))


ALL_CASES = _collect()
_SUPPORTED = set(SUPPORTED_OPS)


def _unsupported_ops(case) -> set:
    return {n.op_type if n.domain in DEFAULT_DOMAINS else f"{n.domain}.{n.op_type}"
            for n in case.model.graph.node
            if n.domain not in DEFAULT_DOMAINS or n.op_type not in _SUPPORTED}


SELECTED = [c for c in ALL_CASES if not _unsupported_ops(c)]
BY_NAME = {c.name: c for c in SELECTED}
NOT_SELECTED = [c for c in ALL_CASES if _unsupported_ops(c)]
UNSUPPORTED_OP_COUNTS = collections.Counter(op for c in NOT_SELECTED for op in _unsupported_ops(c))


def _reason_category(reason: str) -> str:
    """The reason up to its first ':' or '('."""
    return re.split(r"[:(]", reason, maxsplit=1)[0].strip()


def summary_line() -> str:
    selected = {c.name for c in SELECTED}
    xfails = collections.Counter(_reason_category(r) for n, r in EXPECTED_FAILURES.items() if n in selected)
    top = ", ".join(f"{op} {k}" for op, k in UNSUPPORTED_OP_COUNTS.most_common(12))
    return (f"ONNX backend node tests: {len(ALL_CASES)} cases, {len(SELECTED)} selected (all ops supported), "
            f"{len(SELECTED) - sum(xfails.values())} expected to pass, {sum(xfails.values())} expected failures "
            f"({', '.join(f'{k}: {v}' for k, v in xfails.most_common())}); {len(NOT_SELECTED)} not selected, "
            f"top unsupported ops by case count: {top}")


def _array(x) -> np.ndarray:
    # Case data may hold TensorProtos (onnx's runner normalises them the same way).
    return numpy_helper.to_array(x) if isinstance(x, onnx.TensorProto) else np.asarray(x)


def assert_similar_outputs(expected, outputs, rtol: float, atol: float) -> None:
    assert len(outputs) == len(expected), f"{len(outputs)} outputs, expected {len(expected)}"
    for i, (want, got) in enumerate(zip(expected, outputs)):
        want, got = _array(want), np.asarray(got)
        assert got.shape == want.shape, f"output {i}: shape {got.shape}, expected {want.shape}"
        assert got.dtype == want.dtype, f"output {i}: dtype {got.dtype}, expected {want.dtype}"
        if want.dtype == object:
            np.testing.assert_array_equal(got, want, err_msg=f"output {i}")
        else:
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True, err_msg=f"output {i}")


def _param(case):
    marks = ()
    if case.name in EXPECTED_FAILURES:
        # An expected failure is a clean rejection (an LpfcError from lpfc), except the few
        # WRONG_RESULT cases, which run and miss the test's tolerance.
        marks = pytest.mark.xfail(reason=EXPECTED_FAILURES[case.name], strict=True,
                                  raises=AssertionError if case.name in WRONG_RESULT else LpfcError)
    # The parameter is the name: pytest prints a failing test's arguments, and a case's
    # repr spells out all its arrays.
    return pytest.param(case.name, id=case.name, marks=marks)


@pytest.mark.parametrize("name", [_param(c) for c in SELECTED])
def test_node(name):
    case = BY_NAME[name]
    try:
        rep = LpfcBackend.prepare(case.model, specialize=True)
        for inputs, expected in case.data_sets:
            outputs = rep.run([_array(x) for x in inputs])
            assert_similar_outputs(expected, outputs, case.rtol, case.atol)
    except LpfcError as e:
        if case.name in EXPECTED_FAILURES:
            # pytest renders the traceback of every xfail, and the frames through lpfc's
            # large modules are most of this suite's run time; an expected failure needs
            # only its message.
            raise e.with_traceback(None) from None
        raise


def test_coverage(record_property):
    """The counts, printed in the terminal summary; the selected and passing cases never shrink."""
    line = summary_line()
    record_property("terminal_summary", line)
    passing = len(SELECTED) - sum(1 for c in SELECTED if c.name in EXPECTED_FAILURES)
    assert len(SELECTED) >= MIN_SELECTED, line
    assert passing >= MIN_PASSING, line


def test_expected_failures_are_selected_cases():
    """An entry for a case that no longer exists or is not selected is stale: remove it."""
    selected = {c.name for c in SELECTED}
    assert sorted(n for n in EXPECTED_FAILURES if n not in selected) == []


def test_every_case_is_accounted_for():
    assert len(SELECTED) + len(NOT_SELECTED) == len(ALL_CASES)
    assert len({c.name for c in ALL_CASES}) == len(ALL_CASES)


def test_specialization_is_needed_only_for_shape_deciding_inputs():
    """Most cases import as they are; the specialised ones really feed a shape-deciding input."""
    case = BY_NAME["test_slice"]
    with pytest.raises(LpfcError, match="computed at run time"):
        LpfcBackend.prepare(case.model)
    rep = LpfcBackend.prepare(case.model, specialize=True)
    assert isinstance(rep, SpecializingBackendRep)
    inputs, expected = case.data_sets[0]
    assert_similar_outputs(expected, rep.run(inputs), case.rtol, case.atol)
    assert rep.frozen == ["starts", "ends", "axes", "steps"]          # never the data input "x"
    plain = BY_NAME["test_add"]
    assert not isinstance(LpfcBackend.prepare(plain.model, specialize=True), SpecializingBackendRep)
