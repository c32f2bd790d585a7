"""The C API through ctypes, as a Python host (lpfc.load, later) will use it: results checked with
numpy, every kind of misuse gives its status and a message, nothing is printed, nothing crashes."""
import ctypes

import numpy as np
import pytest

from .conftest import BIAS

OK, NULL_POINTER, INVALID_ARGUMENT, INDEX, UNKNOWN_NAME, MISSING, DUPLICATE, DTYPE, SHAPE, BUFFER_SIZE, \
    ALIGNMENT, ALIASING, OUT_OF_MEMORY, INVALID_MODEL, EXECUTION = range(15)
FLOAT, INT32, INT64, DOUBLE = 1, 6, 7, 11


class Tensor(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int), ("rank", ctypes.c_int32),
                ("dims", ctypes.POINTER(ctypes.c_int64)), ("data", ctypes.c_void_p), ("size_bytes", ctypes.c_size_t)]


class TensorInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int), ("rank", ctypes.c_int32),
                ("dims", ctypes.POINTER(ctypes.c_int64)), ("size_bytes", ctypes.c_size_t)]


_DTYPES = {np.dtype(np.float32): FLOAT, np.dtype(np.int64): INT64, np.dtype(np.int32): INT32,
           np.dtype(np.float64): DOUBLE}


def tensor(name, array, keep):
    dims = (ctypes.c_int64 * max(array.ndim, 1))(*array.shape)
    keep.append(dims)
    return Tensor(name.encode() if name is not None else None, _DTYPES[array.dtype], array.ndim,
                  ctypes.cast(dims, ctypes.POINTER(ctypes.c_int64)), array.ctypes.data, array.nbytes)


class Model:
    """A thin ctypes wrapper: one handle of the tiny model."""

    def __init__(self, path):
        lib = ctypes.CDLL(str(path))
        lib.lpfc_model_create.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
        lib.lpfc_model_destroy.argtypes = [ctypes.c_void_p]
        lib.lpfc_model_run.argtypes = [ctypes.c_void_p, ctypes.POINTER(Tensor), ctypes.c_size_t,
                                       ctypes.POINTER(Tensor), ctypes.c_size_t]
        lib.lpfc_model_last_error.argtypes = [ctypes.c_void_p]
        lib.lpfc_model_last_error.restype = ctypes.c_char_p
        lib.lpfc_model_num_inputs.argtypes = [ctypes.c_void_p]
        lib.lpfc_model_num_inputs.restype = ctypes.c_size_t
        lib.lpfc_model_num_outputs.argtypes = [ctypes.c_void_p]
        lib.lpfc_model_num_outputs.restype = ctypes.c_size_t
        lib.lpfc_model_input_info.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(TensorInfo)]
        lib.lpfc_model_output_info.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(TensorInfo)]
        lib.lpfc_model_set_threads.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.lpfc_model_arena_bytes.argtypes = [ctypes.c_void_p]
        lib.lpfc_model_arena_bytes.restype = ctypes.c_size_t
        lib.lpfc_status_name.restype = ctypes.c_char_p
        self.lib = lib
        self.handle = ctypes.c_void_p()
        assert lib.lpfc_model_create(ctypes.byref(self.handle)) == OK
        assert self.handle.value

    def close(self):
        self.lib.lpfc_model_destroy(self.handle)
        self.handle = ctypes.c_void_p()

    def info(self, kind, i):
        info = TensorInfo()
        fn = self.lib.lpfc_model_input_info if kind == "input" else self.lib.lpfc_model_output_info
        assert fn(self.handle, i, ctypes.byref(info)) == OK
        return info.name.decode(), info.dtype, tuple(info.dims[k] for k in range(info.rank)), info.size_bytes

    def run(self, inputs, outputs, n_in=None, n_out=None):
        """inputs/outputs: lists of (name or None, array); returns (status, message)."""
        keep = []
        ins = (Tensor * max(len(inputs), 1))(*[tensor(n, a, keep) for n, a in inputs])
        outs = (Tensor * max(len(outputs), 1))(*[tensor(n, a, keep) for n, a in outputs])
        status = self.lib.lpfc_model_run(self.handle, ins, len(inputs) if n_in is None else n_in,
                                         outs, len(outputs) if n_out is None else n_out)
        return status, self.lib.lpfc_model_last_error(self.handle).decode()

    def run_raw(self, ins, n_in, outs, n_out):
        status = self.lib.lpfc_model_run(self.handle, ins, n_in, outs, n_out)
        return status, self.lib.lpfc_model_last_error(self.handle).decode()


