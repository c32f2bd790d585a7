"""Calibrating a cross target on its device (``lpfc calibrate --runner``): the mechanics, under qemu.

qemu stands in for the phone: the driver runs there, profiles each kernel and the calibration is fitted
and used by estimate_latency. The timings under an emulator mean nothing, so nothing here checks them.
"""
import json

import numpy as np
import pytest

import lpfc
from lpfc.cost.arch import build_encoder
from lpfc.errors import LpfcError, ModelLoadError

from ..arm64_support import arm64_toolchain_or_skip

# two tiny calibration models whose layers differ, as the real calibration set's do
ARCHS = (dict(layers=2, hidden=32, heads=[2, 4], ffn=[64, 96], seq=16, batch=1, vocab=64),
         dict(layers=2, hidden=48, heads=[4, 2], ffn=[96, 64], seq=24, batch=1, vocab=64))


@pytest.fixture(scope="module")
def qemu():
    return list(arm64_toolchain_or_skip().runner)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private cache: a calibration made under qemu must never price a user's arm64 estimates."""
    monkeypatch.setenv("LPFC_CACHE_DIR", str(tmp_path / "cache"))
    from lpfc.cost import model
    model._LOADED.clear()
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def arm_lib(tmp_path_factory, qemu):
    d = tmp_path_factory.mktemp("devcal")
    return lpfc.compile(build_encoder(ARCHS[0]), d / "libtiny.so", target="arm64-linux").library


def test_the_driver_profiles_every_kernel_with_a_device_runner(arm_lib, qemu):
    from lpfc.runtime.foreign import DriverSession
    from lpfc.cost.measure import sample_feeds

    dev = DriverSession(arm_lib, threads=1, runner=qemu)
    prof = dev.profile(sample_feeds(dev), runs=3)
    assert prof.runs == 3 and prof.kernels and prof.total_seconds > 0
    assert all(len(k.samples) == 3 and k.seconds > 0 and k.emitter for k in prof.kernels)
    # the same kernel calls the library describes when profiled on this machine's own build
    host = lpfc.compile(build_encoder(ARCHS[0]), arm_lib.parent / "libhost.so")
    with lpfc.load(host.library, threads=1) as s:
        want = s.profile(sample_feeds(s), runs=1)
    assert [(k.name, k.kind, k.shapes) for k in prof.kernels] == [(k.name, k.kind, k.shapes) for k in want.kernels]


def test_under_plain_qemu_profiling_is_refused(arm_lib):
    """Without a device runner the library runs under the emulator, whose per-kernel times are not the phone's."""
    from lpfc.runtime.foreign import DriverSession

    sess = DriverSession(arm_lib)
    with pytest.raises(ModelLoadError, match="emulator"):
        sess.profile({}, runs=1)


@pytest.mark.slow
def test_calibrate_with_a_runner_prices_later_estimates(qemu, cache):
    from lpfc.cost.calibrate import calibrate

    paths = calibrate("arm64-linux", threads=(1,), archs=ARCHS, runs=2, profile_runs=2, runner=qemu)
    data = json.loads(paths[1].read_text())
    assert data["target"] == "arm64-linux" and data["cpu"] == "device via " + " ".join(qemu)
    assert len(data["models"]) == 2 and all(m["samples"] for m in data["models"])
    est = lpfc.estimate_latency(dict(ARCHS[1], layers=3, heads=2, ffn=80), target="arm64-linux")
    assert est.source == "calibrated" and np.isfinite(est.ms) and est.ms > 0


@pytest.mark.parametrize("target, runner, message", [
    ("arm64-linux", None, "needs the device.*--runner"),
    ("opencl", ["true"], "OpenCL device"),
    ("host", ["true"], "--runner is for cross targets"),
])
def test_calibrate_refuses_what_it_cannot_measure(cache, target, runner, message):
    from lpfc.cost.calibrate import calibrate

    with pytest.raises(LpfcError, match=message):
        calibrate(target, threads=(1,), archs=ARCHS, runner=runner)
    assert not (cache / "latency").exists()


def test_the_cli_rejects_an_empty_runner(capsys):
    from lpfc.cli import main

    assert main(["calibrate", "--target", "arm64-linux", "--runner", "  "]) != 0
    assert "--runner is empty" in capsys.readouterr().err
