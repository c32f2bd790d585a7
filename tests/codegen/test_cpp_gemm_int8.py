"""int8 GEMM kernels (quantize-int8, lpfc/codegen/cpp_gemm_int8.py, templates/gemm_int8.h.j2; docs/int8.md).

Every micro-kernel that can run here (the host's AVX2 one, the portable one, arm64 ``sdot`` under qemu) is run
on the GEMM emitter's synthetic and tile-edge blocks marked int8, against the interpreter (which computes the
int8 product of lpfc/ir/int8.py); a bare GEMM must match it bit for bit, also at the bound where
``vpmaddubsw`` would saturate with 8-bit activations.  The AVX-512 VNNI kernel is built (-Werror) everywhere, and
run as the others where the host has AVX-512 VNNI.
"""
from __future__ import annotations

import numpy as np
import pytest

from lpfc.codegen import cpp_gemm, cpp_gemm_int8
from lpfc.ir.int8 import int8_matmul, quantize_rows, quantize_weight
from lpfc.passes.quantize_int8 import quantizable

from .cpp_harness import HOST, TARGETS, KernelLib, assert_close, kernel_target, make_inputs, reference
from .test_cpp_gemm import gemm_block, synthetic_cases, tile_edge_cases


def _int8(op):
    """Marks the block's matmul int8 as the quantize-int8 pass would (and checks that it would)."""
    marked = 0
    for o in op.walk():
        if quantizable(o):
            o.attributes["precision"] = "int8"
            marked += 1
    assert marked == 1
    return op


def _kinds(target):
    if target is not HOST:
        return ("sdot",)
    # the AVX-512 VNNI kernel too where this host runs it (its library is built for the host's features)
    return ("avx2", "scalar") + (("vnni512",) if cpp_gemm_int8.int8_kind(HOST) == "vnni512" else ())


@pytest.fixture(scope="module", params=TARGETS)
def int8_lib(request, tmp_path_factory):
    target = kernel_target(request.param)
    cases = {**synthetic_cases(), **tile_edge_cases()}
    if target is not HOST:      # qemu: the synthetic epilogues and a third of the edges
        cases = {k: v for i, (k, v) in enumerate(cases.items()) if not k.startswith(("bias_relu", "layer_norm_"))
                 or i % 3 == 0}
    kernels = []
    for name, op in cases.items():
        _int8(op)
        for kind in _kinds(target):
            for cname, choice in (("default", {}), ("small", {"nc_target": 16, "mc_target": 6})):
                ks = cpp_gemm.GEMM_EMITTER.emit(op, target, f"q_{name}_{kind}_{cname}", dict(choice, int8=kind))
                kernels.append((f"{name}/{kind}/{cname}", op, ks))
    lib = KernelLib([(op, ks) for _, op, ks in kernels], tmp_path_factory.mktemp("gemm_int8"), target=target)
    return lib, kernels, target


def test_int8_blocks_match_the_interpreter(int8_lib):
    lib, kernels, target = int8_lib
    rng = np.random.default_rng(3)
    for label, op, ks in kernels:
        assert ks.variant.startswith("int8 "), ks.variant
        ins = make_inputs(op, rng)
        want = reference(op, ins)
        for threads in (1, 2) if target is HOST else (2,):
            for g, w in zip(lib.run(op, ks, ins, threads), want):
                assert_close(g, w, atol=2e-4, rtol=2e-4, what=f"{label} ({ks.variant}) at {threads} threads")


def _bare(M, K, N, weight):
    return _int8(gemm_block(M, K, N, [], yields=[("%y0", (M, N))], weight=weight))


def _exact_cases():
    rng = np.random.default_rng(7)
    cases = []
    # random data, K not a multiple of 4, N not a multiple of NR, M not of MR
    cases.append((_bare(37, 203, 70, rng.standard_normal((203, 70)).astype(np.float32)),
                  rng.standard_normal((37, 203)).astype(np.float32) * 3))
    # the saturation bound: every activation quantizes to 127, every weight to +-127, so each vpmaddubsw pair
    # sums to +-2*127*127 = +-32258 (8-bit activations would reach 2*255*127 and saturate at 32767)
    K = 1024
    w = np.ones((K, 48), np.float32)
    w[:, 1::2] = -1
    w[::7, 2] = 0.5
    cases.append((_bare(9, K, 48, w), np.full((9, K), 2.5, np.float32)))
    # activations of both signs hitting 0 and 127 after the zero point; a zero weight column; a constant row
    x = rng.standard_normal((6, 64)).astype(np.float32)
    x[2] = 0
    x[3] = -1
    w = rng.standard_normal((64, 20)).astype(np.float32)
    w[:, 5] = 0
    cases.append((_bare(6, 64, 20, w), x))
    return cases


@pytest.mark.parametrize("target_name", TARGETS)
def test_a_bare_int8_gemm_is_exact(tmp_path, target_name):
    """No epilogue: the kernel's output is the interpreter's bit for bit (the same integers and float ops)."""
    target = kernel_target(target_name)
    kernels = []
    for i, (op, x) in enumerate(_exact_cases()):
        for kind in _kinds(target):
            kernels.append((op, x, cpp_gemm.GEMM_EMITTER.emit(op, target, f"x{i}_{kind}", {"int8": kind})))
    lib = KernelLib([(op, ks) for op, _, ks in kernels], tmp_path, target=target)
    rng = np.random.default_rng(0)
    for op, x, ks in kernels:
        ins = make_inputs(op, rng)      # x and the weight
        ins[0] = x
        want = reference(op, ins)[0]
        got = lib.run(op, ks, ins, 2)[0]
        np.testing.assert_array_equal(got, want, err_msg=ks.variant)
    # and the saturation case equals the exact integer result worked out by hand
    op, x, ks = kernels[len(_kinds(target))]
    ins = make_inputs(op, rng)
    ins[0] = x
    got = lib.run(op, ks, ins, 1)[0]
    sa = np.float32(2.5) / np.float32(127)
    assert got[0, 0] == np.float32(127 * 127 * 1024) * (sa * (np.float32(1) / np.float32(127)))
    assert got[0, 1] == -got[0, 0]


