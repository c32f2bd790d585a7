"""Reading an ONNX file safely: the protobuf, its external data, its opsets.

External data is read by lpfc itself rather than by ``onnx.load``: a
location must be a relative path that stays inside the model's directory,
and offset/length must lie inside the file and match the tensor's declared
size, checked before a byte is read.  Only initializers and attributes
declared TENSOR are ever read.  The model is validated against ONNX's rules
(:mod:`lpfc.frontend.onnx_validate`) before its external data is touched.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import onnx

from ..errors import LimitError, ModelLoadError, UnsupportedError
from . import limits
from .onnx_dtypes import onnx_dtype
from .onnx_validate import validate_model

# The oldest opset whose ops lpfc converts by their own version's schema (onnx_versions.py).
MIN_OPSET = 7
# The newest: whatever the installed onnx knows.  An op whose version there is newer than
# the versions lpfc was written against (onnx_versions.REVIEWED_OPSET) is refused per node.
MAX_OPSET = onnx.defs.onnx_opset_version()
DEFAULT_DOMAINS = ("", "ai.onnx")


def load_model(source: Union[str, os.PathLike, onnx.ModelProto]) -> onnx.ModelProto:
    """Load and sanity-check a model; external tensors are read into the protobuf."""
    if isinstance(source, onnx.ModelProto):
        model, base = source, None
    else:
        path = Path(source)
        if not path.exists():
            raise ModelLoadError(f"model file {str(path)!r} does not exist")
        if not path.is_file():
            raise ModelLoadError(f"{str(path)!r} is not a file")
        try:
            size = path.stat().st_size
            if size >= limits.MAX_MODEL_FILE_BYTES:
                raise LimitError(f"model file {str(path)!r} has {size} bytes; an ONNX protobuf holds less than "
                                 f"{limits.MAX_MODEL_FILE_BYTES} (2 GiB)", hint="keep the weights as external data")
            data = path.read_bytes()
        except OSError as e:
            raise ModelLoadError(f"cannot read {str(path)!r}: {e.strerror}") from None
        model = parse_model_bytes(data, str(path))
        base = path.resolve().parent
    check_opsets(model)
    validate_model(model, default_opset(model))
    _load_external_data(model, base)
    return model


def parse_model_bytes(data: bytes, what: str) -> onnx.ModelProto:
    if not data:
        raise ModelLoadError(f"{what!r} is empty, not an ONNX model")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception as e:  # protobuf raises DecodeError or RuntimeWarning-like errors
        raise ModelLoadError(f"{what!r} is not a valid ONNX file (protobuf parse failed: {e})",
                             hint="is it truncated, or a different format?") from None
    if not model.HasField("graph") or (not model.graph.node and not model.graph.output):
        raise ModelLoadError(f"{what!r} parsed but holds no ONNX graph",
                             hint="is it an ONNX model file?")
    _check_strings(model, what)
    return model


def _check_strings(model: onnx.ModelProto, what: str) -> None:
    """Protobuf hands back ``bytes`` for string fields that are not valid UTF-8: a corrupt file."""
    g = model.graph
    names = [g.name]
    for n in g.node:
        names += [n.name, n.op_type, n.domain, *n.input, *n.output, *(a.name for a in n.attribute)]
    for t in g.initializer:
        names.append(t.name)
        names += [v for e in t.external_data for v in (e.key, e.value)]
    for n in g.node:
        for a in n.attribute:
            names += [v for e in a.t.external_data for v in (e.key, e.value)]
    for v in list(g.input) + list(g.output) + list(g.value_info):
        names.append(v.name)
    names += [imp.domain for imp in model.opset_import]
    for s in names:
        if not isinstance(s, str):
            raise ModelLoadError(f"{what!r} is corrupt: the name {s[:40]!r} is not valid UTF-8")


def default_opset(model: onnx.ModelProto) -> int:
    for imp in model.opset_import:
        if imp.domain in DEFAULT_DOMAINS:
            return int(imp.version)
    raise UnsupportedError("the model imports no version of the default ONNX domain (ai.onnx)")


def check_opsets(model: onnx.ModelProto) -> None:
    v = default_opset(model)
    if not MIN_OPSET <= v <= MAX_OPSET:
        raise UnsupportedError(f"the model uses ONNX opset {v}; lpfc supports opsets {MIN_OPSET}-{MAX_OPSET}",
                               hint=f"convert it with onnx.version_converter.convert_version(model, {MAX_OPSET})")


def _tensors_with_external_data(model: onnx.ModelProto):
    for t in model.graph.initializer:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            yield t
    for node in model.graph.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_location == onnx.TensorProto.EXTERNAL:
                yield a.t


def _load_external_data(model: onnx.ModelProto, base) -> None:
    for t in _tensors_with_external_data(model):
        t.raw_data = _read_external(t, base)
        del t.external_data[:]
        t.data_location = onnx.TensorProto.DEFAULT


def _read_external(t: onnx.TensorProto, base) -> bytes:
    """The bytes of one external tensor, after every check that can be made without reading them."""
    what = f"tensor {t.name!r}"
    info = {e.key: e.value for e in t.external_data}
    loc = info.get("location", "")
    if base is None:
        raise ModelLoadError(f"{what} keeps its data in external file {loc!r}; "
                             "load the model from its path so the file can be found")
    if not loc or "\0" in loc or os.path.isabs(loc) or loc.startswith(("/", "\\")):
        raise ModelLoadError(f"{what}: external data location {loc!r} must be a relative path "
                             "inside the model's directory" + (" (it holds a NUL byte)" if "\0" in loc else ""))
    try:
        target = (base / loc).resolve()
        inside = base in target.parents
        is_file = inside and target.is_file()
        size = target.stat().st_size if is_file else 0
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{what}: external data location {loc!r} cannot be resolved "
                             f"({getattr(e, 'strerror', None) or e})") from None
    if not inside:
        raise ModelLoadError(f"{what}: external data location {loc!r} points outside the "
                             "model's directory; refusing to read it")
    if not is_file:
        raise ModelLoadError(f"{what}: external data file {loc!r} is missing next to the model "
                             "(or is not a regular file)")
    dtype = onnx_dtype(t.data_type, what)
    expected = limits.check_constant(t.dims, dtype.itemsize, what) * dtype.itemsize
    try:
        offset = int(info.get("offset", 0))
        length = int(info["length"]) if "length" in info else None
    except ValueError:
        raise ModelLoadError(f"{what}: bad external data offset/length "
                             f"({info.get('offset')!r}, {info.get('length')!r})") from None
    if offset < 0 or offset > size or (length is not None and (length < 0 or offset + length > size)):
        raise ModelLoadError(f"{what}: external data range offset={offset} length={length} "
                             f"lies outside {loc!r} ({size} bytes)")
    have = length if length is not None else size - offset
    if have != expected:
        raise ModelLoadError(f"{what}: external data in {loc!r} has {have} bytes at offset {offset}, but its dims "
                             f"{list(t.dims)} of {dtype} need {expected}; refusing to read it")
    try:
        with open(target, "rb") as fh:
            fh.seek(offset)
            raw = fh.read(expected)
    except OSError as e:
        raise ModelLoadError(f"{what}: cannot read external data file {loc!r}: {e.strerror}") from None
    if len(raw) != expected:
        raise ModelLoadError(f"{what}: external data file {loc!r} changed while it was read")
    return raw
