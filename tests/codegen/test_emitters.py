"""The emitter table (lpfc/codegen/emitters.py) and the plans' decline contract (lpfc/codegen/plans)."""
from __future__ import annotations

import pytest

from lpfc.codegen import emitters, kernel_source
from lpfc.ir.core import Block, Operation
from lpfc.ir.types import DType, TensorType
from lpfc.codegen.plans import STRICT_ENV, AnalysisError, Decline, plan_of, run_analysis
from lpfc.codegen.plans import gemm as gemm_plan

from .cpp_harness import HOST
from .test_cpp_gemm import gemm_block


def test_one_ordered_table():
    names = [e.name for e in emitters.EMITTERS]
    assert names == ["ocl-gemm", "ocl-attention", "ocl-rowwise", "ocl-elementwise",
                     "cpp-gemm", "cpp-attention", "cpp-rowwise", "generic"]


def test_no_emitter_registers_itself():
    """The table is the one list: no module of lpfc/codegen calls register_emitter (it is for callers)."""
    from pathlib import Path

    root = Path(kernel_source.__file__).parent
    callers = [p.name for p in root.rglob("*.py")
               if p.name != "kernel_source.py" and "register_emitter(" in p.read_text()]
    assert callers == []


def test_an_extra_emitter_is_tried_first(monkeypatch):
    class Mine:
        name = "mine"

        def accepts(self, op, target):
            return True

    op = gemm_block(4, 8, 16, [], yields=[("%y0", (4, 16))])
    assert emitters.emitter_for(op, HOST).name == "cpp-gemm"
    monkeypatch.setattr(kernel_source, "_EXTRA", [])
    kernel_source.register_emitter(Mine())
    assert emitters.emitter_for(op, HOST).name == "mine"
    assert kernel_source.emitter_for(op, HOST).name == "mine"       # (the old entry point delegates)
    monkeypatch.setattr(kernel_source, "_EXTRA", [])
    kernel_source.register_emitter(Mine(), kernel_source.FALLBACK_PRIORITY)     # a fallback: after the table
    assert emitters.emitter_for(op, HOST).name == "cpp-gemm"
    t16 = [TensorType((2, 3), DType.f16)]            # an op no built-in emitter takes (f16) reaches the fallback
    assert emitters.emitter_for(Operation("graph.exp", Block(t16).args, t16, {}), HOST).name == "mine"


def test_a_decline_states_its_reason():
    op = gemm_block(4, 8, 16, [], kind="gemm_layer_norm", yields=[("%y0", (4, 16))])
    plan = gemm_plan.analyse(op)
    assert isinstance(plan, Decline) and "LayerNorm" in plan.reason
    with pytest.raises(ValueError, match="not a GEMM block the cpp-gemm emitter accepts .*LayerNorm"):
        emitters.GEMM_EMITTER.emit(op, HOST, "k")


def test_the_plan_is_computed_once_per_op(monkeypatch):
    calls = []

    def analysis(op):
        calls.append(op)
        return "plan"

    op = gemm_block(4, 8, 16, [], yields=[("%y0", (4, 16))])
    assert plan_of(analysis, op) == plan_of(analysis, op) == "plan"
    assert len(calls) == 1


def test_an_unexpected_error_is_a_bug_in_strict_mode(monkeypatch):
    def analysis(op):
        raise KeyError("axis")

    op = gemm_block(4, 8, 16, [], yields=[("%y0", (4, 16))])
    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(AnalysisError, match="KeyError"):
        run_analysis(analysis, op)
    monkeypatch.setenv(STRICT_ENV, "0")     # a user's compile: declined to the (exact) generic emitter
    d = run_analysis(analysis, op)
    assert isinstance(d, Decline) and "KeyError" in d.reason


def test_accepts_variants_and_emit_share_one_analysis(monkeypatch):
    from lpfc.codegen.targets import get_target

    real, calls = gemm_plan._analyse, []

    def counting(op):
        calls.append(op)
        return real(op)

    monkeypatch.setattr(gemm_plan, "_analyse", counting)
    op = gemm_block(4, 8, 16, [], yields=[("%y0", (4, 16))])
    assert emitters.GEMM_EMITTER.accepts(op, HOST)
    for choice in emitters.GEMM_EMITTER.variants(op, HOST):
        emitters.GEMM_EMITTER.emit(op, HOST, "k", choice)
    assert emitters.OCL_GEMM_EMITTER.accepts(op, get_target("opencl"))     # the OpenCL renderer reads the same plan
    assert len(calls) == 1


def test_a_plan_follows_the_op_it_is_kept_on():
    """Kept on the op (not in a global table that would keep modules alive), recomputed when the op is retyped
    in place, as the latency oracle does with its probe kernels."""
    calls = []

    def analysis(op):
        calls.append(op.result_types[0].shape)
        return op.result_types[0].shape

    op = Operation("graph.relu", [], [TensorType((2, 3), DType.f32)])
    assert plan_of(analysis, op) == (2, 3)
    assert plan_of(analysis, op) == (2, 3)
    assert calls == [(2, 3)]
    op.results[0].type = TensorType((4, 3), DType.f32)
    assert plan_of(analysis, op) == (4, 3)
    assert calls == [(2, 3), (4, 3)]
    other = Operation("graph.relu", [], [TensorType((2, 3), DType.f32)])
    assert plan_of(analysis, other) == (2, 3) and len(calls) == 3
