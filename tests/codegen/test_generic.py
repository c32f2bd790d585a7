"""The generic (polyhedral) emitter against the interpreter: every graph op it handles, and the
kernels of tiny zoo models with and without fusion, compiled warning-free into one library each."""
import functools

import numpy as np
import pytest

import lpfc
from lpfc.codegen.generic import GENERIC
from lpfc.codegen.kernel_source import emitter_for
from lpfc.codegen.targets import get_target
from lpfc.interp.interpreter import evaluate_op, run_region_op
from lpfc.ir.core import Block, Operation
from lpfc.ir.types import DType, TensorType
from lpfc.passes import Pipeline
from lpfc.poly.lower import SUPPORTED_OPS
from lpfc.testing import zoo
from lpfc.tune.harness import build_library

from ..ir.examples import EXAMPLES, result_types

TARGET = get_target("host")


def rand(t: TensorType, rng, op_name="", operand=0, data_shape=None):
    if t.dtype.is_float:
        return rng.standard_normal(t.shape).astype(t.dtype.numpy)
    if t.dtype == DType.bool:
        return rng.random(t.shape) < 0.5
    hi = 2
    if op_name in ("graph.gather", "graph.gather_elements", "graph.gather_nd", "graph.scatter_elements",
                   "graph.scatter_nd") and operand == 1:
        hi = 2  # every example's indexed axis is at least 2 long
        return rng.integers(-hi, hi, t.shape).astype(t.dtype.numpy)
    return rng.integers(0, 4 if t.dtype.is_int else hi, t.shape).astype(t.dtype.numpy)


def reference(op, ins):
    return run_region_op(op, ins) if op.regions else evaluate_op(op, ins)


def check(lib, cases, rtol=1e-4, atol=1e-4, threads=2):
    bad = []
    for op, src, ins in cases:
        want = reference(op, ins)
        outs = [np.zeros(r.type.shape, r.type.dtype.numpy) for r in op.results]
        lib.call(src.symbol, ins, outs, threads)
        for g, w in zip(outs, want):
            if w.dtype.kind == "f":
                ok = np.allclose(g, w, rtol=rtol, atol=atol, equal_nan=True)
            else:
                ok = np.array_equal(g, w)
            if not ok:
                bad.append(f"{op.name} {op.attributes.get('kind', '')} [{src.variant}]: max diff "
                           f"{np.max(np.abs(g.astype(np.float64) - w.astype(np.float64)))}")
    assert not bad, "\n".join(bad)


# -- every graph op on its own -------------------------------------------------------------------------------
def single_ops():
    out = []
    for name, (types, attrs) in sorted(EXAMPLES.items()):
        if name not in SUPPORTED_OPS or name in ("constant", "reshape"):
            continue
        if any(t.dtype == DType.f16 for t in types) or attrs.get("to") == DType.f16:
            continue
        block = Block(types)
        out.append(Operation(f"graph.{name}", block.args, result_types(name, types, attrs), attrs))
    # extra shapes: broadcasting binaries, batched matmul with broadcasting, rank-1 matmul, gemm flags
    F = DType.f32
    extra = [
        ("add", [TensorType((3, 1, 5), F), TensorType((4, 1), F)], {}),
        ("matmul", [TensorType((2, 1, 3, 5), F), TensorType((4, 5, 6), F)], {}),
        ("matmul", [TensorType((5,), F), TensorType((5, 3), F)], {}),
        ("matmul", [TensorType((2, 3, 5), F), TensorType((5,), F)], {}),
        ("gemm", [TensorType((5, 3), F), TensorType((4, 5), F), TensorType((4,), F)],
         {"trans_a": True, "trans_b": True, "alpha": 0.5, "beta": 2.0}),
        ("softmax", [TensorType((3, 7, 5), F)], {"axis": 1, "nan_to_zero": True}),
        ("layer_norm", [TensorType((2, 3, 8), F), TensorType((8,), F), TensorType((8,), F)], {"axis": -1}),
        ("layer_norm", [TensorType((2, 3, 8), F)], {"axis": 1}),
        ("reduce_mean", [TensorType((2, 3, 8), F)], {"axes": [0, 2], "keepdims": False}),
        ("reduce_max", [TensorType((2, 3, 8), DType.i64)], {"axes": [1]}),
        ("argmax", [TensorType((2, 3, 8), F)], {"axis": 2, "keepdims": False}),
        ("argmin", [TensorType((2, 3, 8), F)], {"axis": 0, "select_last_index": True}),
        ("slice", [TensorType((6, 8), F)], {"starts": [5, 1], "ends": [-7, 8], "axes": [0, 1], "steps": [-2, 3]}),
        ("transpose", [TensorType((2, 3, 4, 5), F)], {"perm": [2, 0, 3, 1]}),
        ("pad", [TensorType((3, 4), F)], {"pads": [1, -1, 2, 0], "value": 1.5}),
        ("concat", [TensorType((2, 3), F), TensorType((2, 1), F), TensorType((2, 2), F)], {"axis": 1}),
        ("pad", [TensorType((3, 4), F)], {"pads": [2, 3, 4, 5], "mode": "edge"}),
        ("pad", [TensorType((3, 4), F)], {"pads": [2, -1, 2, 2], "mode": "reflect"}),
        ("pad", [TensorType((3, 4), F)], {"pads": [5, 1, 4, 9], "mode": "wrap"}),
        ("pad", [TensorType((3, 4), F)], {"pads": [0, 2, 0, 0], "mode": "constant", "value": -1.0}),
        ("cumsum", [TensorType((3, 6), F)], {"axis": 1, "exclusive": True}),
        ("cumsum", [TensorType((3, 6), DType.i64)], {"axis": 0, "reverse": True}),
        ("cumsum", [TensorType((3, 6), F)], {"axis": -1, "exclusive": True, "reverse": True}),
        ("reduce_log_sum_exp", [TensorType((3, 6), F)], {"axes": [1], "keepdims": False}),
        ("gather_elements", [TensorType((3, 6), F), TensorType((3, 2), DType.i64)], {"axis": 1}),
        ("tile", [TensorType((2, 3), F)], {"repeats": [2, 3]}),
        ("scatter_elements", [TensorType((4, 3), F), TensorType((2, 3), DType.i64), TensorType((2, 3), F)],
         {"axis": 0, "reduction": "add"}),
        ("scatter_nd", [TensorType((4, 3), F), TensorType((2, 1), DType.i64), TensorType((2, 3), F)],
         {"reduction": "max"}),
        ("trilu", [TensorType((2, 4, 5), F)], {"upper": False, "k": -1}),
    ]
    for name, types, attrs in extra:
        block = Block(types)
        out.append(Operation(f"graph.{name}", block.args, result_types(name, types, attrs), attrs))
    return out


