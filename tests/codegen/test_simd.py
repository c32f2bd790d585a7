"""The SIMD layer's primitive vocabulary (lpfc/codegen/simd.py), lane by lane against numpy, on every ISA
that runs here: the host's (AVX2 on the development VM) and scalar natively, NEON under qemu.  Special
values (NaN, +-inf, +-0, denormals, ties) check that every ISA follows the same NaN rules."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from lpfc.codegen import simd
from lpfc.codegen.kernel_source import KERNEL_SIGNATURE, KernelSource

from .cpp_harness import TARGETS, KernelLib, kernel_target

SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 0.5, 1.5, 1e-40, -3e38, 3e38,
                    7.25, -0.75], dtype=np.float32)
A = np.array([a for a, _ in itertools.product(SPECIAL, SPECIAL)], dtype=np.float32)   # every pair (a, b)
B = np.array([b for _, b in itertools.product(SPECIAL, SPECIAL)], dtype=np.float32)
L = A.size                                    # 256: a multiple of every W

# name -> the statement computing it from x = a[i:i+W], y = b[i:i+W], z = c[i:i+W], e = n[i:i+W]
OPS = {
    "add": "V::add(x, y)", "sub": "V::sub(x, y)", "mul": "V::mul(x, y)", "div": "V::div(x, y)",
    "fma": "V::fma(x, y, z)", "max": "V::max(x, y)", "min": "V::min(x, y)", "max_num": "V::max_num(x, y)",
    "min_num": "V::min_num(x, y)", "neg": "V::neg(x)", "abs": "V::abs(x)", "sqrt": "V::sqrt(x)",
    "relu": "V::relu(x)", "select_lt": "V::select(V::lt(x, y), x, y)", "is_nan": "V::is_nan(x)",
    "andnot_lt": "V::andnot(V::lt(x, y), x)", "round_near": "V::round_near(x)", "nan_to_zero": "V::nan_to_zero(x)",
    "scale2": "V::scale2(z, e)", "set1": "V::set1(3.5f)", "zero": "V::zero()",
    "hsum": "V::set1(V::hsum(z))", "hmax": "V::set1(V::hmax(x))",
    "load_partial": "V::load_partial(a + i, (int)(i / V::W) % V::W)",
}


def _source(isa, symbol):
    lines = [KERNEL_SIGNATURE.format(symbol=symbol) + " {",
             f"    namespace V = {isa.ns};",
             "    const float *a = (const float *)in[0], *b = (const float *)in[1], *c = (const float *)in[2], "
             "*n = (const float *)in[3];",
             "    float *o = (float *)out[0];",
             f"    const long L = {L};",
             "    (void)num_threads;",
             "    for (long i = 0; i < L; i += V::W) {",
             "        const V::vf x = V::load(a + i), y = V::load(b + i), z = V::load(c + i), e = V::load(n + i);",
             "        (void)x; (void)y; (void)z; (void)e;"]
    for k, expr in enumerate(OPS.values()):
        lines.append(f"        V::store(o + {k} * L + i, {expr});")
    lines.append(f"        V::store_partial(o + {len(OPS)} * L + i, V::set1(7.0f), (int)(i / V::W) % V::W);")
    lines += ["    }", "}"]
    return KernelSource(symbol, "\n".join(lines) + "\n", ("<math.h>", "<stdint.h>", "<string.h>"),
                        (isa.helper(),), variant=isa.name)


def _expected(w, a, b, c, n):
    with np.errstate(all="ignore"):
        f32 = np.float32
        mask = lambda m: np.where(m, np.uint32(0xFFFFFFFF), np.uint32(0)).view(np.float32)   # noqa: E731
        groups = lambda v: np.repeat(v.reshape(-1, w), w, axis=0).reshape(-1, w)              # noqa: E731
        cnt = (np.arange(L) // w) % w
        lane = np.arange(L) % w
        want = {
            "add": a + b, "sub": a - b, "mul": a * b, "div": a / b,
            "fma": (a.astype(np.float64) * b + c).astype(f32), "max": np.maximum(a, b), "min": np.minimum(a, b),
            "max_num": np.where(a > b, a, b), "min_num": np.where(a < b, a, b),   # the x86 rule: b unless a wins
            "neg": -a, "abs": np.abs(a), "sqrt": np.sqrt(a), "relu": np.maximum(a, f32(0)),
            "select_lt": np.where(a < b, a, b), "is_nan": mask(np.isnan(a)), "andnot_lt": np.where(a < b, f32(0), a),
            "round_near": np.rint(a), "nan_to_zero": np.where(np.isnan(a), f32(0), a),
            "scale2": np.ldexp(c, n.astype(np.int32)).astype(f32), "set1": np.full(L, 3.5, f32), "zero": np.zeros(L, f32),
            "hsum": groups(c).sum(axis=1, dtype=np.float64).astype(f32),
            "hmax": np.array([np.nan if np.isnan(g).any() else g.max() for g in groups(a)], dtype=f32),
            "load_partial": np.where(lane < cnt, a, f32(0)),
            "store_partial": np.where(lane < cnt, f32(7), f32(np.nan)),
        }
    return want


@pytest.mark.parametrize("target_name", TARGETS)
def test_vocabulary_lane_by_lane(tmp_path, target_name):
    target = kernel_target(target_name)
    isas = [simd.select_isa(target)] + ([simd.SCALAR] if target_name == "host" else [])
    if target_name != "host":
        assert isas[0] is simd.NEON
    kernels = [(None, _source(isa, f"vocab_{isa.name}")) for isa in isas]
    lib = KernelLib(kernels, tmp_path, target=target)
    rng = np.random.default_rng(0)
    a, b = A.copy(), B.copy()
    c = np.where(np.isfinite(A) & (np.abs(A) < 1e30) & (np.abs(A) > 1e-30), A, rng.uniform(-4, 4, L)).astype(np.float32)
    n = rng.integers(-127, 129, L).astype(np.float32)
    n[:6] = [-127, -126, 0, 1, 127, 128]
    c[:6] = [1.5, -1.0, 3.0, 0.75, 1.0, 1.0]
    for isa, (_, ks) in zip(isas, kernels):
        out = np.full((len(OPS) + 1, L), np.nan, dtype=np.float32)
        lib.call(ks.symbol, [a, b, c, n], [out])
        want = _expected(isa.width, a, b, c, n)
        for k, name in enumerate([*OPS, "store_partial"]):
            got, exp = out[k], want[name]
            if name == "is_nan":
                assert (got.view(np.uint32) == exp.view(np.uint32)).all(), f"{isa.name} {name}"
                continue
            if name == "hsum":       # (the summation order is the ISA's)
                np.testing.assert_allclose(got, exp, rtol=1e-6, atol=1e-6, err_msg=f"{isa.name} {name}")
                continue
            bad = ~((got == exp) | (np.isnan(got) & np.isnan(exp)))
            if name == "fma":        # (the float64 reference rounds twice: it may be 1 ulp off near a tie)
                with np.errstate(invalid="ignore"):
                    bad &= ~(np.abs(got - exp) <= np.spacing(np.abs(exp)))
            assert not bad.any(), (f"{isa.name} {name}: a={a[bad][:4]} b={b[bad][:4]} got {got[bad][:4]} "
                                   f"want {exp[bad][:4]}")
