"""The opencl target on the machine's OpenCL device (PoCL here): kernels, host glue, zoo models.

Skipped, loudly, when no OpenCL device is found.  PoCL compiles every kernel with LLVM at first use;
the program binaries are cached (the runtime's cache, pointed at a per-session directory here, and
PoCL's own kernel cache in ~/.cache/pocl), so a second run of the suite is much faster.
"""
import shutil
import time

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import lpfc
from lpfc.cli import main
from lpfc.codegen import ocl_attention, ocl_gemm, ocl_rowwise
from lpfc.codegen.toolchain import compile_executable, opencl_devices, run_program
from lpfc.errors import ModelLoadError
from lpfc.testing import zoo
from lpfc.tune.schedule import VariantChooser

from ..frontend.onnx_builders import make, save, vi
from ..zoo_support import assert_outputs_close, zoo_param
from .support import opencl_or_skip

TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def ocl(tmp_path_factory):
    return opencl_or_skip()


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    d = tmp_path / "clcache"
    monkeypatch.setenv("LPFC_OPENCL_CACHE_DIR", str(d))
    return d


def gemm_model(M=37, K=70, N=45, layer_norm=False):
    """y = relu(x @ W + b) + r (every edge of the tiles), optionally LayerNorm'd."""
    rng = np.random.default_rng(1)
    w = rng.standard_normal((K, N)).astype(np.float32) * 0.2
    b = rng.standard_normal(N).astype(np.float32)
    inits = [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "b")]
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Add", ["h", "b"], ["hb"]),
             helper.make_node("Relu", ["hb"], ["a"]), helper.make_node("Add", ["a", "r"], ["y"])]
    outs = [vi("y", [M, N])]
    if layer_norm:
        g = rng.standard_normal(N).astype(np.float32)
        inits += [numpy_helper.from_array(g, "g"), numpy_helper.from_array(b, "beta")]
        nodes.append(helper.make_node("LayerNormalization", ["y", "g", "beta"], ["z"], epsilon=1e-5))
        outs.append(vi("z", [M, N]))
    model = make(nodes, [vi("x", [M, K]), vi("r", [M, N])], outs, inits)
    x = rng.standard_normal((M, K)).astype(np.float32)
    r = rng.standard_normal((M, N)).astype(np.float32)
    y = np.maximum(x.astype(np.float64) @ w + b, 0) + r
    want = {"y": y}
    if layer_norm:
        mu, var = y.mean(-1, keepdims=True), y.var(-1, keepdims=True)
        want["z"] = (y - mu) / np.sqrt(var + 1e-5) * g + b
    return model, {"x": x, "r": r}, want


def _compile(path, lib, **kw):
    return lpfc.compile(path, lib, target="opencl", **kw)


def _kernel_emitters(src_dir):
    text = (src_dir / "model.cc").read_text()
    return text.count("lpfc_ocl_launch("), text.count(", on the host")


def test_gemm_epilogue_and_layer_norm_run_on_the_device(ocl, tmp_path, cache_dir):
    model, feeds, want = gemm_model(layer_norm=True)
    res = _compile(save(model, tmp_path / "g.onnx"), tmp_path / "libg.so", emit_source=tmp_path / "src")
    launches, host = _kernel_emitters(tmp_path / "src" / "src")
    assert host == 0 and launches == 2                    # the GEMM and its LayerNorm kernel
    assert res.kinds == {"gemm_layer_norm": 1}
    with lpfc.load(res.library) as s:
        got = s.run(feeds)
    for k in want:
        assert np.max(np.abs(got[k] - want[k])) < 1e-4, k
    assert list(cache_dir.glob("*.bin")), "the program binary was not cached"


@pytest.mark.parametrize("choice", ocl_gemm.VARIANTS, ids=lambda c: "-".join(f"{k}{v}" for k, v in c.items()))
def test_every_gemm_variant(ocl, tmp_path, cache_dir, monkeypatch, choice):
    monkeypatch.setattr(VariantChooser, "choose", lambda self, i, op, emitter: dict(choice)
                        if emitter is ocl_gemm.OCL_GEMM_EMITTER else emitter.variants(op, self.target)[0])
    model, feeds, want = gemm_model(M=70, K=33, N=67, layer_norm=True)
    res = _compile(save(model, tmp_path / "g.onnx"), tmp_path / "libg.so")
    with lpfc.load(res.library) as s:
        got = s.run(feeds)
    for k in want:
        assert np.max(np.abs(got[k] - want[k])) < 1e-4, k


