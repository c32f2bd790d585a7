"""bench/qa_litert.check: LiteRT's QA logits are compared with onnxruntime's before any timing."""
import numpy as np
import pytest

from bench.qa_litert import TOL, check

REF = {"start_logits": np.linspace(-5, 5, 384, dtype=np.float32)[None],
       "end_logits": np.linspace(4, -4, 384, dtype=np.float32)[None]}


def test_matching_outputs_pass_by_order_when_names_differ():
    got = {"Identity": REF["start_logits"] + 1e-5, "Identity_1": REF["end_logits"] - 1e-5}
    c = check(got, REF)
    assert c["ok"] and c["same_argmax"]
    assert 0 < c["max_abs_diff"] < 2e-5


def test_outputs_are_matched_by_name_first():
    got = {"serving_default_end_logits:0": REF["end_logits"], "serving_default_start_logits:0": REF["start_logits"]}
    assert check(got, REF)["max_abs_diff"] == 0.0


def test_swapped_or_wrong_logits_fail():
    swapped = {"Identity": REF["end_logits"], "Identity_1": REF["start_logits"]}
    c = check(swapped, REF)
    assert not c["ok"] and not c["same_argmax"]
    off = {"Identity": REF["start_logits"] + 0.1, "Identity_1": REF["end_logits"]}
    c = check(off, REF)
    assert not c["ok"]
    assert abs(c["scaled_diff"] - 0.1 / 5) < 1e-6  # scaled by max(1, max |ref|) = 5


def test_tolerance_is_relative_to_the_largest_logit():
    got = {"a": REF["start_logits"] + 4 * TOL, "b": REF["end_logits"]}  # 4e-3 / 5 <= 1e-3
    assert check(got, REF)["ok"]


@pytest.mark.slow
def test_the_eager_export_for_litert_is_made_once_per_weights(tiny_run):
    """The export onnx2tf converts (dynamo, eager attention, 384 tokens) is cached by the weights' stamp."""
    import onnx

    from bench.qa_litert import eager_onnx
    path = eager_onnx(tiny_run / "model")
    stamp = path.stat().st_mtime_ns
    assert [d.dim_value for d in onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim] == [1, 384]
    assert eager_onnx(tiny_run / "model") == path and path.stat().st_mtime_ns == stamp
