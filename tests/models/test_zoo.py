"""Every zoo model x exporter: imported, verified, round-tripped through text,
interpreted, and matched against onnxruntime on every output."""
import numpy as np
import pytest

import lpfc
from lpfc.ir import collect_resources
from lpfc.testing import zoo

TOLERANCE = 1e-4


def _param(model, variant):
    marks = [pytest.mark.zoo]
    if model in zoo.LARGE_MODELS:
        marks.append(pytest.mark.slow)
    return pytest.param(model, variant, marks=marks, id=f"{model}-{variant}")


@pytest.mark.parametrize("model, variant", [_param(m, v) for m, v in zoo.zoo_matrix()])
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
    assert sorted(actual) == sorted(expected)
    for name, want in expected.items():
        got = actual[name]
        assert got.shape == want.shape and got.dtype == want.dtype, name
        diff = float(np.max(np.abs(got - want)))
        assert diff <= TOLERANCE, f"{model}-{variant} output {name!r}: max abs diff {diff:.3g} > {TOLERANCE}"