@pytest.fixture
def model(tiny_host):
    m = Model(tiny_host[0])
    yield m
    m.close()


def sample():
    x = np.arange(6, dtype=np.float32).reshape(2, 3) * 0.25 - 0.3
    ids = np.array([1, -2], dtype=np.int64)
    return x, ids


def expected(x, ids):
    t = 2 * x
    y = t + np.array(BIAS, dtype=np.float32).reshape(2, 3)
    z = t.sum(axis=1)[ids]
    return y, z


def fresh_outputs():
    return np.full((2, 3), -99, np.float32), np.full((2,), -99, np.float32)


def test_info(model):
    assert model.lib.lpfc_model_num_inputs(model.handle) == 2
    assert model.lib.lpfc_model_num_outputs(model.handle) == 2
    assert model.info("input", 0) == ("x", FLOAT, (2, 3), 24)
    assert model.info("input", 1) == ("row ids", INT64, (2,), 16)
    assert model.info("output", 1) == ("z", FLOAT, (2,), 8)
    assert model.lib.lpfc_model_arena_bytes(model.handle) == 72
    info = TensorInfo()
    assert model.lib.lpfc_model_input_info(model.handle, 7, ctypes.byref(info)) == INDEX
    assert model.lib.lpfc_model_input_info(None, 0, ctypes.byref(info)) == NULL_POINTER


def test_run_matches_numpy(model, capfd):
    x, ids = sample()
    y, z = fresh_outputs()
    status, message = model.run([("x", x), ("row ids", ids)], [("y", y), ("z", z)])
    assert (status, message) == (OK, "")
    want_y, want_z = expected(x, ids)
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_allclose(z, want_z, rtol=1e-6)
    # Positional, and again on the same handle with other data.
    x2 = -x
    y2, z2 = fresh_outputs()
    assert model.run([(None, x2), (None, ids[::-1].copy())], [(None, y2), (None, z2)]) == (OK, "")
    np.testing.assert_allclose(z2, expected(x2, ids[::-1])[1], rtol=1e-6)
    assert capfd.readouterr() == ("", "")


MISUSE = [
    # (what the test changes, expected status, fragments of the message)
    ("shape", SHAPE, ["input 'x' (#0)", "shape [3, 2] given", "expects float32 [2, 3]"]),
    ("rank", SHAPE, ["input 'x'", "shape [6] given"]),
    ("dtype", DTYPE, ["input 'row ids' (#1)", "dtype int32 given", "expects int64 [2]"]),
    ("output dtype", DTYPE, ["output 'y'", "float64 given"]),
    ("missing", MISSING, ["input 'row ids' (#1): missing", "int64 [2]"]),
    ("missing output", MISSING, ["output 'z' (#1): missing"]),
    ("unknown", UNKNOWN_NAME, ["input #1 is named 'rowids'", "'x', 'row ids'"]),
    ("duplicate", DUPLICATE, ["input 'x' (#0): given twice"]),
    ("small output", BUFFER_SIZE, ["output 'y' (#0)", "holds 20 bytes", "needs 24"]),
    ("null data", NULL_POINTER, ["input 'x' (#0): data is NULL"]),
    ("null dims", NULL_POINTER, ["dims is NULL"]),
    ("null array", NULL_POINTER, ["inputs array is NULL but its count is 2"]),
    ("alias", ALIASING, ["output 'y'", "overlaps input 'x'"]),
    ("bad index", EXECUTION, ["index 7", "'row ids'"]),
]