@functools.lru_cache(maxsize=None)
def _single_library(tmp):
    rng = np.random.default_rng(0)
    cases = []
    for k, op in enumerate(single_ops()):
        if not GENERIC.accepts(op, TARGET):
            continue
        ins = [rand(v.type, rng, op.name, j) for j, v in enumerate(op.operands)]
        for c in GENERIC.variants(op, TARGET)[:3]:
            cases.append((op, GENERIC.emit(op, TARGET, f"k{len(cases)}", c), ins))
    return build_library([s for _, s, _ in cases], tmp, "single"), cases


def test_single_ops(tmp_path_factory):
    lib, cases = _single_library(str(tmp_path_factory.mktemp("single")))
    assert len({op.name for op, _, _ in cases}) >= 60
    check(lib, cases)


def test_generic_accepts_every_supported_example():
    missing = [op.name for op in single_ops() if not GENERIC.accepts(op, TARGET)]
    assert not missing, missing


# -- zoo kernels -----------------------------------------------------------------------------------------------
def zoo_kernel_ops(model, pipeline):
    m = lpfc.import_onnx(zoo.export(model, "dynamo20"))  # exported when missing (a fresh CI machine)
    Pipeline.parse(pipeline).run(m)
    return [op for op in m.main.body.ops if op.name not in ("graph.constant", "graph.reshape", "func.return")]


def _ins(op, rng):
    out = []
    for j, v in enumerate(op.operands):
        if v.type.dtype.is_int:
            out.append(rng.integers(0, 2, v.type.shape).astype(v.type.dtype.numpy))
        else:
            out.append(rand(v.type, rng))
    return out


@pytest.mark.parametrize("pipeline", ["default", "canonicalize,fold-constants,cse,dce"])
def test_tiny_bert_kernels(tmp_path, pipeline):
    ops = zoo_kernel_ops("tiny-bert", pipeline)
    rng = np.random.default_rng(0)
    cases = []
    for op in ops:
        assert GENERIC.accepts(op, TARGET), op.name
        ins = _ins(op, rng)
        for c in GENERIC.variants(op, TARGET)[:4]:
            cases.append((op, GENERIC.emit(op, TARGET, f"z{len(cases)}", c), ins))
    lib = build_library([s for _, s, _ in cases], tmp_path)
    check(lib, cases)


def test_registered_last():
    # f16 is refused; element-wise ops are always accepted
    t16 = [TensorType((2, 3), DType.f16)]
    assert not GENERIC.accepts(Operation("graph.exp", Block(t16).args, t16, {}), TARGET)
    t = [TensorType((2, 3, 4), DType.f32)]
    assert emitter_for(Operation("graph.erf", Block(t).args, t, {}), TARGET) is not None