def test_reference_numerics():
    """lpfc/ir/int8.py itself: ranges, the zero point, exactness of the integer part, NaN rows."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 33)).astype(np.float32)
    x[1] = np.abs(x[1])          # all >= 0: zero point 0
    q, sa, za = quantize_rows(x)
    assert q.dtype == np.uint8 and q.max() <= 127 and q.min() >= 0
    assert za[1] == 0 and q[1].max() == 127
    deq = (q.astype(np.float32) - za[:, None]) * sa[:, None]
    assert np.abs(deq - x).max() <= sa.max() * 0.5 + 1e-6
    w = rng.standard_normal((33, 7)).astype(np.float32)
    qw, sw = quantize_weight(w)
    assert np.abs(qw).max() == 127 and np.all(np.abs(qw).max(axis=0) == 127)
    y = int8_matmul(x, w)
    assert np.abs(y - x @ w).max() < 0.05 * np.abs(x @ w).max()
    x[3, 4] = np.nan
    y = int8_matmul(x, w)
    assert np.isnan(y[3]).all() and not np.isnan(np.delete(y, 3, axis=0)).any()


@pytest.mark.parametrize("kind", _kinds(HOST))
@pytest.mark.parametrize("nan_row", [0, 5])
def test_a_nan_row_gives_nan_outputs(tmp_path, nan_row, kind):
    op = _bare(6, 40, 20, np.random.default_rng(1).standard_normal((40, 20)).astype(np.float32))
    ks = cpp_gemm.GEMM_EMITTER.emit(op, HOST, "nanrow", {"int8": kind})
    lib = KernelLib([(op, ks)], tmp_path)
    x = np.random.default_rng(2).standard_normal((6, 40)).astype(np.float32)
    x[nan_row, 3] = np.inf
    ins = make_inputs(op, np.random.default_rng(3))
    ins[0] = x
    got = lib.run(op, ks, ins, 1)[0]
    assert np.isnan(got[nan_row]).all()
    assert not np.isnan(np.delete(got, nan_row, axis=0)).any()


def test_vnni512_kernel_builds_warning_free(tmp_path):
    """The AVX-512 VNNI micro-kernel cannot run here; it must build with -Werror (-march=skylake-avx512
    -mavx512vnni), and its emitted source must use vpdpbusd's intrinsic."""
    cases = tile_edge_cases()
    kernels = []
    for name in list(cases)[:6]:
        op = _int8(cases[name])
        ks = cpp_gemm.GEMM_EMITTER.emit(op, HOST, f"v_{name}", {"int8": "vnni512", "isa": "avx512"})
        kernels.append((op, ks))
    assert "_mm512_dpbusd_epi32" in cpp_gemm_int8.int8_driver_helper("vnni512")
    lib = KernelLib(kernels, tmp_path, extra_flags=("-march=skylake-avx512", "-mavx512vnni", "-Wall", "-Wextra",
                                                    "-Werror"), build=False)
    assert lib.path.exists()


def test_int8_kind_follows_the_features():
    from lpfc.codegen.targets import get_target
    kind = cpp_gemm_int8.int8_kind(HOST)
    assert kind in ("avx2", "vnni512")        # this x86-64 host has AVX2 at least
    assert cpp_gemm_int8.int8_kind(HOST, {"isa": "scalar"}) == "scalar"
    arm = get_target("arm64-linux")
    assert cpp_gemm_int8.int8_kind(arm, {"int8": "sdot"}) == "sdot"
    with pytest.raises(ValueError, match="unknown int8 micro-kernel"):
        cpp_gemm_int8.int8_kind(HOST, {"int8": "avx9"})


def test_pack_b_int8_layout():
    rng = np.random.default_rng(4)
    w = rng.standard_normal((10, 21)).astype(np.float32)
    nr = 16
    blob = cpp_gemm_int8.pack_b_int8(w, nr=nr, trans_b=False, alpha=1.0)
    qw, sw = quantize_weight(w)
    kp, p = 12, 2
    panels = blob[:p * kp * nr].view(np.int8).reshape(p, kp // 4, nr, 4)
    # column n of panel pp, k = 4g + j
    for n in (0, 5, 15, 16, 20):
        pp, c = divmod(n, nr)
        col = panels[pp, :, c, :].reshape(-1)
        np.testing.assert_array_equal(col[:10], qw[:, n])
        assert not col[10:].any()
    scales = blob[p * kp * nr:p * kp * nr + 4 * p * nr].view(np.float32)
    np.testing.assert_array_equal(scales[:21], sw)
    assert np.all(scales[21:] == 1)
    sums = blob[p * kp * nr + 4 * p * nr:].view(np.int32)
    np.testing.assert_array_equal(sums[:21], qw.astype(np.int32).sum(axis=0))
    assert len(blob) == p * kp * nr + 8 * p * nr
