"""Analytic latency profiles: what ``estimate_latency`` uses when no calibration exists (docs/cost.md).

A profile prices a kernel plan roofline-style, with no measurement at estimate time:

    ms = max(compute, memory) + call overhead
    compute = padded FLOP / (core peak · efficiency of the emitter · threads)
            + inner-op elements / (element rate · threads)
    memory  = bytes moved / bandwidth (cache bandwidth when they fit the last-level cache, else DRAM;
              per-core bandwidth × threads, capped at the total)

Threads split a kernel's work evenly (lpfc's pool hands each thread an equal share), so with cores of
different speeds (a phone's big.LITTLE) the slowest core among the first ``threads`` sets the pace.

* ``host``: the peak comes from this CPU's ISA (``/proc/cpuinfo`` flags: AVX-512 / AVX2+FMA / AVX /
  SSE, or NEON on aarch64) × 2 FMA pipes × a nominal clock (the ``@ x.xxGHz`` in the model name, else
  sysfs ``cpuinfo_max_freq``, else 2.5 GHz); memory figures are nominal constants. Deterministic.
* ``arm64-linux`` / ``arm64-android``: the Snapdragon 865 CPU from its published specification.
* ``opencl``: the Adreno 650 GPU from its published specification.

Every figure is an estimate, labelled as such on the result (``LatencyEstimate.source``), with a wide
band; ``lpfc calibrate`` replaces it with measurements.
"""
from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Optional


class UncalibratedWarning(UserWarning):
    """``estimate_latency`` had no calibration for the target and thread count: an analytic profile priced it."""


#: The fraction of the core's peak FLOP/s each emitter's code reaches (nominal). cpp-* kernels are lpfc's
#: blocked SIMD micro-kernels; "generic" is the scalar recompute emitter (the 2026-12-06 host calibration
#: measured it at 1-2 GFLOP/s, 1-2 % of an 80 GFLOP/s core, and cpp-gemm at ~23 GFLOP/s, ~30 %);
#: ocl-* are the OpenCL kernels on a GPU.
EFFICIENCY = {
    "cpp-gemm": 0.3, "cpp-attention": 0.35, "cpp-rowwise": 0.35, "generic": 0.015,
    "ocl-gemm": 0.15, "ocl-attention": 0.05, "ocl-rowwise": 0.05, "ocl-elementwise": 0.05,
}
DEFAULT_EFFICIENCY = 0.1
#: Kernels whose "bytes moved" count a whole table of which they read a few rows (gathers): their memory
#: traffic is taken as twice their output (read the rows, write the result) instead.
GATHER_KINDS = ("embedding",)
CYCLES_PER_ELEMENT = 4     # a vector lane's cost per produced element of softmax/LayerNorm/GELU-type work


@dataclass(frozen=True)
class Profile:
    name: str                      # e.g. "analytic host", "spec snapdragon-865-cpu"
    source: str                    # "analytic" (derived from this machine's ISA) or "spec" (published specs)
    label: str                     # one line for people: what it assumes
    core_gflops: tuple             # peak fp32 GFLOP/s per core, fastest first (thread i runs on core i)
    core_gelems: tuple             # elements/ns per core for non-matmul work (softmax, LayerNorm, GELU, ...)
    dram_gbs: float                # total DRAM bandwidth, GB/s
    dram_core_gbs: float           # what one core sustains from DRAM, GB/s
    cache_gbs: float               # one core's last-level-cache bandwidth, GB/s
    cache_bytes: int               # working sets up to this size run at cache bandwidth
    call_us: float                 # a kernel call's fixed cost, µs
    fork_us: float                 # added per kernel call when it runs on more than one thread, µs
    run_overhead_ms: float         # a whole run outside its kernels (input checks, copies, the call)
    band_pct: float                # the ± % band the estimates carry
    efficiency: dict = field(default_factory=lambda: dict(EFFICIENCY))
    threaded: bool = True          # False: one device (a GPU); the thread count does not change it

    def describe(self) -> str:
        return f"{self.name} ({self.source}: {self.label}; uncalibrated, ±{self.band_pct:.0f} %)"

    def kernel_ms(self, plan, threads: int) -> float:
        """One kernel plan's time in ms on ``threads`` threads."""
        t = max(1, min(int(threads), len(self.core_gflops))) if self.threaded else 1
        slowest = t - 1                                  # an even split waits for the slowest core used
        eff = self.efficiency.get(plan.emitter, DEFAULT_EFFICIENCY)
        flop = max(plan.padded_flop, plan.flop)
        compute_s = flop / (self.core_gflops[slowest] * 1e9 * eff * t) + \
            plan.elements / (self.core_gelems[slowest] * 1e9 * t)
        traffic = plan.bytes if plan.kind not in GATHER_KINDS else 2 * 4 * plan.elements
        if traffic <= self.cache_bytes:
            bw = self.cache_gbs * t
        else:
            bw = min(self.dram_gbs, self.dram_core_gbs * t)
        memory_s = traffic / (bw * 1e9)
        over_us = self.call_us + (self.fork_us if t > 1 else 0.0)
        return max(compute_s, memory_s) * 1e3 + over_us * 1e-3


