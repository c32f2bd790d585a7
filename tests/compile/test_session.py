"""lpfc.load: onnxruntime-like queries and runs, and misuse that raises InputError, never crashes."""
import numpy as np
import pytest

import lpfc
from lpfc.errors import InputError, ModelLoadError

from . import hostile_model

X = hostile_model.INPUT
Y = hostile_model.OUTPUT


@pytest.fixture(scope="module")
def sess(hostile_libs):
    return lpfc.load(hostile_libs[True].library, threads=1)


def _x(shape=(2, 8), dtype=np.float32):
    return np.random.default_rng(0).standard_normal(shape).astype(dtype)


def test_queries_like_onnxruntime(sess):
    (i,), (o,) = sess.get_inputs(), sess.get_outputs()
    assert (i.name, i.shape, i.type) == (X, [2, 8], "tensor(float)")
    assert (o.name, o.shape, o.type) == (Y, [2, 4], "tensor(float)")
    assert sess.threads == 1
    sess.threads = 2
    assert sess.threads == 2
    assert sess.arena_bytes > 0


def test_run_forms(sess):
    x = _x()
    want = hostile_model.reference(x)
    np.testing.assert_allclose(sess.run({X: x})[Y], want, rtol=1e-5, atol=1e-5)
    (y,) = sess.run(None, {X: x})
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
    (y,) = sess.run([Y], {X: x})
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
    # Non-contiguous input is copied, not misread.
    xt = np.asfortranarray(x)
    np.testing.assert_allclose(sess.run({X: xt})[Y], want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("feeds, match", [
    ({X: _x((3, 8))}, "shape"),
    ({X: _x((16,))}, "shape"),
    ({X: _x(dtype=np.float64)}, "dtype"),
    ({X: _x().astype(np.int64)}, "dtype"),
    ({}, "missing"),
    ({X: _x(), "extra": _x()}, "not an input"),
    ({X: None}, "dtype"),
    ({X: "text"}, "dtype"),
])
def test_misuse_raises_input_error(sess, feeds, match):
    with pytest.raises(InputError, match=match):
        sess.run(feeds)


def test_misuse_of_arguments(sess, tmp_path):
    with pytest.raises(InputError):
        sess.run([X])                      # a list, not feeds
    with pytest.raises(InputError):
        sess.run(None)
    with pytest.raises(InputError, match="no output"):
        sess.run(["nope"], {X: _x()})
    for bad in (-1, 1.5, "2", True, 10**9):
        with pytest.raises(InputError):
            sess.threads = bad
    with pytest.raises(ModelLoadError):
        lpfc.load(tmp_path / "missing.so")
    (tmp_path / "junk.so").write_bytes(b"not a library")
    with pytest.raises(ModelLoadError):
        lpfc.load(tmp_path / "junk.so")


def test_closed_session(hostile_libs):
    s = lpfc.load(hostile_libs[False].library)
    s.close()
    with pytest.raises(InputError, match="closed"):
        s.run({X: _x()})
    s.close()  # twice is fine
