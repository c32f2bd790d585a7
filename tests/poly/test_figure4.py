"""The paper's Figure 4: out = in0*in1 + in2*in3 with in0, in1 MxN and in2, in3 1xN.

lpfc must produce fuse_add (recompute the broadcast term inside the i loop) and
fuse_add' (hoist it: j outer, the term once per j, i inner) through isl's AST
builder, and both must agree with each other and with the interpreter.
"""
import re

import numpy as np
import pytest

from lpfc.codegen.generic import GENERIC
from lpfc.codegen.targets import get_target
from lpfc.interp.interpreter import run_region_op
from lpfc.ir.builder import create_op
from lpfc.ir.core import Block, Operation, Region
from lpfc.ir.types import DType, TensorType
from lpfc.poly import lower, run_kernel
from lpfc.poly.schedule import apply_variant, broadcast_terms, check_legal, loop_structure, variants
from lpfc.tune.harness import build_library

M, N = 48, 40


def fused(op_specs, operand_types):
    """A graph.fused op over fresh values: op_specs = [(name, [operand refs], attrs)], refs index
    block args (ints) or earlier results ("r0", ...); the last op's result is yielded."""
    block = Block(operand_types)
    vals = {}
    for k, (name, refs, attrs) in enumerate(op_specs):
        ops_in = [block.args[r] if isinstance(r, int) else vals[r] for r in refs]
        o = create_op(f"graph.{name}", ops_in, attrs)
        block.append(o)
        vals[f"r{k}"] = o.results[0]
    last = vals[f"r{len(op_specs) - 1}"]
    block.append(Operation("graph.yield", [last], []))
    # the outer operands: stand-in values of the right types
    outer = Block(operand_types)
    return Operation("graph.fused", outer.args, [last.type], {"kind": "elementwise"}, regions=[Region([block])])


def figure4():
    big, row = TensorType((M, N), DType.f32), TensorType((1, N), DType.f32)
    return fused([("mul", [0, 1], {}), ("mul", [2, 3], {}), ("add", ["r0", "r1"], {})], [big, big, row, row])


def test_variants_exist_and_are_legal():
    k = lower(figure4())
    names = [c["variant"] for c in variants(k)]
    assert names[0] == "recompute" and set(names) == {"recompute", "hoist", "precompute", "hoist_tiled"}
    (ni, term, dims), = broadcast_terms(k)
    assert dims == {"i1"}                                 # in2*in3 depends on j only
    for c in variants(k):
        assert check_legal(apply_variant(k, c))


def test_loop_structures():
    k = lower(figure4())
    fuse_add = loop_structure(apply_variant(k, {"variant": "recompute"}))
    assert len(fuse_add) == 1
    # i outer, j inner, one statement computing everything
    assert re.search(r"for \(int c0 = 0; c0 <= 47; c0 \+= 1\)\s*for \(int c1 = 0; c1 <= 39; c1 \+= 1\)\s*S\d+\(c0, c1\);",
                     fuse_add[0]), fuse_add[0]
    hoist = loop_structure(apply_variant(k, {"variant": "hoist"}))
    # j outer: the 1xN term once, then the i loop
    assert re.search(r"for \(int c0 = 0; c0 <= 39; c0 \+= 1\) \{\s*S\d+\(c0\);\s*"
                     r"for \(int c2 = 0; c2 <= 47; c2 \+= 1\)\s*S\d+\(c2, c0\);", hoist[0]), hoist[0]


def test_generated_c_and_results(tmp_path):
    op = figure4()
    tgt = get_target("host")
    srcs = {c["variant"]: GENERIC.emit(op, tgt, f"fig4_{c['variant']}", c) for c in GENERIC.variants(op, tgt)}
    rec, hoist = srcs["recompute"].code, srcs["hoist"].code
    # fuse_add: in2*in3 recomputed inside the i loop
    assert re.search(r"for \(int64_t c0 .*\n\s*for \(int64_t c1 .*\n\s*out0\[.*in2\[c1\]\) \* \(in3\[c1\]", rec), rec
    # fuse_add': j outer, temp = in2[j]*in3[j] (a scalar), i inner
    assert re.search(r"for \(int64_t c0 .*\{\n\s*float h\d+ = 0;\n\s*h\d+ = \(\(in2\[c0\]\) \* \(in3\[c0\]\)\);\n"
                     r"\s*for \(int64_t c2 .*\n\s*out0\[.*h\d+", hoist), hoist
    lib = build_library(list(srcs.values()), tmp_path)
    rng = np.random.default_rng(1)
    ins = [rng.standard_normal(t.type.shape).astype(np.float32) for t in op.operands]
    want = run_region_op(op, ins)[0]
    k = lower(op)
    assert np.allclose(run_kernel(k, ins)[0], want, atol=1e-6)
    results = {}
    for name, s in srcs.items():
        out = np.zeros((M, N), np.float32)
        lib.call(s.symbol, ins, [out], 2)
        results[name] = out
        np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-6)
    assert np.array_equal(results["recompute"], results["hoist"])


@pytest.mark.parametrize("variant", ["recompute", "hoist", "precompute", "hoist_tiled"])
def test_variants_run_in_the_interpreter(variant):
    op = figure4()
    rng = np.random.default_rng(2)
    ins = [rng.standard_normal(t.type.shape).astype(np.float32) for t in op.operands]
    k = apply_variant(lower(op), {"variant": variant})
    np.testing.assert_allclose(run_kernel(k, ins)[0], run_region_op(op, ins)[0], rtol=1e-6, atol=1e-6)
