"""lpfc/progress.py: the one progress interface, and the adapter for the callables lpfc.compile accepts."""
import pytest

from lpfc.progress import SILENT, Progress, StderrProgress, as_progress


def test_none_is_silent_and_a_progress_is_kept():
    assert as_progress(None) is SILENT
    p = StderrProgress(quiet=True)
    assert as_progress(p) is p and isinstance(p, Progress)
    with SILENT.step("x") as step:
        step.note("nothing happens")


def test_a_plain_callable_hears_each_step():
    heard = []
    p = as_progress(heard.append)               # returns None: no context manager, no notes
    with p.step("planning memory") as step:
        step.note("ignored")
    assert heard == ["planning memory"]


def test_a_callable_returning_a_context_manager_wraps_the_step_and_gets_notes():
    events = []

    class Ctx:
        def __init__(self, what):
            self.what = what

        def __enter__(self):
            events.append(("enter", self.what))
            return self

        def __exit__(self, exc_type, exc, tb):
            events.append(("exit", exc_type))
            return False

        def note(self, text):
            events.append(("note", text))

    p = as_progress(Ctx)
    with p.step("tuning") as step:
        step.note("v1: 3 us")
    with pytest.raises(KeyboardInterrupt):
        with p.step("building"):
            raise KeyboardInterrupt
    assert events == [("enter", "tuning"), ("note", "v1: 3 us"), ("exit", None),
                      ("enter", "building"), ("exit", KeyboardInterrupt)]


def test_stderr_progress_prints_steps_notes_and_failures(capsys):
    p = StderrProgress()
    with p.step("importing m.onnx"):
        pass
    with p.step("tuning kernel 1/1") as step:
        step.note("  v0: 1.0 us")
    with pytest.raises(ValueError):
        with p.step("building libm.so"):
            raise ValueError
    err = capsys.readouterr().err
    assert err.startswith("[lpfc] importing m.onnx ... ") and " s\n" in err
    assert "[lpfc] tuning kernel 1/1 ...\n[lpfc]       v0: 1.0 us\n[lpfc]     done in " in err
    assert err.endswith("[lpfc] building libm.so ... failed\n")
    StderrProgress(quiet=True).step("x").__enter__().note("y")
    assert capsys.readouterr().err == ""


def test_anything_else_is_refused():
    with pytest.raises(TypeError, match="progress"):
        as_progress(42)
