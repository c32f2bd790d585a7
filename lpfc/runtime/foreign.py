"""Running a model library built for another architecture: the test driver, under qemu.

``lpfc/c_runtime/driver/lpfc_driver.c`` is a small C program that ``dlopen``s any lpfc
model library, reads the inputs from raw files, runs the model through the C
API and writes the outputs.  ``lpfc compile --target arm64-linux`` (and
``arm64-android``) builds it next to the library (``libmodel.so`` ->
``libmodel-driver``).  When this machine cannot load a library itself (an
aarch64 ``.so`` on x86-64), :func:`lpfc.load` returns a :class:`DriverSession`
and ``lpfc run libmodel.so`` goes through it: each run writes the inputs to a
temporary directory and runs ``qemu-aarch64 -L /usr/aarch64-linux-gnu
libmodel-driver --lib libmodel.so --in ... --out ...``, the way CMake's
``CMAKE_CROSSCOMPILING_EMULATOR`` runs cross-built tests.  A library without a
driver next to it (e.g. one built from the CMake source package) gets one built
once into ``$LPFC_CACHE_DIR/driver`` (``~/.cache/lpfc/driver``) with the arm64-linux
toolchain.

Android libraries (bionic) do not run under qemu-user with a glibc sysroot:
loading one here is an error that says to run it on a phone with the driver.
"""
from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from ..errors import InputError, LpfcError, ModelLoadError, ToolchainError
from .session import _DTYPES, NodeArg, Session, SessionClosedError

#: ELF e_machine values lpfc knows by name.
ELF_MACHINES = {3: "i386", 40: "arm", 62: "x86_64", 183: "aarch64", 243: "riscv"}
DRIVER_TIMEOUT_S = 3600  # one run under qemu: BERT-base takes ~1-2 min with NEON, far longer on a loaded machine


@dataclass(frozen=True)
class ElfInfo:
    machine: str                 # "x86_64", "aarch64", ... or "machine 1234"
    bits: int                    # 32 or 64
    android: bool                # linked against bionic (Android), not glibc
    needed: tuple[str, ...] = ()  # DT_NEEDED


def driver_source() -> Path:
    """lpfc_driver.c, part of the C runtime's package data."""
    from ..codegen.toolchain import RUNTIME_DIR

    return RUNTIME_DIR / "driver" / "lpfc_driver.c"


def driver_path(library: Union[str, os.PathLike]) -> Path:
    """Where lpfc compile puts the driver of ``library``: libmodel.so -> libmodel-driver."""
    lib = Path(library)
    return lib.with_name(lib.stem + "-driver")


def elf_info(path: Union[str, os.PathLike]) -> ElfInfo:
    """The architecture of an ELF file, and whether it is an Android (bionic) binary.

    Reads the header, the section headers and the dynamic section only (not the weights)."""
    try:
        with open(path, "rb") as f:
            return _read_elf(f, str(path))
    except OSError as e:
        raise ModelLoadError(f"cannot read {str(path)!r}: {e.strerror}") from None


def _read_elf(f, path: str) -> ElfInfo:
    def read(offset: int, size: int) -> bytes:
        f.seek(offset)
        data = f.read(size)
        if len(data) != size:
            raise ValueError("truncated")
        return data

    head = f.read(64)
    if len(head) < 64 or head[:4] != b"\x7fELF":
        raise ModelLoadError(f"{path!r} is not an ELF shared library")
    bits = 64 if head[4] == 2 else 32
    end = "<" if head[5] == 1 else ">"
    (machine,) = struct.unpack_from(end + "H", head, 18)
    name = ELF_MACHINES.get(machine, f"machine {machine}")
    sections, needed = {}, []
    try:
        if bits == 64:
            (shoff,) = struct.unpack_from(end + "Q", head, 0x28)
            shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", head, 0x3A)
            fmt = end + "IIQQQQIIQQ"                 # name, type, flags, addr, offset, size, ...
        else:
            (shoff,) = struct.unpack_from(end + "I", head, 0x20)
            shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", head, 0x2E)
            fmt = end + "IIIIIIIIII"
        table = read(shoff, shnum * shentsize)
        heads = [struct.unpack_from(fmt, table, i * shentsize) for i in range(shnum)]
        names = read(heads[shstrndx][4], heads[shstrndx][5])
        for h in heads:
            sections[names[h[0]:names.index(b"\0", h[0])].decode("ascii", "replace")] = (h[4], h[5])
        if ".dynamic" in sections and ".dynstr" in sections:
            dyn, strs = read(*sections[".dynamic"]), read(*sections[".dynstr"])
            ent, dfmt = (16, end + "qQ") if bits == 64 else (8, end + "iI")
            for k in range(0, len(dyn) - ent + 1, ent):
                tag, val = struct.unpack_from(dfmt, dyn, k)
                if tag == 0:
                    break
                if tag == 1:  # DT_NEEDED
                    needed.append(strs[val:strs.index(b"\0", val)].decode("ascii", "replace"))
    except (struct.error, IndexError, ValueError):
        pass  # a stripped or odd file: the machine is all that is certain
    android = ".note.android.ident" in sections or "libc.so" in needed
    return ElfInfo(name, bits, android, tuple(needed))


