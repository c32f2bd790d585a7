"""``lpfc.load``: run a compiled model library from Python, as onnxruntime's InferenceSession does.

    sess = lpfc.load("libbert.so", threads=2)
    [i.name for i in sess.get_inputs()]            # NodeArg-like: name, shape, type
    out = sess.run({"input_ids": ids, ...})        # {output name: array}
    outs = sess.run(None, {"input_ids": ids, ...}) # a list in output order, as onnxruntime
    sess.threads = 1

Everything goes through the library's C API (ctypes). Inputs are checked here
first (names, dtypes, shapes: an :class:`~lpfc.errors.InputError` naming the
tensor), and the runtime checks them again; a refused call never crashes.
"""
from __future__ import annotations

import ctypes
import itertools
import os
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

import numpy as np

from ..errors import InputError, LpfcError, ModelLoadError

OK = 0
ERR_DEVICE = 15         # LPFC_ERR_DEVICE: the OpenCL device could not be set up or failed
_DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32, 7: np.int64,
           9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64}
_ORT_TYPE = {np.float32: "tensor(float)", np.uint8: "tensor(uint8)", np.int8: "tensor(int8)",
             np.uint16: "tensor(uint16)", np.int16: "tensor(int16)", np.int32: "tensor(int32)",
             np.int64: "tensor(int64)", np.bool_: "tensor(bool)", np.float16: "tensor(float16)",
             np.float64: "tensor(double)", np.uint32: "tensor(uint32)", np.uint64: "tensor(uint64)"}
_CODE_OF = {np.dtype(v): k for k, v in _DTYPES.items()}


class _Tensor(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int), ("rank", ctypes.c_int32),
                ("dims", ctypes.POINTER(ctypes.c_int64)), ("data", ctypes.c_void_p), ("size_bytes", ctypes.c_size_t)]


class _TensorInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int), ("rank", ctypes.c_int32),
                ("dims", ctypes.POINTER(ctypes.c_int64)), ("size_bytes", ctypes.c_size_t)]


@dataclass(frozen=True)
class NodeArg:
    """An input or output, as onnxruntime's NodeArg: ``name``, ``shape`` (list), ``type`` ('tensor(float)')."""

    name: str
    shape: list
    dtype: np.dtype

    @property
    def type(self) -> str:
        return _ORT_TYPE[self.dtype.type]

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize


def _bind(lib) -> None:
    vp, sz = ctypes.c_void_p, ctypes.c_size_t
    sigs = {
        "lpfc_model_create": ([ctypes.POINTER(vp)], ctypes.c_int),
        "lpfc_model_destroy": ([vp], None),
        "lpfc_model_num_inputs": ([vp], sz),
        "lpfc_model_num_outputs": ([vp], sz),
        "lpfc_model_input_info": ([vp, sz, ctypes.POINTER(_TensorInfo)], ctypes.c_int),
        "lpfc_model_output_info": ([vp, sz, ctypes.POINTER(_TensorInfo)], ctypes.c_int),
        "lpfc_model_arena_bytes": ([vp], sz),
        "lpfc_model_set_threads": ([vp, ctypes.c_int], ctypes.c_int),
        "lpfc_model_get_threads": ([vp], ctypes.c_int),
        "lpfc_model_run": ([vp, ctypes.POINTER(_Tensor), sz, ctypes.POINTER(_Tensor), sz], ctypes.c_int),
        "lpfc_model_last_error": ([vp], ctypes.c_char_p),
        "lpfc_status_name": ([ctypes.c_int], ctypes.c_char_p),
        "lpfc_runtime_version": ([], ctypes.c_char_p),
    }
    for name, (args, res) in sigs.items():
        try:
            f = getattr(lib, name)
        except AttributeError:
            raise ModelLoadError(f"the library does not export {name}; it is not an lpfc model library") from None
        f.argtypes = args
        f.restype = res
    f = getattr(lib, "lpfc_model_profile", None)      # optional: libraries built before profiling lack it
    if f is not None:
        f.argtypes = [vp, ctypes.POINTER(_Tensor), sz, ctypes.POINTER(_Tensor), sz, ctypes.POINTER(ctypes.c_double),
                      sz, ctypes.POINTER(sz), ctypes.POINTER(ctypes.c_char_p)]
        f.restype = ctypes.c_int