@pytest.mark.parametrize("op, ls", [("Softmax", 64), ("Softmax", 256), ("LayerNormalization", 32),
                                   ("LayerNormalization", 128)])
def test_rowwise_variants_with_a_nan_row(ocl, tmp_path, cache_dir, monkeypatch, op, ls):
    monkeypatch.setattr(VariantChooser, "choose", lambda self, i, o, emitter: {"ls": ls}
                        if emitter is ocl_rowwise.OCL_ROWWISE_EMITTER else emitter.variants(o, self.target)[0])
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 300)).astype(np.float32)
    x[1, 7] = np.nan
    if op == "Softmax":
        node, inits = helper.make_node("Softmax", ["x"], ["y"], axis=-1), []
        e = np.exp(x - x.max(-1, keepdims=True))
        want = e / e.sum(-1, keepdims=True)
    else:
        g = rng.standard_normal(300).astype(np.float32)
        node = helper.make_node("LayerNormalization", ["x", "g"], ["y"], epsilon=1e-5)
        inits = [numpy_helper.from_array(g, "g")]
        want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * g
    model = make([node], [vi("x", [5, 300])], [vi("y", [5, 300])], inits)
    res = _compile(save(model, tmp_path / "r.onnx"), tmp_path / "libr.so", emit_source=tmp_path / "src")
    assert _kernel_emitters(tmp_path / "src" / "src") == (1, 0)
    with lpfc.load(res.library) as s:
        got = s.run({"x": x})["y"]
    np.testing.assert_allclose(got, want, atol=1e-5, equal_nan=True)
    assert np.isnan(got[1]).all()


def test_elementwise_kernels_with_broadcasting_and_mixed_dtypes(ocl, tmp_path, cache_dir):
    """cast to bool, comparisons, and, where, f32 arithmetic, i64 arithmetic, broadcast over [3, 4, 5]."""
    rng = np.random.default_rng(3)
    two = numpy_helper.from_array(np.array([2.0], np.float32), "two")
    seven = numpy_helper.from_array(np.array(7, np.int64), "seven")
    nodes = [helper.make_node("Cast", ["m"], ["mb"], to=TensorProto.BOOL),
             helper.make_node("Greater", ["x", "z"], ["gt"]),
             helper.make_node("And", ["mb", "gt"], ["c"]),
             helper.make_node("Mul", ["x", "two"], ["x2"]),
             helper.make_node("Neg", ["x"], ["nx"]),
             helper.make_node("Where", ["c", "x2", "nx"], ["y"]),
             helper.make_node("Mul", ["m", "seven"], ["m7"]),
             helper.make_node("Add", ["m7", "m"], ["k"])]
    model = make(nodes, [vi("x", [3, 1, 5]), vi("z", [4, 1]), vi("m", [5], TensorProto.INT64)],
                 [vi("y", [3, 4, 5]), vi("k", [5], TensorProto.INT64)], [two, seven])
    x = rng.standard_normal((3, 1, 5)).astype(np.float32)
    z = rng.standard_normal((4, 1)).astype(np.float32)
    m = np.array([0, 3, -2, 0, 1], np.int64)
    want_y = np.where((m != 0) & (x > z), x * 2, -x)
    res = _compile(save(model, tmp_path / "e.onnx"), tmp_path / "libe.so", emit_source=tmp_path / "src")
    assert _kernel_emitters(tmp_path / "src" / "src")[1] == 0
    with lpfc.load(res.library) as s:
        got = s.run({"x": x, "z": z, "m": m})
    np.testing.assert_array_equal(got["y"], want_y)
    np.testing.assert_array_equal(got["k"], m * 8)


