"""Toolchains: finding the compiler for a target, building shared libraries, running the result.

:func:`find_toolchain` looks up exactly the compiler a target names and fails
with a :class:`~lpfc.errors.ToolchainError` that says what to install or set
when it is missing.  It never substitutes another compiler: a library built
for ``arm64-android`` comes from the NDK's clang or not at all.

=================  ===============================================  ======================================
target             compiler (C / C++)                               override
=================  ===============================================  ======================================
``host``           ``gcc`` / ``g++``                                ``compiler=``, or ``LPFC_CC`` /
                                                                    ``LPFC_CXX``
``opencl``         as ``host``, plus ``CL/cl.h`` and ``-lOpenCL``   as ``host``
``arm64-linux``    ``aarch64-linux-gnu-gcc`` / ``-g++``             ``compiler="clang"`` or
                                                                    ``LPFC_ARM64_CC=clang`` (adds
                                                                    ``--target=aarch64-linux-gnu``)
``arm64-android``  ``$NDK/toolchains/llvm/prebuilt/<host>/bin/``    ``ndk=``, or ``ANDROID_NDK_HOME`` /
                   ``aarch64-linux-android<API>-clang`` / ``++``    ``ANDROID_NDK_ROOT``
=================  ===============================================  ======================================

:func:`compile_shared` builds a ``.so`` (by default with the C runtime of
``lpfc/c_runtime/`` compiled in) with ``-Wall -Wextra -Werror``; a compiler failure
raises :class:`CompileError` holding the command and the compiler's output.
"""
from __future__ import annotations

import functools
import os
import platform
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

from ..errors import ToolchainError
from .targets import TARGET_NAMES, Target, get_target, host_arch

def _runtime_dir() -> Path:
    """The C runtime's sources: package data of lpfc (``lpfc/c_runtime``), so a checkout, an editable
    install and an installed wheel find them the same way, from one list (setup.cfg's package_data)."""
    from importlib.resources import files

    return Path(str(files("lpfc") / "c_runtime"))


#: The C runtime compiled into every model library (``lpfc/c_runtime/``).
RUNTIME_DIR = _runtime_dir()

C_STD = "-std=c99"
CXX_STD = "-std=c++17"
WARNING_FLAGS = ("-Wall", "-Wextra")
OPT_FLAGS = ("-O3",)
COMPILE_TIMEOUT_S = 600
PROBE_TIMEOUT_S = 60
_OUTPUT_LIMIT = 12000  # characters of compiler output kept in an error

_C_SUFFIXES = {".c"}
_CXX_SUFFIXES = {".cc", ".cpp", ".cxx", ".C"}
_ASM_SUFFIXES = {".S", ".s"}

# Predefined macros -> the ISA features lpfc's code generators may use.
_FEATURE_MACROS = {
    "__SSE4_2__": "sse4.2", "__AVX__": "avx", "__AVX2__": "avx2", "__FMA__": "fma", "__F16C__": "f16c",
    "__AVX512F__": "avx512f", "__AVX512BW__": "avx512bw", "__AVX512DQ__": "avx512dq", "__AVX512VL__": "avx512vl",
    "__AVX512VNNI__": "avx512vnni", "__AVX512BF16__": "avx512bf16", "__AVX512FP16__": "avx512fp16",
    "__ARM_NEON": "neon", "__ARM_FEATURE_FMA": "fma", "__ARM_FEATURE_FP16_VECTOR_ARITHMETIC": "fp16",
    "__ARM_FEATURE_DOTPROD": "dotprod", "__ARM_FEATURE_MATMUL_INT8": "i8mm", "__ARM_FEATURE_BF16": "bf16",
    "__ARM_FEATURE_SVE": "sve",
}

_APT_HOST = "apt-get install gcc g++"
_APT_ARM64 = "apt-get install gcc-aarch64-linux-gnu g++-aarch64-linux-gnu"
_APT_QEMU = "apt-get install qemu-user"
_APT_OPENCL_DEV = "apt-get install opencl-headers ocl-icd-opencl-dev"
_APT_OPENCL_ICD = "apt-get install pocl-opencl-icd"
_NDK_HELP = ("set ANDROID_NDK_HOME (or ANDROID_NDK_ROOT), or pass --ndk PATH, to an Android NDK r23 or newer: "
             "install it with Android Studio's SDK manager (sdkmanager 'ndk;<version>') or unpack it from "
             "https://developer.android.com/ndk/downloads; Debian has no package for it")


def runtime_include_dir() -> Path:
    return RUNTIME_DIR / "include"


def runtime_sources() -> list[Path]:
    """The runtime's C files, in a stable order."""
    return sorted((RUNTIME_DIR / "src").glob("*.c"))


def opencl_runtime() -> tuple[list[Path], list[Path]]:
    """The opencl target's host glue: (C sources, include dirs), built into its libraries only."""
    d = RUNTIME_DIR / "opencl"
    return [d / "lpfc_opencl.c"], [d]


