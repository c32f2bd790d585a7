"""SIGTERM, SIGHUP and SIGINT sent to a real ``lpfc compile`` process (the command's entry point,
lpfc_cli.py): one line, status 128 + the signal, the compilers killed, nothing left behind."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..frontend.onnx_builders import mlp, save

ROOT = Path(__file__).resolve().parents[2]
POLL_S = 0.01


def _lpfc(args, tmpdir, cwd):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               TMPDIR=str(tmpdir))
    return subprocess.Popen([sys.executable, "-m", "lpfc_cli", *args], env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _stat(pid):
    """(state, ppid) of a process, or None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


def _descendants(pid):
    found, todo = set(), [pid]
    procs = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    stats = {p: _stat(p) for p in procs}
    while todo:
        parent = todo.pop()
        for p, st in stats.items():
            if st is not None and st[1] == parent and p not in found:
                found.add(p)
                todo.append(p)
    return found


def _wait_for(cond, proc, what, timeout=120):
    t0 = time.monotonic()
    while not cond():
        if proc.poll() is not None:
            pytest.fail(f"lpfc exited ({proc.returncode}) before {what}: {proc.stderr.read()}")
        if time.monotonic() - t0 > timeout:
            proc.kill()
            pytest.fail(f"no {what} after {timeout} s")
        time.sleep(POLL_S)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save(mlp(), tmp_path_factory.mktemp("sig-model") / "mlp.onnx")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to see the compiler processes")
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_signal_mid_build_cleans_up_and_kills_the_compilers(model, tmp_path, sig):
    signum = getattr(signal, sig)
    tmp, out = tmp_path / "tmp", tmp_path / "out"
    tmp.mkdir()
    out.mkdir()
    proc = _lpfc(["compile", str(model), "-o", str(out / "libm.so"), "--emit-source", str(out / "pkg"), "-q"],
                 tmp, tmp_path)
    compilers = set()

    def building():   # the staging directory exists and a compiler runs under lpfc
        if not any(p.name.startswith("lpfc-build-") for p in out.iterdir()):
            return False
        compilers.update(_descendants(proc.pid))
        return bool(compilers)

    _wait_for(building, proc, "compiler process")
    proc.send_signal(signum)     # to lpfc's pid alone, as `kill PID` does: not to its process group
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, err
    assert err.splitlines() == [f"lpfc: stopped by {sig}"], err
    assert list(out.iterdir()) == []       # no lpfc-build-*, no library, header or package
    assert list(tmp.iterdir()) == []       # no lpfc-gen-* (weights.bin), nor the compilers' own cc*.s
    time.sleep(0.2)
    alive = [p for p in compilers if (_stat(p) or ("Z",))[0] not in ("Z", "X")]
    assert not alive, f"compiler processes still running after lpfc stopped: {alive}"


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc to see the import")
def test_sigint_during_import_is_one_line(model, tmp_path):
    """The signal lands while `import lpfc` loads numpy (seen in /proc/PID/maps): one line, status 130."""
    proc = _lpfc(["compile", str(model), "-o", str(tmp_path / "libm.so"), "-q"], tmp_path, tmp_path)

    def importing():
        try:
            return "_multiarray_umath" in Path(f"/proc/{proc.pid}/maps").read_text()
        except OSError:
            return False

    _wait_for(importing, proc, "numpy import")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.splitlines() == ["lpfc: stopped by SIGINT"], err
    assert not (tmp_path / "libm.so").exists()
