"""Export a model's prefill and decode graphs and compile each with ``lpfc.compile`` (cached).

    python -m examples.textgen build [--model smollm2|gpt2-tiny]

Everything lives in ``$LPFC_CACHE_DIR/textgen/<model>-<key>/`` (default ``~/.cache/lpfc``), where the
key hashes what determines the export: the model's weights (the GGUF file's size and mtime, or the tiny
model's config and seed), P, L, the target, export.py and the versions of transformers and torch.  The
libraries' names carry a hash of lpfc's own sources, so they are rebuilt when lpfc changes.  A build is written to a temporary directory and renamed into place, so two processes building
at once never see half a build.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .models import SPECS, load_model, model_key


@dataclass(frozen=True)
class Build:
    dir: Path
    prefill_onnx: Path
    decode_onnx: Path
    prefill_lib: Path
    decode_lib: Path
    shapes: "object"     # export.Shapes


def cache_root() -> Path:
    root = os.environ.get("LPFC_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "lpfc") / "textgen"


def lpfc_fingerprint() -> str:
    """A hash of lpfc's sources (Python, C runtime, templates): a library is rebuilt when lpfc changes."""
    import importlib.util
    root = Path(importlib.util.find_spec("lpfc").origin).resolve().parent   # without importing lpfc
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.suffix in (".py", ".c", ".h", ".hpp", ".j2", ".cpp", ".cl") and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:12]


def _key(name: str, prompt_len: int, capacity: int, target: str) -> str:
    here = Path(__file__).resolve().parent
    src = hashlib.sha256((here / "export.py").read_bytes()).hexdigest()
    blob = json.dumps({"model": model_key(name), "P": prompt_len, "L": capacity, "export": src,
                       "target": target}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def build(name: str = "smollm2", prompt_len: int | None = None, capacity: int | None = None,
          compile_libs: bool = True, target: str = "host", quiet: bool = True, weights: str = "fp32",
          lib_hash: str | None = None) -> Build:
    """The model's exports and libraries, built only when missing.  ``weights="fp16"``: the decode library
    stores its one-row GEMMs' weights as fp16 (``lpfc.compile(weights=)``; ``libdecode-fp16-<h>.so``).
    ``lib_hash``: use the libraries an earlier lpfc built (their ``<h>``), never compiling (timing runs)."""
    from .export import Shapes, export
    spec = SPECS[name]
    P, L = prompt_len or spec.prompt_len, capacity or spec.capacity
    d = cache_root() / f"{name}-P{P}-L{L}-{target}-{_key(name, P, L, target)}"
    lib = lib_hash or (lpfc_fingerprint() if compile_libs else "none")   # the ONNX is kept when only lpfc changed
    files = dict(prefill_onnx=d / "prefill.onnx", decode_onnx=d / "decode.onnx",
                 prefill_lib=d / f"libprefill-{lib}.so",
                 decode_lib=d / f"libdecode-{'fp16-' if weights == 'fp16' else ''}{lib}.so")
    meta = d / "shapes.json"
    if not meta.exists():
        d.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=d.name + ".tmp-", dir=d.parent))
        try:
            t0 = time.perf_counter()
            _, _, sh = export(load_model(name), tmp, P, L)
            (tmp / "shapes.json").write_text(json.dumps(asdict(sh)))
            if not quiet:
                print(f"exported {name} (P={P}, L={L}) in {time.perf_counter() - t0:.1f} s", flush=True)
            try:
                os.replace(tmp, d)
            except OSError:        # another process finished first: use its build
                pass
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    sh = Shapes(**json.loads(meta.read_text()))
    if lib_hash:
        missing = [str(f) for k, f in files.items() if k.endswith("_lib") and not f.exists()]
        if missing:
            raise FileNotFoundError(f"no library built with lpfc {lib_hash}: {', '.join(missing)}")
    elif compile_libs:
        import lpfc
        for onnx_key, lib_key in (("prefill_onnx", "prefill_lib"), ("decode_onnx", "decode_lib")):
            if not files[lib_key].exists():
                t0 = time.perf_counter()
                # lpfc.compile stages its output and renames it into place: concurrent builds are safe
                r = lpfc.compile(files[onnx_key], files[lib_key], target=target,
                                 weights=weights if lib_key == "decode_lib" else "fp32")
                if not quiet:
                    print(f"lpfc.compile {files[onnx_key].name} -> {files[lib_key].name}: {r.kernels} kernels "
                          f"in {time.perf_counter() - t0:.1f} s", flush=True)
    return Build(d, shapes=sh, **files)


def main(argv=None) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="python -m examples.textgen build", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2", choices=sorted(SPECS))
    ap.add_argument("--target", default="host")
    ap.add_argument("--weights", default="fp32", choices=("fp32", "fp16"), help="the decode library's weight storage")
    args = ap.parse_args(argv)
    b = build(args.model, target=args.target, quiet=False, weights=args.weights)
    print(b.dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