@pytest.mark.zoo
def test_attention_group_per_row_variant(ocl, tmp_path, cache_dir, monkeypatch):
    """The zoo tests run the default (a work-item per query row); this one the work-group per row."""
    monkeypatch.setattr(VariantChooser, "choose", lambda self, i, o, emitter: {"ls": 64}
                        if emitter is ocl_attention.OCL_ATTENTION_EMITTER else emitter.variants(o, self.target)[0])
    res = _compile(zoo.export("tiny-gpt2", "dynamo20"), tmp_path / "libt.so", emit_source=tmp_path / "src")
    assert "row-per-group" in (tmp_path / "src" / "src" / "kernels.cl").read_text()
    feeds = zoo.sample_inputs("tiny-gpt2")
    expected = zoo.reference_outputs(zoo.model_path("tiny-gpt2", "dynamo20"), feeds)
    with lpfc.load(res.library) as s:
        assert_outputs_close("tiny-gpt2 group-per-row attention", s.run(feeds), expected, TOLERANCE)


def test_kernels_build_warning_free_and_kernel_counts(ocl, tmp_path):
    """tiny-bert (the other exporter)'s kernels.cl builds with -Werror; every kernel runs on the device;
    it matches onnxruntime."""
    res = _compile(zoo.export("tiny-bert", "dynamo20"), tmp_path / "libt.so", emit_source=tmp_path / "src")
    launches, host = _kernel_emitters(tmp_path / "src" / "src")
    assert host == 0 and launches == res.kernels + res.kinds.get("gemm_layer_norm", 0)
    probe = tmp_path / "clbuild.c"
    probe.write_text(_BUILD_PROBE)
    exe = compile_executable(ocl, [probe], tmp_path / "clbuild", with_runtime=False)
    r = run_program(ocl, [exe, tmp_path / "src" / "src" / "kernels.cl"])
    assert r.returncode == 0 and "warning" not in r.stdout.lower(), r.stdout + r.stderr
    feeds = zoo.sample_inputs("tiny-bert")
    expected = zoo.reference_outputs(zoo.model_path("tiny-bert", "dynamo20"), feeds)
    with lpfc.load(res.library) as s:
        assert_outputs_close("tiny-bert (dynamo20) on opencl", s.run(feeds), expected, TOLERANCE)


_BUILD_PROBE = r"""
#include <stdio.h>
#include <stdlib.h>
#include <CL/cl.h>
int main(int argc, char **argv) {
    FILE *f = fopen(argv[1], "rb");
    static char src[1 << 22];
    size_t n = fread(src, 1, sizeof src - 1, f);
    const char *s = src;
    cl_platform_id p; cl_device_id d; cl_int e;
    src[n] = 0;
    fclose(f);
    (void)argc;
    if (clGetPlatformIDs(1, &p, NULL) || clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 1, &d, NULL)) return 2;
    cl_context c = clCreateContext(NULL, 1, &d, NULL, NULL, &e);
    cl_program prog = clCreateProgramWithSource(c, 1, &s, NULL, &e);
    e = clBuildProgram(prog, 1, &d, "-cl-std=CL1.2 -Werror", NULL, NULL);
    static char log[1 << 16];
    clGetProgramBuildInfo(prog, d, CL_PROGRAM_BUILD_LOG, sizeof log, log, NULL);
    printf("%s", log);
    return e != CL_SUCCESS;
}
"""


def test_build_error_names_the_kernel_and_shows_the_log(ocl, tmp_path, cache_dir, monkeypatch):
    def broken(*a, **kw):
        ks = ocl_gemm.render_ocl_gemm(*a, **kw)
        ks.code = ks.code.replace("const float acc = r[c];", "const float acc = r[c] +* oops;")
        return ks

    monkeypatch.setattr(ocl_gemm.OCL_GEMM_EMITTER, "render_plan", broken)
    model, feeds, _ = gemm_model()
    res = _compile(save(model, tmp_path / "g.onnx"), tmp_path / "libg.so")
    with pytest.raises(ModelLoadError) as e:
        lpfc.load(res.library)
    msg = str(e.value)
    assert "in kernel lpfc_k0000" in msg and "build log" in msg and "oops" in msg, msg