class CompileError(ToolchainError):
    """The compiler or linker failed; ``command`` and ``output`` say how."""

    def __init__(self, message: str, command: Sequence[str], output: str):
        self.command = list(command)
        self.output = output
        shown = output if len(output) <= _OUTPUT_LIMIT else "...\n" + output[-_OUTPUT_LIMIT:]
        super().__init__(f"{message}\n$ {_shell(command)}\n{shown.rstrip()}")


def _shell(argv: Sequence[str]) -> str:
    import shlex
    return " ".join(shlex.quote(str(a)) for a in argv)


@dataclass(frozen=True)
class OpenCLInfo:
    """What the opencl target found: the header, the ICD loader and the installed drivers."""

    header: str                 # the CL/cl.h the compiler includes
    icd_files: tuple[str, ...]  # drivers the ICD loader will load


@dataclass(frozen=True)
class Toolchain:
    """A found compiler for a target, with the flags to use and how to run what it builds."""

    target: Target
    cc: tuple[str, ...]              # argv prefix of the C compiler
    cxx: tuple[str, ...]             # argv prefix of the C++ compiler
    cflags: tuple[str, ...]          # optimisation and ISA flags, C and C++
    ldflags: tuple[str, ...] = ()    # after the objects when linking
    cxx_ldflags: tuple[str, ...] = ()  # when linking C++ objects
    runner: Optional[tuple[str, ...]] = ()  # () runs natively; None: cannot run here (see run_problem)
    run_problem: Optional[str] = None
    opencl: Optional[OpenCLInfo] = None
    notes: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.target.name

    @property
    def can_run(self) -> bool:
        return self.runner is not None

    @property
    def has_compiler(self) -> bool:
        """False for :func:`source_toolchain`'s flags-only toolchain (no compiler was found: sources only)."""
        return bool(self.cc)

    def features(self) -> frozenset:
        """The ISA features the compiler enables with this toolchain's flags (from its predefined macros)."""
        return _probe_features(self.cc + self.cflags)

    def version(self) -> str:
        return _probe_version(self.cc)

    def run_argv(self, argv: Sequence[Union[str, os.PathLike]]) -> list[str]:
        """``argv`` prefixed with the runner (e.g. qemu); raises ToolchainError if it cannot run here."""
        if self.runner is None:
            raise ToolchainError(f"cannot run {self.target.name} programs on this machine: {self.run_problem}")
        return [*self.runner, *(str(a) for a in argv)]


# -- finding toolchains ---------------------------------------------------------------------------

def _which(cmd: str) -> Optional[str]:
    if os.sep in cmd:
        return cmd if os.path.isfile(cmd) and os.access(cmd, os.X_OK) else None
    return shutil.which(cmd)


def _cxx_for(cc: str) -> str:
    """The C++ driver that goes with a C driver: gcc -> g++, clang -> clang++, cc -> c++."""
    head, base = os.path.split(cc)
    for c, cxx in (("clang", "clang++"), ("gcc", "g++"), ("cc", "c++")):
        m = re.fullmatch(rf"(.*?){re.escape(c)}(-[0-9.]+)?", base)
        if m:
            return os.path.join(head, f"{m.group(1)}{cxx}{m.group(2) or ''}")
    raise ToolchainError(f"cannot tell the C++ compiler that goes with {cc!r}",
                         hint="set LPFC_CXX to it, or name a gcc or clang")


def _require(cmd: str, role: str, install: str) -> str:
    path = _which(cmd)
    if path is None:
        raise ToolchainError(f"{role} {cmd!r} was not found on PATH", hint=install)
    return path


def _host_toolchain(target: Target, compiler: Optional[str]) -> Toolchain:
    if compiler is not None:
        cc_name, source = compiler, "compiler="
        cxx_name = _cxx_for(compiler)
    elif os.environ.get("LPFC_CC"):
        cc_name, source = os.environ["LPFC_CC"], "LPFC_CC"
        cxx_name = os.environ.get("LPFC_CXX") or _cxx_for(cc_name)
    else:
        cc_name, source = "gcc", "the default"
        cxx_name = os.environ.get("LPFC_CXX") or "g++"
    hint = (f"{_APT_HOST}, or choose another compiler with LPFC_CC=clang" if source == "the default"
            else f"install it, or change {source}")
    cc = _require(cc_name, f"the host C compiler ({source})", hint)
    cxx = _require(cxx_name, "the host C++ compiler", hint)
    return Toolchain(target, (cc,), (cxx,), OPT_FLAGS + target.cpu_flags)


def _qemu_runner() -> tuple[Optional[tuple[str, ...]], Optional[str]]:
    if host_arch() == "aarch64":
        return (), None
    qemu = _which("qemu-aarch64") or _which("qemu-aarch64-static")
    if qemu is None:
        return None, f"qemu-aarch64 is not installed ({_APT_QEMU})"
    prefix = os.environ.get("LPFC_QEMU_LD_PREFIX", "/usr/aarch64-linux-gnu")
    if not os.path.isfile(os.path.join(prefix, "lib", "ld-linux-aarch64.so.1")):
        return None, (f"{prefix} has no lib/ld-linux-aarch64.so.1 for qemu's -L "
                      f"({_APT_ARM64}, or set LPFC_QEMU_LD_PREFIX)")
    return (qemu, "-L", prefix), None


