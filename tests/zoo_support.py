"""Shared by the tests that run zoo models: parameters with the right marks, and the comparison."""
import numpy as np
import pytest

from lpfc.testing import zoo


def zoo_param(model, *rest):
    """A pytest param for ``model`` (and variant...), marked ``zoo``, and ``slow`` for the large models."""
    marks = [pytest.mark.zoo] + ([pytest.mark.slow] if model in zoo.LARGE_MODELS else [])
    return pytest.param(model, *rest, marks=marks, id="-".join((model,) + rest))


def zoo_params(models=zoo.ALL_MODELS):
    """Every (model, variant) pair of the test matrix, as params."""
    return [zoo_param(m, v) for m, v in zoo.zoo_matrix(models)]


def assert_outputs_close(label, actual, expected, tolerance):
    """Same output names, shapes and dtypes, and max abs diff within ``tolerance``."""
    assert sorted(actual) == sorted(expected), f"{label}: outputs {sorted(actual)} != {sorted(expected)}"
    for name, want in expected.items():
        got = actual[name]
        assert got.shape == want.shape and got.dtype == want.dtype, f"{label} output {name!r}"
        diff = float(np.max(np.abs(got - want))) if want.size else 0.0
        assert diff <= tolerance, f"{label} output {name!r}: max abs diff {diff:.3g} > {tolerance}"
