"""canonicalize: both exporters of every zoo model reach one form, every rewrite keeps the numbers,
and the matches that are easy to get wrong (GELU orders, LayerNorm spellings, the NaN guard) hold.

The zoo tests import each export once, run ``canonicalize,fold-constants,cse,dce`` and interpret
the result against onnxruntime; the op counts they record are what the parity tests compare.
"""
from __future__ import annotations

import collections
import itertools
from pathlib import Path

import numpy as np
import pytest

import lpfc
from lpfc.interp import evaluate_op
from lpfc.passes import DEFAULT_PIPELINE, Pipeline
from lpfc.passes.canonicalize.nan_guard import FiniteBounds
from lpfc.testing import zoo

from ..zoo_support import assert_outputs_close, zoo_param

PIPELINE = "canonicalize,fold-constants,cse,dce"
TOLERANCE = 1e-4
LIT_DIR = Path(__file__).parent / "lit"


# -- the zoo ------------------------------------------------------------------------------------------------
_COUNTS: dict = {}  # (model, variant) -> Counter of non-constant op names after the pipeline


def _canonical(model: str, variant: str):
    module = lpfc.import_onnx(zoo.export(model, variant))
    Pipeline.parse(PIPELINE).run(module, verify_each=True)
    _COUNTS[model, variant] = collections.Counter(
        op.name for op in module.main.walk() if op.name not in ("graph.constant", "func.return"))
    return module


def _counts(model: str, variant: str) -> collections.Counter:
    if (model, variant) not in _COUNTS:
        _canonical(model, variant)
    return _COUNTS[model, variant]


@pytest.mark.parametrize("model, variant", [zoo_param(m, v) for m, v in zoo.zoo_matrix()])
def test_zoo_matches_onnxruntime_after_canonicalize(model, variant):
    path = zoo.export(model, variant)
    module = _canonical(model, variant)
    feeds = zoo.sample_inputs(model)
    expected = zoo.reference_outputs(path, feeds)
    assert_outputs_close(f"{model}-{variant}", lpfc.interpret(module, feeds), expected, TOLERANCE)
    if model in zoo.TINY_MODELS:            # a canonical form is a fixpoint
        text = lpfc.print_module(module, resources="none")
        Pipeline.parse(PIPELINE).run(module)
        assert lpfc.print_module(module, resources="none") == text
    if model in zoo.TINY_MODELS or model == "minilm":
        # A fully masked batch row: TorchScript's -inf mask makes the SDPA guard live, and the
        # canonical softmax {nan_to_zero} must give its zeros, not NaN.
        feeds["attention_mask"] = np.zeros_like(feeds["attention_mask"])
        expected = zoo.reference_outputs(path, feeds)
        actual = lpfc.interpret(module, feeds)
        for name, want in expected.items():
            np.testing.assert_allclose(actual[name], want, rtol=0, atol=TOLERANCE, equal_nan=False)


@pytest.mark.parametrize("model", [zoo_param(m) for m in zoo.ALL_MODELS])
def test_exporters_reach_the_same_op_counts(model):
    variants = [v for m, v in zoo.zoo_matrix([model])]
    counts = {v: _counts(model, v) for v in variants}
    base = counts["ts14"]
    for variant, c in counts.items():
        diff = {k: (base[k], c[k]) for k in set(base) | set(c) if base[k] != c[k]}
        assert not diff, f"{model}: ts14 vs {variant} op counts (ts14, {variant}) differ: {diff}"
    # Nothing the exporters decompose survives.
    for gone in ("graph.erf", "graph.reduce_mean", "graph.sqrt", "graph.isnan", "graph.gather_nd", "graph.expand"):
        assert base[gone] == 0, (model, gone)


# -- lit inputs keep their numbers --------------------------------------------------------------------------
def _random_feeds(fn, rng):
    feeds = {}
    for name, t in zip(fn.input_names, fn.input_types):
        if t.dtype.is_float:
            feeds[name] = rng.standard_normal(t.shape).astype(t.dtype.numpy)
        elif t.dtype.is_int:
            feeds[name] = rng.integers(0, 3, size=t.shape).astype(t.dtype.numpy)
        else:
            feeds[name] = rng.random(t.shape) < 0.7
    return feeds


@pytest.mark.parametrize("path", sorted(LIT_DIR.glob("canonicalize_*.mlir")), ids=lambda p: p.stem)
def test_lit_inputs_keep_their_numbers(path):
    rng = np.random.default_rng(0)
    before = lpfc.parse_module(path.read_text())
    after = lpfc.parse_module(path.read_text())
    Pipeline.parse("canonicalize").run(after, verify_each=True)
    for _ in range(3):
        feeds = _random_feeds(before.main, rng)
        want, got = lpfc.interpret(before, feeds), lpfc.interpret(after, feeds)
        for name in want:
            np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-5, equal_nan=True, err_msg=name)