def _arm64_linux_toolchain(target: Target, compiler: Optional[str]) -> Toolchain:
    flags = OPT_FLAGS + target.cpu_flags
    compiler = compiler or os.environ.get("LPFC_ARM64_CC") or None  # chosen, never substituted
    if compiler is not None and os.path.basename(compiler).startswith("clang"):
        cc = _require(compiler, "clang", "apt-get install clang")
        cxx = _require(_cxx_for(compiler), "clang++", "apt-get install clang")
        triple = (f"--target={target.triple}",)
        cc_argv, cxx_argv = (cc,) + triple, (cxx,) + triple
    else:
        cc_name = compiler or "aarch64-linux-gnu-gcc"
        hint = _APT_ARM64 + (f"; to run the results here also {_APT_QEMU}" if host_arch() != "aarch64" else "")
        if compiler is None:
            hint += ("; or LPFC_ARM64_CC=clang for clang --target=aarch64-linux-gnu (with apt-get install "
                     "libc6-dev-arm64-cross libstdc++-12-dev-arm64-cross)")
        cc_argv = (_require(cc_name, "the arm64-linux C compiler", hint),)
        cxx_argv = (_require(_cxx_for(cc_name), "the arm64-linux C++ compiler", hint),)
    runner, problem = _qemu_runner()
    return Toolchain(target, cc_argv, cxx_argv, flags, runner=runner, run_problem=problem)


def _ndk_root(ndk: Optional[str]) -> tuple[Path, str]:
    if ndk is not None:
        return Path(ndk), "--ndk"
    for var in ("ANDROID_NDK_HOME", "ANDROID_NDK_ROOT"):
        if os.environ.get(var):
            return Path(os.environ[var]), var
    raise ToolchainError("the arm64-android target needs the Android NDK, and none is configured",
                         hint=_NDK_HELP)


def _android_toolchain(target: Target, compiler: Optional[str], ndk: Optional[str]) -> Toolchain:
    if compiler is not None:
        raise ToolchainError("arm64-android always builds with the Android NDK's clang",
                             hint="choose the NDK with ANDROID_NDK_HOME instead of a compiler")
    root, source = _ndk_root(ndk)
    if not root.is_dir():
        raise ToolchainError(f"{source} = {str(root)!r} is not a directory", hint=_NDK_HELP)
    system = platform.system().lower()
    tag = {"linux": "linux-x86_64", "darwin": "darwin-x86_64"}.get(system, f"{system}-x86_64")
    prebuilt = root / "toolchains" / "llvm" / "prebuilt" / tag
    bindir = prebuilt / "bin"
    if not bindir.is_dir():
        raise ToolchainError(f"{source} = {str(root)!r} has no {bindir.relative_to(root)}: it is not an "
                             f"Android NDK (r19 or newer) for {tag}", hint=_NDK_HELP)
    level = target.api_level
    libdir = prebuilt / "sysroot" / "usr" / "lib" / "aarch64-linux-android"
    if libdir.is_dir():
        levels = sorted(int(p.name) for p in libdir.iterdir() if p.name.isdigit())
        if levels and level not in levels:
            raise ToolchainError(f"the NDK at {str(root)!r} does not support Android API level {level}",
                                 hint=f"it supports {levels[0]} to {levels[-1]}")
    cc, cxx = bindir / f"aarch64-linux-android{level}-clang", bindir / f"aarch64-linux-android{level}-clang++"
    if _which(str(cc)) and _which(str(cxx)):
        cc_argv, cxx_argv = (str(cc),), (str(cxx),)
    elif _which(str(bindir / "clang")) and _which(str(bindir / "clang++")):
        # Newer NDKs document `clang --target=aarch64-linux-android<API>` as the way; the wrappers
        # above are shell scripts around it.  Either is the NDK's own clang.
        triple = (f"--target={target.triple}",)
        cc_argv, cxx_argv = (str(bindir / "clang"),) + triple, (str(bindir / "clang++"),) + triple
    else:
        raise ToolchainError(f"the NDK at {str(root)!r} has no clang in {bindir}", hint=_NDK_HELP)
    # 16 KiB pages: Android 15 devices may use them, and a library aligned for 4 KiB will not load there.
    return Toolchain(target, cc_argv, cxx_argv, OPT_FLAGS + target.cpu_flags,
                     ldflags=("-Wl,-z,max-page-size=16384",), cxx_ldflags=("-static-libstdc++",),
                     runner=None, run_problem="Android libraries run on a phone (adb); lpfc does not run them here",
                     notes=(f"NDK {root}",))


