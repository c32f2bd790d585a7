"""An ONNX file as graph IR for the latency estimate, without copying its weights.

``lpfc.frontend`` reads a model with three full copies of its weights (the file into memory, protobuf's
parse, ``numpy_helper.to_array``): ~1.2 s of BERT-base's 2.7 s estimate. The oracle needs the shapes and
the small constants, and the values of a big weight only where a pass reads them. So here:

1. the file is memory-mapped (read-only), and a minimal protobuf wire-format scan walks the ModelProto's
   top-level fields, the graph's fields and each initializer's fields, bounds-checking every length;
2. an initializer whose ``raw_data`` is big (``STRIP_BYTES``) and of a plain numeric dtype whose byte
   count matches its dims is cut out of the protobuf bytes, which are then parsed (a few MB) by the
   frontend's own ``parse_model_bytes`` and checked exactly as ``lpfc.frontend.onnx_loader.load_model``
   checks a file (opsets, ``validate_model``, external data inside the model's directory);
3. the converter (``lpfc.frontend.onnx.Converter``) gets each cut initializer as a read-only
   ``numpy.frombuffer`` view of the mapped file: the same values, read from the page cache only where
   something reads them (the splat check reads 16 values of a weight).

Anything the scan does not expect (a group wire type, a second graph field, a second ``raw_data``, a
length past its message, a big-endian host) makes it return ``None`` and the caller takes the frontend's
ordinary path, which then reports whatever is wrong with the file the ordinary way. The mapping lives as
long as the module's weights: a file truncated while an estimate runs can end the process (SIGBUS), which
is why only the estimate path (which never writes or keeps the module) uses it.
"""
from __future__ import annotations

import mmap
import sys
from pathlib import Path
from typing import Optional

import numpy as np

from ..frontend.onnx import Converter

#: Initializers with at least this many bytes of raw data are mapped instead of parsed.
STRIP_BYTES = 4096

# TensorProto.DataType -> numpy dtype for which numpy_helper.to_array is np.frombuffer(raw_data) (little-endian)
_PLAIN = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32, 7: np.int64,
          10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64}

_MODEL_GRAPH, _GRAPH_INITIALIZER = 7, 5
_T_DIMS, _T_DATA_TYPE, _T_RAW_DATA, _T_DATA_LOCATION = 1, 2, 9, 14


class _Unexpected(Exception):
    """The scan met something it does not handle: use the frontend's ordinary path."""


def _varint(buf, i: int, end: int) -> tuple:
    shift = result = 0
    while True:
        if i >= end or shift > 63:
            raise _Unexpected
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def _fields(buf, start: int, end: int):
    """(field number, wire type, field start, value start, value end) of each field in buf[start:end]."""
    i = start
    while i < end:
        fs = i
        key, i = _varint(buf, i, end)
        field, wt = key >> 3, key & 7
        if field == 0:
            raise _Unexpected
        if wt == 0:
            _, j = _varint(buf, i, end)
            yield field, wt, fs, i, j
            i = j
        elif wt == 1 or wt == 5:
            j = i + (8 if wt == 1 else 4)
            if j > end:
                raise _Unexpected
            yield field, wt, fs, i, j
            i = j
        elif wt == 2:
            n, i = _varint(buf, i, end)
            j = i + n
            if j > end:
                raise _Unexpected
            yield field, wt, fs, i, j
            i = j
        else:               # groups (3, 4) and reserved wire types
            raise _Unexpected


def _encode_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _length_delimited(field: int, payload: bytes) -> bytes:
    return _encode_varint(field << 3 | 2) + _encode_varint(len(payload)) + payload