# -- the host: peak from the ISA ------------------------------------------------------------------------

NOMINAL_GHZ = 2.5


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def host_isa(cpuinfo: Optional[str] = None, machine: Optional[str] = None) -> tuple:
    """(ISA name, fp32 FLOP per cycle per core) from the CPU flags: vector lanes × 2 (FMA) × 2 FMA pipes."""
    from ..codegen.targets import host_arch

    machine = machine or host_arch()
    info = _cpuinfo() if cpuinfo is None else cpuinfo
    if machine == "aarch64":
        return "neon", 4 * 2 * 2                      # 128-bit NEON, 2 FMA pipes (Cortex-A76 and newer)
    m = re.search(r"^flags\s*:\s*(.*)$", info, re.M)
    flags = set(m.group(1).split()) if m else set()
    if "avx512f" in flags:
        # AMD Zen 4 (family 25) runs a 512-bit FMA as two halves on its two 256-bit pipes: AVX2's rate
        # (measured on an EPYC of that family: 117 GFLOP/s per core, bench/peak.py); Intel and Zen 5 have
        # full-width 512-bit pipes
        vendor = re.search(r"^vendor_id\s*:\s*(\S+)", info, re.M)
        family = re.search(r"^cpu family\s*:\s*(\d+)", info, re.M)
        if vendor and vendor.group(1) == "AuthenticAMD" and family and int(family.group(1)) == 25:
            return "avx512", 16 * 2
        return "avx512", 16 * 2 * 2
    if {"avx2", "fma"} <= flags:
        return "avx2+fma", 8 * 2 * 2
    if "avx" in flags:
        return "avx", 8 * 2                           # a multiply and an add pipe, no FMA
    return "sse", 4 * 2


def host_ghz(cpuinfo: Optional[str] = None) -> tuple:
    """(GHz, where it came from): the model name's '@ x.xxGHz', else sysfs cpuinfo_max_freq, else nominal."""
    info = _cpuinfo() if cpuinfo is None else cpuinfo
    m = re.search(r"^model name\s*:.*@\s*([0-9.]+)\s*GHz", info, re.M)
    if m:
        return float(m.group(1)), "model name"
    if cpuinfo is None:
        try:
            khz = int(Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text().split()[0])
            if khz > 0:
                return khz / 1e6, "cpuinfo_max_freq"
        except (OSError, ValueError, IndexError):
            pass
    return NOMINAL_GHZ, "nominal"


def host_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@lru_cache(maxsize=None)
def host_profile() -> Profile:
    isa, flop_cycle = host_isa()
    ghz, where = host_ghz()
    cores = host_cores()
    lanes = {"avx512": 16, "avx2+fma": 8, "avx": 8, "neon": 4}.get(isa, 4)
    return Profile(
        name="analytic host", source="analytic",
        label=f"{isa}, {flop_cycle} FLOP/cycle × {ghz:.2f} GHz ({where}) = {flop_cycle * ghz:.0f} GFLOP/s per "
              f"core, {cores} core(s), nominal memory",
        core_gflops=(flop_cycle * ghz,) * cores, core_gelems=(lanes * ghz / CYCLES_PER_ELEMENT,) * cores,
        dram_gbs=40.0, dram_core_gbs=15.0, cache_gbs=60.0, cache_bytes=4 << 20,
        call_us=3.0, fork_us=5.0, run_overhead_ms=0.1, band_pct=75.0)


