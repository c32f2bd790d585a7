"""ONNX's own rules, checked before anything of the model is read or converted.

onnx's checker and onnxruntime refuse these models; lpfc used to import them
with a silently wrong meaning (the last of two definitions wins, a FLOATS
``perm`` truncated to integers, an attribute's tensor read whatever its declared
type).  Each broken rule is one :class:`~lpfc.errors.InvalidModelError` naming
the node, the tensor or the attribute.  Runs on the parsed protobuf, before
external data is loaded, so nothing here reads a file.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Optional

import onnx
from onnx import AttributeProto as A

from ..errors import InvalidModelError, UnsupportedError
from . import limits
from .onnx_dtypes import ONNX_DTYPES

# The one payload field each declared attribute type may carry.
_PAYLOAD = {A.FLOAT: "f", A.INT: "i", A.STRING: "s", A.TENSOR: "t", A.GRAPH: "g", A.SPARSE_TENSOR: "sparse_tensor",
            A.TYPE_PROTO: "tp", A.FLOATS: "floats", A.INTS: "ints", A.STRINGS: "strings", A.TENSORS: "tensors",
            A.GRAPHS: "graphs", A.SPARSE_TENSORS: "sparse_tensors", A.TYPE_PROTOS: "type_protos"}
_SINGULAR = ("f", "i", "s", "t", "g", "sparse_tensor", "tp")
_REPEATED = ("floats", "ints", "strings", "tensors", "graphs", "sparse_tensors", "type_protos")
DEFAULT_DOMAINS = ("", "ai.onnx")


def _type_name(code: int) -> str:
    return A.AttributeType.Name(code) if code in A.AttributeType.values() else str(code)


def _where(node: onnx.NodeProto) -> dict:
    return {"op": node.op_type or "?", "node": node.name or "<unnamed>"}


@lru_cache(maxsize=None)
def _schema(op_type: str, opset: int) -> Optional[onnx.defs.OpSchema]:
    """The op's schema at the model's opset (or its newest, for an op newer than the model); None if unknown."""
    for kwargs in ({"max_inclusive_version": opset}, {}):
        try:
            return onnx.defs.get_schema(op_type, domain="", **kwargs)
        except Exception:       # onnx raises SchemaError (not exported under one name across versions)
            continue
    return None


def _by_unique_name(protos, what: str) -> dict:
    """``protos`` (graph inputs or initializers) by name; each must have a name, and no name twice."""
    out: dict = {}
    for p in protos:
        if not p.name:
            raise InvalidModelError(f"a {what} has an empty name")
        if p.name in out:
            raise InvalidModelError(f"{what} {p.name!r} is defined twice")
        out[p.name] = p
    return out


def validate_model(model: onnx.ModelProto, opset: int) -> None:
    """Raise InvalidModelError (or UnsupportedError) for a model that breaks ONNX's rules."""
    g = model.graph
    if len(g.sparse_initializer):
        raise UnsupportedError(f"sparse initializer {g.sparse_initializer[0].values.name!r}: sparse tensors are "
                               "not supported")
    inputs = _by_unique_name(g.input, "graph input")
    inits = _by_unique_name(g.initializer, "initializer")
    for t in g.initializer:
        _check_initializer(t, inputs.get(t.name))
    defined: dict[str, str] = {}
    for node in g.node:
        for out in node.output:
            if not out:
                continue
            if out in inputs or out in inits:
                kind = "graph input" if out in inputs else "initializer"
                raise InvalidModelError(f"output {out!r} redefines the {kind} of that name; an ONNX tensor is "
                                        "defined once", **_where(node))
            if out in defined:
                raise InvalidModelError(f"output {out!r} is already defined by node {defined[out]!r}; an ONNX "
                                        "tensor is defined once", **_where(node))
            defined[out] = node.name or "<unnamed>"
        _check_attributes(node, opset)


def _check_initializer(t: onnx.TensorProto, as_input: Optional[onnx.ValueInfoProto]) -> None:
    what = f"initializer {t.name!r}"
    itemsize = ONNX_DTYPES[t.data_type].itemsize if t.data_type in ONNX_DTYPES else 1
    limits.check_constant(t.dims, itemsize, what)
    if as_input is None or not as_input.type.HasField("tensor_type"):
        return
    tt = as_input.type.tensor_type
    if tt.elem_type and tt.elem_type != t.data_type:
        raise InvalidModelError(f"{what} is also a graph input, declared with element type "
                                f"{_dtype_name(tt.elem_type)} but holding {_dtype_name(t.data_type)}")
    if tt.HasField("shape"):
        declared = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        if len(declared) != len(t.dims) or any(d is not None and d != s for d, s in zip(declared, t.dims)):
            raise InvalidModelError(f"{what} is also a graph input, declared with shape "
                                    f"{['?' if d is None else d for d in declared]} but holding {list(t.dims)}")


def _dtype_name(code: int) -> str:
    return onnx.TensorProto.DataType.Name(code) if code in onnx.TensorProto.DataType.values() else str(code)


def _check_attributes(node: onnx.NodeProto, opset: int) -> None:
    seen = set()
    for a in node.attribute:
        if not a.name:
            raise InvalidModelError("an attribute has an empty name", **_where(node))
        if a.name in seen:
            raise InvalidModelError(f"attribute {a.name!r} is given twice", **_where(node))
        seen.add(a.name)
        if a.ref_attr_name:
            raise InvalidModelError(f"attribute {a.name!r} refers to a function attribute "
                                    f"({a.ref_attr_name!r}) outside a function", **_where(node))
        field = _PAYLOAD.get(a.type)
        if field is None:
            raise InvalidModelError(f"attribute {a.name!r} has no valid declared type ({_type_name(a.type)})",
                                    **_where(node))
        stray = [f for f in _SINGULAR if f != field and a.HasField(f)]
        stray += [f for f in _REPEATED if f != field and len(getattr(a, f))]
        if stray:
            # A value in another field than the declared type's is never read; refuse rather than guess
            # (a FLOAT attribute carrying an external-data tensor once read a file).
            raise InvalidModelError(f"attribute {a.name!r} is declared {_type_name(a.type)} but also carries a "
                                    f"value in field {stray[0]!r}", **_where(node))
    if node.domain not in DEFAULT_DOMAINS:
        return
    schema = _schema(node.op_type, opset)
    if schema is None:
        return                 # an unknown op: the converter reports it as unsupported
    for what, n, lo, hi in (("inputs", len(node.input), schema.min_input, schema.max_input),
                            ("outputs", len(node.output), schema.min_output, schema.max_output)):
        if not lo <= n <= hi:
            span = f"{lo}" if lo == hi else f"{lo} to {hi if hi < 2**30 else 'any number'}"
            raise InvalidModelError(f"the node has {n} {what}; ONNX {node.op_type} takes {span}", **_where(node))
    for a in node.attribute:
        spec = schema.attributes.get(a.name)
        if spec is None:
            raise InvalidModelError(f"attribute {a.name!r} is not an attribute of ONNX {node.op_type}"
                                    f" (it has: {', '.join(sorted(schema.attributes)) or 'none'})", **_where(node))
        want = int(spec.type)
        if a.type != want:
            raise InvalidModelError(f"attribute {a.name!r} is declared {_type_name(a.type)}, but ONNX "
                                    f"{node.op_type} takes it as {_type_name(want)}", **_where(node))
    for name, spec in schema.attributes.items():
        if spec.required and name not in seen:
            raise InvalidModelError(f"required attribute {name!r} is missing", **_where(node))
