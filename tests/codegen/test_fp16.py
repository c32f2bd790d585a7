"""``--precision fp16`` (docs/fp16.md): half-precision GEMM weights and FP16 arithmetic on NEON (run under qemu),
half weights on OpenCL (PoCL), one clear error where there are no fp16 kernels; outputs against the numpy
interpreter within the documented tolerance.

Tolerance (docs/fp16.md): ``|got - want| <= FP16_RTOL * max|want| + 1e-4`` per output.  fp16 rounds each weight
and activation to 11 significant bits (relative 4.9e-4); the products and sums of 16 of them are fp16, the sum
over K is fp32, so a GEMM's error is a few 1e-4 of the size of its terms; through a transformer's layers
(LayerNorm renormalises each) the measured error stays below 1e-2 of the output's range."""
import numpy as np
import pytest
from onnx import helper, numpy_helper

import lpfc
from lpfc.cli import main
from lpfc.codegen.toolchain import find_toolchain
from lpfc.errors import ToolchainError, UnsupportedError
from lpfc.frontend.load import load_module
from lpfc.interp import run_module

from ..frontend.onnx_builders import make, save, vi

#: the documented fp16 tolerance, relative to the largest reference value of each output (docs/fp16.md)
FP16_RTOL = 1e-2


def _gemm_model(M=37, K=70, N=45, layer_norm=True):
    """y = gelu(x @ W + b) + r, z = LayerNorm(y): every edge of the 8 x 8 tiles and a K that is no multiple of
    16 (the fp16 partial sums) nor of the K blocks."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal((K, N)).astype(np.float32) * 0.3
    b = rng.standard_normal(N).astype(np.float32)
    g = rng.standard_normal(N).astype(np.float32)
    inits = [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "b"), numpy_helper.from_array(g, "g"),
             numpy_helper.from_array(b, "beta")]
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Add", ["h", "b"], ["hb"]),
             helper.make_node("Relu", ["hb"], ["a"]), helper.make_node("Add", ["a", "r"], ["y"])]
    outs = [vi("y", [M, N])]
    if layer_norm:
        nodes.append(helper.make_node("LayerNormalization", ["y", "g", "beta"], ["z"], epsilon=1e-5))
        outs.append(vi("z", [M, N]))
    model = make(nodes, [vi("x", [M, K]), vi("r", [M, N])], outs, inits)
    feeds = {"x": rng.standard_normal((M, K)).astype(np.float32), "r": rng.standard_normal((M, N)).astype(np.float32)}
    return model, feeds


def assert_fp16_close(what, got, want):
    for k, ref in want.items():
        err = float(np.max(np.abs(got[k].astype(np.float64) - ref)))
        bound = FP16_RTOL * float(np.max(np.abs(ref))) + 1e-4
        assert err <= bound, f"{what}: output {k}: max abs error {err:.3g} > {bound:.3g}"


def _arm64():
    try:
        tc = find_toolchain("arm64-linux")
    except ToolchainError as e:
        pytest.skip(f"NO ARM64 TOOLCHAIN: {e}")
    return tc


def test_fp16_on_the_host_target_is_one_clear_error(tmp_path, capsys):
    model, _ = _gemm_model()
    path = save(model, tmp_path / "g.onnx")
    with pytest.raises(UnsupportedError, match="fp16 kernels for the arm64 targets"):
        lpfc.compile(path, tmp_path / "libg.so", precision="fp16")
    with pytest.raises(lpfc.InputError, match="precision 'fp8' is not one of fp32, fp16, int8"):
        lpfc.compile(path, tmp_path / "libg.so", precision="fp8")
    assert main(["compile", str(path), "-o", str(tmp_path / "libg.so"), "--precision", "fp16", "-q"]) == 1
    err = capsys.readouterr().err
    assert "--precision fp16 is not available for target 'host'" in err and "Traceback" not in err
    assert not (tmp_path / "libg.so").exists()


def test_fp16_needs_a_cpu_with_fp16_arithmetic(tmp_path):
    _arm64()
    model, _ = _gemm_model()
    with pytest.raises(UnsupportedError, match="cortex-a53 does not have"):
        lpfc.compile(save(model, tmp_path / "g.onnx"), output=None, emit_source=tmp_path / "src",
                     target="arm64-linux", cpu="cortex-a53", precision="fp16")


def test_fp16_sources_store_half_weights(tmp_path):
    model, _ = _gemm_model(M=8, K=256, N=512, layer_norm=False)
    path = save(model, tmp_path / "g.onnx")
    sizes = {}
    for prec in ("fp32", "fp16"):
        res = lpfc.compile(path, output=None, emit_source=tmp_path / prec, target="arm64-linux", precision=prec)
        sizes[prec] = (res.source_dir / "weights.bin").stat().st_size
        kernels = "".join(p.read_text() for p in res.source_dir.glob("kernels_*.cc"))
        assert ("lpfc_neon_gemm_f16::run<" in kernels) == (prec == "fp16")
    # the 256 x 512 weight is 512 KiB in fp32, 256 KiB in fp16 (the bias stays fp32)
    assert sizes["fp16"] < 0.55 * sizes["fp32"], sizes


@pytest.mark.slow
@pytest.mark.parametrize("M", [37, 1], ids=["fp16-kernel", "one-row"])
def test_fp16_gemm_under_qemu_against_the_interpreter(tmp_path, M):
    """37 rows: the FP16-arithmetic micro-kernel; one row (a decode step): the one-row driver over fp16
    panels, fp32 arithmetic."""
    tc = _arm64()
    if not tc.can_run:
        pytest.skip(f"ARM64 PROGRAMS CANNOT RUN HERE: {tc.run_problem}")
    model, feeds = _gemm_model(M=M, K=700, N=300)
    path = save(model, tmp_path / "g.onnx")
    want = run_module(load_module(str(path)), feeds)
    res = lpfc.compile(path, tmp_path / "libg.so", target="arm64-linux", precision="fp16")
    with lpfc.load(res.library, threads=2) as s:
        got = s.run(feeds)
    assert_fp16_close(f"fp16 GEMM M={M} (arm64, qemu)", got, want)
    # ... and really in half precision: the result differs from fp32 by more than fp32 rounding would
    assert np.max(np.abs(got["y"] - want["y"])) > 1e-5


@pytest.mark.slow
def test_fp16_tiny_bert_under_qemu_against_the_interpreter(tmp_path):
    from lpfc.testing import zoo

    tc = _arm64()
    if not tc.can_run:
        pytest.skip(f"ARM64 PROGRAMS CANNOT RUN HERE: {tc.run_problem}")
    path = zoo.export("tiny-bert", "dynamo20")
    feeds = zoo.sample_inputs("tiny-bert")
    want = run_module(load_module(str(path)), feeds)
    res = lpfc.compile(path, tmp_path / "libt.so", target="arm64-linux", precision="fp16")
    with lpfc.load(res.library, threads=2) as s:
        got = s.run(feeds)
    assert_fp16_close("fp16 tiny-bert (arm64, qemu)", got, want)


@pytest.mark.slow
def test_fp16_weights_on_opencl_against_the_interpreter(tmp_path, monkeypatch):
    from ..opencl.support import opencl_or_skip

    opencl_or_skip()
    monkeypatch.setenv("LPFC_OPENCL_CACHE_DIR", str(tmp_path / "clcache"))
    model, feeds = _gemm_model()
    path = save(model, tmp_path / "g.onnx")
    want = run_module(load_module(str(path)), feeds)
    res = lpfc.compile(path, tmp_path / "libg.so", target="opencl", precision="fp16", emit_source=tmp_path / "src")
    assert "vload_half4" in (tmp_path / "src" / "src" / "kernels.cl").read_text()
    with lpfc.load(res.library) as s:
        got = s.run(feeds)
    assert_fp16_close("fp16 weights (opencl)", got, want)
    assert np.max(np.abs(got["y"] - want["y"])) > 1e-5




def test_fp16_halves_tiny_berts_weights_embeddings_included(tmp_path):
    from lpfc.testing import zoo

    path = zoo.export("tiny-bert", "dynamo20")
    sizes = {}
    for prec in ("fp32", "fp16"):
        res = lpfc.compile(path, output=None, emit_source=tmp_path / prec, target="arm64-linux", precision=prec)
        sizes[prec] = (res.source_dir / "weights.bin").stat().st_size
        kernels = "".join(p.read_text() for p in res.source_dir.glob("kernels_*.cc"))
        assert ("lpfc_f16io::load(" in kernels) == (prec == "fp16")     # the embedding tables' half rows
    assert sizes["fp16"] < 0.55 * sizes["fp32"], sizes


@pytest.mark.parametrize("M,variant", [(1, "neon gemv 1x12 "), (37, "neon fp16 8x8 ")])
def test_fp16_precision_picks_the_one_row_driver_for_one_row(M, variant):
    """--precision fp16: a one-row GEMM (a decode step) reads fp16 panels in the one-row driver with fp32
    arithmetic; any other takes the FP16-arithmetic micro-kernel. Both pack half weights."""
    import dataclasses

    from lpfc.codegen import cpp_gemm

    from .cpp_harness import kernel_target
    from .test_cpp_gemm import gemm_block

    target = dataclasses.replace(kernel_target("arm64-linux"), precision="fp16")
    op = gemm_block(M, 64, 40, [])
    ks = cpp_gemm.GEMM_EMITTER.emit(op, target, "k")
    assert ks.variant.startswith(variant), ks.variant
    assert ks.packed[1](np.ones(op.operands[1].type.shape, np.float32)).dtype == np.float16


@pytest.mark.parametrize("pack", ["gemm", "opencl", "table"])
def test_half_weights_beyond_fp16s_range_are_refused(pack):
    """Every fp16 store of constant weights (NEON GEMM panels, OpenCL tiles, gather tables) refuses a value beyond
    65504 with one error naming it, instead of writing infinity; values within range round to fp16."""
    from lpfc.codegen import cpp_gemm, cpp_rowwise, ocl_gemm
    packers = {"gemm": lambda w: cpp_gemm.pack_b_half(w, nr=8, trans_b=False, alpha=1.0),
               "opencl": lambda w: ocl_gemm.pack_b_tiles_f16(w, kp=8, np_=8, trans_b=False, alpha=1.0),
               "table": cpp_rowwise.pack_table_f16}
    ok = np.full((4, 8), 0.1, np.float32)
    assert packers[pack](ok).dtype == np.float16
    big = ok.copy()
    big[2, 3] = 1e5
    with pytest.raises(UnsupportedError, match="outside fp16's range"):
        packers[pack](big)