# -- published specifications -------------------------------------------------------------------------

#: Snapdragon 865 (Kryo 585): 1× Cortex-A77 at 2.84 GHz, 3× Cortex-A77 at 2.42 GHz, 4× Cortex-A55 at
#: 1.80 GHz. A77: 2 × 128-bit NEON FMA pipes = 16 fp32 FLOP/cycle; A55: one 128-bit FMA per cycle = 8.
#: LPDDR5-5500, 4 × 16 bit = 44 GB/s; 512 KB L2 per A77 prime core, 4 MB L3. One core is assumed to
#: sustain 20 GB/s from DRAM and 16 B/cycle from L3; the in-order A55 half the A77's element rate per clock.
SNAPDRAGON_865_CPU = Profile(
    name="spec snapdragon-865-cpu", source="spec",
    label="Snapdragon 865 from published specs: Cortex-A77 2.84 GHz + 3x2.42 GHz (16 FLOP/cycle) + "
          "4x Cortex-A55 1.8 GHz (8 FLOP/cycle), LPDDR5 44 GB/s",
    core_gflops=(16 * 2.84, 16 * 2.42, 16 * 2.42, 16 * 2.42, 8 * 1.8, 8 * 1.8, 8 * 1.8, 8 * 1.8),
    core_gelems=(4 * 2.84 / CYCLES_PER_ELEMENT,) + (4 * 2.42 / CYCLES_PER_ELEMENT,) * 3
    + (4 * 1.8 / CYCLES_PER_ELEMENT / 2,) * 4,
    dram_gbs=44.0, dram_core_gbs=20.0, cache_gbs=16 * 2.84, cache_bytes=4 << 20,
    call_us=3.0, fork_us=10.0, run_overhead_ms=0.1, band_pct=100.0)

#: Adreno 650: ~1.2 TFLOP/s fp32, the figure commonly reported for it (Qualcomm publishes no FLOP figure;
#: it matches ~1024 fp32 FMA lanes × 2 × ~587 MHz); it shares the LPDDR5 (44 GB/s) and the 3 MB
#: system-level cache with the CPU. An OpenCL enqueue + completion is assumed to cost 30 µs. The GPU is one
#: device: the thread count does not change it.
ADRENO_650 = Profile(
    name="spec adreno-650", source="spec",
    label="Adreno 650 (Snapdragon 865) from published specs: ~1.2 TFLOP/s fp32, LPDDR5 44 GB/s, "
          "30 µs per kernel launch",
    core_gflops=(1200.0,), core_gelems=(1024 * 0.587 / CYCLES_PER_ELEMENT,),
    dram_gbs=44.0, dram_core_gbs=44.0, cache_gbs=100.0, cache_bytes=3 << 20,
    call_us=30.0, fork_us=0.0, run_overhead_ms=0.2, band_pct=100.0, threaded=False)

SPEC_PROFILES = {"arm64-linux": SNAPDRAGON_865_CPU, "arm64-android": SNAPDRAGON_865_CPU, "opencl": ADRENO_650}


def profile_for(target: str) -> Profile:
    """The analytic profile for a target name: the host's from its ISA, the others from published specs."""
    return host_profile() if target == "host" else SPEC_PROFILES[target]


def warn_uncalibrated(target: str, threads: int, profile: Profile, hint: str) -> None:
    warnings.warn(f"no latency calibration for target {target!r} with {threads} thread(s): using the "
                  f"{profile.describe()} ({hint})", UncalibratedWarning, stacklevel=4)


__all__ = ["ADRENO_650", "EFFICIENCY", "Profile", "SNAPDRAGON_865_CPU", "SPEC_PROFILES", "UncalibratedWarning",
           "host_isa", "host_profile", "profile_for"]
