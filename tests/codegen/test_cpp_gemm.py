"""The GEMM emitter (lpfc/codegen/cpp_gemm.py) on real zoo blocks and on synthetic edge cases."""
from __future__ import annotations

import math
import subprocess

import numpy as np
import pytest

from lpfc.codegen import cpp_gemm, simd
from lpfc.codegen.toolchain import runtime_include_dir
from lpfc.codegen.kernel_source import emitter_for
from lpfc.codegen.plans.blocks import operand_is_constant
from lpfc.ir.parser import parse_module

from .cpp_harness import HOST, TARGETS, KernelLib, assert_close, fused_blocks, kernel_target, make_inputs, reference

GEMM_KINDS = ("gemm", "gemm_layer_norm")


def _gemm_blocks(model, variant="dynamo20"):
    return [op for op in fused_blocks(model, variant) if op.attributes["kind"] in GEMM_KINDS]


@pytest.mark.zoo
@pytest.mark.parametrize("model, total, accepted", [("tiny-bert", 9, 9), ("tiny-gpt2", 8, 8), ("minilm", 25, 25)])
def test_accepts_every_gemm_block_of_the_zoo(model, total, accepted):
    blocks = _gemm_blocks(model)
    assert len(blocks) == total
    assert sum(cpp_gemm.GEMM_EMITTER.accepts(op, HOST) for op in blocks) == accepted
    # and nothing that is not a GEMM block
    others = [op for op in fused_blocks(model) if op.attributes["kind"] not in GEMM_KINDS]
    assert not any(cpp_gemm.GEMM_EMITTER.accepts(op, HOST) for op in others)


@pytest.mark.zoo
@pytest.mark.parametrize("target_name", TARGETS)
def test_zoo_gemm_blocks_match_the_interpreter(tmp_path, target_name):
    target = kernel_target(target_name)
    kernels = []
    for model, variant in [("tiny-bert", "dynamo20"), ("tiny-gpt2", "dynamo20"), ("tiny-gpt2", "ts14"),
                           ("minilm", "dynamo20")]:
        blocks = _gemm_blocks(model, variant)
        if model == "minilm":      # one layer (the other five have the same shapes) and the pooler
            blocks = blocks[:4] + blocks[-1:]
        for op in blocks:
            sym = f"{model}_{variant}_{op.attributes['name']}".replace("-", "_")
            kernels.append((op, cpp_gemm.GEMM_EMITTER.emit(op, target, sym)))
    lib = KernelLib(kernels, tmp_path, target=target)
    rng = np.random.default_rng(1)
    for op, ks in kernels:
        ins = make_inputs(op, rng)
        want = reference(op, ins)
        for threads in (1, 2) if target is HOST else (2,):      # (qemu is slow: one run, on 2 threads)
            for g, w in zip(lib.run(op, ks, ins, threads), want):
                assert_close(g, w, what=f"{ks.symbol} ({ks.variant}) at {threads} threads")


@pytest.mark.zoo
def test_emitter_for_picks_the_gemm_emitter():
    op = _gemm_blocks("tiny-bert")[0]
    assert emitter_for(op, HOST) is cpp_gemm.GEMM_EMITTER


# -- synthetic blocks: edges, epilogue ops, ISAs -------------------------------------------------------------

def t(*shape):
    return "tensor<" + "x".join(map(str, shape)) + ("x" if shape else "") + "f32>"