def _opencl_toolchain(target: Target, compiler: Optional[str]) -> Toolchain:
    host = _host_toolchain(target, compiler)
    flags = host.cflags + ("-DCL_TARGET_OPENCL_VERSION=120",)
    header = _probe_header(host.cc, "CL/cl.h", flags)
    if header is None:
        raise ToolchainError("the opencl target needs the OpenCL headers (CL/cl.h was not found)",
                             hint=_APT_OPENCL_DEV)
    ok, out = _probe_link(host.cc, "-lOpenCL")
    if not ok:
        raise ToolchainError("the opencl target needs the OpenCL ICD loader (-lOpenCL did not link)",
                             hint=_APT_OPENCL_DEV)
    icds = _opencl_icds()
    runner, problem = (), None
    if not icds:
        runner, problem = None, f"no OpenCL driver (ICD) is installed ({_APT_OPENCL_ICD}, or your GPU vendor's)"
    return Toolchain(target, host.cc, host.cxx, flags, ldflags=("-lOpenCL",), runner=runner, run_problem=problem,
                     opencl=OpenCLInfo(header, tuple(icds)))


def _opencl_icds() -> list[str]:
    """The .icd files the ocl-icd loader reads (OCL_ICD_VENDORS, else /etc/OpenCL/vendors)."""
    where = os.environ.get("OCL_ICD_VENDORS", "/etc/OpenCL/vendors")
    p = Path(where)
    if p.is_file():
        return [str(p)]
    if p.is_dir():
        return sorted(str(f) for f in p.glob("*.icd"))
    return []


def find_toolchain(target: Union[str, Target], *, api_level: Optional[int] = None, compiler: Optional[str] = None,
                   ndk: Optional[str] = None, cpu: Optional[str] = None) -> Toolchain:
    """The toolchain for ``target``, or a ToolchainError saying what to install or set.

    ``compiler`` overrides the C compiler of host, opencl and arm64-linux (the
    C++ one is derived from it); ``ndk`` and ``api_level`` apply to arm64-android;
    ``cpu`` chooses the -mcpu / -march name (see :func:`~lpfc.codegen.targets.get_target`),
    which the compiler must accept.
    """
    t = get_target(target, api_level=api_level, cpu=cpu).with_toolchain(None)
    if ndk is not None and t.name != "arm64-android":
        raise ToolchainError(f"an Android NDK (--ndk) was given for target {t.name!r}",
                             hint="it only applies to arm64-android")
    if t.name == "host":
        tc = _host_toolchain(t, compiler)
    elif t.name == "opencl":
        tc = _opencl_toolchain(t, compiler)
    elif t.name == "arm64-linux":
        tc = _arm64_linux_toolchain(t, compiler)
    else:
        tc = _android_toolchain(t, compiler, ndk)
    _check_cpu(tc)
    return tc


def source_toolchain(target: Union[str, Target], *, api_level: Optional[int] = None, compiler: Optional[str] = None,
                     ndk: Optional[str] = None, cpu: Optional[str] = None) -> Toolchain:
    """The toolchain to *write sources* for ``target`` (``--emit-source`` without ``-o``): the one
    :func:`find_toolchain` finds, else the flags alone (no compiler, cannot run), since writing a source
    package needs no compiler — an app developer gets the CMake package for Android without an NDK.
    A compiler that was asked for by name (``compiler``, ``ndk``) must still be found."""
    t = get_target(target, api_level=api_level, cpu=cpu).with_toolchain(None)
    try:
        return find_toolchain(t, compiler=compiler, ndk=ndk)
    except ToolchainError as e:
        if compiler is not None or ndk is not None:
            raise
        problem = str(e)
    android = t.name == "arm64-android"
    return Toolchain(t, (), (), OPT_FLAGS + t.cpu_flags,
                     ldflags=("-Wl,-z,max-page-size=16384",) if android else (),
                     cxx_ldflags=("-static-libstdc++",) if android else (),
                     runner=None, run_problem=problem, notes=("no compiler: sources only",))


def resolve_target(target: Union[str, Target], *, api_level: Optional[int] = None, compiler: Optional[str] = None,
                   ndk: Optional[str] = None, cpu: Optional[str] = None, sources_only: bool = False) -> Target:
    """``target`` resolved once, at the entry point: the :class:`Target` carrying its toolchain
    (``Target.toolchain``), which is what travels down to the tuner and the code generators, so that
    no stage looks the compiler up again. A target that already carries one is returned as is (when no
    argument asks for another).

    ``sources_only``: the toolchain is :func:`source_toolchain`'s (no compiler needed: flags only when
    none is found); else :func:`find_toolchain`'s, which fails when the compiler is missing."""
    if (isinstance(target, Target) and target.toolchain is not None
            and all(a is None for a in (api_level, compiler, ndk, cpu))
            and (sources_only or target.toolchain.has_compiler)):
        return target
    t = get_target(target, api_level=api_level, cpu=cpu).with_toolchain(None)
    find = source_toolchain if sources_only else find_toolchain
    return t.with_toolchain(find(t, compiler=compiler, ndk=ndk))