def _tensor(buf, s: int, e: int):
    """A stripped copy of one TensorProto's bytes and (dims, dtype code, raw offset, raw length), or None
    when it is not a big plain raw tensor (then it is kept as it is)."""
    dims, dtype, raw, keep, loc = [], 0, [], [], 0
    for field, wt, fs, vs, ve in _fields(buf, s, e):
        if field == _T_RAW_DATA and wt == 2:
            raw.append((vs, ve))
            continue
        keep.append((fs, ve))
        if field == _T_DIMS and wt == 0:
            dims.append(_varint(buf, vs, ve)[0])
        elif field == _T_DIMS and wt == 2:        # packed
            i = vs
            while i < ve:
                d, i = _varint(buf, i, ve)
                dims.append(d)
        elif field == _T_DATA_TYPE and wt == 0:
            dtype = _varint(buf, vs, ve)[0]
        elif field == _T_DATA_LOCATION and wt == 0:
            loc = _varint(buf, vs, ve)[0]
    if len(raw) != 1 or loc != 0 or dtype not in _PLAIN:
        return None
    vs, ve = raw[0]
    n = ve - vs
    count = 1
    for d in dims:
        if d >= 1 << 62:                          # a negative dim, as protobuf encodes int64 -1
            return None
        count *= d
    if n < STRIP_BYTES or count * np.dtype(_PLAIN[dtype]).itemsize != n:
        return None
    return b"".join(bytes(buf[a:b]) for a, b in keep), (tuple(dims), dtype, vs, n)


def strip_weights(buf) -> Optional[tuple]:
    """(the ModelProto's bytes without its big raw initializers, [(initializer index, dims, dtype code,
    offset, length)]) or None when the scan meets anything unexpected."""
    try:
        graphs = [(fs, vs, ve) for field, wt, fs, vs, ve in _fields(buf, 0, len(buf)) if field == _MODEL_GRAPH]
        if len(graphs) != 1:
            raise _Unexpected
        _, gs, ge = graphs[0]
        parts, cut, k = [], [], 0
        for field, wt, fs, vs, ve in _fields(buf, gs, ge):
            if field == _GRAPH_INITIALIZER and wt == 2:
                t = _tensor(buf, vs, ve)
                if t is not None:
                    parts.append(_length_delimited(_GRAPH_INITIALIZER, t[0]))
                    cut.append((k, *t[1]))
                    k += 1
                    continue
                k += 1
            parts.append(bytes(buf[fs:ve]))
        graph = _length_delimited(_MODEL_GRAPH, b"".join(parts))
        model = bytearray()
        for field, wt, fs, vs, ve in _fields(buf, 0, len(buf)):
            model += graph if field == _MODEL_GRAPH else bytes(buf[fs:ve])
        return bytes(model), cut
    except _Unexpected:
        return None


def load_module_mapped(path: str, input_shapes=None):
    """The graph-IR module of an ONNX file (as lpfc.frontend.load.load_module gives it), its big weights mapped
    from the file; or None when the fast path does not apply (the caller then loads it the ordinary way)."""
    from ..frontend import limits
    from ..frontend.onnx_loader import _load_external_data, check_opsets, default_opset, parse_model_bytes
    from ..frontend.onnx_validate import validate_model
    from ..ir.verifier import verify

    p = Path(path)
    if sys.byteorder != "little" or p.suffix in (".mlir", ".lpfc") or not p.is_file():
        return None
    try:
        size = p.stat().st_size
        if size == 0 or size >= limits.MAX_MODEL_FILE_BYTES:
            return None         # the ordinary import reports an empty or oversized file
        with open(p, "rb") as f:
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None             # unreadable or not mappable: the ordinary import reads it (or says why not)
    stripped = strip_weights(mm)
    if stripped is None:
        return None
    data, cut = stripped
    model = parse_model_bytes(data, str(p))
    check_opsets(model)
    validate_model(model, default_opset(model))
    _load_external_data(model, p.resolve().parent)
    inits = model.graph.initializer
    mapped = {}
    for k, dims, dtype, off, n in cut:
        t = inits[k]
        if tuple(t.dims) != dims or t.data_type != dtype or t.raw_data:
            return None        # the parse disagrees with the scan: never guess
        mapped[t.name] = np.frombuffer(mm, dtype=_PLAIN[dtype], count=n // np.dtype(_PLAIN[dtype]).itemsize,
                                       offset=off).reshape(dims)
    module = _MappedConverter(model, input_shapes, mapped).build("main")
    verify(module)
    return module


class _MappedConverter(Converter):
    """The frontend's converter, given the cut initializers' values as views of the mapped file."""

    def __init__(self, model, input_shapes, mapped: dict):
        super().__init__(model, input_shapes)
        self._mapped = mapped

    def _initializer_array(self, init):
        arr = self._mapped.get(init.name)
        return super()._initializer_array(init) if arr is None else arr


__all__ = ["STRIP_BYTES", "load_module_mapped", "strip_weights"]
