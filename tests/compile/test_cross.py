"""Cross compilation: tiny-bert compiled for arm64-linux, run through the example C host under qemu,
matches onnxruntime."""
import numpy as np
import pytest

import lpfc
from lpfc.codegen.toolchain import compile_executable, find_toolchain, run_program
from lpfc.errors import ToolchainError
from lpfc.testing import zoo

from .test_capi import ROOT


@pytest.mark.zoo
def test_tiny_bert_for_arm64_linux_under_qemu(tmp_path):
    try:
        tc = find_toolchain("arm64-linux")
    except ToolchainError as e:
        pytest.skip(f"no arm64-linux toolchain: {e}")
    if not tc.can_run:
        pytest.skip(f"arm64-linux programs cannot run here: {tc.run_problem}")
    path = zoo.export("tiny-bert", "dynamo20")
    result = lpfc.compile(path, tmp_path / "libmodel.so", target="arm64-linux")
    exe = compile_executable(tc, [ROOT / "examples" / "c_host" / "main.c"], tmp_path / "host",
                             include_dirs=[tmp_path], link_flags=[str(result.library), f"-Wl,-rpath,{tmp_path}"])
    feeds = zoo.sample_inputs("tiny-bert")
    expected = zoo.reference_outputs(path, feeds)
    names = lpfc.import_onnx(path).main.input_names  # the library's input order
    args = [exe, "--threads", "2"]
    for n in names:
        feeds[n].tofile(tmp_path / f"{n}.bin")
        args += ["--in", tmp_path / f"{n}.bin"]
    outs = list(expected)
    for j, _ in enumerate(outs):
        args += ["--out", tmp_path / f"out{j}.bin"]
    r = run_program(tc, args, timeout=300)
    assert r.returncode == 0, r.stderr
    for j, name in enumerate(outs):
        got = np.fromfile(tmp_path / f"out{j}.bin", np.float32).reshape(expected[name].shape)
        assert float(np.abs(got - expected[name]).max()) <= 1e-3, name