def gemm_block(M, K, N, epilogue, extra_args=(), kind="gemm", trans_b=False, alpha=None, ln=None, yields=None,
               weight=None, rng=None):
    """A module holding one fused GEMM block: x [M, K] @ W (+ epilogue lines over %y0 / extra args)."""
    rng = rng or np.random.default_rng(0)
    wshape = (N, K) if trans_b else (K, N)
    w = weight if weight is not None else rng.standard_normal(wshape).astype(np.float32)
    args = [("x", (M, K)), ("w", wshape)] + list(extra_args)
    sig = ", ".join(f"%{n}1: {t(*s)}" for n, s in args)
    types = ", ".join(t(*s) for _, s in args)
    mm = (f"%y0 = graph.gemm %x1, %w1 {{alpha = {alpha if alpha is not None else 1.0}, trans_a = false, "
          f"trans_b = {'true' if trans_b else 'false'}}} : ({t(M, K)}, {t(*wshape)}) -> {t(M, N)}"
          if (trans_b or alpha is not None) else f"%y0 = graph.matmul %x1, %w1 : ({t(M, K)}, {t(*wshape)}) -> {t(M, N)}")
    body = "\n        ".join([mm] + list(epilogue))
    yields = yields or [("%y" + str(len(epilogue)), (M, N))]
    ytypes = ", ".join(t(*s) for _, s in yields)
    ynames = ", ".join(v for v, _ in yields)
    outs = ", ".join(f"%r{i}" for i in range(len(yields)))
    inputs = ", ".join(f"%{n}: {t(*s)}" for n, s in args if n != "w")
    text = f"""module {{
  func @main({inputs}) -> ({ytypes}) attributes {{input_names = [{", ".join(f'"{n}"' for n, _ in args if n != "w")}], output_names = [{", ".join(f'"o{i}"' for i in range(len(yields)))}]}} {{
    %w = graph.constant {{value = dense_resource<wres> : {t(*wshape)}}} : () -> {t(*wshape)}
    {outs} = graph.fused {", ".join("%" + n for n, _ in args)} {{kind = "{kind}", name = "k0"}} ({{
      ^bb0({sig}):
        {body}
        graph.yield {ynames} : ({ytypes}) -> ()
    }}) : ({types}) -> ({ytypes})
    func.return {outs} : ({ytypes}) -> ()
  }}
}}
"""
    m = parse_module(text, resources={"wres": w})
    return next(o for o in m.main.ops if o.name == "graph.fused")


def _bin(name, a, b, shape_a, shape_b, shape_r):
    return f"{name} {a}, {b} : ({t(*shape_a)}, {t(*shape_b)}) -> {t(*shape_r)}"


def synthetic_cases():
    M, K, N = 13, 21, 37
    cases = {}
    cases["bias_gelu"] = gemm_block(M, K, N, [
        "%y1 = " + _bin("graph.add", "%y0", "%b1", (M, N), (N,), (M, N)),
        f"%y2 = graph.gelu %y1 : ({t(M, N)}) -> {t(M, N)}"], extra_args=[("b", (N,))])
    cases["residual_tanh_gelu"] = gemm_block(M, K, N, [
        "%y1 = " + _bin("graph.add", "%r1", "%y0", (M, N), (M, N), (M, N)),
        f'%y2 = graph.gelu %y1 {{approximate = "tanh"}} : ({t(M, N)}) -> {t(M, N)}',
        f"%y3 = graph.tanh %y2 : ({t(M, N)}) -> {t(M, N)}"], extra_args=[("r", (M, N))])
    cases["row_scalar_relu_max"] = gemm_block(M, K, N, [
        "%y1 = " + _bin("graph.mul", "%y0", "%s1", (M, N), (M, 1), (M, N)),
        "%y2 = " + _bin("graph.sub", "%c1", "%y1", (), (M, N), (M, N)),
        f"%y3 = graph.relu %y2 : ({t(M, N)}) -> {t(M, N)}",
        "%y4 = " + _bin("graph.max", "%y3", "%y0", (M, N), (M, N), (M, N)),
        f"%y5 = graph.sigmoid %y4 : ({t(M, N)}) -> {t(M, N)}"], extra_args=[("s", (M, 1)), ("c", ())])
    # an op without a vector form (floor): the whole epilogue goes scalar through scalar_expr
    cases["scalar_epilogue"] = gemm_block(M, K, N, [
        f"%y1 = graph.floor %y0 : ({t(M, N)}) -> {t(M, N)}",
        "%y2 = " + _bin("graph.div", "%y1", "%b1", (M, N), (N,), (M, N))], extra_args=[("b", (N,))])
    cases["trans_b_alpha_two_outputs"] = gemm_block(M, K, N, [
        f"%y1 = graph.exp %y0 : ({t(M, N)}) -> {t(M, N)}"], trans_b=True, alpha=0.25,
        yields=[("%y0", (M, N)), ("%y1", (M, N))])
    cases["layer_norm"] = gemm_block(M, K, N, [
        "%y1 = " + _bin("graph.add", "%y0", "%r1", (M, N), (M, N), (M, N)),
        f"%y2 = graph.layer_norm %y1, %g1, %b1 {{axis = 1, epsilon = 1e-05}} : ({t(M, N)}, {t(N)}, {t(N)}) -> {t(M, N)}",
        f"%y3 = graph.reshape %y2 {{shape = [1, {M}, {N}]}} : ({t(M, N)}) -> {t(1, M, N)}"],
        extra_args=[("r", (M, N)), ("g", (N,)), ("b", (N,))], kind="gemm_layer_norm",
        yields=[("%y1", (M, N)), ("%y3", (1, M, N))])
    cases["layer_norm_plain"] = gemm_block(M, 3, 16, [
        f"%y1 = graph.layer_norm %y0 {{axis = -1, epsilon = 1e-05}} : ({t(M, 16)}) -> {t(M, 16)}"],
        kind="gemm_layer_norm", yields=[("%y1", (M, 16))])
    # Llama: GEMM + residual + RMSNorm (docs/llama.md), yielding the residual too
    cases["rms_norm"] = gemm_block(M, K, N, [
        "%y1 = " + _bin("graph.add", "%y0", "%r1", (M, N), (M, N), (M, N)),
        f"%y2 = graph.rms_norm %y1, %g1 {{axis = 1, epsilon = 1e-06}} : ({t(M, N)}, {t(N)}) -> {t(M, N)}"],
        extra_args=[("r", (M, N)), ("g", (N,))], kind="gemm_layer_norm", yields=[("%y1", (M, N)), ("%y2", (M, N))])
    cases["rms_norm_plain"] = gemm_block(M, 3, 16, [
        f"%y1 = graph.rms_norm %y0 {{axis = -1, epsilon = 1e-05}} : ({t(M, 16)}) -> {t(M, 16)}"],
        kind="gemm_layer_norm", yields=[("%y1", (M, 16))])
    return cases


