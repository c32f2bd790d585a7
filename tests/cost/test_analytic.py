"""The analytic fallback (no calibration) and the spec profiles of the other targets (docs/cost.md).

No accuracy is asserted (these are estimates by construction); these check that the fallback is used,
labelled, and scales the way a roofline must.
"""
import warnings

import pytest

import lpfc
from lpfc.cost.analytic import ADRENO_650, SNAPDRAGON_865_CPU, Profile, UncalibratedWarning, host_isa, host_profile
from lpfc.cost.plan import plan_arch
from tests.cost.test_estimate import tiny_calibration  # noqa: F401  (the fixture)

SMALL = dict(layers=2, hidden=32, heads=[2, 4], ffn=[64, 48], seq=8, batch=1, vocab=50)
BIG = dict(layers=2, hidden=256, heads=4, ffn=1024, seq=128, batch=1, vocab=50)


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LPFC_CACHE_DIR", str(tmp_path))
    return tmp_path


def _est(arch, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncalibratedWarning)
        return lpfc.estimate_latency(arch, **kw)


def test_host_fallback_is_used_and_labelled(empty_cache):
    with pytest.warns(UncalibratedWarning, match="no latency calibration for target 'host'"):
        est = lpfc.estimate_latency(SMALL)
    assert est.source == "analytic" and not est.calibrated
    assert "analytic host" in est.profile and "uncalibrated" in est.profile
    assert est.band_pct == host_profile().band_pct >= 50             # a wide band, not a calibrated one
    assert est.ms > 0 and all(k.ms > 0 for k in est.kernels)
    assert est.ms == pytest.approx(sum(k.ms for k in est.kernels) + est.overhead_ms)
    assert len(est.kernels) == len(plan_arch(SMALL))
    assert "UNCALIBRATED analytic" in str(est) and "profile: analytic host" in est.table()
    assert est.to_dict()["source"] == "analytic"


def test_fallback_scales_sensibly(empty_cache):
    # (from 2 layers: one layer's attention runs on the slow generic emitter, docs/cost.md, and costs more)
    ms = [_est(dict(BIG, layers=n)).ms for n in (2, 3, 4, 8)]
    assert ms == sorted(ms) and len(set(ms)) == 4                     # more layers -> more ms
    assert _est(dict(BIG, hidden=512, heads=8)).ms > _est(BIG).ms     # wider -> more ms
    prof = host_profile()
    if len(prof.core_gflops) < 2:
        pytest.skip("this machine has one core: the host profile cannot use a second thread")
    big = dict(BIG, layers=4)
    assert _est(big, threads=2).ms < _est(big, threads=1).ms          # a big model gains from a 2nd thread


def test_profile_kernel_time_is_a_roofline():
    from lpfc.cost.plan import KernelPlan

    p = Profile("t", "analytic", "test", core_gflops=(100.0, 50.0), core_gelems=(1.0, 1.0), dram_gbs=10.0,
                dram_core_gbs=10.0, cache_gbs=100.0, cache_bytes=1000, call_us=1.0, fork_us=2.0,
                run_overhead_ms=0.0, band_pct=50.0, efficiency={"e": 0.5})
    gemm = KernelPlan("gemm", "e", "-", "", 10**9, 10**9, 0, 10**9, "")       # 1 GFLOP, 10 MB from DRAM
    # compute 1e9 / (100e9 · 0.5) = 20 ms beats memory 1e9 B / 10 GB/s... = 100 ms: memory-bound
    assert p.kernel_ms(gemm, 1) == pytest.approx(100 + 1e-3)
    fast = KernelPlan("gemm", "e", "-", "", 10**9, 10**6, 0, 10**9, "")
    assert p.kernel_ms(fast, 1) == pytest.approx(20 + 1e-3)                   # compute-bound
    # two threads: the slower core (50 GFLOP/s) sets the pace of an even split, plus the fork cost
    assert p.kernel_ms(fast, 2) == pytest.approx(1e9 / (50e9 * 0.5 * 2) * 1e3 + 3e-3)
    assert p.kernel_ms(fast, 8) == p.kernel_ms(fast, 2)                        # only two cores


def test_host_isa_from_cpu_flags():
    assert host_isa("flags\t: fpu sse avx avx2 fma avx512f\n", "x86_64") == ("avx512", 64)
    zen4 = "vendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\nflags\t: fpu avx avx2 fma avx512f\n"
    assert host_isa(zen4, "x86_64") == ("avx512", 32)            # 512-bit FMAs split over 256-bit pipes
    assert host_isa(zen4.replace(": 25", ": 26"), "x86_64") == ("avx512", 64)   # Zen 5: full-width pipes
    assert host_isa("flags\t: fpu sse avx avx2 fma\n", "x86_64") == ("avx2+fma", 32)
    assert host_isa("flags\t: fpu sse sse2\n", "x86_64") == ("sse", 8)
    assert host_isa("", "aarch64") == ("neon", 16)


@pytest.mark.parametrize("target", ["arm64-android", "arm64-linux"])
def test_arm64_spec_profile(empty_cache, target):
    with pytest.warns(UncalibratedWarning, match=target):
        est = lpfc.estimate_latency(SMALL, target=target)
    assert est.source == "spec" and not est.calibrated and est.target == target
    assert "Snapdragon 865" in est.profile and "spec" in est.profile
    assert "UNCALIBRATED spec estimate" in str(est)
    gemms = [k for k in est.kernels if k.emitter == "cpp-gemm"]
    assert gemms and all(k.variant.startswith("neon") for k in gemms)   # the kernels the arm64 target emits
    assert est.ms > 0 and est.band_pct == SNAPDRAGON_865_CPU.band_pct
    big = dict(BIG, layers=4)
    one, two = _est(big, target=target, threads=1).ms, _est(big, target=target, threads=2).ms
    assert two < one


def test_opencl_spec_profile(empty_cache):
    est = _est(SMALL, target="opencl")
    assert est.source == "spec" and "Adreno 650" in est.profile
    assert {k.emitter for k in est.kernels} <= {"ocl-gemm", "ocl-attention", "ocl-rowwise", "ocl-elementwise"}
    assert est.ms > 0 and est.band_pct == ADRENO_650.band_pct
    assert _est(SMALL, target="opencl", threads=2).ms == est.ms          # one GPU: threads do not change it
    assert _est(dict(BIG, layers=4), target="opencl").ms > _est(dict(BIG, layers=2), target="opencl").ms


def test_calibration_takes_precedence(tiny_calibration):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UncalibratedWarning)       # no fallback may be used
        est = lpfc.estimate_latency(SMALL)
    assert est.source == "calibrated" and est.calibrated and est.profile == f"calibrated: {tiny_calibration}"
    assert est.ms != pytest.approx(_est(SMALL, threads=2).ms)       # 2 threads: not calibrated, analytic
    assert _est(SMALL, threads=2).source == "analytic"


def test_cli_names_the_profile(empty_cache, capsys):
    from lpfc.cli import main

    assert main(["estimate", "--arch", '{"layers": 2, "hidden": 32, "heads": 2, "ffn": 64, "seq": 8}',
                 "--target", "arm64-android"]) == 0
    out, err = capsys.readouterr()
    assert "UNCALIBRATED spec estimate" in out and "profile: spec snapdragon-865-cpu" in out
    assert "no latency calibration for target 'arm64-android'" in err