@pytest.mark.parametrize("case, status, fragments", MISUSE, ids=[m[0] for m in MISUSE])
def test_misuse_gives_status_and_message(model, capfd, case, status, fragments):
    x, ids = sample()
    y, z = fresh_outputs()
    ins = [["x", x], ["row ids", ids]]
    outs = [["y", y], ["z", z]]
    if case == "shape":
        ins[0][1] = x.reshape(3, 2)
    elif case == "rank":
        ins[0][1] = x.reshape(6)
    elif case == "dtype":
        ins[1][1] = ids.astype(np.int32)
    elif case == "output dtype":
        outs[0][1] = np.zeros((2, 3), np.float64)
    elif case == "missing":
        ins.pop()
    elif case == "missing output":
        outs.pop()
    elif case == "unknown":
        ins[1][0] = "rowids"
    elif case == "duplicate":
        ins[1] = ["x", x]
    elif case == "bad index":
        ids[0] = 7
    keep = []
    tin = (Tensor * 2)(*[tensor(n, a, keep) for n, a in ins], *([Tensor()] * (2 - len(ins))))
    tout = (Tensor * 2)(*[tensor(n, a, keep) for n, a in outs], *([Tensor()] * (2 - len(outs))))
    if case == "small output":
        tout[0].size_bytes = 20
    elif case == "null data":
        tin[0].data = None
    elif case == "null dims":
        tin[0].dims = None
    elif case == "alias":
        tout[0].data = x.ctypes.data
    got, message = model.run_raw(None if case == "null array" else tin, len(ins), tout, len(outs))
    assert got == status, (model.lib.lpfc_status_name(got), message)
    for f in fragments:
        assert f in message
    if status != EXECUTION:
        assert (y == -99).all() and (z == -99).all()  # checks come before any computation
    assert capfd.readouterr() == ("", "")
    # The handle is fine afterwards.
    x, ids = sample()
    y, z = fresh_outputs()
    assert model.run([("x", x), ("row ids", ids)], [("y", y), ("z", z)]) == (OK, "")


def test_threads(model, tiny_host):
    lib = model.lib
    assert lib.lpfc_model_set_threads(model.handle, -1) == INVALID_ARGUMENT
    assert "negative" in lib.lpfc_model_last_error(model.handle).decode()
    assert lib.lpfc_model_set_threads(model.handle, 2) == OK
    x, ids = sample()
    y, z = fresh_outputs()
    assert model.run([("x", x), ("row ids", ids)], [("y", y), ("z", z)]) == (OK, "")
    assert lib.tiny_last_threads() == 2


def test_null_handle_everywhere(model):
    lib = model.lib
    assert lib.lpfc_model_create(None) == NULL_POINTER
    assert lib.lpfc_model_run(None, None, 0, None, 0) == NULL_POINTER
    assert lib.lpfc_model_last_error(None) == b"the model handle is NULL"
    assert lib.lpfc_model_num_inputs(None) == 0
    lib.lpfc_model_destroy(None)
    assert lib.lpfc_status_name(SHAPE) == b"LPFC_ERR_SHAPE"


def test_profile_without_generated_support(model, capfd):
    """lpfc_model_profile on a model whose run function does not time kernels (the hand-written tiny
    model): it runs like lpfc_model_run and reports no kernels; misuse is checked like a run."""
    lib = model.lib
    lib.lpfc_model_profile.argtypes = [ctypes.c_void_p, ctypes.POINTER(Tensor), ctypes.c_size_t,
                                       ctypes.POINTER(Tensor), ctypes.c_size_t, ctypes.POINTER(ctypes.c_double),
                                       ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t),
                                       ctypes.POINTER(ctypes.c_char_p)]
    x, ids = sample()
    y, z = fresh_outputs()
    keep = []
    ins = (Tensor * 2)(tensor("x", x, keep), tensor("row ids", ids, keep))
    outs = (Tensor * 2)(tensor("y", y, keep), tensor("z", z, keep))
    secs = (ctypes.c_double * 4)(-1, -1, -1, -1)
    count, info = ctypes.c_size_t(99), ctypes.c_char_p(b"x")
    assert lib.lpfc_model_profile(model.handle, ins, 2, outs, 2, secs, 4, ctypes.byref(count), ctypes.byref(info)) == OK
    assert count.value == 0 and info.value == b"" and list(secs) == [-1, -1, -1, -1]
    np.testing.assert_array_equal(y, expected(x, ids)[0])
    # NULL seconds with a capacity, a NULL handle, a bad input: statuses, no crash
    assert lib.lpfc_model_profile(model.handle, ins, 2, outs, 2, None, 4, None, None) == NULL_POINTER
    assert lib.lpfc_model_profile(None, ins, 2, outs, 2, secs, 4, None, None) == NULL_POINTER
    assert lib.lpfc_model_profile(model.handle, ins, 1, outs, 2, None, 0, ctypes.byref(count), None) == MISSING
    assert count.value == 0
    assert capfd.readouterr() == ("", "")
