"""The static memory plan: the arena placer (properties, with hypothesis) and plan_function's rules."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lpfc
from lpfc.codegen.memory_plan import (Buffer, align_up, live_bytes_lower_bound, plan_arena,
                                      plan_function)


# -- plan_arena ---------------------------------------------------------------------------------

_SIZES = st.one_of(st.just(0), st.integers(1, 4096), st.sampled_from([64, 1024, 1 << 20]))
_BUFFER = st.tuples(st.integers(0, 30), st.integers(0, 8), _SIZES, st.sampled_from([1, 4, 16, 64]))


def buffer_lists():
    """Up to 40 buffers over 30 op indices: (first, lifetime length, size, alignment)."""
    return st.lists(_BUFFER, max_size=40).map(
        lambda rows: [Buffer(size, first, first + length, align, f"b{i}")
                      for i, (first, length, size, align) in enumerate(rows)])


@given(buffer_lists())
@settings(max_examples=200, deadline=None)
def test_plan_is_valid_and_between_its_bounds(buffers):
    plan = plan_arena(buffers)
    plan.check(buffers)  # no two buffers alive together share a byte; offsets aligned
    # Independent re-check of the overlap property, pair by pair.
    for i, a in enumerate(buffers):
        for j in range(i):
            b = buffers[j]
            if a.size and b.size and a.overlaps_in_time(b):
                oa, ob = plan.offsets[i], plan.offsets[j]
                assert oa + a.size <= ob or ob + b.size <= oa
    assert plan.lower_bound_bytes <= plan.peak_bytes <= plan.naive_bytes
    assert plan.peak_bytes == max((o + b.size for o, b in zip(plan.offsets, buffers) if b.size), default=0)


@given(buffer_lists())
@settings(max_examples=50, deadline=None)
def test_disjoint_lifetimes_share_memory(buffers):
    """Buffers alive one after another (a chain) need only the largest of them."""
    chain = [Buffer(b.size, i, i, 64) for i, b in enumerate(buffers)]
    plan = plan_arena(chain)
    assert plan.peak_bytes == max((b.size for b in chain), default=0)


def test_lower_bound_is_reached_on_a_simple_chain():
    # a -> b -> c -> d, each op reading only the previous result: two buffers alive at a time.
    sizes = [1000, 4000, 2000, 500]
    buffers = [Buffer(s, i, i + 1) for i, s in enumerate(sizes)]
    plan = plan_arena(buffers)
    assert plan.lower_bound_bytes == 6000
    assert plan.peak_bytes <= align_up(4000, 64) + align_up(2000, 64)
    plan.check(buffers)


def test_best_fit_takes_the_smallest_gap():
    # Two long-lived buffers leave gaps of 256 and 1024 bytes between three fixed blocks;
    # a 200-byte buffer alive at the same time goes into the 256-byte gap.
    big = Buffer(4096, 0, 10, name="big")
    pillar1 = Buffer(256, 0, 1, name="p1")     # dies early: frees [4096, 4352)
    wall = Buffer(2048, 0, 10, name="wall")
    pillar2 = Buffer(1024, 0, 1, name="p2")
    small = Buffer(200, 5, 6, name="small")
    buffers = [big, pillar1, wall, pillar2, small]
    plan = plan_arena(buffers)
    plan.check(buffers)
    assert plan.peak_bytes == plan.lower_bound_bytes == 4096 + 2048 + 1024 + 256


def test_bad_buffers_are_refused():
    with pytest.raises(ValueError):
        Buffer(-1, 0, 0)
    with pytest.raises(ValueError):
        Buffer(8, 3, 2)
    with pytest.raises(ValueError):
        Buffer(8, 0, 0, alignment=48)


def test_check_catches_an_overlap():
    buffers = [Buffer(128, 0, 2, name="a"), Buffer(128, 1, 3, name="b")]
    plan = plan_arena(buffers)
    bad = type(plan)((0, 64), plan.peak_bytes, plan.naive_bytes, plan.lower_bound_bytes)
    with pytest.raises(ValueError, match="overlap while both are alive"):
        bad.check(buffers)


def test_live_bytes_lower_bound():
    assert live_bytes_lower_bound([]) == 0
    assert live_bytes_lower_bound([Buffer(10, 0, 1), Buffer(20, 1, 2), Buffer(40, 2, 2)]) == 60


# -- plan_function ------------------------------------------------------------------------------

IR = """
module {
  func @main(%x: tensor<4x8xf32>, %m: tensor<4x8xf32>) -> (tensor<32xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) attributes {input_names = ["x", "m"], output_names = ["flat", "same", "echo", "w"]} {
    %w = graph.constant {value = dense<0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
    %a = graph.mul %x, %w : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
    %b = graph.relu %a : (tensor<4x8xf32>) -> tensor<4x8xf32>
    %r = graph.reshape %b {shape = [32]} : (tensor<4x8xf32>) -> tensor<32xf32>
    %c = graph.exp %r : (tensor<32xf32>) -> tensor<32xf32>
    %p, %q = graph.split %c {axis = 0, sizes = [16, 16]} : (tensor<32xf32>) -> (tensor<16xf32>, tensor<16xf32>)
    %s = graph.add %p, %q : (tensor<16xf32>, tensor<16xf32>) -> tensor<16xf32>
    %f = graph.reshape %s {shape = [16]} : (tensor<16xf32>) -> tensor<16xf32>
    %g = graph.concat %f, %f {axis = 0} : (tensor<16xf32>, tensor<16xf32>) -> tensor<32xf32>
    %o = graph.reshape %g {shape = [4, 8]} : (tensor<32xf32>) -> tensor<4x8xf32>
    %xv = graph.reshape %x {shape = [4, 8]} : (tensor<4x8xf32>) -> tensor<4x8xf32>
    func.return %g, %o, %xv, %w : (tensor<32xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) -> ()
  }
}
"""


def _named(fn):
    values = {}
    for a in fn.args:
        values[a.name_hint] = a
    for op in fn.ops:
        for r in op.results:
            values[r.name_hint] = r
    return values


def test_plan_function_rules():
    fn = lpfc.parse_module(IR).main
    plan = plan_function(fn)
    v = _named(fn)
    kind = {name: plan.storage[val].kind for name, val in v.items()}
    assert kind["x"] == kind["m"] == kind["xv"] == "input"   # inputs and their views: the caller's buffers
    assert kind["w"] == "weight"
    # g is output 0 and o (a view of g) output 1: both live in the caller's buffer of output 0,
    # so g's producer writes there directly and output 1 gets a copy; echo (an input) and w too.
    assert plan.storage[v["g"]].kind == plan.storage[v["o"]].kind == "output"
    assert plan.storage[v["g"]].index == 0
    assert [j for j, _ in plan.output_copies] == [1, 2, 3]
    # Arena: a, b (+ its view r), c, p, q, s (+ its view f); views share their operand's storage.
    assert plan.storage[v["r"]] == plan.storage[v["b"]]
    assert plan.storage[v["f"]] == plan.storage[v["s"]]
    arena_names = {b.name for b in plan.buffers}
    assert arena_names == {"a", "b", "c", "p", "q", "s"}
    by_name = {b.name: b for b in plan.buffers}
    # b's lifetime runs through its view r's last use (exp at op 4).
    assert (by_name["b"].first, by_name["b"].last) == (2, 4)
    # s is read through its view f by concat (op 8).
    assert (by_name["s"].first, by_name["s"].last) == (6, 8)
    plan.arena.check(plan.buffers)
    assert plan.arena_bytes == plan.arena.lower_bound_bytes == 128 + 128  # two 128-byte tensors alive at once
    assert "intermediate tensors" in plan.summary()


def test_dead_result_still_gets_bytes():
    fn = lpfc.parse_module("""
module {
  func @main(%x: tensor<8xf32>) -> (tensor<4xf32>) attributes {input_names = ["x"], output_names = ["y"]} {
    %p, %q = graph.split %x {axis = 0, sizes = [4, 4]} : (tensor<8xf32>) -> (tensor<4xf32>, tensor<4xf32>)
    %y = graph.neg %p : (tensor<4xf32>) -> tensor<4xf32>
    func.return %y : (tensor<4xf32>) -> ()
  }
}""").main
    plan = plan_function(fn)
    q = fn.ops[0].results[1]
    assert plan.storage[q].kind == "arena"
    assert plan.buffers[plan.storage[q].buffer].first == plan.buffers[plan.storage[q].buffer].last == 0
    assert plan.output_copies == []


@pytest.mark.zoo
def test_minilm_plan():
    from lpfc.testing import zoo
    module = lpfc.import_onnx(zoo.export("minilm", "dynamo20"))
    plan = plan_function(module.main)
    plan.arena.check(plan.buffers)
    a = plan.arena
    assert a.lower_bound_bytes <= a.peak_bytes <= a.naive_bytes
    # Reuse matters: far less than one slot per intermediate, and close to the lower bound.
    assert a.peak_bytes < a.naive_bytes / 10
    assert a.peak_bytes <= 1.25 * a.lower_bound_bytes
    assert all(plan.storage[v].kind == "output" for v in module.main.outputs)
    assert {plan.storage[a].kind for a in module.main.args} == {"input"}