def foreign_library(path: Union[str, os.PathLike]) -> Optional[ElfInfo]:
    """The library's ElfInfo when this machine cannot load it with dlopen (another architecture or
    Android); None when it can (or when it is not an ELF file: then loading reports the problem)."""
    from ..codegen.targets import host_arch

    try:
        info = elf_info(path)
    except ModelLoadError:
        return None
    if info.machine == host_arch() and not info.android:
        return None
    return info


def _runner_for(info: ElfInfo, path: Union[str, os.PathLike]) -> tuple[str, ...]:
    from ..codegen.targets import host_arch
    from ..codegen.toolchain import _qemu_runner

    if info.android:
        raise ModelLoadError(f"{str(path)!r} is an Android library (bionic); it runs on a phone, not here",
                             hint="adb push it and its driver (libmodel-driver) to /data/local/tmp and run "
                                  "the driver there; or compile with --target arm64-linux to run it under qemu")
    if info.machine == host_arch():
        return ()
    if info.machine != "aarch64":
        raise ModelLoadError(f"{str(path)!r} is built for {info.machine}; lpfc runs {host_arch()} libraries "
                             "natively and aarch64 ones under qemu-aarch64")
    runner, problem = _qemu_runner()
    if runner is None:
        raise ToolchainError(f"{str(path)!r} is an aarch64 library, and this {host_arch()} machine cannot run "
                             f"it: {problem}")
    return runner