# -- small functions written as text ------------------------------------------------------------------------
class Fn:
    """Builds a one-function module over %x: tensor<SHAPE x f32> in textual IR, one line per op."""

    def __init__(self, shape=(2, 8), inputs=("x",)):
        self.t = f"tensor<{'x'.join(map(str, shape))}xf32>"
        self.inputs = inputs
        self.lines, self.types, self.n = [], {f"%{i}": self.t for i in inputs}, 0

    def const(self, value: float) -> str:
        name = self._name()
        self.lines.append(f"{name} = graph.constant {{value = dense<{value!r}> : tensor<f32>}} : () -> tensor<f32>")
        self.types[name] = "tensor<f32>"
        return name

    def op(self, opname: str, *args: str, attrs: str = "", rt: str = None) -> str:
        name = self._name()
        ts = [self.types[a] for a in args]
        if rt is None:      # the full shape if any operand has it, else the first non-scalar operand's
            rt = self.t if self.t in ts else next((t for t in ts if t != "tensor<f32>"), "tensor<f32>")
        self.lines.append(f"{name} = graph.{opname} {', '.join(args)}{attrs} : ({', '.join(ts)}) -> {rt}")
        self.types[name] = rt
        return name

    def module(self, *outs: str):
        args = ", ".join(f"%{i}: {self.t}" for i in self.inputs)
        names = ", ".join(f'"{i}"' for i in self.inputs)
        onames = ", ".join(f'"o{k}"' for k in range(len(outs)))
        rts = ", ".join(self.types[o] for o in outs)
        body = "\n    ".join(self.lines)
        return lpfc.parse_module(
            f"module {{\n  func @main({args}) -> ({rts}) attributes {{input_names = [{names}], "
            f"output_names = [{onames}]}} {{\n    {body}\n    func.return {', '.join(outs)} : ({rts}) -> ()\n  }}\n}}\n")

    def _name(self):
        self.n += 1
        return f"%v{self.n}"


def _canonicalize_and_compare(module, seed=0):
    """(op counter after canonicalize, module after); asserts the numbers did not change."""
    rng = np.random.default_rng(seed)
    feeds = _random_feeds(module.main, rng)
    want = lpfc.interpret(module, feeds)
    Pipeline.parse("canonicalize").run(module, verify_each=True)
    got = lpfc.interpret(module, feeds)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-6, equal_nan=True)
    return collections.Counter(op.name for op in module.main.walk()), module


def _product(f: Fn, factors, shape_index: int) -> str:
    """The product of three factors in one of the 12 association/operand orders."""
    a, b, c = factors
    if shape_index % 2 == 0:
        return f.op("mul", f.op("mul", a, b), c)
    return f.op("mul", a, f.op("mul", b, c))


@pytest.mark.parametrize("perm", list(itertools.permutations(range(3))))
@pytest.mark.parametrize("assoc", [0, 1])
@pytest.mark.parametrize("scale", ["div", "mul", "mul_left"])
@pytest.mark.parametrize("half", ["const", "div2"])
def test_erf_gelu_in_every_association_order(perm, assoc, scale, half):
    f = Fn()
    if scale == "div":
        z = f.op("div", "%x", f.const(1.4142135))
    elif scale == "mul":
        z = f.op("mul", "%x", f.const(0.70710677))
    else:
        z = f.op("mul", f.const(0.70710677), "%x")
    t = f.op("add", f.op("erf", z), f.const(1.0)) if assoc == 0 else f.op("add", f.const(1.0), f.op("erf", z))
    if half == "const":
        factors = ["%x", f.const(0.5), t]
        out = _product(f, [factors[i] for i in perm], assoc)
    else:                                   # (x / 2) * t
        out = f.op("mul", f.op("div", "%x", f.const(2.0)), t) if perm[0] < perm[1] else \
            f.op("mul", t, f.op("div", "%x", f.const(2.0)))
    counts, module = _canonicalize_and_compare(f.module(out))
    assert counts["graph.gelu"] == 1 and counts["graph.erf"] == 0 and counts["graph.mul"] == 0, counts
    gelu = next(op for op in module.main.walk() if op.name == "graph.gelu")
    assert gelu.attributes.get("approximate", "none") == "none"


