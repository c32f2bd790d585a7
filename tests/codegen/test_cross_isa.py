"""Generated code on every ISA (issue #12, item 11): the same models built for AVX-512 (-march=skylake-avx512),
AVX2 (-march=x86-64-v3) and arm64 (NEON, the cross compiler), always with -Wall -Wextra -Werror, and run
where this machine can: natively when /proc/cpuinfo has the ISA's flags, arm64 under qemu.

The models cover every C++ emitter: tiny-bert (zoo; cpp-gemm, gemm_layer_norm, cpp-attention, the
cpp-rowwise embedding, the generic elementwise mask kernel) and a small synthetic model compiled without
fusion (standalone Softmax and LayerNormalization through cpp-rowwise -- the case that broke gcc 12's
AVX-512 build --, MatMul/Gemm through cpp-gemm, Gather, Where, ReduceMean, Transpose, Erf through the
generic emitter).  The reduced-precision paths are built the same way: the synthetic model with
``precision="int8"`` (the int8 GEMM driver and micro-kernel each ISA selects) and a one-row GEMM with
``weights="fp16"`` (the one-row driver's fp16 loads: F16C, AVX-512's masked vcvtph2ps -- which gcc 12 only
warned about on an AVX-512 host --, NEON's fcvtl).  A build that cannot run here says so loudly in the skip
reason; the build itself (the part that failed on AVX-512 hosts) is asserted on every machine with the compilers.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import lpfc
from lpfc.codegen.toolchain import find_toolchain
from lpfc.errors import ToolchainError

# name -> (target, cpu, the SIMD namespace the kernels must use, /proc/cpuinfo flags needed to run natively)
CONFIGS = {
    "avx512": ("host", "skylake-avx512", "lpfc_avx512", ("avx512f", "avx512dq", "avx512bw", "avx512vl", "avx512cd")),
    "x86-64-v3": ("host", "x86-64-v3", "lpfc_avx2", ("avx2", "fma", "bmi1", "bmi2", "f16c", "movbe")),
    "arm64": ("arm64-linux", None, "lpfc_neon", None),
}


def _cpu_flags() -> set:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    m = re.search(r"^flags\s*:(.*)$", text, re.M)
    return set(m.group(1).split()) if m else set()


def _synthetic(path: Path) -> Path:
    rng = np.random.default_rng(0)
    f, i64 = TensorProto.FLOAT, TensorProto.INT64
    W = numpy_helper.from_array(rng.standard_normal((20, 36)).astype(np.float32) * 0.2, "W")
    B = numpy_helper.from_array(rng.standard_normal(36).astype(np.float32), "B")
    G = numpy_helper.from_array(rng.standard_normal((36, 36)).astype(np.float32) * 0.2, "G")
    T = numpy_helper.from_array(rng.standard_normal((11, 20)).astype(np.float32), "T")
    g = numpy_helper.from_array(rng.standard_normal(36).astype(np.float32), "g")
    b = numpy_helper.from_array(rng.standard_normal(36).astype(np.float32), "b")
    half = numpy_helper.from_array(np.array(0.5, np.float32), "half")
    nodes = [helper.make_node("Gather", ["T", "ids"], ["e"], axis=0),               # [3, 5, 20]
             helper.make_node("Add", ["e", "x"], ["ex"]),
             helper.make_node("MatMul", ["ex", "W"], ["h0"]),                        # [3, 5, 36]
             helper.make_node("Add", ["h0", "B"], ["h1"]),
             helper.make_node("Mul", ["h1", "half"], ["h2"]),
             helper.make_node("Erf", ["h2"], ["h3"]),
             helper.make_node("Softmax", ["h3"], ["sm"], axis=-1),
             helper.make_node("LayerNormalization", ["h1", "g", "b"], ["ln"], axis=-1, epsilon=1e-5),
             helper.make_node("Reshape", ["ln", "shape"], ["ln2"]),
             helper.make_node("Gemm", ["ln2", "G"], ["gm"], transB=1),
             helper.make_node("Greater", ["gm", "half"], ["gt"]),
             helper.make_node("Where", ["gt", "gm", "half"], ["wh"]),
             helper.make_node("Transpose", ["wh"], ["tr"], perm=[1, 0]),
             helper.make_node("ReduceMean", ["sm", "axes"], ["rm"], keepdims=0)]
    inits = [W, B, G, T, g, b, half, numpy_helper.from_array(np.array([15, 36], np.int64), "shape"),
             numpy_helper.from_array(np.array([-1], np.int64), "axes")]
    graph = helper.make_graph(nodes, "isa", [helper.make_tensor_value_info("ids", i64, [3, 5]),
                                             helper.make_tensor_value_info("x", f, [3, 5, 20])],
                              [helper.make_tensor_value_info("sm", f, [3, 5, 36]),
                               helper.make_tensor_value_info("tr", f, [36, 15]),
                               helper.make_tensor_value_info("rm", f, [3, 5])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.checker.check_model(m)
    onnx.save(m, str(path))
    return path


def _one_row(path: Path) -> Path:
    """y = x W + b with one row of x: a decode step's projection (the one-row GEMM driver)."""
    rng = np.random.default_rng(2)
    W = numpy_helper.from_array(rng.standard_normal((96, 200)).astype(np.float32) * 0.1, "W")
    B = numpy_helper.from_array(rng.standard_normal(200).astype(np.float32), "B")
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Add", ["h", "B"], ["y"])]
    graph = helper.make_graph(nodes, "one_row", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 96])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 200])], [W, B])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    return path