def tile_edge_cases():
    """Shapes around the micro-kernel tiles (AVX2 6x16, NEON 8x12, AVX-512 14x32): whole tiles, one row and
    column more or less, a single element, K from 1 to 130; bias + ReLU, and a LayerNorm."""
    cases = {}
    # M = 1: the one-row driver (gemv_driver.h.j2); 1 x 131 x 601 has 78,731 weights, enough to use threads,
    # an edge panel on every ISA, and an odd K (the driver's two accumulator sets)
    for M, K, N in [(1, 1, 1), (8, 4, 12), (9, 5, 13), (6, 16, 16), (7, 17, 17), (16, 64, 24), (31, 7, 50),
                    (64, 130, 100), (1, 131, 601), (1, 6, 40)]:
        rng = np.random.default_rng(M * 1000 + K * 10 + N)
        cases[f"bias_relu_{M}x{K}x{N}"] = gemm_block(M, K, N, [
            "%y1 = " + _bin("graph.add", "%y0", "%b1", (M, N), (N,), (M, N)),
            f"%y2 = graph.relu %y1 : ({t(M, N)}) -> {t(M, N)}"], extra_args=[("b", (N,))], rng=rng)
        cases[f"layer_norm_{M}x{K}x{N}"] = gemm_block(M, K, N, [
            f"%y1 = graph.layer_norm %y0 {{axis = -1, epsilon = 1e-05}} : ({t(M, N)}) -> {t(M, N)}"],
            kind="gemm_layer_norm", yields=[("%y1", (M, N))], rng=rng)
    return cases


CASES = synthetic_cases()
EDGE_CASES = tile_edge_cases()
CHOICES = {"default": {}, "small_blocks": {"kc_max": 4, "nc_target": 16, "mc_target": 6},
           "ln_whole_rows": {"ln_whole_rows": True, "mc_target": 6}}


@pytest.fixture(scope="module", params=TARGETS)
def synthetic_lib(request, tmp_path_factory):
    """Every synthetic case x blocking choice, for the target's own ISA (and the scalar one on the host)."""
    target = kernel_target(request.param)
    kernels = []
    for isa in ("host", "scalar") if target is HOST else ("host",):
        for cname, choice in CHOICES.items():
            for name, op in {**CASES, **(EDGE_CASES if isa == "host" else {})}.items():
                ch = dict(choice, **({"isa": isa} if isa != "host" else {}))
                kernels.append((f"{name}/{cname}/{isa}", op,
                                cpp_gemm.GEMM_EMITTER.emit(op, target, f"g_{name}_{cname}_{isa}", ch)))
    lib = KernelLib([(op, ks) for _, op, ks in kernels], tmp_path_factory.mktemp("gemm"), target=target)
    return lib, kernels


