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
from dataclasses import dataclass
from typing import Optional

from ..errors import ToolchainError

TARGET_NAMES = ("host", "arm64-linux", "arm64-android", "opencl")

#: The Android API level when none is given (Android 10); arm64 needs 21 or newer.
DEFAULT_ANDROID_API = 29
MIN_ANDROID_API = 21

#: The ARM ISA lpfc generates for phones: ARMv8.2-A with half-precision
#: arithmetic and dot products (Cortex-A55/A75 and newer, every phone since 2018).
ARM64_MARCH = "armv8.2-a+fp16+dotprod"


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

    @property
    def is_cross(self) -> bool:
        """Built for another architecture or OS than this machine's."""
        return self.arch != host_arch() or self.os != "linux"


def get_target(name: str, *, api_level: Optional[int] = None) -> Target:
    """The target called ``name`` (one of :data:`TARGET_NAMES`)."""
    if isinstance(name, Target):
        if api_level is None or api_level == name.api_level:
            return name
        name = name.name
    if name not in TARGET_NAMES:
        raise ToolchainError(f"unknown target {name!r}", hint="targets: " + ", ".join(TARGET_NAMES))
    if api_level is not None and name != "arm64-android":
        raise ToolchainError(f"an Android API level was given for target {name!r}",
                             hint="api_level only applies to arm64-android")
    arch = host_arch()
    native = ("-march=native",) if arch == "x86_64" else ("-mcpu=native",)
    if name == "host":
        return Target("host", arch, "linux", f"{arch}-linux-gnu", native,
                      description=f"this machine ({arch} Linux), tuned for its CPU")
    if name == "opencl":
        return Target("opencl", arch, "linux", f"{arch}-linux-gnu", native, opencl=True,
                      description="host code on this machine, kernels on an OpenCL 1.2 device")
    if name == "arm64-linux":
        return Target("arm64-linux", "aarch64", "linux", "aarch64-linux-gnu", (f"-march={ARM64_MARCH}",),
                      description=f"64-bit ARM Linux, NEON ({ARM64_MARCH})")
    level = DEFAULT_ANDROID_API if api_level is None else api_level
    if isinstance(level, bool) or not isinstance(level, int) or level < MIN_ANDROID_API:
        raise ToolchainError(f"Android API level {level!r} is not supported",
                             hint=f"give an integer >= {MIN_ANDROID_API}; the default is {DEFAULT_ANDROID_API}")
    return Target("arm64-android", "aarch64", "android", f"aarch64-linux-android{level}",
                  (f"-march={ARM64_MARCH}",), api_level=level,
                  description=f"Android phones (arm64-v8a, API {level}), NEON ({ARM64_MARCH})")


__all__ = ["ARM64_MARCH", "DEFAULT_ANDROID_API", "MIN_ANDROID_API", "TARGET_NAMES", "Target", "get_target",
           "host_arch"]