def _model(name: str, d: Path):
    """(onnx path, feeds, compile kwargs)"""
    if name == "synthetic-int8":
        path, feeds, _ = _model("synthetic", d)
        return path, feeds, {"fusion": False, "precision": "int8"}
    if name == "one-row-fp16":
        feeds = {"x": np.random.default_rng(3).standard_normal((1, 96)).astype(np.float32)}
        return _one_row(d / "one_row.onnx"), feeds, {"weights": "fp16"}
    if name == "synthetic":
        rng = np.random.default_rng(1)
        feeds = {"ids": rng.integers(-11, 11, (3, 5)).astype(np.int64),
                 "x": rng.standard_normal((3, 5, 20)).astype(np.float32)}
        return _synthetic(d / "isa.onnx"), feeds, {"fusion": False}
    from lpfc.testing import zoo
    path = zoo.model_path(name, "dynamo20")
    if not path.exists():
        pytest.skip(f"zoo model {path} not exported (run the zoo export first)")
    return path, zoo.sample_inputs(name), {}


@functools.lru_cache(maxsize=None)
def _built(config: str, model: str, root: str):
    target, cpu, _, _ = CONFIGS[config]
    d = Path(root) / f"{config}-{model}"
    d.mkdir(parents=True, exist_ok=True)
    path, feeds, kw = _model(model, d)
    try:
        find_toolchain(target, cpu=cpu) if cpu else find_toolchain(target)
    except ToolchainError as e:
        return None, None, None, f"NOT BUILT for {config}: {e}"
    r = lpfc.compile(path, d / "libmodel.so", target=target, cpu=cpu, emit_source=d / "pkg", **kw)
    return r, path, feeds, None


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    _built.cache_clear()
    return str(tmp_path_factory.mktemp("isa"))


# tiny-bert adds attention and the fused embedding (their AVX-512 kernels are also compile-tested in
# test_cpp_attention.py / test_cpp_rowwise.py); three builds of it take ~90 s here, hence slow
MODELS = ["synthetic", "synthetic-int8", "one-row-fp16",
          pytest.param("tiny-bert", marks=[pytest.mark.zoo, pytest.mark.slow])]
#: int8 and fp16 weights approximate: their outputs are compared relative to each output's largest value
APPROXIMATE = {"synthetic-int8": 2e-2, "one-row-fp16": 2e-3}


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("config", list(CONFIGS))
def test_builds_with_werror(config, model, root):
    r, _, _, problem = _built(config, model, root)
    if problem:
        pytest.skip(problem)
    ns = CONFIGS[config][2]
    sources = list((Path(r.package) / "src").glob("*.cc")) if r.package else []
    if not sources and r.source_dir:
        sources = list(Path(r.source_dir).glob("*.cc"))
    text = "".join(p.read_text() for p in sources)
    assert f"namespace V = {ns};" in text, f"{config}: the kernels do not use {ns}"
    other = {"lpfc_avx512", "lpfc_avx2", "lpfc_neon"} - {ns}
    assert not any(f"namespace V = {o};" in text for o in other)
    if model == "synthetic-int8":      # the int8 micro-kernel that ISA selects (VNNI needs more than skylake-avx512)
        kind = {"avx512": "avx2", "x86-64-v3": "avx2", "arm64": "sdot"}[config]
        assert f"lpfc_i8_{kind}::run" in text, f"{config}: no {kind} int8 GEMM"
    if model == "one-row-fp16":
        assert f"{ns}_gemv_h::run" in text, f"{config}: no one-row driver with fp16 weights"
    assert r.library.exists()


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("config", list(CONFIGS))
def test_runs_where_the_cpu_can(config, model, root):
    target, cpu, _, flags = CONFIGS[config]
    r, path, feeds, problem = _built(config, model, root)
    if problem:
        pytest.skip(problem)
    if flags is not None:
        missing = [fl for fl in flags if fl not in _cpu_flags()]
        if missing:
            pytest.skip(f"NOT RUN: built for {cpu} with -Werror, but this CPU lacks {', '.join(missing)} "
                        f"(/proc/cpuinfo); run the suite on a machine with them to execute these kernels")
    else:
        tc = find_toolchain(target)
        if tc.runner is None and not tc.can_run:
            pytest.skip(f"NOT RUN: {target} built with -Werror, but it cannot run here: {tc.run_problem}")
    ort = pytest.importorskip("onnxruntime")
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    want = dict(zip([o.name for o in s.get_outputs()],
                    s.run(None, {i.name: feeds[i.name] for i in s.get_inputs()})))
    sess = lpfc.load(r.library, threads=2)
    got = sess.run({i.name: feeds[i.name] for i in sess.get_inputs()})
    for name, w in want.items():
        if model in APPROXIMATE:
            err = float(np.max(np.abs(got[name] - w)))
            assert err <= APPROXIMATE[model] * float(np.max(np.abs(w))), f"{config} {model} {name}: max error {err:.3g}"
        else:
            np.testing.assert_allclose(got[name], w, rtol=2e-3, atol=2e-4, err_msg=f"{config} {model} {name}")
