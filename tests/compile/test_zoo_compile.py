"""Every zoo model, both exporters, compiled for the host (fused and --no-fusion) and matched against
onnxruntime (max abs diff <= 1e-3); a sanitized (ASan + UBSan) build of tiny-bert runs clean.

Each library is deleted after its test (BERT-base's is 436 MB). The large models are `slow`.
"""
import shutil

import numpy as np
import pytest

import lpfc
from lpfc.codegen.toolchain import compile_executable, find_toolchain, run_program, sanitizer_problem
from lpfc.errors import UnsupportedError
from lpfc.testing import zoo

from .test_capi import ROOT

TOLERANCE = 1e-3
FAST = ("tiny-bert", "tiny-gpt2", "minilm")


def _compile(directory, model, variant, fusion):
    try:
        return lpfc.compile(zoo.export(model, variant), directory / "libmodel.so", fusion=fusion)
    except UnsupportedError as e:
        if "no kernel emitter" in str(e):
            pytest.skip(f"not compilable yet: {e}")
        raise


def _params():
    out = []
    for model, variant in zoo.zoo_matrix():
        if variant not in zoo.DEFAULT_VARIANTS:
            continue
        for fusion in (True, False):
            marks = [pytest.mark.zoo]
            if model not in FAST or (model == "minilm" and not fusion):
                marks.append(pytest.mark.slow)
            out.append(pytest.param(model, variant, fusion, marks=marks,
                                    id=f"{model}-{variant}-{'fused' if fusion else 'nofusion'}"))
    return out


@pytest.mark.parametrize("model, variant, fusion", _params())
def test_compiled_zoo_model_matches_onnxruntime(tmp_path, record_property, model, variant, fusion):
    result = _compile(tmp_path, model, variant, fusion)
    feeds = zoo.sample_inputs(model)
    expected = zoo.reference_outputs(zoo.model_path(model, variant), feeds)
    sess = lpfc.load(result.library, threads=2)
    actual = sess.run(feeds)
    sess.close()
    shutil.rmtree(tmp_path, ignore_errors=True)  # the mapping stays valid; the disk space comes back at exit
    assert sorted(actual) == sorted(expected)
    worst = 0.0
    for name, want in expected.items():
        got = actual[name]
        assert got.shape == want.shape and got.dtype == want.dtype, name
        diff = float(np.max(np.abs(got.astype(np.float64) - want)))
        assert diff <= TOLERANCE, f"{model}-{variant} output {name!r}: max abs diff {diff:.3g} > {TOLERANCE}"
        worst = max(worst, diff)
    record_property("terminal_summary", f"compiled {model}-{variant} {'fused' if fusion else 'no-fusion'}: "
                    f"{result.kernels} kernels, max abs diff vs onnxruntime {worst:.2e}")


@pytest.mark.zoo
def test_tiny_bert_under_asan_and_ubsan(tmp_path):
    tc = find_toolchain("host")
    problem = sanitizer_problem(tc)
    if problem:
        pytest.skip(f"SANITIZERS UNAVAILABLE: {problem}")
    try:
        result = lpfc.compile(zoo.export("tiny-bert", "dynamo20"), tmp_path / "libmodel.so",
                              emit_source=tmp_path / "src")
    except UnsupportedError as e:
        pytest.skip(f"not compilable yet: {e}")
    sources = sorted(result.source_dir.glob("*.cc"))  # the package's src/: -I it for .incbin "weights.bin"
    exe = compile_executable(tc, [*sources, ROOT / "examples" / "c_host" / "main.c"], tmp_path / "host-asan",
                             include_dirs=[tmp_path, result.source_dir], with_runtime=True,
                             sanitize=("address", "undefined"))
    feeds = zoo.sample_inputs("tiny-bert")
    sess = lpfc.load(result.library)
    args = [exe, "--threads", "2"]
    for i in sess.get_inputs():
        f = tmp_path / f"in{len(args)}.bin"
        feeds[i.name].tofile(f)
        args += ["--in", f]
    outs = []
    for j, o in enumerate(sess.get_outputs()):
        outs.append(tmp_path / f"out{j}.bin")
        args += ["--out", outs[-1]]
    r = run_program(tc, args, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr[-4000:]
    assert "ERROR: AddressSanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr[-4000:]
    want = sess.run(feeds)
    for o, f in zip(sess.get_outputs(), outs):
        got = np.fromfile(f, o.dtype).reshape(o.shape)
        np.testing.assert_allclose(got, want[o.name], rtol=1e-3, atol=1e-3)