def test_synthetic_blocks_are_accepted():
    for name, op in {**CASES, **EDGE_CASES}.items():
        assert cpp_gemm.GEMM_EMITTER.accepts(op, HOST), name


def test_synthetic_blocks_match_the_interpreter(synthetic_lib):
    lib, kernels = synthetic_lib
    rng = np.random.default_rng(2)
    for label, op, ks in kernels:
        ins = make_inputs(op, rng)
        want = reference(op, ins)
        for threads in (1, 2):
            for g, w in zip(lib.run(op, ks, ins, threads), want):
                assert_close(g, w, what=f"{label} ({ks.variant}) at {threads} threads")


def _fp16_exact_block(M, K, N, rms=False):
    """A one-row block whose weights are fp16 values (so fp16 storage loses nothing), bias or RMSNorm epilogue."""
    rng = np.random.default_rng(K + N)
    w = rng.standard_normal((K, N)).astype(np.float16).astype(np.float32)
    if rms:
        return gemm_block(M, K, N, [
            f"%y1 = graph.rms_norm %y0, %g1 {{axis = 1, epsilon = 1e-06}} : ({t(M, N)}, {t(N)}) -> {t(M, N)}"],
            extra_args=[("g", (N,))], kind="gemm_layer_norm", weight=w, rng=rng)
    return gemm_block(M, K, N, ["%y1 = " + _bin("graph.add", "%y0", "%b1", (M, N), (N,), (M, N))],
                      extra_args=[("b", (N,))], weight=w, rng=rng)


@pytest.mark.parametrize("target_name, isa", [("host", "host"), ("host", "scalar"),
                                              pytest.param("arm64-linux", "host", id="arm64-qemu-neon")])
def test_fp16_weights_of_one_row_gemms(tmp_path, target_name, isa):
    """weights="fp16" (lpfc.compile): a one-row GEMM reads its panels as fp16, so fp16-exact weights give the fp32
    kernel's results (the same FMAs in the same order) at half the bytes; other weights round (relative ~1e-3);
    GEMMs of more rows keep fp32 panels."""
    import dataclasses
    target = kernel_target(target_name)
    half = dataclasses.replace(target, weights="fp16")
    ch = {"isa": isa} if isa != "host" else None
    cases = [_fp16_exact_block(1, 131, 601), _fp16_exact_block(1, 64, 37, rms=True)]
    rounding = gemm_block(1, 96, 200, [], rng=np.random.default_rng(5))
    kernels = []
    for i, op in enumerate(cases + [rounding]):
        kernels.append((op, cpp_gemm.GEMM_EMITTER.emit(op, target, f"f32_{i}", ch)))
        kernels.append((op, cpp_gemm.GEMM_EMITTER.emit(op, half, f"f16_{i}", ch)))
    for op, ks in kernels:
        assert ("fp16 weights" in ks.variant) == ks.symbol.startswith("f16"), ks.variant
        assert ks.packed[1](np.ones((op.operands[1].type.shape), np.float32)).dtype == (
            np.float16 if ks.symbol.startswith("f16") else np.float32)
    lib = KernelLib(kernels, tmp_path, target=target)
    rng = np.random.default_rng(3)
    for i in range(len(cases) + 1):
        (op, k32), (_, k16) = kernels[2 * i], kernels[2 * i + 1]
        ins = make_inputs(op, rng)
        for threads in (1, 2):
            a, b = lib.run(op, k32, ins, threads)[0], lib.run(op, k16, ins, threads)[0]
            if i < len(cases):     # the same sums (the scalar ISA's a*b+c may contract differently)
                np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6 * float(np.abs(a).max()))
            else:
                assert not np.array_equal(a, b)
                np.testing.assert_allclose(b, a, rtol=0, atol=5e-3 * float(np.abs(a).max()))
    many = gemm_block(2, 8, 16, [])
    assert "fp16" not in cpp_gemm.GEMM_EMITTER.emit(many, half, "m").variant