def test_device_selection_by_environment(ocl, tmp_path, cache_dir, monkeypatch):
    model, feeds, want = gemm_model()
    res = _compile(save(model, tmp_path / "g.onnx"), tmp_path / "libg.so")
    monkeypatch.setenv("LPFC_OPENCL_DEVICE", "no-such-device")
    with pytest.raises(ModelLoadError, match="no OpenCL device matches .*no-such-device.*found: "):
        lpfc.load(res.library)
    monkeypatch.setenv("LPFC_OPENCL_DEVICE", "0")
    monkeypatch.setenv("LPFC_OPENCL_PLATFORM", ocl_platform_word(ocl))
    with lpfc.load(res.library) as s:
        assert np.max(np.abs(s.run(feeds)["y"] - want["y"])) < 1e-4


def ocl_platform_word(tc):
    return opencl_devices(tc)[0][0].split()[0]


def test_cached_binary_is_reused(ocl, tmp_path, cache_dir):
    model, feeds, want = gemm_model(M=9, K=10, N=11)
    res = _compile(save(model, tmp_path / "g.onnx"), tmp_path / "libg.so")
    t0 = time.perf_counter()
    lpfc.load(res.library).close()
    first = time.perf_counter() - t0
    files = list(cache_dir.glob("*.bin"))
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    t0 = time.perf_counter()
    with lpfc.load(res.library) as s:
        cached = time.perf_counter() - t0
        assert np.max(np.abs(s.run(feeds)["y"] - want["y"])) < 1e-4
    assert files[0].stat().st_mtime_ns == stamp
    print(f"program build {first:.2f} s, from the cache {cached:.2f} s")


def test_cli_compile_and_run(ocl, tmp_path, cache_dir, capsys):
    model, feeds, want = gemm_model()
    path = save(model, tmp_path / "g.onnx")
    lib = tmp_path / "libg.so"
    assert main(["compile", str(path), "-o", str(lib), "--target", "opencl", "-q"]) == 0
    np.savez(tmp_path / "feed.npz", **feeds)
    assert main(["run", str(lib), "--inputs", str(tmp_path / "feed.npz"), "--outputs", str(tmp_path / "o.npz")]) == 0
    got = np.load(tmp_path / "o.npz")["y"]
    assert np.max(np.abs(got - want["y"])) < 1e-4


def test_profile_refuses_clearly_on_an_opencl_library(ocl, tmp_path, cache_dir, capsys):
    """The generated opencl model records no host-side kernel times: profile() says so and where to look,
    rather than printing an empty table."""
    model, feeds, want = gemm_model()
    res = _compile(save(model, tmp_path / "g.onnx"), tmp_path / "libg.so")
    with lpfc.load(res.library) as s:
        with pytest.raises(ModelLoadError, match="no per-kernel times.*opencl") as e:
            s.profile(feeds, runs=1)
        assert "LPFC_OPENCL_PROFILE" in str(e.value)
        assert np.max(np.abs(s.run(feeds)["y"] - want["y"])) < 1e-4     # the session still works


FAST = ("tiny-bert", "tiny-gpt2", "minilm")


@pytest.mark.parametrize("model, variant", [
    zoo_param(m, v) if m in FAST else pytest.param(m, v, marks=[pytest.mark.zoo, pytest.mark.slow], id=f"{m}-{v}")
    for m in zoo.ALL_MODELS for v in zoo.DEFAULT_VARIANTS])
def test_zoo_model_on_opencl_matches_onnxruntime(ocl, tmp_path, record_property, model, variant):
    res = _compile(zoo.export(model, variant), tmp_path / "libmodel.so", emit_source=tmp_path / "src")
    launches, host = _kernel_emitters(tmp_path / "src" / "src")
    feeds = zoo.sample_inputs(model)
    expected = zoo.reference_outputs(zoo.model_path(model, variant), feeds)
    with lpfc.load(res.library, threads=2) as s:
        actual = s.run(feeds)
        t0 = time.perf_counter()
        actual = s.run(feeds)
        ms = (time.perf_counter() - t0) * 1e3
    shutil.rmtree(tmp_path, ignore_errors=True)
    assert_outputs_close(f"{model}-{variant} on opencl", actual, expected, TOLERANCE)
    record_property("terminal_summary", f"opencl {model}-{variant}: {res.kernels} kernels "
                    f"({launches} device launches, {host} on the host), {ms:.0f} ms per run")