def _check_cpu(tc: Toolchain) -> None:
    """A ToolchainError unless the compiler accepts the target's -mcpu / -march (``native`` always passes)."""
    flags = tuple(f for f in tc.target.cpu_flags if f.startswith(("-mcpu=", "-march=")))
    if not flags or all(f.endswith("=native") for f in flags):
        return
    problem = _probe_cpu_flags(tc.cc, flags)
    if problem is not None:
        cpu = flags[0].split("=", 1)[1]
        m = re.search(r"valid (?:arguments|target CPU values) are:\s*(.*)", problem)
        names = m.group(1).strip() if m else problem.strip()[-300:]
        if len(names) > 400:
            names = names[:400].rsplit(" ", 1)[0] + " ..."
        raise ToolchainError(f"{os.path.basename(tc.cc[0])} does not know the CPU {cpu!r} ({' '.join(flags)}) for "
                             f"target {tc.target.name!r}", hint=f"choose one it knows: {names}")


@functools.lru_cache(maxsize=None)
def _probe_cpu_flags(cc_argv: tuple[str, ...], flags: tuple[str, ...]) -> Optional[str]:
    """None if the compiler accepts ``flags``; else its complaint."""
    r = _run([*cc_argv, *flags, "-E", "-x", "c", "-"], PROBE_TIMEOUT_S, input="")
    return None if r.returncode == 0 else (r.stderr or r.stdout)


def _as_toolchain(target: Union[str, Target, Toolchain]) -> Toolchain:
    if isinstance(target, Toolchain):
        return target
    return resolve_target(target).toolchain   # a resolved Target's own; a name (or bare Target) is looked up


# -- probes -------------------------------------------------------------------------------------

# Every compiler (and probe) runs in a process group of its own, so that stopping it stops what it started
# too (g++ -> cc1plus, as, collect2, ld), and is listed here while it runs: a signal to lpfc alone (kill PID,
# which does not reach the group) still ends them through stop_children(). After stop_children() nothing
# new starts: the build's worker threads fail fast instead of starting the next translation unit.
_children: set = set()
_children_lock = threading.Lock()
_stopping = threading.Event()


class BuildStopped(ToolchainError):
    """A compiler was not started, or was killed, because lpfc is being stopped (a signal)."""


def stop_children(sig: int = signal.SIGKILL) -> int:
    """Kills the process group of every running compiler and refuses to start new ones; returns how many
    groups were signalled. Safe to call from a signal handler (no allocation-heavy work, no waiting)."""
    _stopping.set()
    with _children_lock:
        procs = list(_children)
    for p in procs:
        try:
            os.killpg(p.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    return len(procs)


def _run(argv: Sequence[str], timeout: float, input: Optional[str] = None,
         cwd: Optional[str] = None, tmpdir: Optional[str] = None) -> subprocess.CompletedProcess:
    """Runs a tool, its output captured; ``tmpdir`` becomes its TMPDIR (the compiler's own temporary
    files, e.g. gcc's cc*.s, then go where lpfc removes them, even when the compiler is killed)."""
    argv = [str(a) for a in argv]
    if _stopping.is_set():
        raise BuildStopped(f"not starting {argv[0]}: lpfc is stopping")
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd,
                                errors="replace", start_new_session=True,
                                env=dict(os.environ, TMPDIR=str(tmpdir)) if tmpdir is not None else None)
    except OSError as e:
        raise ToolchainError(f"cannot run {argv[0]}: {e.strerror}") from e
    with _children_lock:
        _children.add(proc)
    try:
        if _stopping.is_set():       # a stop that came between the check above and the registration
            os.killpg(proc.pid, signal.SIGKILL)
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise ToolchainError(f"{_shell(argv)} did not finish in {timeout:.0f} s") from e
    finally:
        if proc.returncode is None:  # a timeout, or an exception (a signal's) raised while waiting
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
        with _children_lock:
            _children.discard(proc)
    if _stopping.is_set() and proc.returncode != 0:
        raise BuildStopped(f"{argv[0]} was stopped: lpfc is stopping")
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


@functools.lru_cache(maxsize=None)
def _probe_features(cc_argv: tuple[str, ...]) -> frozenset:
    r = _run([*cc_argv, "-dM", "-E", "-x", "c", "-"], PROBE_TIMEOUT_S, input="")
    if r.returncode != 0:
        raise CompileError("the compiler cannot preprocess an empty file with these flags", cc_argv, r.stderr)
    defined = {line.split()[1] for line in r.stdout.splitlines() if line.startswith("#define ")}
    return frozenset(f for macro, f in _FEATURE_MACROS.items() if macro in defined)


@functools.lru_cache(maxsize=None)
def _probe_version(cc_argv: tuple[str, ...]) -> str:
    r = _run([*cc_argv, "--version"], PROBE_TIMEOUT_S)
    lines = (r.stdout or r.stderr).strip().splitlines()
    return lines[0] if lines else "?"