def test_fp16_weights_out_of_range_are_refused():
    import dataclasses
    from lpfc.errors import UnsupportedError
    op = gemm_block(1, 4, 8, [], weight=np.full((4, 8), 1e5, np.float32))
    ks = cpp_gemm.GEMM_EMITTER.emit(op, dataclasses.replace(HOST, weights="fp16"), "big")
    with pytest.raises(UnsupportedError, match="fp16's range"):
        ks.packed[1](np.full((4, 8), 1e5, np.float32))


def test_scalar_epilogue_is_reported():
    ks = cpp_gemm.GEMM_EMITTER.emit(CASES["scalar_epilogue"], HOST, "s")
    assert "scalar-epilogue" in ks.variant
    ks = cpp_gemm.GEMM_EMITTER.emit(CASES["bias_gelu"], HOST, "s")
    assert "scalar-epilogue" not in ks.variant


def test_identical_blocks_give_identical_code_up_to_the_symbol():
    a = cpp_gemm.GEMM_EMITTER.emit(CASES["bias_gelu"], HOST, "ka")
    b = cpp_gemm.GEMM_EMITTER.emit(CASES["bias_gelu"], HOST, "kb")
    assert a.code.replace("ka", "X") == b.code.replace("kb", "X")
    assert a.helpers == b.helpers


@pytest.mark.parametrize("target_name", TARGETS)
def test_vector_math_accuracy(tmp_path, target_name):
    """exp, tanh, erf, gelu, sigmoid of the SIMD layer against float64, within 1e-5 relative (+ tiny abs)."""
    target = kernel_target(target_name)
    n = 64
    eye = np.eye(n, dtype=np.float32)
    ops = {}
    for f in ("exp", "tanh", "erf", "sigmoid", "gelu"):
        ops[f] = gemm_block(n, n, n, [f"%y1 = graph.{f} %y0 : ({t(n, n)}) -> {t(n, n)}"], weight=eye)
    kernels = [(op, cpp_gemm.GEMM_EMITTER.emit(op, target, f"m_{f}")) for f, op in ops.items()]
    lib = KernelLib(kernels, tmp_path, target=target)
    x = np.linspace(-12, 12, n * n).astype(np.float32).reshape(n, n)
    x[0, :8] = [0.0, -0.0, 1e-6, -1e-6, 3e-4, -80.0, 80.0, 1e-30]
    x[1] = np.linspace(-2.0, 0.0, n)      # whole vectors at or above -2: GELU's cheaper 1 + erf form, down to its edge
    x[2] = np.linspace(-2.2, -1.8, n)     # vectors straddling -2: the erfc form
    xd = x.astype(np.float64)
    erf = np.vectorize(math.erf)
    want = {"exp": np.exp(xd), "tanh": np.tanh(xd), "erf": erf(xd), "sigmoid": 1 / (1 + np.exp(-xd)),
            "gelu": 0.5 * xd * np.vectorize(math.erfc)(-xd / math.sqrt(2))}
    for (op, ks), f in zip(kernels, ops):
        got = lib.run(op, ks, [x, eye])[0].astype(np.float64)
        err = np.abs(got - want[f]) / np.maximum(np.abs(want[f]), 1e-30)
        bad = err > 1e-5
        bad &= np.abs(got - want[f]) > 1e-30       # (GELU's tail too: it goes through erfc, not 1 + erf)
        assert not bad.any(), f"{f}: worst at x={x[bad][:4]}, got {got[bad][:4]}, want {want[f][bad][:4]}"


@pytest.mark.parametrize("target_name", TARGETS)
def test_nan_propagates_through_the_epilogue(tmp_path, target_name):
    target = kernel_target(target_name)
    op = CASES["row_scalar_relu_max"]
    ks = cpp_gemm.GEMM_EMITTER.emit(op, target, "nanprop")
    lib = KernelLib([(op, ks)], tmp_path, target=target)
    ins = make_inputs(op, np.random.default_rng(3))
    ins[0][2, 3] = np.nan
    got = lib.run(op, ks, ins)[0]
    want = reference(op, ins)[0]
    assert_close(got, want, what="NaN row")
    assert np.isnan(got[2]).all()


