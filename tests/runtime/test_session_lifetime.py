"""Session lifetime (issue #12, items 4, 5 and the unload half of 9): close() while another thread runs,
a library rebuilt at the same path, and close() unloading the library and joining its pool's threads."""
from __future__ import annotations

import os
import shutil
import threading

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import lpfc
from lpfc.runtime.session import SessionClosedError

N = 256          # big enough that a run takes milliseconds and uses the thread pool


def _mlp(path, scale: float, layers: int = 6):
    rng = np.random.default_rng(0)
    nodes, inits, x = [], [], "x"
    for i in range(layers):
        w = (rng.standard_normal((N, N)) * scale / np.sqrt(N)).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        nodes.append(helper.make_node("MatMul", [x, f"w{i}"], [f"h{i}"]))
        x = f"h{i}"
    nodes.append(helper.make_node("Relu", [x], ["y"]))
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [N, N])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [N, N])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


@pytest.fixture(scope="module")
def libs(tmp_path_factory):
    d = tmp_path_factory.mktemp("lifetime")
    a = lpfc.compile(_mlp(d / "a.onnx", 1.0), d / "liba.so").library
    b = lpfc.compile(_mlp(d / "b.onnx", 2.0), d / "libb.so").library
    return d, a, b


def _x():
    return np.random.default_rng(1).standard_normal((N, N)).astype(np.float32)


def test_close_while_another_thread_runs(libs):
    _, a, _ = libs
    want = lpfc.load(a).run({"x": _x()})["y"]
    for attempt in range(3):
        sess = lpfc.load(a, threads=2)
        started, results, errors = threading.Event(), [], []

        def worker():
            started.set()
            try:
                for _ in range(20):
                    results.append(sess.run({"x": _x()})["y"])
            except SessionClosedError as e:
                errors.append(e)

        t = threading.Thread(target=worker)
        t.start()
        started.wait()
        sess.close()                       # waits for the run in progress; the next one is refused
        t.join(60)
        assert not t.is_alive()
        assert errors, "a run after close() must raise SessionClosedError"
        assert "closed" in str(errors[0])
        for r in results:
            np.testing.assert_array_equal(r, want)
        with pytest.raises(SessionClosedError):
            sess.run({"x": _x()})
        with pytest.raises(SessionClosedError):
            sess.threads
        with pytest.raises(SessionClosedError):
            sess.threads = 1
        sess.close()                       # twice: harmless


def test_rebuilt_library_at_the_same_path_gives_the_new_model(libs, tmp_path):
    d, a, b = libs
    same = tmp_path / "same" / "lib.so"
    same.parent.mkdir()
    x = _x()
    shutil.copy(a, same)
    first = lpfc.load(same)
    ya = first.run({"x": x})["y"]
    # a rebuild: a new file renamed over the old one (what lpfc compile does), old session still open
    shutil.copy(b, str(same) + ".tmp")
    os.replace(str(same) + ".tmp", same)
    second = lpfc.load(same)
    yb = second.run({"x": x})["y"]
    np.testing.assert_array_equal(yb, lpfc.load(b).run({"x": x})["y"])
    assert not np.array_equal(ya, yb)
    np.testing.assert_array_equal(first.run({"x": x})["y"], ya)   # the open session keeps its model
    first.close()
    second.close()


def test_rebuilt_by_lpfc_compile_at_the_same_path(libs, tmp_path):
    d, _, _ = libs
    out = tmp_path / "lib.so"
    x = _x()
    lpfc.compile(d / "a.onnx", out)
    ya = lpfc.load(out).run({"x": x})["y"]
    lpfc.compile(d / "b.onnx", out)
    yb = lpfc.load(out).run({"x": x})["y"]
    np.testing.assert_array_equal(yb, lpfc.load(libs[2]).run({"x": x})["y"])
    assert not np.array_equal(ya, yb)


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _mapped(path_part: str) -> int:
    with open("/proc/self/maps") as f:
        return sum(1 for line in f if path_part in line)


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc to count threads")
def test_close_unloads_the_library_and_joins_its_threads(libs, tmp_path):
    _, a, _ = libs
    x = _x()
    copies = []
    for i in range(12):                     # distinct files: each a separate library with its own pool
        p = tmp_path / f"libcopy{i}.so"
        shutil.copy(a, p)
        copies.append(p)
    s = lpfc.load(copies[0], threads=2)
    s.run({"x": x})
    s.close()
    base = _threads()
    for p in copies[1:]:
        s = lpfc.load(p, threads=2)
        s.run({"x": x})                     # starts the library's pool (one worker at 2 threads)
        assert _threads() > base - 1
        s.close()
        assert _threads() <= base, f"{p.name}: its pool's worker was not joined by close()"
    assert _mapped("libcopy") == 0, "close() left a library mapped"
