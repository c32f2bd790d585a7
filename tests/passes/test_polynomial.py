"""LP-Fusion's algebra (lpfc/passes/polynomial.py): polynomial simplification of element-wise
regions, scale folding into weights, and the region finder fused-block formation reuses."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lpfc
from lpfc.ir.attributes import DenseElements
from lpfc.ir.builder import create_op
from lpfc.ir.core import Function, Module, Operation
from lpfc.ir.types import DType, TensorType
from lpfc.passes import Pipeline
from lpfc.passes.lp_fusion.computation_count import computations
from lpfc.passes.lp_fusion.polynomial import elementwise_regions, simplify_polynomials
from lpfc.passes.lp_fusion.scale_folding import fold_scales_into_weights


def graph_ops(fn):
    return [op for op in fn.body.ops if op.name not in ("graph.constant", "func.return")]


def producer(v):
    return v.owner if isinstance(v.owner, Operation) else None


def is_add_of(v, a, b):
    op = producer(v)
    return op is not None and op.name == "graph.add" and set(op.operands) == {a, b}


def run(module, **feeds):
    return lpfc.interpret(module, feeds)


def func(args: str, body: str, returns: str, names=("o",), resources=None) -> Module:
    """A module from its arguments (``%x: tensor<4xf32>, ...``), body lines and
    ``returns`` (``%o : tensor<4xf32>, %s : tensor<4xf32>``)."""
    arg_names = ", ".join(f'"{a.split(":")[0].strip()[1:]}"' for a in args.split(","))
    values = ", ".join(r.split(":")[0].strip() for r in returns.split(","))
    types = ", ".join(r.split(":")[1].strip() for r in returns.split(","))
    out_names = ", ".join(f'"{n}"' for n in names)
    return lpfc.parse_module(
        f"module {{\n  func @main({args}) -> ({types}) attributes {{input_names = [{arg_names}], "
        f"output_names = [{out_names}]}} {{{body}\n    func.return {values} : ({types}) -> ()\n  }}\n}}\n",
        resources)


# ------------------------------------------------------------------------------ the paper's example

from .test_computation_count import PAPER  # noqa: E402  (the paper's example, shared)


def test_paper_example_factors_to_a_plus_f_times_g_plus_h():
    m = lpfc.parse_module(PAPER)
    fn = m.main
    assert len(graph_ops(fn)) == 4 and computations(m) == 5  # 4 layers, 5 computations
    feeds = {k: np.array([v], np.float32) for k, v in zip("AFGH", (1.5, -2.0, 3.0, 0.25))}
    want = run(m, **feeds)["o"]

    assert simplify_polynomials(fn) == 1
    lpfc.verify(m)
    assert computations(m) == 3
    A, F, G, H = fn.args
    (out,) = fn.outputs
    mul = producer(out)
    assert mul.name == "graph.mul"
    x, y = mul.operands
    assert (is_add_of(x, A, F) and is_add_of(y, G, H)) or (is_add_of(x, G, H) and is_add_of(y, A, F))
    assert len(graph_ops(fn)) == 3
    np.testing.assert_allclose(run(m, **feeds)["o"], want, rtol=1e-6)


# --------------------------------------------------------------------------------- targeted rewrites

def test_like_terms_and_constants_fold():
    m = func("%x: tensor<3x4xf32>", """
    %c2 = graph.constant {value = dense<2.0> : tensor<f32>} : () -> tensor<f32>
    %c3 = graph.constant {value = dense<3.0> : tensor<f32>} : () -> tensor<f32>
    %a = graph.mul %x, %c2 : (tensor<3x4xf32>, tensor<f32>) -> tensor<3x4xf32>
    %b = graph.mul %a, %c3 : (tensor<3x4xf32>, tensor<f32>) -> tensor<3x4xf32>
    %d = graph.div %b, %c2 : (tensor<3x4xf32>, tensor<f32>) -> tensor<3x4xf32>
    %o = graph.add %d, %x : (tensor<3x4xf32>, tensor<3x4xf32>) -> tensor<3x4xf32>""", "%o : tensor<3x4xf32>")
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert simplify_polynomials(m.main) == 1
    ops = graph_ops(m.main)
    assert [op.name for op in ops] == ["graph.mul"]  # x*2*3/2 + x = 4*x
    np.testing.assert_allclose(run(m, x=x)["o"], 4 * x)


def test_row_vectors_are_summed_before_meeting_the_matrix():
    # X*r1 + X*r2 -> X*(r1 + r2): the add runs on a [1, 64] row, not on [32, 64].
    m = func("%X: tensor<32x64xf32>, %r1: tensor<1x64xf32>, %r2: tensor<1x64xf32>", """
    %a = graph.mul %X, %r1 : (tensor<32x64xf32>, tensor<1x64xf32>) -> tensor<32x64xf32>
    %b = graph.mul %X, %r2 : (tensor<32x64xf32>, tensor<1x64xf32>) -> tensor<32x64xf32>
    %o = graph.add %a, %b : (tensor<32x64xf32>, tensor<32x64xf32>) -> tensor<32x64xf32>""",
             "%o : tensor<32x64xf32>")
    assert computations(m) == 3 * 32 * 64
    assert simplify_polynomials(m.main) == 1
    assert computations(m) == 32 * 64 + 64
    X, r1, r2 = m.main.args
    mul = producer(m.main.outputs[0])
    assert mul.name == "graph.mul" and X in mul.operands
    assert any(is_add_of(v, r1, r2) for v in mul.operands)


def test_cancelled_terms_keep_the_output_type():
    # x + y - y == x, but the output is [3, 4] where x is [4]: an expand restores the shape.
    m = func("%x: tensor<4xf32>, %y: tensor<3x4xf32>", """
    %a = graph.add %x, %y : (tensor<4xf32>, tensor<3x4xf32>) -> tensor<3x4xf32>
    %o = graph.sub %a, %y : (tensor<3x4xf32>, tensor<3x4xf32>) -> tensor<3x4xf32>""", "%o : tensor<3x4xf32>")
    assert simplify_polynomials(m.main) == 1
    lpfc.verify(m)
    assert [op.name for op in graph_ops(m.main)] == ["graph.expand"]
    assert m.main.output_types == [TensorType((3, 4), DType.f32)]
    assert computations(m) == 0


def test_values_used_outside_the_region_stay_available():
    # s = a + b is also returned, so it is a leaf of the other output: s*c + s*d -> s*(c + d).
    m = func("%a: tensor<4xf32>, %b: tensor<4xf32>, %c: tensor<4xf32>, %d: tensor<4xf32>", """
    %s = graph.add %a, %b : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %p = graph.mul %s, %c : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %q = graph.mul %s, %d : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %o = graph.add %p, %q : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>""",
             "%o : tensor<4xf32>, %s : tensor<4xf32>", names=("o", "s"))
    rng = np.random.default_rng(0)
    feeds = {k: rng.standard_normal(4).astype(np.float32) for k in "abcd"}
    want = run(m, **feeds)
    assert simplify_polynomials(m.main) == 1
    o, s = m.main.outputs
    assert producer(s).name == "graph.add" and s in producer(o).operands
    got = run(m, **feeds)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-6)


def test_equal_cost_forms_are_left_alone():
    # BERT's erf GELU: 0.5 * x * (erf(x / sqrt 2) + 1) is as cheap as it gets.
    m = func("%x: tensor<8x16xf32>", """
    %r2 = graph.constant {value = dense<1.4142135> : tensor<f32>} : () -> tensor<f32>
    %one = graph.constant {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
    %half = graph.constant {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
    %d = graph.div %x, %r2 : (tensor<8x16xf32>, tensor<f32>) -> tensor<8x16xf32>
    %e = graph.erf %d : (tensor<8x16xf32>) -> tensor<8x16xf32>
    %a = graph.add %e, %one : (tensor<8x16xf32>, tensor<f32>) -> tensor<8x16xf32>
    %m = graph.mul %x, %a : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %o = graph.mul %m, %half : (tensor<8x16xf32>, tensor<f32>) -> tensor<8x16xf32>""", "%o : tensor<8x16xf32>")
    before = lpfc.print_module(m)
    assert simplify_polynomials(m.main) == 0
    assert lpfc.print_module(m) == before


def test_max_terms_bounds_expansion():
    # (x0+x1)(x2+x3)...(x10+x11) has 64 terms expanded; with max_terms=8 parts stay as they are.
    n = 12
    sig = ", ".join(f"%x{i}: tensor<4xf32>" for i in range(n))
    lines, prev = [], None
    for i in range(0, n, 2):
        lines.append(f"    %s{i} = graph.add %x{i}, %x{i + 1} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>")
        if prev is not None:
            lines.append(f"    %p{i} = graph.mul %{prev}, %s{i} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>")
            prev = f"p{i}"
        else:
            prev = f"s{i}"
    m = func(sig, "\n".join(lines), f"%{prev} : tensor<4xf32>")
    rng = np.random.default_rng(1)
    feeds = {f"x{i}": rng.uniform(0.5, 1.5, 4).astype(np.float32) for i in range(n)}
    want, count = run(m, **feeds)["o"], computations(m)
    simplify_polynomials(m.main, max_terms=8)
    lpfc.verify(m)
    assert computations(m) <= count
    np.testing.assert_allclose(run(m, **feeds)["o"], want, rtol=1e-5)


# ------------------------------------------------------------------------------ elementwise_regions

def test_elementwise_regions_are_maximal_connected_and_ordered():
    m = func("%x: tensor<4xf32>, %w: tensor<4x4xf32>", """
    %a = graph.add %x, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %e = graph.exp %a : (tensor<4xf32>) -> tensor<4xf32>
    %b = graph.mul %e, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %mm = graph.matmul %b, %w : (tensor<4xf32>, tensor<4x4xf32>) -> tensor<4xf32>
    %c = graph.neg %mm : (tensor<4xf32>) -> tensor<4xf32>
    %k = graph.greater %c, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi1>""", "%c : tensor<4xf32>")
    regions = elementwise_regions(m.main)
    assert [[op.name for op in r] for r in regions] == [["graph.add", "graph.exp", "graph.mul"], ["graph.neg"]]
    poly = elementwise_regions(m.main, lambda op: op.name in ("graph.add", "graph.mul", "graph.neg"))
    assert [[op.name for op in r] for r in poly] == [["graph.add"], ["graph.mul"], ["graph.neg"]]


# ------------------------------------------------------------------------- random element-wise DAGs

SHAPES = [(3, 4), (1, 4), (4,), (3, 1)]
CONSTANTS = st.one_of(
    st.sampled_from([0.0, 1.0, -1.0, 2.0, 0.5, -3.0]).map(lambda v: np.array(v)),                  # scalars
    st.tuples(st.sampled_from([0.5, 2.0, -1.0]), st.sampled_from(SHAPES)).map(                     # splats
        lambda t: np.full(t[1], t[0])),
    st.sampled_from(SHAPES).map(lambda s: np.random.default_rng(sum(s)).uniform(0.5, 2.0, s)),   # tensors
)
OPS = ["add", "sub", "mul", "neg", "div", "tanh"]


@st.composite
def elementwise_dags(draw, max_ops: int = 10):
    """Random add/sub/mul/neg/div-by-constant DAGs over broadcasting inputs, with tanh as a
    non-polynomial leaf-maker; some intermediate values are extra outputs."""
    dtype = draw(st.sampled_from([DType.f64, DType.f64, DType.f32]))
    shapes = draw(st.lists(st.sampled_from(SHAPES), min_size=1, max_size=4))
    fn = Function("main", [TensorType(s, dtype) for s in shapes], [f"x{i}" for i in range(len(shapes))])

    def emit(name, operands, attrs=None):
        return fn.body.append(create_op(name, operands, attrs)).result

    def const(array):
        return emit("graph.constant", [], {"value": DenseElements(array.astype(dtype.numpy))})

    values = list(fn.args)
    for _ in range(draw(st.integers(1, max_ops))):
        kind = draw(st.sampled_from(OPS))
        a = values[draw(st.integers(0, len(values) - 1))]
        if kind in ("neg", "tanh"):
            values.append(emit(f"graph.{kind}", [a]))
            continue
        if kind == "div":
            d = draw(CONSTANTS)
            d = np.where(d == 0, 2.0, d)
            values.append(emit("graph.div", [a, const(d)]))
            continue
        b = const(draw(CONSTANTS)) if draw(st.booleans()) and draw(st.booleans()) else \
            values[draw(st.integers(0, len(values) - 1))]
        operands = [a, b] if draw(st.booleans()) else [b, a]
        values.append(emit(f"graph.{kind}", operands))
    extra = draw(st.lists(st.integers(0, len(values) - 1), max_size=2))
    outs = [values[-1]] + [values[i] for i in extra if values[i] not in fn.args]
    fn.set_return(outs, [f"o{i}" for i in range(len(outs))])
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    feeds = {n: rng.uniform(-1.5, 1.5, a.type.shape).astype(dtype.numpy) for n, a in zip(fn.input_names, fn.args)}
    return Module([fn]), feeds


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(elementwise_dags())
def test_random_dags_keep_values_and_never_cost_more(case):
    m, feeds = case
    fn = m.main
    types, count = fn.output_types, computations(m)
    want = lpfc.interpret(m, feeds)
    simplify_polynomials(fn)
    lpfc.verify(m)
    assert fn.output_types == types
    assert computations(m) <= count
    got = lpfc.interpret(m, feeds)
    for name, w in want.items():
        np.testing.assert_allclose(got[name], w, rtol=1e-4, atol=1e-5, err_msg=name)


# ------------------------------------------------------------------------ fold_scales_into_weights

def _attention(scale_site: str, shared_q: bool = False) -> Module:
    """Q.K^T for a [1, 8, 16] input with 2 heads of 8, from constant projections.  scale_site:
    "qk" multiplies Q and K^T by 8**-0.25 each (the TorchScript export), "scores" divides
    Q.K^T by sqrt(8) (dynamo's spelling)."""
    rng = np.random.default_rng(0)
    fn = Function("main", [TensorType((1, 8, 16), DType.f32)], ["h"])
    h = fn.args[0]

    def emit(name, operands, attrs=None):
        return fn.body.append(create_op(name, operands, attrs)).result

    def const(array):
        return emit("graph.constant", [], {"value": DenseElements(np.asarray(array, np.float32))})

    def projection(perm):
        mm = emit("graph.matmul", [h, const(rng.standard_normal((16, 16)))])
        b = emit("graph.add", [const(rng.standard_normal(16)), mm])
        r = emit("graph.reshape", [b], {"shape": [1, 8, 2, 8]})
        return mm, emit("graph.transpose", [r], {"perm": perm})

    mm_q, q = projection([0, 2, 1, 3])
    _, k = projection([0, 2, 3, 1])
    if scale_site == "qk":
        c = const(8 ** -0.25)
        q, k = emit("graph.mul", [q, c]), emit("graph.mul", [k, c])
    s = emit("graph.matmul", [q, k])
    if scale_site == "scores":
        s = emit("graph.div", [s, const(np.sqrt(8.0))])
    p = emit("graph.softmax", [s], {"axis": -1})
    outs, names = [p], ["p"]
    if shared_q:
        outs, names = [p, mm_q], ["p", "q"]
    fn.set_return(outs, names)
    return Module([fn])


def _scale_ops(fn):
    return [op for op in fn.body.ops if op.name in ("graph.mul", "graph.div")]


@pytest.mark.parametrize("site, folded", [("qk", 2), ("scores", 1)])
def test_attention_scale_folds_into_projection_weights(site, folded):
    m = _attention(site)
    h = np.random.default_rng(1).standard_normal((1, 8, 16)).astype(np.float32)
    want = run(m, h=h)["p"]
    count = computations(m)
    assert fold_scales_into_weights(m.main) == folded
    Pipeline.parse("fold-constants,cse,dce").run(m, verify_each=True)
    assert _scale_ops(m.main) == []  # W*c and b*c were evaluated at compile time
    assert computations(m) < count
    assert [op.name for op in m.main.body.ops if op.name != "graph.constant"].count("graph.matmul") == 3
    np.testing.assert_allclose(run(m, h=h)["p"], want, rtol=1e-5, atol=1e-6)


def test_scale_is_not_folded_through_a_shared_value():
    # The Q projection is also an output: scaling its weight would change that output.
    m = _attention("qk", shared_q=True)
    h = np.random.default_rng(2).standard_normal((1, 8, 16)).astype(np.float32)
    want = run(m, h=h)
    assert fold_scales_into_weights(m.main) == 1  # K's scale still folds
    got = run(m, h=h)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-6)


def test_scale_of_one_split_slice_scales_those_weight_columns():
    W = np.random.default_rng(4).standard_normal((6, 6)).astype(np.float32)
    # GPT-2: one gemm computes Q|K|V, split along features; Q*c scales only Q's columns.
    m = func("%x: tensor<8x6xf32>", """
    %w = graph.constant {value = dense_resource<w> : tensor<6x6xf32>} : () -> tensor<6x6xf32>
    %b = graph.constant {value = dense<[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]> : tensor<6xf32>} : () -> tensor<6xf32>
    %c = graph.constant {value = dense<0.25> : tensor<f32>} : () -> tensor<f32>
    %g = graph.gemm %x, %w, %b : (tensor<8x6xf32>, tensor<6x6xf32>, tensor<6xf32>) -> tensor<8x6xf32>
    %r = graph.reshape %g {shape = [1, 8, 6]} : (tensor<8x6xf32>) -> tensor<1x8x6xf32>
    %q, %k, %v = graph.split %r {axis = 2, sizes = [2, 2, 2]} : (tensor<1x8x6xf32>) -> (tensor<1x8x2xf32>, tensor<1x8x2xf32>, tensor<1x8x2xf32>)
    %qs = graph.mul %q, %c : (tensor<1x8x2xf32>, tensor<f32>) -> tensor<1x8x2xf32>
    %t = graph.transpose %k {perm = [0, 2, 1]} : (tensor<1x8x2xf32>) -> tensor<1x2x8xf32>
    %s = graph.matmul %qs, %t : (tensor<1x8x2xf32>, tensor<1x2x8xf32>) -> tensor<1x8x8xf32>""",
             "%s : tensor<1x8x8xf32>, %v : tensor<1x8x2xf32>", names=("s", "v"), resources={"w": W})
    x = np.random.default_rng(3).standard_normal((8, 6)).astype(np.float32)
    want = run(m, x=x)
    assert fold_scales_into_weights(m.main) == 1
    Pipeline.parse("fold-constants,cse,dce").run(m, verify_each=True)
    assert _scale_ops(m.main) == []
    gemm = next(op for op in m.main.body.ops if op.name == "graph.gemm")
    w = gemm.operands[1].owner.attributes["value"].array
    np.testing.assert_allclose(w[:, :2], 0.25 * W[:, :2], rtol=1e-6)
    np.testing.assert_array_equal(w[:, 2:], W[:, 2:])
    got = run(m, x=x)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-6)


@st.composite
def scaled_chains(draw):
    """A constant-weight matmul or gemm, then bias adds, reshapes, transposes, negations, splits and
    constant muls in random order, then a multiplication (or division) by a scalar; sometimes a
    value on the way has a second user."""
    fn = Function("main", [TensorType((6, 4), DType.f64)], ["x"])
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))

    def emit(name, operands, attrs=None):
        return fn.body.append(create_op(name, operands, attrs)).result

    def const(array):
        return emit("graph.constant", [], {"value": DenseElements(np.asarray(array, np.float64))})

    x = fn.args[0]
    kind = draw(st.sampled_from(["matmul", "matmul-left", "gemm", "gemm-t"]))
    if kind == "matmul":
        v = emit("graph.matmul", [x, const(rng.uniform(-1, 1, (4, 6)))])
    elif kind == "matmul-left":
        v = emit("graph.matmul", [const(rng.uniform(-1, 1, (5, 6))), x])
    else:
        w = rng.uniform(-1, 1, (6, 4) if kind == "gemm-t" else (4, 6))
        c = [const(rng.uniform(-1, 1, 6))] if draw(st.booleans()) else []
        v = emit("graph.gemm", [x, const(w)] + c, {"trans_b": kind == "gemm-t", "beta": 0.5})
    extra = []
    for step in draw(st.lists(st.sampled_from(["add", "sub", "reshape", "transpose", "neg", "split", "mul"]),
                              max_size=5)):
        shape = v.type.shape
        if step in ("add", "sub", "mul"):
            b = const(rng.uniform(0.5, 1.5, shape[-1:]))
            v = emit(f"graph.{step}", [v, b] if draw(st.booleans()) else [b, v])
        elif step == "reshape":
            v = emit("graph.reshape", [v], {"shape": [1, *shape] if draw(st.booleans()) else [v.type.num_elements]})
        elif step == "transpose":
            v = emit("graph.transpose", [v], {"perm": list(reversed(range(len(shape))))})
        elif step == "neg":
            v = emit("graph.neg", [v])
        elif shape[-1] >= 2:
            first = draw(st.integers(1, shape[-1] - 1))
            parts = fn.body.append(create_op("graph.split", [v], {"axis": len(shape) - 1,
                                                                 "sizes": [first, shape[-1] - first]})).results
            k = draw(st.integers(0, 1))
            v = parts[k]
            extra.append(parts[1 - k])
        if draw(st.integers(0, 5)) == 0:
            extra.append(v)  # a second user: the chain must not be scaled in place
    c = const(draw(st.sampled_from([0.4204482, -2.0, 0.125])))
    op = draw(st.sampled_from(["mul", "rmul", "div"]))
    out = emit("graph.div", [v, c]) if op == "div" else emit("graph.mul", [v, c] if op == "mul" else [c, v])
    fn.set_return([out] + extra, [f"o{i}" for i in range(1 + len(extra))])
    return Module([fn]), {"x": rng.uniform(-1, 1, (6, 4))}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scaled_chains())
