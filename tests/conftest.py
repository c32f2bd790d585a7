"""Shared fixtures: the zoo cache location and helpers to build small functions."""
import os

import pytest

# Never reach for a model hub: the zoo loads real weights from site-packages only.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# An emitter analysis that raises (instead of declining with a reason) is a bug: fail the test (lpfc/codegen/plans).
os.environ.setdefault("LPFC_STRICT_ANALYSIS", "1")


@pytest.fixture
def tmp_model_dir(tmp_path):
    return tmp_path


# -- summary lines ------------------------------------------------------------------------
# A test may call record_property("terminal_summary", line) to have ``line`` printed at the
# end of the run (e.g. the ONNX backend coverage counts).  The line travels in the test
# report, so it reaches the terminal under pytest-xdist too; hooks must live in this
# top-level conftest for the xdist controller to load them.
_SUMMARY_LINES: list = []


def pytest_runtest_logreport(report):
    if report.when == "call":
        _SUMMARY_LINES.extend(v for k, v in getattr(report, "user_properties", ()) if k == "terminal_summary")


def pytest_terminal_summary(terminalreporter):
    for line in _SUMMARY_LINES:
        terminalreporter.write_line(line)
