"""Kernel IR: lowering every kernel of tiny zoo models, the loop dialect's text form, the interpreter,
dependences and the broadcast-term variants on BERT's real blocks."""
import numpy as np
import pytest

import lpfc
from lpfc.interp.interpreter import evaluate_op, run_region_op
from lpfc.ir import Function, Module, parse_module, print_module
from lpfc.ir.core import Block, Operation
from lpfc.ir.types import DType, TensorType
from lpfc.ir.verifier import verify
from lpfc.passes import Pipeline
from lpfc.poly import can_lower, kernel_from_attributes, lower, run_kernel, to_loop_op
from lpfc.poly.schedule import (apply_variant, broadcast_terms, check_legal, dependences, parallel_nests, variants)
from lpfc.testing import zoo
from lpfc.tune.tuner import random_inputs

from .test_figure4 import figure4

NO_FUSION = "canonicalize,fold-constants,cse,dce"


def kernel_ops(model, pipeline):
    m = lpfc.import_onnx(zoo.export(model, "dynamo20"))  # exported when missing (a fresh CI machine)
    Pipeline.parse(pipeline).run(m)
    return [op for op in m.main.body.ops if op.name not in ("graph.constant", "graph.reshape", "func.return")]


def inputs(op, seed=0):
    return random_inputs(op, seed)  # the tuner's benchmark inputs: small ints stay valid gather indices


def reference(op, ins):
    return run_region_op(op, ins) if op.regions else evaluate_op(op, ins)


@pytest.mark.parametrize("model", ["tiny-bert", "tiny-gpt2"])
@pytest.mark.parametrize("pipeline", ["default", NO_FUSION])
def test_zoo_kernels_lower_and_run(model, pipeline):
    try:
        ops = kernel_ops(model, pipeline)
    except Exception as e:                   # a zoo model missing here is not this test's business
        pytest.skip(f"{model}: {e}")
    for op in ops:
        assert can_lower(op), op.name
        ins = inputs(op)
        k = lower(op)
        for got, want in zip(run_kernel(k, ins), reference(op, ins)):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=op.name)


def test_loop_kernel_prints_parses_and_interprets():
    op = figure4()
    k = lower(op)
    f = Function("main", [v.type for v in op.operands], ["a", "b", "c", "d"])
    loop_op = Operation("loop.kernel", f.args, [r.type for r in op.results], to_loop_op(op, k).attributes)
    f.body.append(loop_op)
    f.set_return(loop_op.results, ["out"])
    m = Module([f])
    verify(m)
    text = print_module(m)
    assert "loop.kernel" in text and "{ S0[i0, i1] : 0 <= i0 < 48 and 0 <= i1 < 40 }" in text
    assert "read { S0[i0, i1] -> in2[i1] }" in text.replace("\\", "") or "in2[i1]" in text
    m2 = parse_module(text)
    verify(m2)
    assert print_module(m2) == text
    ins = inputs(op)
    got = lpfc.interp.run_function(m2.main, dict(zip("abcd", ins)))["out"]
    np.testing.assert_allclose(got, reference(op, ins)[0], rtol=1e-6, atol=1e-6)
    k2 = kernel_from_attributes(m2.main.body.ops[0].attributes)
    assert [s.name for s in k2.stmts] == [s.name for s in k.stmts]


def test_dependences_and_parallel_loops():
    F = DType.f32
    types = [TensorType((4, 6), F), TensorType((6, 5), F)]
    op = Operation("graph.matmul", Block(types).args, [TensorType((4, 5), F)], {})
    k = lower(op)
    deps = dependences(k)
    # the k loop of the update carries the accumulation; init -> update is a flow dependence
    init, upd = k.stmts
    assert not deps.intersect_domain(deps.domain().__class__(f"{{ {upd.name}[i0, i1, k] }}")).is_empty()
    assert check_legal(k, deps)
    assert parallel_nests(k, deps) == [True]          # rows are independent
    # a reduction over the outer dim is not parallel
    types = [TensorType((8, 3), F)]
    red = Operation("graph.reduce_sum", Block(types).args, [TensorType((1, 3), F)], {"axes": [0]})
    rk = lower(red)
    assert rk.nests[0][1].sched[0] == "i1"            # kept dim outer, reduced dim inner
    assert parallel_nests(rk) == [True]


def test_illegal_schedule_is_caught():
    F = DType.f32
    types = [TensorType((4, 6), F), TensorType((6, 5), F)]
    op = Operation("graph.matmul", Block(types).args, [TensorType((4, 5), F)], {})
    k = lower(op)
    init, upd = k.nests[0]
    init.sched, upd.sched = [1] + init.sched[1:], [0] + upd.sched[1:]   # updates before the init
    init.sched, upd.sched = upd.sched, init.sched
    assert not check_legal(k)


def bert_broadcast_ops():
    """The unique single-op kernels of unfused MiniLM (a real BERT) that have a broadcast term."""
    seen, out = set(), []
    for op in kernel_ops("minilm", NO_FUSION):
        key = (op.name, tuple(str(v.type) for v in op.operands))
        if key not in seen:
            seen.add(key)
            if broadcast_terms(lower(op)):
                out.append(op)
    return out


def test_bert_broadcast_instances_have_both_variants():
    """BERT's real broadcasts - the bias adds, LayerNorm's gamma/beta, the attention mask - offer
    recompute (fuse_add) and hoist (fuse_add'); every variant is legal and computes the same."""
    ops = bert_broadcast_ops()
    kinds = {(op.name, op.operands[1].type.shape) for op in ops}
    assert ("graph.layer_norm", (384,)) in kinds                 # gamma/beta
    assert ("graph.add", (384,)) in kinds and ("graph.add", (1536,)) in kinds   # biases
    assert ("graph.add", (1, 1, 1, 128)) in kinds                # the attention mask
    for op in ops:
        k = lower(op)
        names = [c["variant"] for c in variants(k)]
        assert names[:2] == ["recompute", "hoist"], (op.name, names)
        ins = inputs(op)
        want = reference(op, ins)
        for c in variants(k):
            kv = apply_variant(k, c)
            assert check_legal(kv)
            for got, w in zip(run_kernel(kv, ins), want):
                np.testing.assert_allclose(got, w, rtol=1e-4, atol=1e-4)


def test_reshape_indices_simplify():
    from lpfc.poly.model import Aff, Div, Mod, simplify_index
    ext = {"h": 4, "s": 128, "d": 16}
    flat = Aff.of({"h": 16, "s": 64, "d": 1})
    assert simplify_index(Div(flat, 64), ext) == Aff.dim("s")
    assert simplify_index(Mod(flat, 64), ext) == Aff.of({"h": 16, "d": 1})
    assert simplify_index(Mod(Div(flat, 64), 128), ext) == Aff.dim("s")
    assert isinstance(simplify_index(Div(Aff.of({"d": 1, "s": 1}), 64), ext), Div)   # not exact: kept
    # the attention block of tiny-bert reads its q/k/v slices with plain affine offsets
    op = [o for o in kernel_ops("tiny-bert", "default") if o.attributes.get("kind") == "attention"][0]
    from lpfc.codegen.generic import GENERIC
    from lpfc.codegen.targets import get_target
    code = GENERIC.emit(op, get_target("host"), "attn").code
    assert " / " not in code.replace("1.0f / ", "") and " % " not in code, code