def test_random_scale_chains_keep_values(case):
    m, feeds = case
    want = lpfc.interpret(m, feeds)
    fold_scales_into_weights(m.main)
    Pipeline.parse("fold-constants,cse,dce").run(m, verify_each=True)
    got = lpfc.interpret(m, feeds)
    for name, w in want.items():
        np.testing.assert_allclose(got[name], w, rtol=1e-9, atol=1e-12, err_msg=name)


# ------------------------------------------------------------------------------------- zoo models

ZOO_CASES = [("minilm", "ts14"), ("minilm", "dynamo20"), ("tiny-bert", "ts14"), ("tiny-bert", "dynamo20"),
             ("tiny-gpt2", "ts14"), ("tiny-gpt2", "dynamo20")]
BERT_SCALE = 0.4204482  # 32 ** -0.25: MiniLM's head size is 32


def _scalar_muls_by(fn, value):
    def is_value(v):
        op = producer(v)
        if op is None or op.name != "graph.constant":
            return False
        a = op.attributes["value"].array
        return a.size > 0 and np.allclose(a, value, rtol=1e-6)
    return [op for op in fn.body.ops if op.name == "graph.mul" and any(is_value(v) for v in op.operands)]


@pytest.mark.zoo
@pytest.mark.parametrize("model, variant", ZOO_CASES, ids=[f"{m}-{v}" for m, v in ZOO_CASES])
def test_zoo_models_keep_outputs_and_lose_scales(model, variant):
    from lpfc.testing import zoo

    path = zoo.export(model, variant)
    m = lpfc.import_onnx(path)
    cleanup = Pipeline.parse("fold-constants,cse,dce")
    cleanup.run(m)
    count, scales = computations(m), len(_scalar_muls_by(m.main, BERT_SCALE))
    simplify_polynomials(m.main)
    folded = fold_scales_into_weights(m.main)
    cleanup.run(m, verify_each=True)
    assert computations(m) <= count
    if (model, variant) == ("minilm", "ts14"):
        assert scales == 12 and folded == 12  # Q and K^T of 6 layers, d**-1/4 each
    if model == "minilm":
        assert _scalar_muls_by(m.main, BERT_SCALE) == []
    feeds = zoo.sample_inputs(model)
    expected = zoo.reference_outputs(path, feeds)
    actual = lpfc.interpret(m, feeds)
    for name, want in expected.items():
        diff = float(np.max(np.abs(actual[name] - want)))
        assert diff <= 1e-4, f"{model}-{variant} output {name!r}: max abs diff {diff:.3g}"
