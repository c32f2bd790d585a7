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
    DIR/cmake/aarch64-linux-gnu.cmake a toolchain file: Debian's cross gcc, qemu as the emulator

The flags come from the toolchain lpfc built with (``Toolchain.cflags``), so the
package asks for the instruction set its kernels were generated for.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Sequence

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
                  toolchain, model_file: str, weights_bytes: int) -> Path:
    """Writes the package into ``dest``; moves ``weights`` there (the caller's copy is temporary).
    Returns ``dest / "src"`` (where model.cc is)."""
    from .. import __version__
    from .toolchain import RUNTIME_DIR

    lib = Path(library_name)
    if not _PLAIN_NAME.fullmatch(lib.stem):
        raise LpfcError(f"the library name {library_name!r} cannot name a CMake target",
                        hint="use letters, digits and _ . + - (e.g. libmodel.so) with --emit-source")
    target = toolchain.target
    prefix = lib.stem[3:] if lib.stem.startswith("lib") and len(lib.stem) > 3 else lib.stem
    name = c_identifier(prefix)
    opt = name.upper()
    src_dir, inc_dir, cmake_dir = dest / "src", dest / "include", dest / "cmake"
    for d in (src_dir, inc_dir, cmake_dir, dest / "runtime"):
        d.mkdir(parents=True, exist_ok=True)
    for stale in src_dir.glob("kernels_*.cc"):
        stale.unlink()
    for s in sources:
        shutil.copy2(s, src_dir / s.name)
    shutil.move(str(weights), str(src_dir / "weights.bin"))
    header = f"{lib.stem}.h"
    (inc_dir / header).write_text(header_text)
    for sub in ("include", "src", "driver"):
        if (dest / "runtime" / sub).exists():
            shutil.rmtree(dest / "runtime" / sub)
        shutil.copytree(RUNTIME_DIR / sub, dest / "runtime" / sub)
    runtime_sources = sorted(p.name for p in (RUNTIME_DIR / "src").glob("*.c"))

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
               runtime_sources=runtime_sources, link_options=" ".join(_cmake_arg(f) for f in link_opts),
               link_libraries=" ".join(_cmake_arg(f) for f in libs), weights=_human(weights_bytes))
    (dest / "CMakeLists.txt").write_text(_render("CMakeLists.txt.j2", **ctx))
    (dest / "README.md").write_text(_render("README.md.j2", **ctx))
    (cmake_dir / "aarch64-linux-gnu.cmake").write_text(_render("aarch64-linux-gnu.cmake.j2", **ctx))
    return src_dir


def _human(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


__all__ = ["write_package"]
