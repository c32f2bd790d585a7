"""Every zoo model x exporter: imported, verified, round-tripped through text,
interpreted, and matched against onnxruntime on every output."""
import pytest

import lpfc
from lpfc.ir import collect_resources
from lpfc.testing import zoo

from ..zoo_support import assert_outputs_close, zoo_params

TOLERANCE = 1e-4


@pytest.mark.parametrize("model, variant", zoo_params())
def test_zoo_model_matches_onnxruntime(model, variant):
    path = zoo.export(model, variant)
    module = lpfc.import_onnx(path)
    lpfc.verify(module)

    text = lpfc.print_module(module, resources="none")
    reparsed = lpfc.parse_module(text, collect_resources(module))
    lpfc.verify(reparsed)
    assert lpfc.print_module(reparsed, resources="none") == text

    # Every shape is static after import.
    for op in module.main.walk():
        for r in op.results:
            assert all(isinstance(d, int) and d >= 0 for d in r.type.shape)

    feeds = zoo.sample_inputs(model)
    expected = zoo.reference_outputs(path, feeds)
    actual = lpfc.interpret(reparsed, feeds)
    assert_outputs_close(f"{model}-{variant}", actual, expected, TOLERANCE)


@pytest.mark.zoo
def test_zoo_exports_another_sequence_length(tmp_path):
    """seq_len gives its own file, fingerprint and inputs; the default length keeps its old name."""
    assert zoo.model_path("tiny-bert", "dynamo20", tmp_path) == tmp_path / "tiny-bert-dynamo20.onnx"
    assert zoo.fingerprint("tiny-bert", "dynamo20", 128) == zoo.fingerprint("tiny-bert", "dynamo20")
    assert zoo.fingerprint("tiny-bert", "dynamo20", 32)["seq_len"] == 32
    feeds = zoo.sample_inputs("tiny-bert", seq_len=32)
    assert all(v.shape == (1, 32) for v in feeds.values())
    assert feeds["attention_mask"][0, 32 - zoo.PAD_LEN:].sum() == 0
    path = zoo.export("tiny-bert", "dynamo20", cache=tmp_path, seq_len=32)
    assert path.name == "tiny-bert-dynamo20-s32.onnx"
    assert zoo.is_cached("tiny-bert", "dynamo20", tmp_path, seq_len=32)
    assert not zoo.is_cached("tiny-bert", "dynamo20", tmp_path)
    expected = zoo.reference_outputs(path, feeds)
    actual = lpfc.interpret(lpfc.import_onnx(path), feeds)
    assert_outputs_close("tiny-bert-dynamo20-s32", actual, expected, TOLERANCE)
    with pytest.raises(zoo.ZooError, match="at most 128 positions"):
        zoo.export("tiny-bert", "dynamo20", cache=tmp_path, seq_len=256)
    with pytest.raises(zoo.ZooError, match="sequence length"):
        zoo.sample_inputs("tiny-bert", seq_len=8)