def test_parallel_loop_only_where_legal():
    F = DType.f32
    types = [TensorType((256, 256), F), TensorType((256, 256), F)]
    op = Operation("graph.matmul", Block(types).args, [TensorType((256, 256), F)], {})
    code = GENERIC.emit(op, TARGET, "mm").code
    assert "lpfc_parallel::parallel_for(num_threads, (long)c0_count" in code
    t = [TensorType((4, 3), F)]
    small = Operation("graph.exp", Block(t).args, t, {})
    assert "parallel_for" not in GENERIC.emit(small, TARGET, "e").code


def test_bert_broadcast_variants_compile_and_agree(tmp_path):
    from ..poly.test_kernel_ir import bert_broadcast_ops
    rng = np.random.default_rng(3)
    cases = []
    for op in bert_broadcast_ops():
        ins = _ins(op, rng)
        for c in GENERIC.variants(op, TARGET):
            cases.append((op, GENERIC.emit(op, TARGET, f"b{len(cases)}", c), ins))
    assert {s.variant for _, s, _ in cases} >= {"recompute", "hoist"}
    lib = build_library([s for _, s, _ in cases], tmp_path)
    check(lib, cases)


def test_zoo_kernels_clean_under_sanitizers(tmp_path):
    """Every kernel of tiny-bert (fused and unfused) runs clean under ASan + UBSan, each operand in
    its own exactly-sized allocation so any out-of-bounds access is caught."""
    from lpfc.codegen.toolchain import compile_executable, find_toolchain, run_program, sanitizer_problem
    from lpfc.tune.harness import library_source
    tc = find_toolchain("host")
    problem = sanitizer_problem(tc)
    if problem:
        pytest.skip(problem)
    ops = zoo_kernel_ops("tiny-bert", "default") + zoo_kernel_ops("tiny-bert", "canonicalize,fold-constants,cse,dce")
    sources, calls = [], []
    for op in ops:
        for c in GENERIC.variants(op, TARGET)[:2]:
            s = GENERIC.emit(op, TARGET, f"s{len(sources)}", c)
            sources.append(s)
            calls.append((s.symbol, [v.type for v in op.operands], [r.type for r in op.results]))
    main = ["#include <stdlib.h>", "#include <string.h>",
            "static void fill(void *p, size_t n, int is_float) {",
            "    if (!is_float) { memset(p, 0, n); return; }",
            "    float *f = (float *)p; unsigned s = 12345u;",
            "    for (size_t i = 0; i < n / 4; ++i) { s = s * 1103515245u + 12345u; f[i] = (float)(s >> 8) / 16777216.0f - 0.5f; }",
            "}", "int main(void) {"]
    for sym, its, ots in calls:
        main.append("    {")
        main.append(f"        const void *in[{max(len(its), 1)}]; void *out[{max(len(ots), 1)}];")
        for j, t in enumerate(its):
            main.append(f"        void *i{j} = malloc({max(t.nbytes, 1)}); fill(i{j}, {t.nbytes}, {int(t.dtype.is_float)}); in[{j}] = i{j};")
        for j, t in enumerate(ots):
            main.append(f"        out[{j}] = malloc({max(t.nbytes, 1)});")
        main.append(f"        {sym}(in, out, 1);")
        for j in range(len(its)):
            main.append(f"        free(i{j});")
        for j in range(len(ots)):
            main.append(f"        free(out[{j}]);")
        main.append("    }")
    main.append("    return 0;\n}")
    src = tmp_path / "san.cpp"
    src.write_text(library_source(sources) + "\n".join(main) + "\n")
    exe = compile_executable(tc, [src], tmp_path / "san", sanitize=("address", "undefined"))
    r = run_program(tc, [exe], timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]


@pytest.mark.parametrize("nan_to_zero", [False, True])
def test_softmax_masked_rows(tmp_path, nan_to_zero):
    t = TensorType((3, 5), DType.f32)
    op = Operation("graph.softmax", Block([t]).args, [t], {"axis": -1, "nan_to_zero": nan_to_zero})
    x = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    x[0, :] = -np.inf                     # fully masked
    x[1, 1:3] = -np.inf                   # partly masked
    src = GENERIC.emit(op, TARGET, "sm")
    lib = build_library([src], tmp_path)
    check(lib, [(op, src, [x])])


def test_isl_scheduler_variant(tmp_path):
    """The "isl" variant (isl's own compute_schedule on the kernel's dependences) on every multi-
    statement kernel of tiny-bert, fused and not."""
    ops = zoo_kernel_ops("tiny-bert", "default") + zoo_kernel_ops("tiny-bert", "canonicalize,fold-constants,cse,dce")
    rng = np.random.default_rng(5)
    cases = []
    for op in ops:
        if {"variant": "isl"} in GENERIC.variants(op, TARGET):
            s = GENERIC.emit(op, TARGET, f"i{len(cases)}", {"variant": "isl"})
            assert "isl compute_schedule" in s.code
            cases.append((op, s, _ins(op, rng)))
    assert len(cases) >= 10
    check(build_library([s for _, s, _ in cases], tmp_path), cases)
