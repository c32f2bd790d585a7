"""lpfc as users install it: build the wheel, install it into a fresh venv, and from a directory outside
the checkout compile a model with the installed ``lpfc`` command and run it with the installed lpfc.load.

The checkout must play no part after the wheel is built: the venv sees the wheel's files, and the
dependencies (numpy, onnx, islpy, ...) of the venv running the tests through a .pth line (no download);
PYTHONPATH is cleared and the work happens in a temporary directory."""
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from ..frontend.onnx_builders import mlp, save

ROOT = Path(__file__).resolve().parents[2]


def _run(argv, **kw):
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=600, **kw)
    assert r.returncode == 0, f"$ {' '.join(map(str, argv))}\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    return r


@pytest.mark.slow
def test_the_installed_wheel_compiles_and_runs_a_model(tmp_path):
    pytest.importorskip("onnxruntime")
    for mod in ("setuptools", "wheel"):
        pytest.importorskip(mod, reason=f"building the wheel without downloads needs {mod} in this venv")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["LPFC_CACHE_DIR"] = str(tmp_path / "cache")
    # Built from a copy of what the sdist holds: pip builds a local directory in place (build/,
    # lpfc.egg-info), and the checkout must not be written to.
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so")
    shutil.copytree(ROOT / "lpfc", src / "lpfc", ignore=ignore)
    for name in ("lpfc_cli.py", "setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    wheelhouse = tmp_path / "wheelhouse"
    _run([sys.executable, "-m", "pip", "wheel", src, "--no-deps", "--no-build-isolation", "--no-index",
          "-w", wheelhouse], cwd=tmp_path, env=env)
    wheels = list(wheelhouse.glob("lpfc-*.whl"))
    assert len(wheels) == 1, wheels
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    runtime = {p.relative_to(ROOT).as_posix() for p in (ROOT / "lpfc" / "c_runtime").rglob("*")
               if p.suffix in (".h", ".hpp", ".c")}
    assert runtime and runtime <= names, f"the wheel lacks runtime files: {sorted(runtime - names)}"
    assert "lpfc_cli.py" in names

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    py = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "--no-index", wheels[0]], env=env)
    assert "from lpfc_cli import main" in (venv / "bin" / "lpfc").read_text()   # signals handled before import lpfc
    site = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    # the dependencies from the test venv's site-packages (a path in a .pth: its own .pth files, such as
    # an editable install of lpfc, are not processed, so the checkout stays out of reach)
    (site / "zz_lpfc_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    work = tmp_path / "work"
    work.mkdir()
    save(mlp(), work / "mlp.onnx")
    r = _run([venv / "bin" / "lpfc", "compile", "mlp.onnx", "-o", "libmlp.so"], cwd=work, env=env)
    assert (work / "libmlp.so").is_file() and (work / "libmlp.h").is_file(), r.stderr
    check = f"""
import sys, numpy as np, onnxruntime as ort
import lpfc
assert lpfc.__file__.startswith({str(venv)!r}), lpfc.__file__
# the checkout itself is out of reach (its .venv, with the dependencies, may lie inside it, as in CI)
assert not any(p == {str(ROOT)!r} or p.startswith({str(ROOT) + "/lpfc"!r}) for p in sys.path if p), sys.path
x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
want = ort.InferenceSession("mlp.onnx", providers=["CPUExecutionProvider"]).run(None, {{"x": x}})[0]
with lpfc.load("libmlp.so") as s:
    got = s.run({{"x": x}})["y"]
interp = lpfc.interpret(lpfc.import_onnx("mlp.onnx"), {{"x": x}})["y"]
assert np.max(np.abs(got - want)) < 1e-5 and np.max(np.abs(interp - want)) < 1e-5, (got, want, interp)
print("installed lpfc ok", lpfc.__file__)
"""
    r = _run([py, "-c", check], cwd=work, env=env)
    assert "installed lpfc ok" in r.stdout