class SessionClosedError(InputError):
    """A call on a :class:`Session` after ``close()``."""


#: makes every private load name unique within the process (with the pid and a random part)
_LOAD_COUNTER = itertools.count()


def _dlopen_private(p: Path, given) -> ctypes.CDLL:
    """dlopen ``p`` under a private, never-reused name.

    The dynamic loader returns an already loaded object when the *name* matches one it has seen, so
    loading ``lib.so`` again after it was rebuilt in place would give the old model (issue #12.5).
    Loading through a uniquely named symlink makes the loader open the file (it then still shares an
    object whose file is the same inode: two sessions of one unchanged library share one copy).
    The symlink is removed at once; the mapping keeps the file's contents."""
    target = p.resolve()
    d = tempfile.mkdtemp(prefix="lpfc-load-")
    link = os.path.join(d, f"{os.getpid()}-{next(_LOAD_COUNTER)}-{uuid.uuid4().hex}-{target.name}")
    try:
        os.symlink(target, link)
        try:
            return ctypes.CDLL(link)
        except OSError as e:
            msg = str(e).replace(link, str(given))
            raise ModelLoadError(f"cannot load {str(given)!r} as a shared library: {msg}") from None
    except OSError as e:        # the temporary directory or the link could not be made: load it directly
        try:
            return ctypes.CDLL(str(target))
        except OSError:
            raise ModelLoadError(f"cannot load {str(given)!r} as a shared library: {e}") from None
    finally:
        try:
            os.unlink(link)
        except OSError:
            pass
        try:
            os.rmdir(d)
        except OSError:
            pass


def _dlclose(lib: ctypes.CDLL) -> None:
    """Unloads a library ctypes loaded (ctypes itself never does): its static destructors run, which
    joins the thread pool's workers (lpfc_parallel.hpp)."""
    try:
        import _ctypes
        _ctypes.dlclose(lib._handle)
    except (ImportError, AttributeError, OSError):   # not on this platform: the library stays mapped
        pass