def _cache_root() -> Path:
    root = os.environ.get("LPFC_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "lpfc") / "driver"


def build_driver(toolchain, output: Union[str, os.PathLike]) -> Path:
    """Builds the driver for ``toolchain``'s target into ``output`` (-Wall -Wextra -Werror)."""
    from ..codegen.toolchain import compile_executable

    return compile_executable(toolchain, [driver_source()], output, link_flags=["-ldl"])


def find_driver(library: Union[str, os.PathLike], info: ElfInfo) -> Path:
    """The driver next to ``library`` when it is built for the same machine; else one from the cache
    (built there with the arm64-linux toolchain the first time)."""
    beside = driver_path(library)
    if beside.is_file():
        try:
            d = elf_info(beside)
            if d.machine == info.machine and d.android == info.android:
                return beside
        except ModelLoadError:
            pass
    from ..codegen.toolchain import find_toolchain

    src = driver_source()
    key = hashlib.sha256(src.read_bytes()).hexdigest()[:12]
    cached = _cache_root() / f"{info.machine}-{key}" / "lpfc-driver"
    if cached.is_file():
        return cached
    try:
        tc = find_toolchain("arm64-linux")
    except ToolchainError as e:
        raise ToolchainError(f"{str(library)!r} has no driver next to it ({beside.name}) and lpfc cannot build "
                             f"one: {e}") from None
    return build_driver(tc, cached)


class DriverSession(Session):
    """A Session for a library this machine cannot load: every run is a driver process (under qemu).

    Same interface as :class:`~lpfc.runtime.session.Session` (inputs are checked here, in Python, first);
    ``runner`` is the emulator prefix, e.g. ``('/usr/bin/qemu-aarch64', '-L', '/usr/aarch64-linux-gnu')``.
    """

    def __init__(self, path: Union[str, os.PathLike], threads: Optional[int] = None,
                 runner: Optional[Sequence[str]] = None):
        """``runner``: a command prefix that runs the driver on the real device (e.g. a script that pushes
        the files with adb and runs them there); then ``profile`` times kernels, which it refuses to do
        under an emulator. Without it, foreign libraries run under qemu."""
        p = Path(path)
        if not p.is_file():
            raise ModelLoadError(f"model library {str(path)!r} does not exist")
        self.path = p
        self._lib_path = str(p.resolve())
        self._lock = threading.Lock()
        self.elf = elf_info(p)
        self.on_device = runner is not None
        self.runner = tuple(runner) if runner is not None else _runner_for(self.elf, p)
        self.driver = find_driver(p, self.elf)
        self._threads = 0
        self._closed = False
        text = self._call(["--info"], "read the model's inputs and outputs from")
        if not text.startswith("lpfc-driver 1\n"):
            raise ModelLoadError(f"{self.driver} does not speak the driver protocol of this lpfc",
                                 hint=f"delete it; lpfc compile builds a new one (or lpfc.load builds one in "
                                      f"{_cache_root()})")
        self._arena = 0
        self._inputs, self._outputs = [], []
        for line in text.splitlines():
            f = line.split()
            if f and f[0] == "arena":
                self._arena = int(f[1])
            elif f and f[0] in ("input", "output"):
                name = bytes.fromhex(f[2][1:]).decode("utf-8", "surrogateescape")
                dtype, rank = int(f[3]), int(f[4])
                if dtype not in _DTYPES:
                    raise ModelLoadError(f"{str(path)!r}: tensor {name!r} has dtype {dtype}, unknown to lpfc")
                arg = NodeArg(name, [int(d) for d in f[5:5 + rank]], np.dtype(_DTYPES[dtype]))
                (self._inputs if f[0] == "input" else self._outputs).append(arg)
        if threads is not None:
            self.threads = threads

    def _call(self, args: list, what: str, timeout: float = DRIVER_TIMEOUT_S) -> str:
        argv = [*self.runner, str(self.driver), "--lib", self._lib_path, *map(str, args)]
        try:
            r = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=timeout)
        except subprocess.TimeoutExpired:
            raise LpfcError(f"the driver did not finish in {timeout:.0f} s: {' '.join(argv)}") from None
        except OSError as e:
            raise ToolchainError(f"cannot run {argv[0]}: {e.strerror}") from None
        if r.returncode != 0:
            lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
            msg = lines[-1] if lines else f"exit status {r.returncode}"
            msg = msg.removeprefix("lpfc-driver: ")
            if r.returncode == 3:
                raise InputError(msg)
            raise ModelLoadError(f"cannot {what} {str(self.path)!r} through {self.driver.name}"
                                 f"{' under ' + os.path.basename(self.runner[0]) if self.runner else ''}: {msg}")
        return r.stdout

    @property
    def arena_bytes(self) -> int:
        return self._arena

    @property
    def threads(self) -> int:
        return self._threads or (os.cpu_count() or 1)

    @threads.setter
    def threads(self, n: int) -> None:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0 or n > 4096:
            raise InputError(f"threads must be an integer from 0 (all processors) to 4096, not {n!r}")
        self._threads = int(n)

    def _check_open(self):
        if self._closed:
            raise SessionClosedError(f"the session of {self.path.name} is closed (close() was called)")

    def profile(self, feeds, runs: int = 10, warmup: int = 1):
        """Per-kernel times from the driver's ``--profile`` (one warm-up run), only with a device ``runner``:
        per-kernel times under an emulator say nothing about the phone."""
        if self.on_device:
            return self._profile_on_device(feeds, runs)
        raise ModelLoadError(f"{self.path.name} is an {self.elf.machine} library run under "
                             f"{Path(self.runner[0]).name}; per-kernel times under an emulator say nothing about "
                             "the real processor",
                             hint="profile it on the device, or count instructions with bench/qemu_icount.py")

    def _profile_on_device(self, feeds, runs: int):
        from .profile import Profile

        if isinstance(runs, bool) or not isinstance(runs, int) or not 1 <= runs <= 10000:
            raise InputError(f"runs must be an integer from 1 to 10000, not {runs!r}")
        self._check_open()
        arrays = self._checked_inputs(feeds)
        with self._lock, tempfile.TemporaryDirectory(prefix="lpfc-driver-") as d:
            text = self._call(["--threads", self._threads, "--profile", runs, *self._input_args(arrays, d)],
                              "profile")
        totals, info, samples = [], [], [[] for _ in range(runs)]
        for line in text.splitlines():
            f = line.split()
            if f and f[0] == "run_ms":
                totals = [float(x) / 1e3 for x in f[1:]]
            elif f and f[0] == "kernel" and len(f) == 3 + runs:
                info.append(bytes.fromhex(f[2][1:]).decode("ascii", "replace"))
                for r in range(runs):
                    samples[r].append(float(f[3 + r]))
        if len(totals) != runs or not info:
            raise ModelLoadError(f"the driver's --profile output for {self.path.name} is not what this lpfc "
                                 f"reads: {text[:200]!r}")
        return Profile.from_samples("\n".join(info), samples, totals, threads=self.threads,
                                    library=str(self.path))

    @staticmethod
    def _input_args(arrays: list, d: str) -> list:
        args = []
        for k, a in enumerate(arrays):
            f = Path(d) / f"in{k}.bin"
            a.tofile(f)
            args += ["--in", f]
        return args

    def _execute(self, arrays: list, profile: bool = False) -> dict:
        assert not profile, "DriverSession.profile refuses before running"
        with self._lock, tempfile.TemporaryDirectory(prefix="lpfc-driver-") as d:
            args = ["--threads", self._threads, *self._input_args(arrays, d)]
            outs = [Path(d) / f"out{k}.bin" for k in range(len(self._outputs))]
            for f in outs:
                args += ["--out", f]
            self._call(args, "run")
            return {o.name: np.fromfile(f, o.dtype).reshape(o.shape) for o, f in zip(self._outputs, outs)}

    def close(self) -> None:
        self._closed = True

    def __repr__(self):
        how = " ".join(self.runner) if self.runner else "natively"
        return f"<lpfc.DriverSession {self.path.name} ({self.elf.machine}, {how})>"


__all__ = ["DriverSession", "ElfInfo", "build_driver", "driver_path", "driver_source", "elf_info", "find_driver",
           "foreign_library"]
