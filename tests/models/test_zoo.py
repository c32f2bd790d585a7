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