@functools.lru_cache(maxsize=None)
def _probe_header(cc_argv: tuple[str, ...], header: str, flags: tuple[str, ...]) -> Optional[str]:
    """The path the compiler resolves ``#include <header>`` to, or None."""
    r = _run([*cc_argv, *flags, "-H", "-fsyntax-only", "-x", "c", "-"], PROBE_TIMEOUT_S,
             input=f"#include <{header}>\n")
    if r.returncode != 0:
        return None
    for line in r.stderr.splitlines():
        if line.startswith(". "):
            return line[2:].strip()
    return header


@functools.lru_cache(maxsize=None)
def _probe_link(cc_argv: tuple[str, ...], *libs: str) -> tuple[bool, str]:
    with tempfile.TemporaryDirectory(prefix="lpfc-probe-") as d:
        src = Path(d) / "probe.c"
        src.write_text("int main(void) { return 0; }\n")
        r = _run([*cc_argv, str(src), "-o", str(Path(d) / "probe"), *libs], PROBE_TIMEOUT_S)
        return r.returncode == 0, r.stdout + r.stderr


_OPENCL_PROBE = r"""
#include <stdio.h>
#include <CL/cl.h>
int main(void) {
    cl_platform_id platforms[16];
    cl_uint np = 0, i, j;
    if (clGetPlatformIDs(16, platforms, &np) != CL_SUCCESS) np = 0;
    for (i = 0; i < np && i < 16; ++i) {
        cl_device_id devices[16];
        cl_uint nd = 0;
        char pname[256] = "", dname[256] = "", version[256] = "";
        clGetPlatformInfo(platforms[i], CL_PLATFORM_NAME, sizeof pname, pname, NULL);
        if (clGetDeviceIDs(platforms[i], CL_DEVICE_TYPE_ALL, 16, devices, &nd) != CL_SUCCESS) nd = 0;
        for (j = 0; j < nd && j < 16; ++j) {
            clGetDeviceInfo(devices[j], CL_DEVICE_NAME, sizeof dname, dname, NULL);
            clGetDeviceInfo(devices[j], CL_DEVICE_VERSION, sizeof version, version, NULL);
            printf("%s\t%s\t%s\n", pname, dname, version);
        }
    }
    return 0;
}
"""


def opencl_devices(toolchain: Toolchain) -> list[tuple[str, str, str]]:
    """(platform, device, version) of every OpenCL device the ICD loader finds (runs a small program)."""
    if toolchain.opencl is None:
        raise ToolchainError(f"target {toolchain.name!r} does not use OpenCL")
    with tempfile.TemporaryDirectory(prefix="lpfc-probe-") as d:
        src = Path(d) / "clprobe.c"
        src.write_text(_OPENCL_PROBE)
        exe = compile_executable(toolchain, [src], Path(d) / "clprobe", with_runtime=False)
        r = _run(toolchain.run_argv([exe]), PROBE_TIMEOUT_S)
    if r.returncode != 0:
        raise ToolchainError(f"the OpenCL device probe failed (exit {r.returncode}): {r.stderr.strip()[-2000:]}")
    return [tuple(line.split("\t", 2)) for line in r.stdout.splitlines() if line.count("\t") == 2]


def sanitizer_problem(toolchain: Toolchain, sanitize: Sequence[str] = ("address", "undefined")) -> Optional[str]:
    """None if programs built with ``-fsanitize=...`` build and run here; else why not."""
    if toolchain.runner != ():
        return f"sanitized {toolchain.name} programs are only run natively, not through {toolchain.runner or 'adb'}"
    with tempfile.TemporaryDirectory(prefix="lpfc-probe-") as d:
        src = Path(d) / "san.c"
        src.write_text("#include <stdlib.h>\nint main(void) { char *p = malloc(4); p[0] = 1; "
                       "int r = p[0] - 1; free(p); return r; }\n")
        try:
            exe = compile_executable(toolchain, [src], Path(d) / "san", with_runtime=False, sanitize=sanitize)
        except CompileError as e:
            return f"cannot build with -fsanitize={','.join(sanitize)}: {e.output.strip()[-500:]}"
        r = _run([str(exe)], PROBE_TIMEOUT_S)
        if r.returncode != 0:
            return f"a sanitized program fails to run here: {r.stderr.strip()[-500:]}"
    return None


# -- building -----------------------------------------------------------------------------------

def _lang(src: Path) -> str:
    if src.suffix in _C_SUFFIXES:
        return "c"
    if src.suffix in _CXX_SUFFIXES:
        return "c++"
    if src.suffix in _ASM_SUFFIXES:
        return "asm"
    raise ToolchainError(f"cannot compile {str(src)!r}: unknown source type {src.suffix!r}",
                         hint="use .c, .cc/.cpp or .S")


