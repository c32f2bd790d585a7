"""Expected failures of the ONNX backend node tests (``test_node.py``), one reason each.

Each entry is a case that lpfc rejects with an :class:`~lpfc.errors.LpfcError`
because it uses something lpfc does not support; ``test_node.py`` marks it
``xfail(strict=True)``, so a case that starts passing fails the suite until its
entry is removed here.  Only cases the suite selects (every op imported by lpfc)
may be listed; ``test_expected_failures_are_selected_cases`` checks that.
"""

_OPSETS = "lpfc supports opsets 13-21 (onnx_loader.MIN_OPSET..MAX_OPSET)"


def _opset(version: int, names: str) -> dict:
    """Cases whose model imports ai.onnx at ``version``, outside lpfc's range."""
    if version < 13:
        why = f"opset {version} model: {_OPSETS}; the test pins an opset older than lpfc's minimum"
    else:
        why = f"opset {version} model: {_OPSETS}; the test pins the op's opset-{version} schema"
    return dict.fromkeys(names.split(), why)


EXPECTED_FAILURES: dict[str, str] = {
    # -- features lpfc does not support ---------------------------------------------------------------
    "test_batchnorm_epsilon_training_mode": "BatchNormalization training_mode=1 (batch statistics, running-mean "
                                            "outputs): lpfc imports inference graphs only",
    "test_batchnorm_example_training_mode": "BatchNormalization training_mode=1 (batch statistics, running-mean "
                                            "outputs): lpfc imports inference graphs only",
    "test_equal_string": "string tensors unsupported (STRING graph inputs)",
    "test_equal_string_broadcast": "string tensors unsupported (STRING graph inputs)",
    "test_identity_opt": "optional-typed graph input (optional(seq(tensor))) unsupported: lpfc values are tensors",
}