def test_avx512_path_compiles_warning_free(tmp_path):
    """The AVX-512 code cannot run on this VM (CPUID hides it) but must build with -Wall -Wextra -Werror."""
    kernels = [(op, cpp_gemm.GEMM_EMITTER.emit(op, HOST, f"z_{name}", {"isa": "avx512"}))
               for name, op in CASES.items()]
    assert all("avx512 14x32" in ks.variant for _, ks in kernels)
    lib = KernelLib(kernels, tmp_path, extra_flags=["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl"],
                    build=False)
    assert lib.path.exists()
    flags = open("/proc/cpuinfo").read() if __import__("os").path.exists("/proc/cpuinfo") else ""
    if " avx512f" in flags and " avx512dq" in flags:
        import ctypes
        lib.lib = ctypes.CDLL(str(lib.path))
        rng = np.random.default_rng(4)
        for op, ks in kernels:
            ins = make_inputs(op, rng)
            for g, w in zip(lib.run(op, ks, ins, 2), reference(op, ins)):
                assert_close(g, w, what=ks.symbol)


def test_wrong_isa_flags_fail_loudly(tmp_path):
    op = CASES["bias_gelu"]
    ks = cpp_gemm.GEMM_EMITTER.emit(op, HOST, "wrong", {"isa": "avx512"})
    if "avx512f" in simd._features_of(HOST):
        pytest.skip("this compiler enables AVX-512 already")
    with pytest.raises(Exception) as e:
        KernelLib([(op, ks)], tmp_path)
    assert "generated for avx512" in str(getattr(e.value, "output", e.value))


def test_clang_builds_it_warning_free(tmp_path):
    import shutil
    from lpfc.codegen.toolchain import find_toolchain
    if not shutil.which("clang++"):
        pytest.skip("no clang++")
    tc = find_toolchain("host", compiler="clang")
    src = tmp_path / "k.cc"
    kernels = [(op, cpp_gemm.GEMM_EMITTER.emit(op, HOST, f"c_{name}")) for name, op in CASES.items()]
    lib = KernelLib(kernels, tmp_path, compile=False)
    src.write_text(lib.source)
    argv = [*tc.cxx, "-std=c++17", *tc.cflags, "-Wall", "-Wextra", "-Werror", "-pthread", "-fPIC",
            f"-I{runtime_include_dir()}", "-c", str(src),
            "-o", str(tmp_path / "k.o")]
    r = subprocess.run(argv, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]


def test_clang_builds_the_neon_path_warning_free(tmp_path):
    """The Android NDK builds arm64 with clang: the NEON helper, driver and epilogues must be clean there too."""
    import shutil
    from lpfc.codegen.toolchain import find_toolchain
    from lpfc.errors import ToolchainError
    if not shutil.which("clang++"):
        pytest.skip("no clang++")
    try:
        tc = find_toolchain("arm64-linux", compiler="clang")
    except ToolchainError as e:
        pytest.skip(f"no clang for arm64-linux: {e}")
    kernels = [(op, cpp_gemm.GEMM_EMITTER.emit(op, tc.target, f"n_{name}")) for name, op in CASES.items()]
    assert all(ks.variant.startswith("neon 8x12") for _, ks in kernels)
    src = tmp_path / "k.cc"
    src.write_text(KernelLib(kernels, tmp_path, compile=False, target=tc.target).source)
    argv = [*tc.cxx, "-std=c++17", *tc.cflags, "-Wall", "-Wextra", "-Werror", "-pthread", "-fPIC",
            f"-I{runtime_include_dir()}", "-c", str(src),
            "-o", str(tmp_path / "k.o")]
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0 and "fatal error" in r.stderr and ".h' file not found" in r.stderr:
        pytest.skip(f"clang finds no aarch64 C library headers here: {r.stderr.strip()[:200]}")
    assert r.returncode == 0, r.stderr[-3000:]


# -- what is declined -------------------------------------------------------------------------------------

