"""Zoo models compiled for arm64-linux and run under qemu-aarch64 through ``lpfc run libmodel.so``
(the test driver built next to the library), against onnxruntime.

With the NEON kernels the large models take one to two minutes each under qemu on the 2-core VM
(whole cases, quiet machine, -n 2: GPT-2 117 s, BERT-base ts14 117 s, dynamo20 111 s, DistilBERT
64 s, MobileBERT 38 s; 3 min 52 s for the five), so they run in the full suite, marked slow. BERT-base's
dynamo export is marked heavy (``make test-heavy``): both exporters' BERT-base canonicalize to the same
op counts (tests/passes/test_canonicalize.py) and both match onnxruntime compiled for the host, so
under qemu it would repeat the ts14 case at ~3 minutes of the suite's time.
"""
import numpy as np
import pytest

import lpfc
from lpfc.cli import main
from lpfc.testing import zoo

from ..arm64_support import arm64_toolchain_or_skip
from ..zoo_support import assert_outputs_close, zoo_param

TOLERANCE = 1e-3


def _slow(model, variant, *more):
    return pytest.param(model, variant, marks=[pytest.mark.zoo, pytest.mark.slow, *more], id=f"{model}-{variant}")


CASES = [zoo_param("tiny-bert", "dynamo20"), zoo_param("tiny-gpt2", "dynamo20"),
         zoo_param("minilm", "dynamo20"), zoo_param("minilm", "ts14"),
         _slow("bert-base", "ts14"), _slow("bert-base", "dynamo20", pytest.mark.heavy), _slow("distilbert", "dynamo20"),
         _slow("gpt2", "dynamo20"), _slow("mobilebert", "dynamo20")]


@pytest.fixture(scope="module")
def arm64():
    return arm64_toolchain_or_skip()


@pytest.mark.parametrize("model, variant", CASES)
def test_zoo_model_under_qemu_through_lpfc_run(arm64, model, variant, tmp_path, capsys, record_property):
    path = zoo.export(model, variant)
    feeds = zoo.sample_inputs(model)
    expected = zoo.reference_outputs(path, feeds)
    result = lpfc.compile(path, tmp_path / "libmodel.so", target="arm64-linux")
    assert result.driver is not None and result.driver.is_file()
    np.savez(tmp_path / "feed.npz", **feeds)
    out = tmp_path / "out.npz"
    assert main(["run", str(result.library), "--inputs", str(tmp_path / "feed.npz"), "--outputs", str(out),
                 "--threads", "2"]) == 0
    err = capsys.readouterr().err
    assert "running under qemu-aarch64 (2 threads)" in err, err
    with np.load(out) as z:
        got = dict(z)
    assert_outputs_close(f"{model}-{variant} arm64 under qemu", got, expected, TOLERANCE)
    worst = max(float(np.abs(got[k] - expected[k]).max()) for k in expected)
    record_property("terminal_summary", f"arm64 under qemu {model}-{variant}: max abs diff vs onnxruntime "
                    f"{worst:.2e}")


@pytest.mark.zoo
def test_profile_of_an_arm64_library_is_refused_clearly(arm64, tmp_path):
    """Per-kernel times under an emulator say nothing about the phone: profile() refuses and names the
    instruction counter instead; the same session still runs the model."""
    from lpfc.errors import ModelLoadError

    path = zoo.export("tiny-bert", "dynamo20")
    feeds = zoo.sample_inputs("tiny-bert")
    result = lpfc.compile(path, tmp_path / "libtiny.so", target="arm64-linux")
    sess = lpfc.load(result.library)
    with pytest.raises(ModelLoadError, match="aarch64 library run under qemu-aarch64") as e:
        sess.profile(feeds, runs=1)
    assert "qemu_icount" in str(e.value)
    assert set(sess.run(feeds)) == set(zoo.reference_outputs(path, feeds))