class Session:
    """One handle of a compiled model (one inference at a time; runs are serialised by a lock)."""

    def __init__(self, path: Union[str, os.PathLike], threads: Optional[int] = None):
        p = Path(path)
        if not p.is_file():
            raise ModelLoadError(f"model library {str(path)!r} does not exist")
        # (first, so that close() -- also from __del__ after a failed __init__ -- always finds them)
        self._lock = threading.RLock()
        self._handle = ctypes.c_void_p()
        self._closed = False
        self._lib = None
        self.path = p
        self._lib = _dlopen_private(p, path)
        _bind(self._lib)
        s = self._lib.lpfc_model_create(ctypes.byref(self._handle))
        if s != OK or not self._handle.value:
            raise ModelLoadError(f"cannot create the model in {str(path)!r}: "
                                 f"{self._lib.lpfc_status_name(s).decode()}")
        prepare = getattr(self._lib, "lpfc_model_prepare", None)   # the opencl target: build/load kernels now
        if prepare is not None:
            prepare.argtypes, prepare.restype = [ctypes.c_void_p], ctypes.c_int
            s = prepare(self._handle)
            if s != OK:
                message = self._lib.lpfc_model_last_error(self._handle).decode("utf-8", "replace")
                self.close()
                raise ModelLoadError(f"cannot set up the model in {str(path)!r}: "
                                     f"{message or self._lib.lpfc_status_name(s).decode()}")
        self._inputs = [self._info(self._lib.lpfc_model_input_info, i)
                        for i in range(self._lib.lpfc_model_num_inputs(self._handle))]
        self._outputs = [self._info(self._lib.lpfc_model_output_info, i)
                         for i in range(self._lib.lpfc_model_num_outputs(self._handle))]
        if threads is not None:
            self.threads = threads

    def _info(self, fn, i: int) -> NodeArg:
        info = _TensorInfo()
        s = fn(self._handle, i, ctypes.byref(info))
        if s != OK:
            raise ModelLoadError(f"cannot query tensor #{i}: {self._lib.lpfc_status_name(s).decode()}")
        return NodeArg(info.name.decode("utf-8", "surrogateescape"), [int(info.dims[k]) for k in range(info.rank)],
                       np.dtype(_DTYPES[info.dtype]))

    # -- onnxruntime-like queries ---------------------------------------------------------------
    def get_inputs(self) -> list[NodeArg]:
        return list(self._inputs)

    def get_outputs(self) -> list[NodeArg]:
        return list(self._outputs)

    @property
    def arena_bytes(self) -> int:
        with self._lock:
            self._check_open()
            return int(self._lib.lpfc_model_arena_bytes(self._handle))

    @property
    def threads(self) -> int:
        with self._lock:
            self._check_open()
            return int(self._lib.lpfc_model_get_threads(self._handle))

    @threads.setter
    def threads(self, n: int) -> None:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0 or n > 4096:
            raise InputError(f"threads must be an integer from 0 (all processors) to 4096, not {n!r}")
        with self._lock:
            self._check_open()
            s = self._lib.lpfc_model_set_threads(self._handle, int(n))
            message = self._lib.lpfc_model_last_error(self._handle).decode("utf-8", "replace") if s != OK else ""
        if s != OK:
            raise InputError(message)

    # -- running ----------------------------------------------------------------------------------
    def run(self, output_names_or_feeds=None, feeds: Optional[Mapping] = None, run_options=None):
        """``run(feeds)`` -> {name: array}; ``run(output_names, feeds)`` -> list (onnxruntime's form;
        ``output_names`` None means every output)."""
        if feeds is None and isinstance(output_names_or_feeds, Mapping):
            return self._run(output_names_or_feeds)
        if feeds is None:
            raise InputError("run() needs the inputs: run({name: array}) or run(output_names, {name: array})")
        names = output_names_or_feeds
        outs = self._run(feeds)
        if names is None:
            return [outs[o.name] for o in self._outputs]
        if isinstance(names, str) or not isinstance(names, Sequence):
            raise InputError(f"output_names must be a list of names or None, not {type(names).__name__}")
        missing = [n for n in names if n not in outs]
        if missing:
            raise InputError(f"the model has no output {missing[0]!r}; its outputs are "
                             + ", ".join(repr(o.name) for o in self._outputs))
        return [outs[n] for n in names]

    def profile(self, feeds: Mapping, runs: int = 10, warmup: int = 1):
        """Runs the model ``warmup + runs`` times timing every kernel call; returns a
        :class:`lpfc.runtime.profile.Profile` (per-kernel median wall times, GFLOP/s, share of the total;
        ``print(p.table())``).  Uses the session's thread count."""
        from .profile import Profile

        if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
            raise InputError(f"runs must be a positive integer, not {runs!r}")
        self._check_open()
        if getattr(self._lib, "lpfc_model_profile", None) is None:
            raise ModelLoadError(f"{self.path.name} was built by an lpfc without profiling support; recompile it")
        samples, totals, info = [], [], ""
        import time
        for r in range(max(0, warmup) + runs):
            t0 = time.perf_counter()
            seconds, info = self._run(feeds, profile=True)[1]
            t1 = time.perf_counter()
            if not info:
                raise ModelLoadError(f"{self.path.name} records no per-kernel times: it has no kernels, or it is an "
                                     "opencl library, whose device kernels are timed by the OpenCL glue instead",
                                     hint="for opencl libraries set LPFC_OPENCL_PROFILE=FILE (docs/opencl.md)")
            if r >= warmup:
                samples.append(seconds)
                totals.append(t1 - t0)
        return Profile.from_samples(info, samples, totals, threads=self.threads, library=str(self.path))

    def _check_open(self):
        if self._closed or not self._handle or not self._handle.value:
            raise SessionClosedError(f"the session of {self.path.name} is closed (Session.close() was called); "
                                     "lpfc.load the library again to run it")

    def _run(self, feeds: Mapping, profile: bool = False):
        return self._execute(self._checked_inputs(feeds), profile)

    def _checked_inputs(self, feeds: Mapping) -> list:
        """The inputs as contiguous arrays in the model's order; InputError names a wrong one."""
        self._check_open()
        if not isinstance(feeds, Mapping):
            raise InputError(f"inputs must be a dict {{name: array}}, not {type(feeds).__name__}")
        known = {i.name for i in self._inputs}
        for k in feeds:
            if k not in known:
                raise InputError(f"{k!r} is not an input of the model; its inputs are "
                                 + ", ".join(repr(i.name) for i in self._inputs))
        arrays = []
        for i in self._inputs:
            if i.name not in feeds:
                raise InputError(f"input {i.name!r} is missing; the model expects {i.dtype.name} {i.shape}")
            a = feeds[i.name]
            if not isinstance(a, np.ndarray):
                try:
                    a = np.asarray(a)
                except Exception as e:
                    raise InputError(f"input {i.name!r} is not an array: {e}") from None
            if a.dtype != i.dtype:
                raise InputError(f"input {i.name!r} has dtype {a.dtype}, the model expects {i.dtype.name} {i.shape}")
            if list(a.shape) != i.shape:
                raise InputError(f"input {i.name!r} has shape {list(a.shape)}, the model expects "
                                 f"{i.dtype.name} {i.shape}")
            arrays.append(np.ascontiguousarray(a))
        return arrays

    def _execute(self, arrays: list, profile: bool = False):
        """Runs the model on checked, contiguous inputs (in the model's order); with ``profile`` returns
        ``(outputs, (kernel seconds, kernel info))``."""
        outputs = [np.empty(o.shape, o.dtype) for o in self._outputs]
        keep = []

        def tensor(arg: NodeArg, a: np.ndarray) -> _Tensor:
            dims = (ctypes.c_int64 * max(a.ndim, 1))(*a.shape)
            name = arg.name.encode("utf-8", "surrogateescape")
            keep.extend((dims, name))
            return _Tensor(name, _CODE_OF[a.dtype], a.ndim, ctypes.cast(dims, ctypes.POINTER(ctypes.c_int64)),
                           a.ctypes.data, a.nbytes)

        ins = (_Tensor * max(len(arrays), 1))(*[tensor(i, a) for i, a in zip(self._inputs, arrays)])
        outs = (_Tensor * max(len(outputs), 1))(*[tensor(o, a) for o, a in zip(self._outputs, outputs)])
        prof = None
        with self._lock:         # close() waits for a run in progress; a run after close() is refused here
            self._check_open()
            if profile:
                cap = 1 << 16
                buf = (ctypes.c_double * cap)()
                count, info = ctypes.c_size_t(0), ctypes.c_char_p()
                s = self._lib.lpfc_model_profile(self._handle, ins, len(arrays), outs, len(outputs), buf, cap,
                                                 ctypes.byref(count), ctypes.byref(info))
                if s == OK:
                    prof = (list(buf[:min(count.value, cap)]), (info.value or b"").decode("ascii", "replace"))
            else:
                s = self._lib.lpfc_model_run(self._handle, ins, len(arrays), outs, len(outputs))
            message = self._lib.lpfc_model_last_error(self._handle).decode("utf-8", "replace") if s != OK else ""
        if s == ERR_DEVICE:
            raise LpfcError(message or "LPFC_ERR_DEVICE")
        if s != OK:
            raise InputError(message or self._lib.lpfc_status_name(s).decode())
        result = {o.name: a for o, a in zip(self._outputs, outputs)}
        return (result, prof) if profile else result

    # -- lifetime ---------------------------------------------------------------------------------
    def close(self) -> None:
        """Destroys the handle and unloads the library (its thread pool's workers are joined).

        Waits for a run in progress on another thread (the session's lock); later calls raise
        :class:`SessionClosedError`.  Closing twice is harmless."""
        lock = getattr(self, "_lock", None)
        if lock is None:             # __init__ failed before anything was loaded
            return
        with lock:
            self._closed = True
            h, self._handle = self._handle, ctypes.c_void_p()
            lib, self._lib = self._lib, None
            if lib is None:
                return
            if h and h.value:
                lib.lpfc_model_destroy(h)
            _dlclose(lib)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self):
        return (f"<lpfc.Session {self.path.name}: inputs "
                + ", ".join(f"{i.name!r} {i.dtype.name}{i.shape}" for i in self._inputs) + ">")


def load(path: Union[str, os.PathLike], threads: Optional[int] = None) -> Session:
    """Loads a library built by ``lpfc compile`` (``threads``: None or 0 = every processor).

    A library for another architecture (arm64 on an x86-64 machine) is run through its test driver
    under qemu (:class:`lpfc.runtime.foreign.DriverSession`): the same interface, one process per run."""
    from .foreign import foreign_library

    if foreign_library(path) is not None:
        from .foreign import DriverSession

        return DriverSession(path, threads)
    return Session(path, threads)


__all__ = ["NodeArg", "Session", "SessionClosedError", "load"]