def test_declines_what_it_does_not_recognise():
    M, K, N = 4, 8, 16
    # weight not constant
    text = f"""module {{
  func @main(%x: {t(M, K)}, %w: {t(K, N)}) -> ({t(M, N)}) attributes {{input_names = ["x", "w"], output_names = ["y"]}} {{
    %y = graph.fused %x, %w {{kind = "gemm", name = "k0"}} ({{
      ^bb0(%x1: {t(M, K)}, %w1: {t(K, N)}):
        %y0 = graph.matmul %x1, %w1 : ({t(M, K)}, {t(K, N)}) -> {t(M, N)}
        graph.yield %y0 : ({t(M, N)}) -> ()
    }}) : ({t(M, K)}, {t(K, N)}) -> {t(M, N)}
    func.return %y : ({t(M, N)}) -> ()
  }}
}}
"""
    op = next(o for o in parse_module(text).main.ops if o.name == "graph.fused")
    assert not cpp_gemm.GEMM_EMITTER.accepts(op, HOST)
    # an element-wise prologue on the activations
    op = gemm_block(M, K, N, [], yields=[("%y0", (M, N))])
    assert cpp_gemm.GEMM_EMITTER.accepts(op, HOST)
    # an epilogue operand that broadcasts in a way the kernel does not index (every other column)
    op = gemm_block(M, K, N, ["%y1 = " + _bin("graph.add", "%y0", "%b1", (M, N), (1, 1), (M, N))],
                    extra_args=[("b", (1, 1))])
    assert cpp_gemm.GEMM_EMITTER.accepts(op, HOST)   # a scalar: fine
    op2 = gemm_block(M, K, N, [f"%y1 = graph.reshape %y0 {{shape = [{M}, 2, {N // 2}]}} : ({t(M, N)}) -> {t(M, 2, N // 2)}",
                               "%y2 = " + _bin("graph.add", "%y1", "%b1", (M, 2, N // 2), (N // 2,), (M, 2, N // 2))],
                     extra_args=[("b", (N // 2,))], yields=[("%y2", (M, 2, N // 2))])
    assert not cpp_gemm.GEMM_EMITTER.accepts(op2, HOST)
    # gemm_layer_norm without a LayerNorm, and a LayerNorm in a plain gemm block
    assert not cpp_gemm.GEMM_EMITTER.accepts(gemm_block(M, K, N, [], kind="gemm_layer_norm",
                                                        yields=[("%y0", (M, N))]), HOST)
    op3 = gemm_block(M, K, N, [f"%y1 = graph.layer_norm %y0 {{axis = 1, epsilon = 1e-05}} : ({t(M, N)}) -> {t(M, N)}"])
    assert not cpp_gemm.GEMM_EMITTER.accepts(op3, HOST)


def test_pack_b_layout():
    w = np.arange(5 * 20, dtype=np.float32).reshape(5, 20)
    p = cpp_gemm.pack_b(w, nr=8, trans_b=False, alpha=1.0)
    assert p.shape == (3, 5, 8)
    assert (p[1, 2] == w[2, 8:16]).all() and (p[2, 4, :4] == w[4, 16:]).all() and (p[2, :, 4:] == 0).all()
    pt = cpp_gemm.pack_b(w.T.copy(), nr=8, trans_b=True, alpha=2.0)
    assert (pt == 2 * p).all()


def test_isa_selection():
    assert simd.isa_for_features({"avx512f", "avx512dq", "avx2", "fma"}) is simd.AVX512
    assert simd.isa_for_features({"avx2", "fma", "avx"}) is simd.AVX2
    assert simd.isa_for_features({"neon", "fma", "dotprod", "fp16"}) is simd.NEON
    assert simd.isa_for_features(set()) is simd.SCALAR
    assert simd.select_isa(HOST, {"isa": "scalar"}) is simd.SCALAR
    assert simd.select_isa(HOST, {"isa": "neon"}) is simd.NEON          # emitting for another machine is fine
    with pytest.raises(KeyError):
        simd.select_isa(HOST, {"isa": "sve"})


def test_neon_kernels_are_emitted_for_arm64():
    """arm64 targets get the NEON helper and its 8 x 12 driver; the x86 paths never see either."""
    arm64 = kernel_target("arm64-linux")
    ks = cpp_gemm.GEMM_EMITTER.emit(CASES["bias_gelu"], arm64, "k")
    assert ks.variant.startswith("neon 8x12")
    assert any("namespace lpfc_neon_gemm" in h and "V::fma_lane<0>" in h for h in ks.helpers)
    assert any("#include <arm_neon.h>" in h for h in ks.helpers)
    host = cpp_gemm.GEMM_EMITTER.emit(CASES["bias_gelu"], HOST, "k")
    assert not any("arm_neon" in h or "fma_lane" in h for h in host.helpers)


@pytest.mark.zoo
def test_mobilebert_gemm_blocks(tmp_path):
    """MobileBERT: bottleneck GEMMs reading a column slice of their input (a split prologue, the other parts
    yielded as copies) and NoNorm (mul + add) epilogues."""
    blocks = _gemm_blocks("mobilebert")
    assert all(cpp_gemm.GEMM_EMITTER.accepts(op, HOST) for op in blocks)
    split = [op for op in blocks if op.regions[0].block.ops[0].name == "graph.split"]
    assert split
    picked = split[:2] + [op for op in blocks if op not in split][:10]
    kernels = [(op, cpp_gemm.GEMM_EMITTER.emit(op, HOST, f"mb_{op.attributes['name']}")) for op in picked]
    lib = KernelLib(kernels, tmp_path)
    rng = np.random.default_rng(11)
    for op, ks in kernels:
        ins = make_inputs(op, rng)
        for g, w in zip(lib.run(op, ks, ins, 2), reference(op, ins)):
            assert_close(g, w, what=ks.symbol)


@pytest.mark.zoo
def test_no_model_string_reaches_the_source():
    """Node names, tensor names and value names never appear in generated code (identifiers are generated)."""
    from lpfc.codegen import cpp_attention, cpp_rowwise
    import re
    for model in ("minilm", "tiny-gpt2"):
        for op in fused_blocks(model):
            for em in (cpp_gemm.GEMM_EMITTER, cpp_attention.ATTENTION_EMITTER, cpp_rowwise.ROWWISE_EMITTER):
                if not em.accepts(op, HOST):
                    continue
                ks = em.emit(op, HOST, "kern")
                strings = {op.location.name}
                for inner in op.regions[0].block.ops:
                    strings.add(inner.location.name)
                    strings.update(n for n in re.split(r"[, ]+", inner.location.name))
                for s in strings:
                    if len(s) > 4:       # (short names like "add" could be C++ words)
                        assert s not in ks.code, (s, ks.symbol)
                assert re.fullmatch(r"[\x20-\x7e\n]*", ks.code)


@pytest.mark.zoo
def test_bare_ops_without_fusion(tmp_path):
    """--no-fusion leaves bare graph ops as kernels: matmul/gemm with a constant weight go through the GEMM
    kernel (with a gemm's bias as epilogue), layer_norm/softmax through the row-wise one."""
    from lpfc.codegen import cpp_rowwise
    from .cpp_harness import unfused_ops
    ops = unfused_ops("tiny-bert", "ts14")
    taken = {"gemm": [], "row": []}
    for op in ops:
        if cpp_gemm.GEMM_EMITTER.accepts(op, HOST):
            taken["gemm"].append(op)
        elif cpp_rowwise.ROWWISE_EMITTER.accepts(op, HOST):
            taken["row"].append(op)
    weights = [op for op in ops if op.name in ("graph.matmul", "graph.gemm") and operand_is_constant(op, 1)]
    assert len(taken["gemm"]) == len(weights) > 0
    assert {op.name for op in taken["row"]} <= {"graph.layer_norm", "graph.softmax"} and taken["row"]
    picked = taken["gemm"][:6] + taken["row"][:4]
    kernels = [(op, (cpp_gemm.GEMM_EMITTER if op in taken["gemm"] else cpp_rowwise.ROWWISE_EMITTER)
                .emit(op, HOST, f"bare{i}")) for i, op in enumerate(picked)]
    lib = KernelLib(kernels, tmp_path)
    rng = np.random.default_rng(13)
    for op, ks in kernels:
        ins = make_inputs(op, rng)
        for threads in (1, 2):
            for g, w in zip(lib.run(op, ks, ins, threads), reference(op, ins)):
                assert_close(g, w, what=f"{op.name} {ks.symbol}")
