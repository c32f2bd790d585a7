"""The kernels' pool under oversubscription (issue #18 item 6): more lpfc threads than processors, with
another process keeping every processor busy, and two sessions of the library running at once. Every
result must equal the one-thread result bit for bit (the units split the work, never a reduction)."""
from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import lpfc

N = 192          # big enough that every MatMul (14 MFLOP) goes to the pool


def _model(path):
    rng = np.random.default_rng(0)
    nodes, inits, x = [], [], "x"
    for i in range(4):
        w = (rng.standard_normal((N, N)) / np.sqrt(N)).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        nodes.append(helper.make_node("MatMul", [x, f"w{i}"], [f"h{i}"]))
        nodes.append(helper.make_node("Relu", [f"h{i}"], [f"r{i}"]))
        x = f"r{i}"
    nodes.append(helper.make_node("Softmax", [x], ["y"], axis=-1))
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [N, N])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [N, N])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    d = tmp_path_factory.mktemp("oversub")
    return lpfc.compile(_model(d / "m.onnx"), d / "libm.so").library


@pytest.fixture
def busy_cpus():
    """One spinning process per processor for the duration of the test."""
    n = os.cpu_count() or 1
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield n
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def _x(seed):
    return np.random.default_rng(seed).standard_normal((N, N)).astype(np.float32)


def test_more_threads_than_processors_with_a_busy_neighbour(lib, busy_cpus):
    xs = [_x(s) for s in range(3)]
    with lpfc.load(lib, threads=1) as one:
        want = [one.run({"x": x})["y"] for x in xs]
    for threads in (2, 4 * busy_cpus + 1):
        with lpfc.load(lib, threads=threads) as s:
            for r in range(12):
                got = s.run({"x": xs[r % 3]})["y"]
                assert np.array_equal(got, want[r % 3]), f"{threads} threads, run {r}"


def test_two_sessions_at_once_oversubscribed(lib, busy_cpus):
    xs = [_x(s) for s in range(2)]
    with lpfc.load(lib, threads=1) as one:
        want = [one.run({"x": x})["y"] for x in xs]
    errors = []

    def run(k):
        try:
            with lpfc.load(lib, threads=3 * busy_cpus) as s:
                for r in range(10):
                    if not np.array_equal(s.run({"x": xs[k]})["y"], want[k]):
                        errors.append((k, r))
        except Exception as e:   # noqa: BLE001 - reported by the assertion below
            errors.append((k, repr(e)))

    ts = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in ts), "a session hung"
    assert not errors, errors