@pytest.mark.parametrize("cube", ["pow", "xx_x", "x_xx"])
@pytest.mark.parametrize("sum_order", ["x_first", "cubic_first"])
@pytest.mark.parametrize("perm", list(itertools.permutations(range(3))))
def test_tanh_gelu_orders(cube, sum_order, perm):
    f = Fn()
    if cube == "pow":
        x3 = f.op("pow", "%x", f.const(3.0))
    elif cube == "xx_x":
        x3 = f.op("mul", f.op("mul", "%x", "%x"), "%x")
    else:
        x3 = f.op("mul", "%x", f.op("mul", "%x", "%x"))
    cubic = f.op("mul", f.const(0.044715), x3)
    inner = f.op("add", "%x", cubic) if sum_order == "x_first" else f.op("add", cubic, "%x")
    t = f.op("add", f.op("tanh", f.op("mul", inner, f.const(0.7978846))), f.const(1.0))
    factors = ["%x", f.const(0.5), t]
    out = _product(f, [factors[i] for i in perm], perm[0] % 2)
    counts, module = _canonicalize_and_compare(f.module(out))
    assert counts["graph.gelu"] == 1 and counts["graph.tanh"] == 0 and counts["graph.pow"] == 0, counts
    gelu = next(op for op in module.main.walk() if op.name == "graph.gelu")
    assert gelu.attributes["approximate"] == "tanh"


@pytest.mark.parametrize("case", ["x_over_2", "half_is_0.4", "other_x", "erf_plus_2"])
def test_gelu_near_misses_stay(case):
    f = Fn(inputs=("x", "y"))
    z = f.op("div", "%x", f.const(2.0 if case == "x_over_2" else 1.4142135))
    t = f.op("add", f.op("erf", z), f.const(2.0 if case == "erf_plus_2" else 1.0))
    x = "%y" if case == "other_x" else "%x"
    out = f.op("mul", f.op("mul", x, t), f.const(0.4 if case == "half_is_0.4" else 0.5))
    counts, _ = _canonicalize_and_compare(f.module(out))
    assert counts["graph.gelu"] == 0 and counts["graph.erf"] == 1, counts


def _layer_norm(f: Fn, square: str, axis: int = 1, var_of=None, divide: str = "div"):
    """(x - mean) / sqrt(var + 1e-5) over ``axis`` of a [2, 8] input, spelled as asked."""
    reduced = "tensor<2x1xf32>" if axis == 1 else "tensor<1x8xf32>"
    attrs = f" {{axes = [{axis}], keepdims = true}}"
    mean = f.op("reduce_mean", "%x", attrs=attrs, rt=reduced)
    d = f.op("sub", "%x", mean)
    d2 = d if var_of is None else f.op("sub", var_of, mean)
    sq = f.op("pow", d2, f.const(2.0)) if square == "pow" else f.op("mul", d2, d2)
    var = f.op("reduce_mean", sq, attrs=attrs, rt=reduced)
    std = f.op("sqrt", f.op("add", var, f.const(1e-5)))
    if divide == "div":
        return f.op("div", d, std)
    return f.op("mul", d, f.op("reciprocal", std))


@pytest.mark.parametrize("square", ["pow", "mul"])
@pytest.mark.parametrize("divide", ["div", "reciprocal"])
def test_layer_norm_spellings(square, divide):
    f = Fn()
    out = _layer_norm(f, square, divide=divide)
    counts, module = _canonicalize_and_compare(f.module(out))
    assert counts["graph.layer_norm"] == 1 and counts["graph.reduce_mean"] == 0, counts
    ln = next(op for op in module.main.walk() if op.name == "graph.layer_norm")
    assert ln.attributes["axis"] == 1 and ln.attributes["epsilon"] == 1e-05


def test_layer_norm_near_misses_stay():
    f = Fn(inputs=("x", "y"))
    out = _layer_norm(f, "mul", var_of="%y")       # the variance of another tensor
    counts, _ = _canonicalize_and_compare(f.module(out))
    assert counts["graph.layer_norm"] == 0, counts
    f = Fn()
    out = _layer_norm(f, "pow", axis=0)             # a leading axis: not a layer norm
    counts, _ = _canonicalize_and_compare(f.module(out))
    assert counts["graph.layer_norm"] == 0, counts


GUARD = """module {
  func @main(%scores: tensor<1x2x4xf32>, %m: tensor<1x4xi1>) -> (tensor<1x2x4xf32>) attributes {input_names = ["scores", "mask"], output_names = ["p"]} {
    %zero = graph.constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
    %fill = graph.constant {value = dense<FILL> : tensor<f32>} : () -> tensor<f32>
    %bias = graph.where %m, %zero, %fill : (tensor<1x4xi1>, tensor<f32>, tensor<f32>) -> tensor<1x4xf32>
    %x = graph.add %scores, %bias : (tensor<1x2x4xf32>, tensor<1x4xf32>) -> tensor<1x2x4xf32>
    %s = graph.softmax %x {axis = -1} : (tensor<1x2x4xf32>) -> tensor<1x2x4xf32>
    %n = graph.isnan %s : (tensor<1x2x4xf32>) -> tensor<1x2x4xi1>
    %g = graph.constant {value = dense<GUARD> : tensor<f32>} : () -> tensor<f32>
    %p = graph.where %n, %g, %s : (tensor<1x2x4xi1>, tensor<f32>, tensor<1x2x4xf32>) -> tensor<1x2x4xf32>
    func.return %p : (tensor<1x2x4xf32>) -> ()
  }
}
"""


