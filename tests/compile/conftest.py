"""Shared, cached compiled libraries for the compile tests (compiles are the slow part)."""
from __future__ import annotations

import pytest

from . import hostile_model, standin_emitter


@pytest.fixture(scope="session")
def hostile_onnx(tmp_path_factory):
    return hostile_model.build(tmp_path_factory.mktemp("hostile") / "hostile.onnx")


@pytest.fixture(scope="session")
def hostile_libs(tmp_path_factory, hostile_onnx):
    """{fusion: CompileResult} for the hostile MLP, generated source kept."""
    import lpfc

    standin_emitter.register()  # answers only when no real emitter accepts an op
    out = {}
    for fusion in (True, False):
        d = tmp_path_factory.mktemp(f"hostile-{'fused' if fusion else 'nofusion'}")
        out[fusion] = lpfc.compile(hostile_onnx, d / "libmodel.so", fusion=fusion, emit_source=d / "src")
    return out
