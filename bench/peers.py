"""The peers' venvs: where they live, what goes in them, and ``python -m bench setup-peers``.

onnxruntime and PyTorch run in lpfc's own venv (both are in lpfc's ``test`` extra). LiteRT with
its converter (onnx2tf needs tensorflow and tf_keras) and TVM each get a venv of their own under
$LPFC_CACHE_DIR/bench (default ~/.cache/lpfc/bench), since their pins clash with each other and
with lpfc's. Versions are pinned to the ones this harness was validated with.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# name -> packages (pinned). Never an unpinned torch here: it pulls gigabytes of CUDA wheels.
PEER_VENVS = {
    "tflite": ["tensorflow==2.21.0", "tf_keras==2.21.0", "onnx2tf==1.28.8", "ai-edge-litert==2.3.0",
               "onnx==1.23.2", "onnx_graphsurgeon==0.6.1", "sng4onnx==2.0.1", "psutil", "onnxruntime==1.31.1",
               "numpy"],
    # apache-tvm-ffi: the newest segfaults in tvm.ir.save_json (shared/PEERS.md); 0.1.14.post1 works.
    "tvm": ["apache-tvm==0.27.0.post1", "apache-tvm-ffi==0.1.14.post1", "onnx==1.23.2", "numpy"],
}
# what each venv must import for its runtime to count as set up
PEER_IMPORTS = {"tflite": "import ai_edge_litert.interpreter, onnx2tf", "tvm": "import tvm, tvm.relax.frontend.onnx"}


class NotAvailable(RuntimeError):
    """A runtime cannot run here; the message says why and what to do."""


def cache_root() -> Path:
    root = os.environ.get("LPFC_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "lpfc") / "bench"


def venv_dir(name: str) -> Path:
    """$LPFC_BENCH_VENVS/venv-NAME when that is set, else $LPFC_CACHE_DIR/bench/venv-NAME."""
    root = os.environ.get("LPFC_BENCH_VENVS")
    return (Path(root) if root else cache_root()) / f"venv-{name}"


def venv_python(name: str) -> Path:
    """The interpreter of peer venv ``name``; NotAvailable when it is missing or broken."""
    py = venv_dir(name) / "bin" / "python"
    if not py.is_file():
        raise NotAvailable(f"no {name} venv at {venv_dir(name)} (run: python -m bench setup-peers --peers {name})")
    r = subprocess.run([str(py), "-c", PEER_IMPORTS[name]], capture_output=True, text=True)
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["?"])[-1]
        raise NotAvailable(f"the {name} venv cannot import its runtime: {last} "
                           f"(run: python -m bench setup-peers --peers {name} --force)")
    return py


def main_python_has(module: str) -> str | None:
    """None when lpfc's interpreter imports ``module``, else the error line."""
    r = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
    return None if r.returncode == 0 else ((r.stderr.strip().splitlines() or ["?"])[-1])


def setup(names=None, force: bool = False, find_links: str | None = None) -> int:
    """Creates (or completes) each peer venv with pip from PyPI; returns the number that failed."""
    names = list(names or PEER_VENVS)
    base = getattr(sys, "_base_executable", sys.executable)
    failed = 0
    for name in names:
        d = venv_dir(name)
        if not force:
            try:
                venv_python(name)
                print(f"[bench] {name}: set up in {d}")
                continue
            except NotAvailable:
                pass
        print(f"[bench] {name}: creating {d} and installing {' '.join(PEER_VENVS[name])} (a few minutes)", flush=True)
        d.parent.mkdir(parents=True, exist_ok=True)
        cmds = [[base, "-m", "venv", "--clear" if force else "--upgrade-deps", str(d)],
                [str(d / "bin" / "python"), "-m", "pip", "install", "-q", *PEER_VENVS[name]]
                + (["--find-links", find_links] if find_links else [])]
        for cmd in cmds:
            r = subprocess.run(cmd)
            if r.returncode != 0:
                print(f"[bench] {name}: FAILED: {' '.join(cmd)} exited {r.returncode}", file=sys.stderr)
                failed += 1
                break
        else:
            try:
                venv_python(name)
                print(f"[bench] {name}: ok")
            except NotAvailable as e:
                print(f"[bench] {name}: FAILED: {e}", file=sys.stderr)
                failed += 1
    for module, hint in (("onnxruntime", "onnxruntime"), ("torch", "torch==2.13.0 (CPU wheel)")):
        err = main_python_has(module)
        print(f"[bench] {module} in {sys.executable}: " + ("ok" if err is None else
              f"missing ({err}); pip install -e '.[test]' installs {hint}"))
    return failed
