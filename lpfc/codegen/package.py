"""The CMake source package that ``lpfc compile --emit-source DIR`` writes.

Everything the library was built from, laid out so that any CMake user (an
Android app's ``externalNativeBuild``, ``add_subdirectory``, a cross build) can
build it again, anywhere the directory is moved::

    DIR/CMakeLists.txt               library target <name> (alias lpfc::<name>), SHARED by default
    DIR/README.md                    how to build it (host, arm64 Linux, Android, add_subdirectory)
    DIR/include/lib<name>.h          the generated C header (the same as next to the .so)
    DIR/src/model.cc, kernels_N.cc   the generated C++
    DIR/src/weights.bin              the weights; model.cc embeds them with .incbin "weights.bin",
                                     found through the include path (-I DIR/src), so no absolute path
    DIR/runtime/{include,src,driver} the lpfc C runtime and the test driver (lpfc_driver.c)
    DIR/src/kernels.cl, runtime/opencl (opencl target) the OpenCL C kernels (embedded like the weights)
                                     and the OpenCL host glue; the library links -lOpenCL
    DIR/cmake/aarch64-linux-gnu.cmake a toolchain file: Debian's cross gcc, qemu as the emulator
    DIR/lpfc-manifest.json           the files lpfc wrote (a re-emit replaces only those; see PackageDir)

The flags come from the toolchain lpfc built with (``Toolchain.cflags``), so the
package asks for the instruction set its kernels were generated for.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Optional, Sequence

from ..errors import LpfcError
from .model_gen import TEMPLATE_DIR, c_comment, c_identifier
from .targets import DEFAULT_ANDROID_API

_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.+-]+")
_PROCESSORS = {"aarch64": "^(aarch64|arm64|ARM64)$", "x86_64": "^(x86_64|AMD64|amd64|x64)$"}
_CROSS_HINT = {
    "aarch64": ("Configure with -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake (arm64 Linux) or with the "
                "NDK's build/cmake/android.toolchain.cmake and -DANDROID_ABI=arm64-v8a (Android)."),
    "x86_64": ("Build it on an x86-64 machine, or compile the model again with lpfc compile --target arm64-linux "
               "(or arm64-android) for arm64."),
}


def _render(template: str, **ctx) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR / "package")),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True,
                             lstrip_blocks=True, autoescape=False)
    return env.get_template(template).render(**ctx)


def _cmake_arg(text: str) -> str:
    """``text`` as one quoted CMake argument."""
    if any(ord(c) < 0x20 for c in text):
        raise LpfcError(f"{text!r} cannot be written into CMakeLists.txt (control characters)")
    return '"' + re.sub(r'([\\"$;])', r"\\\1", text) + '"'


def write_package(dest: Path, *, sources: Sequence[Path], weights: Path, header_text: str, library_name: str,
                  toolchain, model_file: str, weights_bytes: int, embedded: Sequence[Path] = ()) -> Path:
    """Writes the package into ``dest`` (a fresh staging directory: :class:`PackageDir` publishes it);
    moves ``weights`` there (the caller's copy is temporary). ``embedded``: other files model.cc embeds with
    .incbin (the opencl target's kernels.cl), copied next to it. On the opencl target the package also builds
    the OpenCL host glue (runtime/opencl). Returns ``dest / "src"`` (where model.cc is)."""
    from .. import __version__
    from .toolchain import RUNTIME_DIR

    lib = Path(library_name)
    check_library_name(library_name)
    target = toolchain.target
    prefix = lib.stem[3:] if lib.stem.startswith("lib") and len(lib.stem) > 3 else lib.stem
    name = c_identifier(prefix)
    opt = name.upper()
    src_dir, inc_dir, cmake_dir = dest / "src", dest / "include", dest / "cmake"
    for d in (src_dir, inc_dir, cmake_dir, dest / "runtime"):
        d.mkdir(parents=True, exist_ok=True)
    for s in sources:
        shutil.copy2(s, src_dir / s.name)
    shutil.move(str(weights), str(src_dir / "weights.bin"))
    for e in embedded:
        shutil.copy2(e, src_dir / Path(e).name)
    header = f"{lib.stem}.h"
    (inc_dir / header).write_text(header_text)
    for sub in ("include", "src", "driver"):
        shutil.copytree(RUNTIME_DIR / sub, dest / "runtime" / sub)
    runtime_sources = sorted("src/" + p.name for p in (RUNTIME_DIR / "src").glob("*.c"))
    if target.opencl:   # the host glue (lpfc_opencl.c, included as "lpfc_opencl.h" by model.cc)
        shutil.copytree(RUNTIME_DIR / "opencl", dest / "runtime" / "opencl")
        runtime_sources += sorted("opencl/" + p.name for p in (RUNTIME_DIR / "opencl").glob("*.c"))

    libs = [f for f in toolchain.ldflags if f.startswith("-l")]
    link_opts = [f for f in toolchain.ldflags if not f.startswith("-l") and "max-page-size" not in f]
    driver = f"{lib.stem}-driver"
    ctx = dict(version=__version__, target=target.name, arch=target.arch, cross=target.is_cross,
               api_level=target.api_level or DEFAULT_ANDROID_API, library=lib.name,
               library_comment=c_comment(lib.name),
               model=Path(model_file).name, model_comment=c_comment(Path(model_file).name),
               header=header, header_name_comment=c_comment(header), driver=driver,
               driver_name=_cmake_arg(driver), driver_name_comment=c_comment(driver),
               project=f"lpfc_{name}", target_name=name, alias=f"lpfc::{name}", opt=opt,
               output_name=_cmake_arg(lib.stem), flags=" ".join(_cmake_arg(f) for f in toolchain.cflags),
               flags_text=" ".join(toolchain.cflags), processor_regex=_PROCESSORS.get(target.arch, "^$"),
               cross_hint=_CROSS_HINT.get(target.arch, ""), sources=[s.name for s in sources],
               runtime_sources=runtime_sources, opencl=target.opencl,
               link_options=" ".join(_cmake_arg(f) for f in link_opts),
               link_libraries=" ".join(_cmake_arg(f) for f in libs), weights=_human(weights_bytes))
    (dest / "CMakeLists.txt").write_text(_render("CMakeLists.txt.j2", **ctx))
    (dest / "README.md").write_text(_render("README.md.j2", **ctx))
    (cmake_dir / "aarch64-linux-gnu.cmake").write_text(_render("aarch64-linux-gnu.cmake.j2", **ctx))
    return src_dir


def check_library_name(library_name: str) -> None:
    if not _PLAIN_NAME.fullmatch(Path(library_name).stem):
        raise LpfcError(f"the library name {library_name!r} cannot name a CMake target",
                        hint="use letters, digits and _ . + - (e.g. libmodel.so) with --emit-source")


#: Written last into every --emit-source directory: the files lpfc wrote there, and nothing else.
MANIFEST = "lpfc-manifest.json"
_MANIFEST_KIND = "lpfc source package"
_STAGING_PREFIX = ".lpfc-staging-"


class PackageDir:
    """The ``--emit-source DIR`` directory: lpfc writes only there, only its own files, all or nothing.

    ``DIR`` must be missing (lpfc creates it and missing parents, as ``mkdir -p``), empty, or a
    previous lpfc package (``DIR/lpfc-manifest.json`` lists the files lpfc wrote). Anything else is refused
    before any work. The package is written into a staging directory inside ``DIR`` (same file system), then
    :meth:`publish` renames each file into place, removes files the old manifest listed that the new package
    no longer has (a model with fewer kernel files), and writes the manifest last. A file in ``DIR`` that the
    old manifest does not list is never deleted or overwritten: if the new package needs its name, publishing
    is refused before anything is moved. :meth:`discard` removes the staging directory (and the directories
    lpfc created, while still empty): an interrupted or failed compile leaves ``DIR`` as it was."""

    def __init__(self, dest):
        self.dest = Path(dest)
        self.old: set = set()
        self.created: list = []          # directories lpfc made (DIR and missing parents), innermost first
        self.staging: Optional[Path] = None
        d = self.dest
        if d.is_symlink() and not d.exists():
            raise LpfcError(f"--emit-source {str(d)!r} is a dangling symbolic link")
        if d.exists() and not d.is_dir():
            raise LpfcError(f"--emit-source {str(d)!r} exists and is not a directory")
        if not d.exists():
            return
        entries = [p.name for p in d.iterdir() if not p.name.startswith(_STAGING_PREFIX)]
        if not entries:
            return
        old = read_manifest(d)
        if old is None:
            raise LpfcError(f"--emit-source {str(d)!r} is a non-empty directory that is not an lpfc source "
                            f"package (no valid {MANIFEST}); lpfc will not write into it",
                            hint="name a new or empty directory (lpfc never deletes or overwrites files it did "
                                 "not write)")
        self.old = old

    def stage(self) -> Path:
        """A fresh, empty staging directory inside DIR (created now) to write the package into."""
        import tempfile

        missing = []
        d = self.dest.absolute()
        while not d.exists():
            missing.append(d)
            d = d.parent
        for m in reversed(missing):
            m.mkdir()
            self.created.insert(0, m)
        self.staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=self.dest))
        return self.staging

    def publish(self) -> list:
        """Moves the staged files into DIR (see the class); returns their paths relative to DIR."""
        import os

        assert self.staging is not None
        new = sorted(p.relative_to(self.staging).as_posix() for p in self.staging.rglob("*")
                     if p.is_file() or p.is_symlink())
        for rel in new:      # all checks first: nothing is moved when one file is in the way
            target = self.dest / rel
            if rel not in self.old and (target.exists() or target.is_symlink()):
                raise LpfcError(f"--emit-source: {str(target)!r} exists and was not written by lpfc (it is not "
                                f"in {MANIFEST}); lpfc will not overwrite it", hint="move it away, or emit into a "
                                "new directory")
            for parent in list(Path(rel).parents)[:-1]:
                p = self.dest / parent
                if p.exists() and not p.is_dir() or p.is_symlink():
                    raise LpfcError(f"--emit-source: {str(p)!r} is in the way (not a directory)")
        for rel in new:
            target = self.dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.staging / rel, target)
        for rel in sorted(self.old - set(new)):   # files of the previous package this one no longer has
            p = self.dest / rel
            if p.is_file() or p.is_symlink():
                p.unlink()
        _write_manifest(self.dest, new)
        self.created = []                # published: what lpfc created stays
        self.discard()
        return new

    def discard(self) -> None:
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
        for d in self.created:           # only while still empty: a published package is not
            try:
                d.rmdir()
            except OSError:
                break
        self.created = []


def read_manifest(d: Path) -> Optional[set]:
    """The relative paths DIR/lpfc-manifest.json lists, or None when it is missing or not lpfc's (a path that
    is absolute or climbs out with '..' makes the whole manifest invalid: it must never make lpfc delete
    something outside DIR)."""
    import json
    from pathlib import PurePosixPath

    try:
        data = json.loads((d / MANIFEST).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("kind") != _MANIFEST_KIND or not isinstance(data.get("files"), list):
        return None
    files = set()
    for f in data["files"]:
        if not isinstance(f, str) or not f or "\\" in f or "\0" in f:
            return None
        p = PurePosixPath(f)
        if p.is_absolute() or ".." in p.parts or p.as_posix() != f or f == MANIFEST:
            return None
        files.add(f)
    return files


def _write_manifest(d: Path, files: Sequence[str]) -> None:
    import json
    import os
    import tempfile

    from .. import __version__

    text = json.dumps({"kind": _MANIFEST_KIND, "lpfc": __version__, "files": list(files),
                       "note": "lpfc compile --emit-source wrote these files and replaces only them"}, indent=1)
    fd, tmp = tempfile.mkstemp(prefix=".lpfc-manifest-", dir=d)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")
    os.replace(tmp, d / MANIFEST)


def _human(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


__all__ = ["MANIFEST", "PackageDir", "check_library_name", "read_manifest", "write_package"]