def _sanitize_flags(sanitize: Sequence[str]) -> list[str]:
    if not sanitize:
        return []
    # -O1 (after the toolchain's -O3, so it wins): the usual level for sanitizers, and fast to build.
    return [f"-fsanitize={','.join(sanitize)}", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g", "-O1"]


def _build(tc: Toolchain, sources: Sequence[Union[str, os.PathLike]], output: Union[str, os.PathLike], kind: str,
           extra_flags: Sequence[str], include_dirs: Sequence[Union[str, os.PathLike]],
           defines: Optional[Mapping[str, Optional[str]]], with_runtime: bool, werror: bool,
           sanitize: Sequence[str], link_flags: Sequence[str]) -> Path:
    srcs = [Path(s) for s in sources] + (runtime_sources() if with_runtime else [])
    if not srcs:
        raise ToolchainError(f"nothing to build for {str(output)!r}: no sources")
    for s in srcs:
        if not s.is_file():
            raise ToolchainError(f"source file {str(s)!r} does not exist")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    common = list(tc.cflags) + list(WARNING_FLAGS) + (["-Werror"] if werror else []) + _sanitize_flags(sanitize)
    if kind == "shared":
        common += ["-fPIC", "-fvisibility=hidden"]
    # The runtime's headers always: generated kernels include lpfc_parallel.hpp (their thread pool), also when
    # they are built on their own (tests, the tuner). -pthread for that pool's std::thread.
    common += ["-pthread"] + [f"-I{d}" for d in dict.fromkeys([runtime_include_dir(), *include_dirs])]
    for name, value in (defines or {}).items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ToolchainError(f"bad preprocessor macro name {name!r}")
        common.append(f"-D{name}" if value is None else f"-D{name}={value}")
    common += list(extra_flags)

    with tempfile.TemporaryDirectory(prefix="lpfc-build-", dir=output.parent) as tmp:
        jobs = []
        for i, src in enumerate(srcs):
            lang = _lang(src)
            compiler = tc.cxx if lang == "c++" else tc.cc
            std = [CXX_STD] if lang == "c++" else [C_STD] if lang == "c" else []
            obj = Path(tmp) / f"{i}_{src.stem}.o"
            jobs.append(([*compiler, *std, *common, "-c", str(src), "-o", str(obj)], obj))

        def compile_one(job):
            argv, _ = job
            r = _run(argv, COMPILE_TIMEOUT_S, tmpdir=tmp)
            if r.returncode != 0:
                raise CompileError(f"compiling for {tc.name} failed (exit {r.returncode})", argv,
                                   r.stdout + r.stderr)
            return r

        with ThreadPoolExecutor(max_workers=max(1, min(len(jobs), os.cpu_count() or 1))) as pool:
            list(pool.map(compile_one, jobs))

        any_cxx = any(_lang(s) == "c++" for s in srcs)
        linker = tc.cxx if any_cxx else tc.cc
        partial = Path(tmp) / output.name
        argv = [*linker, *tc.cflags, *_sanitize_flags(sanitize), "-pthread", *(str(o) for _, o in jobs)]
        if kind == "shared":
            argv += ["-shared"]
            # -z defs: a missing definition is a build error, not a failure at dlopen time.  (Not with
            # sanitizers: clang leaves their runtime to the executable.)  -Bsymbolic: calls inside the
            # library bind to its own runtime even when another lpfc model is loaded first.
            if not sanitize:
                argv += ["-Wl,-z,defs"]
            argv += ["-Wl,-Bsymbolic"]
        argv += [*link_flags, *tc.ldflags, *(tc.cxx_ldflags if any_cxx else ()), "-o", str(partial)]
        r = _run(argv, COMPILE_TIMEOUT_S, tmpdir=tmp)
        if r.returncode != 0:
            raise CompileError(f"linking {output.name} for {tc.name} failed (exit {r.returncode})", argv,
                               r.stdout + r.stderr)
        os.replace(partial, output)  # never leave a half-written library behind
    return output


def compile_shared(target: Union[str, Target, Toolchain], sources: Sequence[Union[str, os.PathLike]],
                   output: Union[str, os.PathLike], extra_flags: Sequence[str] = (), *,
                   include_dirs: Sequence[Union[str, os.PathLike]] = (),
                   defines: Optional[Mapping[str, Optional[str]]] = None, with_runtime: bool = True,
                   werror: bool = True, sanitize: Sequence[str] = (), link_flags: Sequence[str] = ()) -> Path:
    """Builds the shared library ``output`` from ``sources`` (plus the C runtime unless ``with_runtime=False``).

    C is compiled as C99, C++ as C++17, both with the toolchain's flags,
    ``-Wall -Wextra`` and (``werror``) ``-Werror``, position-independent and
    with hidden visibility (only ``LPFC_API`` symbols are exported).
    """
    return _build(_as_toolchain(target), sources, output, "shared", extra_flags, include_dirs, defines,
                  with_runtime, werror, sanitize, link_flags)


def compile_executable(target: Union[str, Target, Toolchain], sources: Sequence[Union[str, os.PathLike]],
                       output: Union[str, os.PathLike], extra_flags: Sequence[str] = (), *,
                       include_dirs: Sequence[Union[str, os.PathLike]] = (),
                       defines: Optional[Mapping[str, Optional[str]]] = None, with_runtime: bool = False,
                       werror: bool = True, sanitize: Sequence[str] = (), link_flags: Sequence[str] = ()) -> Path:
    """Builds a program (a C host, a test driver, a probe); flags as :func:`compile_shared`.

    To link a library built by compile_shared, pass e.g.
    ``link_flags=[str(lib), f"-Wl,-rpath,{lib.parent}"]``.
    """
    return _build(_as_toolchain(target), sources, output, "executable", extra_flags,
                  include_dirs, defines, with_runtime, werror, sanitize, link_flags)


def run_program(toolchain: Toolchain, argv: Sequence[Union[str, os.PathLike]], *, timeout: float = 120,
                cwd: Optional[str] = None) -> subprocess.CompletedProcess:
    """Runs a program built for the toolchain's target (through qemu where needed)."""
    return _run(toolchain.run_argv(argv), timeout, cwd=cwd)


# -- what is there --------------------------------------------------------------------------------

@dataclass(frozen=True)
class TargetReport:
    """What :func:`list_targets` found for one target."""

    name: str
    description: str
    toolchain: Optional[Toolchain]   # None when unavailable
    problem: Optional[str]           # why unavailable: what to install or set
    compiler: str = ""               # the compiler's --version line
    features: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()    # OpenCL devices, "platform: device (version)"

    @property
    def available(self) -> bool:
        return self.toolchain is not None

    @property
    def run_note(self) -> str:
        if self.toolchain is None:
            return "-"
        if self.toolchain.runner == ():
            return "natively"
        if self.toolchain.runner is None:
            return f"no: {self.toolchain.run_problem}"
        return "with " + " ".join(self.toolchain.runner)


def list_targets(*, probe_devices: bool = True) -> list[TargetReport]:
    """Every target with what was found for it; never raises for a missing toolchain."""
    reports = []
    for name in TARGET_NAMES:
        target = get_target(name)
        try:
            tc = find_toolchain(target)
            features = tuple(sorted(tc.features()))
            compiler = tc.version()
        except ToolchainError as e:
            reports.append(TargetReport(name, target.description, None, str(e)))
            continue
        devices: tuple[str, ...] = ()
        problem = None
        if tc.opencl is not None and probe_devices and tc.can_run:
            try:
                devices = tuple(f"{p}: {d} ({v})" for p, d, v in opencl_devices(tc))
            except ToolchainError as e:
                problem = f"OpenCL devices could not be listed: {e}"
        reports.append(TargetReport(name, target.description, tc, problem, compiler, features, devices))
    return reports


def cmake_info() -> tuple[Optional[str], str]:
    """(path, version line) of cmake, which builds ``--emit-source`` packages; (None, what to install)."""
    cmake = shutil.which("cmake")
    if cmake is None:
        return None, "apt-get install cmake (only needed to build lpfc compile --emit-source packages)"
    return cmake, _probe_version((cmake,))


def _package_command(tc: Toolchain) -> str:
    """How to configure an ``--emit-source DIR`` package for this toolchain's target."""
    if tc.target.name == "arm64-android":
        ndk = next((n[4:] for n in tc.notes if n.startswith("NDK ")), "$ANDROID_NDK_HOME")
        return (f"cmake -S DIR -B build -DCMAKE_TOOLCHAIN_FILE={ndk}/build/cmake/android.toolchain.cmake "
                f"-DANDROID_ABI=arm64-v8a -DANDROID_PLATFORM=android-{tc.target.api_level}")
    if tc.target.is_cross and tc.target.arch == "aarch64":
        return "cmake -S DIR -B build -DCMAKE_TOOLCHAIN_FILE=DIR/cmake/aarch64-linux-gnu.cmake"
    return "cmake -S DIR -B build"


def format_targets(reports: Sequence[TargetReport]) -> str:
    """The text `lpfc targets` prints."""
    lines = []
    for r in reports:
        lines.append(f"{r.name:14} {'available' if r.available else 'unavailable'}  {r.description}")
        if r.toolchain is not None:
            tc = r.toolchain
            lines.append(f"{'':14} compiler: {' '.join(tc.cc)}  ({r.compiler})")
            lines.append(f"{'':14} flags:    {' '.join(tc.cflags)}")
            lines.append(f"{'':14} features: {', '.join(r.features) or '(baseline)'}")
            lines.append(f"{'':14} runs:     {r.run_note}")
            lines.append(f"{'':14} package:  {_package_command(tc)}  (lpfc compile --emit-source DIR)")
            for d in r.devices:
                lines.append(f"{'':14} device:   {d}")
        if r.problem:
            lines.append(f"{'':14} problem:  {r.problem}")
    cmake, version = cmake_info()
    lines.append(f"{'cmake':14} {'available' if cmake else 'unavailable'}  "
                 + (f"{cmake}  ({version}), builds --emit-source packages" if cmake else version))
    return "\n".join(lines)


__all__ = ["CompileError", "OpenCLInfo", "RUNTIME_DIR", "TargetReport", "Toolchain", "cmake_info", "compile_executable",
           "compile_shared", "find_toolchain", "format_targets", "list_targets", "opencl_devices", "run_program",
           "resolve_target", "runtime_include_dir", "runtime_sources", "sanitizer_problem", "source_toolchain",
           "stop_children"]