@pytest.mark.parametrize("fill", ["-inf", "-3.4028234663852886e+38"])
def test_a_live_nan_guard_is_folded_into_softmax_not_dropped(fill):
    # Scores are a float input: nothing bounds them, so even the finite fill cannot prove the guard dead.
    module = lpfc.parse_module(GUARD.replace("FILL", fill).replace("GUARD", "0.0"))
    feeds = {"scores": np.ones((1, 2, 4), np.float32), "mask": np.zeros((1, 4), bool)}   # every key masked
    want = lpfc.interpret(module, feeds)["p"]
    counts, module = _canonicalize_and_compare(module)
    assert counts["graph.isnan"] == 0 and counts["graph.where"] == 1, counts
    sm = next(op for op in module.main.walk() if op.name == "graph.softmax")
    assert sm.attributes["nan_to_zero"] is True
    got = lpfc.interpret(module, feeds)["p"]
    np.testing.assert_array_equal(got, want)
    if fill == "-inf":
        assert np.all(got == 0)             # the guard's zeros, not NaN
    feeds["mask"][:] = True
    feeds["scores"][0, 0, 1] = np.inf       # +inf makes a NaN row too
    np.testing.assert_array_equal(lpfc.interpret(module, feeds)["p"], [[[0.0] * 4, [0.25] * 4]])


def test_a_where_that_is_not_the_guard_stays():
    module = lpfc.parse_module(GUARD.replace("FILL", "-inf").replace("GUARD", "1.0"))
    counts, module = _canonicalize_and_compare(module)
    assert counts["graph.isnan"] == 1 and counts["graph.where"] == 2, counts
    assert not any(op.attributes.get("nan_to_zero") for op in module.main.walk())


def test_bounds_hold_on_every_value_of_a_zoo_model():
    """FiniteBounds is sound: every value computed on real inputs lies within its bound."""
    module = lpfc.import_onnx(zoo.export("tiny-bert", "dynamo20"))
    Pipeline.parse(PIPELINE).run(module)
    fn = module.main
    bounds = FiniteBounds(fn)
    feeds = zoo.sample_inputs("tiny-bert")
    values = {a: feeds[n] for a, n in zip(fn.args, fn.input_names)}
    checked = 0
    for op in fn.body.ops:
        if op.name == "func.return":
            continue
        for r, out in zip(op.results, evaluate_op(op, [values[v] for v in op.operands])):
            values[r] = out
            b = bounds.of(r)
            if b is not None and out.dtype.kind == "f" and out.size:
                assert not np.isnan(out).any() and float(np.max(np.abs(out))) <= b, (op, b)
                checked += 1
    assert checked > 50
    softmaxes = [op for op in fn.walk() if op.name == "graph.softmax"]
    assert softmaxes and all(bounds.of(op.operands[0]) is not None for op in softmaxes)


def test_float_overflow_is_not_finite():
    # -3.4e38 + a score of magnitude 1e32 would round to -inf in float32: no bound then.
    f = Fn(shape=(4,))
    big = f.op("add", f.const(-3.4028234663852886e+38), f.const(-1e32))
    module = f.module(f.op("add", "%x", big))
    bounds = FiniteBounds(module.main)
    first, second = [op for op in module.main.walk() if op.name == "graph.add"]
    assert bounds.of(first.result) is None and bounds.of(second.result) is None
    assert bounds.of(module.main.args[0]) is None             # a float input: unknown


def test_finfo_min_plus_a_bounded_score_is_finite():
    f = Fn(shape=(4,))
    score = f.const(-1e4)            # -3.4e38 - 1e4 rounds back to -3.4e38 (the half-ulp there is ~1e31)
    module = f.module(f.op("add", score, f.const(-3.4028234663852886e+38)))
    bounds = FiniteBounds(module.main)
    add = next(op for op in module.main.walk() if op.name == "graph.add")
    assert bounds.of(add.result) == pytest.approx(3.4028234663852886e+38)


def test_canonicalize_leads_the_default_pipeline():
    assert DEFAULT_PIPELINE.split(",")[0] == "canonicalize"
