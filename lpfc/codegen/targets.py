"""Targets: what lpfc can compile a model for, described without touching the machine.

A :class:`Target` says which CPU architecture and OS the library is for, the
flags that select its instruction set, and whether it drives a GPU through
OpenCL.  Which compiler builds it, where that compiler is, and how to run the
result here is the business of :mod:`lpfc.codegen.toolchain`.

====================  ==========================  ===============================================
name                  builds with                 runs here with
====================  ==========================  ===============================================
``host``              gcc/g++ (``LPFC_CC``)       natively
``arm64-linux``       aarch64-linux-gnu-gcc/g++   ``qemu-aarch64 -L /usr/aarch64-linux-gnu``
``arm64-android``     the Android NDK's clang     (on a phone, via adb: not from lpfc yet)
``opencl``            host compiler + libOpenCL   natively, on the OpenCL device (PoCL here)
====================  ==========================  ===============================================
"""
from __future__ import annotations

import platform
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Optional

from ..errors import ToolchainError

if TYPE_CHECKING:   # toolchain.py imports this module
    from .toolchain import Toolchain

TARGET_NAMES = ("host", "arm64-linux", "arm64-android", "opencl")

#: The Android API level when none is given (Android 10); arm64 needs 21 or newer.
DEFAULT_ANDROID_API = 29
MIN_ANDROID_API = 21

#: The ARM ISA lpfc generates for phones: ARMv8.2-A with half-precision
#: arithmetic and dot products (Cortex-A55/A75 and newer, every phone since 2018).
ARM64_MARCH = "armv8.2-a+fp16+dotprod"

#: The CPU arm64 targets are tuned for unless ``cpu=`` (``lpfc compile --cpu``) names another:
#: ``-mcpu=cortex-a77`` implies ARM64_MARCH (ARMv8.2-A + fp16 + dotprod) and schedules for a
#: big core of 2019-2021 phones.  Any ``-mcpu`` value the target's compiler accepts may be given.
ARM64_DEFAULT_CPU = "cortex-a77"


def host_arch() -> str:
    """This machine's architecture as lpfc names it: ``x86_64`` or ``aarch64`` (else as reported)."""
    m = platform.machine().lower()
    return {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}.get(m, m)


@dataclass(frozen=True)
class Target:
    name: str
    arch: str                     # "x86_64" | "aarch64"
    os: str                       # "linux" | "android"
    triple: str                   # the GNU/LLVM target triple
    cpu_flags: tuple[str, ...]    # selects the instruction set
    opencl: bool = False          # kernels are OpenCL C, run through the OpenCL ICD loader
    api_level: Optional[int] = None  # Android only
    description: str = ""
    cpu: Optional[str] = None     # the -mcpu (arm64) / -march (x86) name; None: the target's default
    precision: str = "fp32"       # the GEMM kernels' arithmetic (lpfc.codegen.precision: fp32 / fp16 / int8)
    #: The toolchain this target is built with, once resolved (:func:`lpfc.codegen.toolchain.resolve_target`);
    #: None for a target only described (get_target). Not part of the target's identity (equality, hash).
    toolchain: Optional["Toolchain"] = field(default=None, compare=False, repr=False)
    #: How one-row GEMMs (a decode step's projections) store their packed weights: "fp32", or "fp16" (weight-only
    #: half storage, fp32 arithmetic: half the bytes a bandwidth-bound step reads); ``lpfc.compile(weights=)``.
    weights: str = "fp32"

    @property
    def is_cross(self) -> bool:
        """Built for another architecture or OS than this machine's."""
        return self.arch != host_arch() or self.os != "linux"

    def with_toolchain(self, toolchain: "Toolchain") -> "Target":
        """This target carrying ``toolchain`` (what :func:`~lpfc.codegen.toolchain.resolve_target` returns)."""
        return replace(self, toolchain=toolchain)


def get_target(name: str, *, api_level: Optional[int] = None, cpu: Optional[str] = None) -> Target:
    """The target called ``name`` (one of :data:`TARGET_NAMES`).

    ``cpu`` names the processor to generate code for: ``-mcpu=CPU`` on arm64 (default
    :data:`ARM64_DEFAULT_CPU`), ``-march=CPU`` on x86-64 (default ``native`` for the host).  The
    name is checked here only for its spelling; :func:`~lpfc.codegen.toolchain.find_toolchain`
    asks the compiler whether it knows it."""
    if isinstance(name, Target):
        if (api_level is None or api_level == name.api_level) and (cpu is None or cpu == name.cpu):
            return name
        api_level = name.api_level if api_level is None and name.name == "arm64-android" else api_level
        cpu = name.cpu if cpu is None else cpu
        name = name.name
    if name not in TARGET_NAMES:
        raise ToolchainError(f"unknown target {name!r}", hint="targets: " + ", ".join(TARGET_NAMES))
    if api_level is not None and name != "arm64-android":
        raise ToolchainError(f"an Android API level was given for target {name!r}",
                             hint="api_level only applies to arm64-android")
    if cpu is not None and (not isinstance(cpu, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]*", cpu)):
        raise ToolchainError(f"bad CPU name {cpu!r}",
                             hint="give a compiler CPU name such as cortex-a55 (arm64) or skylake (x86-64)")
    arch = host_arch()
    if name in ("host", "opencl"):
        flags = ((f"-march={cpu or 'native'}",) if arch == "x86_64" else (f"-mcpu={cpu or 'native'}",))
        if name == "host":
            return Target("host", arch, "linux", f"{arch}-linux-gnu", flags, cpu=cpu,
                          description=f"this machine ({arch} Linux), tuned for "
                                      f"{'its CPU' if cpu is None else cpu}")
        return Target("opencl", arch, "linux", f"{arch}-linux-gnu", flags, opencl=True, cpu=cpu,
                      description="host code on this machine, kernels on an OpenCL 1.2 device")
    arm_cpu = cpu or ARM64_DEFAULT_CPU
    if name == "arm64-linux":
        return Target("arm64-linux", "aarch64", "linux", "aarch64-linux-gnu", (f"-mcpu={arm_cpu}",), cpu=cpu,
                      description=f"64-bit ARM Linux, NEON (-mcpu={arm_cpu})")
    level = DEFAULT_ANDROID_API if api_level is None else api_level
    if isinstance(level, bool) or not isinstance(level, int) or level < MIN_ANDROID_API:
        raise ToolchainError(f"Android API level {level!r} is not supported",
                             hint=f"give an integer >= {MIN_ANDROID_API}; the default is {DEFAULT_ANDROID_API}")
    return Target("arm64-android", "aarch64", "android", f"aarch64-linux-android{level}",
                  (f"-mcpu={arm_cpu}",), api_level=level, cpu=cpu,
                  description=f"Android phones (arm64-v8a, API {level}), NEON (-mcpu={arm_cpu})")


__all__ = ["ARM64_DEFAULT_CPU", "ARM64_MARCH", "DEFAULT_ANDROID_API", "MIN_ANDROID_API", "TARGET_NAMES", "Target",
           "get_target", "host_arch"]
