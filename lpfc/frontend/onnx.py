"""ONNX -> graph IR.

The importer walks the ONNX graph in order and converts each node with the
converter registered for its op type (:mod:`lpfc.frontend.onnx_ops`).  Shapes
are static: graph inputs must have fixed shapes (or be given them), and any
operand that decides a shape (Reshape's shape, Slice's starts, ...) must be a
constant after folding.  Nodes whose operands are all constants are folded
through the reference interpreter when their result is small, so shape
subgraphs (Shape -> Gather -> Concat -> Reshape) vanish at import.
"""
from __future__ import annotations

import numbers
import os
import re
from typing import Mapping, Optional, Sequence, Union

import numpy as np
import onnx
from onnx import numpy_helper

from ..errors import InvalidModelError, LimitError, LpfcError, ModelLoadError, ShapeError, UnsupportedError
from ..ir.attributes import DenseElements, DenseResource
from ..ir.constants import grows_quantized_weight
from ..ir.core import Function, Location, Module, Operation, Value
from ..ir.opdef import lookup
from ..ir.types import DType, TensorType
from . import limits
from .onnx_dtypes import ONNX_DTYPES, onnx_dtype  # noqa: F401  (onnx_dtype is used by the converters)
from .onnx_loader import default_opset, load_model
from .onnx_versions import REVIEWED_OPSET, op_version

# Results at most this many elements are folded when all operands are constant.
FOLD_LIMIT = 1 << 16
# Constants with more elements are stored as named resources, not inline.
INLINE_LIMIT = 16


class RuntimeConstantError(ShapeError):
    """An input that lpfc needs constant (a shape, axes, a bound) is computed at run time.

    ``tensor`` names the ONNX tensor.  When it is a graph input, fixing its value
    (making it an initializer) makes the model importable.
    """

    tensor: str = ""


def name_hint(onnx_name: str) -> str:
    """A readable SSA name hint from an ONNX tensor name (the printer makes it a safe identifier)."""
    hint = re.sub(r"[/:]+", ".", onnx_name).strip(".")
    return hint[:80] or "v"


class Converter:
    """State of one import: ONNX names -> IR values, constants, the function being built."""

    def __init__(self, model: onnx.ModelProto, input_shapes: Optional[Mapping[str, Sequence[int]]] = None,
                 allow_zero_dims: bool = False):
        self.model = model
        self.graph = model.graph
        self.opset = default_opset(model)
        self.input_shapes = _check_input_shapes(input_shapes)
        self.allow_zero_dims = allow_zero_dims
        self.values: dict[str, Value] = {}
        self.constants: dict[int, np.ndarray] = {}       # id(Value) -> array, for constant values
        self.initializers: dict[str, onnx.TensorProto] = {}
        self.resource_names: set[str] = set()
        self.node: Optional[onnx.NodeProto] = None
        self.function: Optional[Function] = None
        # id(int32 value) -> the float32 value it was cast from, whose elements are exact integers
        # (MatMulInteger's product in float32): a Cast of it back to float32 is that value.
        self.exact_float_of: dict[int, Value] = {}

    # -- errors -------------------------------------------------------------------
    def error(self, cls, msg: str, hint: Optional[str] = None) -> LpfcError:
        n = self.node
        return cls(msg, op=n.op_type if n is not None else None, node=(n.name or "<unnamed>") if n is not None else None,
                   hint=hint)

    # -- building -------------------------------------------------------------------
    def build(self, name: str = "main") -> Module:
        g = self.graph
        for init in g.initializer:
            self.initializers[init.name] = init
        inputs = [i for i in g.input if i.name not in self.initializers]
        unknown = set(self.input_shapes) - {i.name for i in inputs}
        if unknown:
            raise ShapeError(f"input shape given for {sorted(unknown)[0]!r}, which is not a model input; inputs are "
                             + ", ".join(repr(i.name) for i in inputs))
        types = [self._input_type(i) for i in inputs]
        f = Function(name, types, [i.name for i in inputs], [name_hint(i.name) for i in inputs])
        self.function = f
        for i, a in zip(inputs, f.args):
            self.values[i.name] = a
        from .onnx_contrib import contrib_converter
        from .onnx_ops import CONVERTERS
        consumed = {i for n in g.node for i in n.input} | {o.name for o in g.output}
        for node in g.node:
            self.node = node
            self._check_node(node)
            conv = contrib_converter(self, node)    # onnxruntime's ops: com.microsoft, default-domain extensions
            if conv is None and node.domain in ("", "ai.onnx"):
                conv = CONVERTERS.get(node.op_type)
                if conv is not None:
                    self._check_op_version(node)
            if conv is None:
                raise self.error(UnsupportedError, "unsupported ONNX op" if node.domain in ("", "ai.onnx") else
                                 f"unsupported op of domain {node.domain!r}", hint=_unsupported_hint(node.op_type))
            try:
                outs = conv(self, node)
            except LpfcError:
                raise
            except Exception as e:  # a malformed node (wrong attribute types, ...) must not crash the import
                raise self.error(UnsupportedError, f"cannot import this node ({type(e).__name__}: {e})",
                                 hint="the node may be malformed; if it is valid ONNX, this is an lpfc bug") from e
            extra = [o for o in node.output[len(outs):] if o in consumed]
            if extra:
                raise self.error(UnsupportedError, f"only the first {len(outs)} output(s) are supported, but "
                                 f"output {extra[0]!r} is used")
            for oname, v in zip(node.output, outs):
                if oname:
                    self.values[oname] = v
        self.node = None
        results, names = [], []
        for o in g.output:
            results.append(self.value(o.name, "graph output"))
            names.append(o.name)
        f.set_return(results, names)
        self._drop_dead_constants()
        return Module([f])

    def _drop_dead_constants(self) -> None:
        """Constants that only fed import-time folding (shape subgraphs) are not part of the model."""
        for op in reversed(f.body.ops if (f := self.function) else []):
            if op.name == "graph.constant" and not op.result.uses:
                op.erase()

    def _input_type(self, vi: onnx.ValueInfoProto) -> TensorType:
        if not vi.type.HasField("tensor_type"):
            raise UnsupportedError(f"graph input {vi.name!r} is not a tensor")
        tt = vi.type.tensor_type
        dtype = onnx_dtype(tt.elem_type, f"graph input {vi.name!r}")
        if vi.name in self.input_shapes:
            shape = self.input_shapes[vi.name]
            if tt.HasField("shape"):
                declared = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
                if len(declared) != len(shape) or any(d is not None and d != s for d, s in zip(declared, shape)):
                    raise ShapeError(f"input shape {list(shape)} given for {vi.name!r} does not match the model's "
                                     f"declared {['?' if d is None else d for d in declared]}")
            return self._checked_input_type(vi.name, shape, dtype)
        if not tt.HasField("shape"):
            raise ShapeError(f"graph input {vi.name!r} has no shape",
                             hint=f"give it one: input_shapes={{{vi.name!r}: [...]}} or --input-shape {vi.name}=1x128")
        dims = []
        for k, d in enumerate(tt.shape.dim):
            if d.HasField("dim_value") and d.dim_value > 0:
                dims.append(d.dim_value)
            elif d.HasField("dim_value") and d.dim_value == 0:
                dims.append(0)
            else:
                sym = d.dim_param or "?"
                raise ShapeError(f"graph input {vi.name!r} has a dynamic dimension {k} ({sym!r}); lpfc compiles "
                                 "static shapes", hint=f"fix it: input_shapes={{{vi.name!r}: [...]}} or "
                                 f"--input-shape {vi.name}=1x128")
        return self._checked_input_type(vi.name, tuple(dims), dtype)

    def _checked_input_type(self, name: str, shape: tuple, dtype: DType) -> TensorType:
        limits.check_shape(shape, f"graph input {name!r}")
        if 0 in shape and not self.allow_zero_dims:
            raise LimitError(f"graph input {name!r} has dimension {shape.index(0)} of size 0 (shape {list(shape)}); "
                             "lpfc compiles no empty tensors", hint="the reference interpreter handles them: "
                             "import_onnx(..., allow_zero_dims=True)")
        return TensorType(shape, dtype)

    def _check_node(self, node: onnx.NodeProto) -> None:
        from .onnx_contrib import CONTRIB_DOMAINS
        if node.domain not in ("", "ai.onnx") + CONTRIB_DOMAINS:
            raise self.error(UnsupportedError, f"op from domain {node.domain!r} is not supported",
                             hint="lpfc supports the default ONNX domain and onnxruntime's com.microsoft ops")
        for a in node.attribute:
            if a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
                raise self.error(UnsupportedError, "ops with subgraphs (control flow) are not supported")

    def op_version(self, node: Optional[onnx.NodeProto] = None) -> int:
        """The since_version of the node's op at the model's opset (what its attributes and inputs mean)."""
        node = node if node is not None else self.node
        v = op_version(node.op_type, self.opset)
        if v is None:
            raise self.error(UnsupportedError, f"ONNX {node.op_type} does not exist at opset {self.opset}")
        return v

    def _check_op_version(self, node: onnx.NodeProto) -> None:
        v = self.op_version(node)
        if v > REVIEWED_OPSET:
            raise self.error(UnsupportedError, f"{node.op_type} version {v} (model opset {self.opset}) is newer than "
                             f"the versions lpfc implements (up to opset {REVIEWED_OPSET}); its meaning may differ",
                             hint=f"export at opset {REVIEWED_OPSET} or older")

    # -- values ---------------------------------------------------------------------
    def value(self, name: str, what: str = "input") -> Value:
        v = self.values.get(name)
        if v is not None:
            return v
        init = self.initializers.get(name)
        if init is not None:
            v = self.constant(self._initializer_array(init), name, Location(name, "initializer"))
            self.values[name] = v
            return v
        if self.node is None:
            raise ShapeError(f"graph output {name!r} is not produced by any node")
        raise self.error(ShapeError, f"{what} {name!r} is not defined before this node",
                         hint="is the graph topologically sorted and complete?")

    def _initializer_array(self, init: onnx.TensorProto) -> np.ndarray:
        return self.tensor_array(init, f"initializer {init.name!r}")

    def tensor_array(self, t: onnx.TensorProto, what: str) -> np.ndarray:
        """A TensorProto (initializer, attribute) as an array: dtype and size checked before decoding."""
        dtype = onnx_dtype(t.data_type, what)
        try:
            limits.check_constant(t.dims, dtype.itemsize, what)
        except LpfcError as e:
            raise self.error(type(e), e.bare_message) from None
        if t.data_location == onnx.TensorProto.EXTERNAL:
            raise self.error(ModelLoadError, f"{what} keeps its data externally, but it was not loaded "
                             "(load the model from its path)")
        try:
            arr = numpy_helper.to_array(t)
        except Exception as e:
            raise self.error(InvalidModelError, f"{what} cannot be decoded: {e}") from None
        want = int(np.prod(tuple(t.dims), dtype=np.int64)) if t.dims else 1
        if arr.size != want:
            raise self.error(InvalidModelError, f"{what} holds {arr.size} values, its dims "
                             f"{list(t.dims)} need {want}")
        return arr

    def input(self, node: onnx.NodeProto, i: int, optional: bool = False) -> Optional[Value]:
        if i >= len(node.input) or not node.input[i]:
            if optional:
                return None
            raise self.error(ShapeError, f"required input #{i} is missing")
        return self.value(node.input[i])

    def const_of(self, v: Optional[Value]) -> Optional[np.ndarray]:
        return None if v is None else self.constants.get(id(v))

    def const_input(self, node: onnx.NodeProto, i: int, what: str, optional: bool = False) -> Optional[np.ndarray]:
        """An input that decides shapes or attributes: it must fold to a constant."""
        v = self.input(node, i, optional)
        if v is None:
            return None
        arr = self.const_of(v)
        if arr is None:
            err = self.error(RuntimeConstantError, f"{what} (input #{i} {node.input[i]!r}) is computed at run time; "
                             "lpfc needs it constant to keep shapes static", hint="export with fixed input shapes")
            err.tensor = node.input[i]
            raise err
        return arr

    def constant(self, array: np.ndarray, onnx_name: str = "", loc: Optional[Location] = None) -> Value:
        array = np.require(array, requirements="C")
        try:
            limits.check_constant(array.shape, array.dtype.itemsize, f"constant {onnx_name!r}" if onnx_name
                                  else "a constant")
        except LpfcError as e:
            raise self.error(type(e), e.bare_message) from None
        try:
            ty = TensorType.of(array)
        except KeyError:
            raise self.error(UnsupportedError, f"constant of numpy dtype {array.dtype} is not supported") from None
        if array.size > INLINE_LIMIT and not _is_splat(array):
            attr = DenseResource(self._resource_name(onnx_name), array)
        else:
            attr = DenseElements(array)
        loc = loc or self._loc()
        op = Operation("graph.constant", [], [ty], {"value": attr}, location=loc,
                       result_names=[name_hint(onnx_name) if onnx_name else None])
        self.function.body.append(op)
        self.constants[id(op.result)] = attr.array
        return op.result

    def _resource_name(self, onnx_name: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_.]", "_", name_hint(onnx_name) if onnx_name else "cst") or "cst"
        if base[0].isdigit():
            base = "c" + base
        name, k = base, 1
        while name in self.resource_names:
            name, k = f"{base}_{k}", k + 1
        self.resource_names.add(name)
        return name

    def _loc(self) -> Location:
        n = self.node
        return Location(n.name, n.op_type) if n is not None else Location("")

    def emit(self, op_name: str, operands: Sequence[Value], attrs: Optional[dict] = None,
             fold: bool = True) -> list[Value]:
        """Create a graph op with inferred result types; fold it if its operands are constant."""
        attrs = {k: v for k, v in (attrs or {}).items() if v is not None}
        d = lookup(op_name)
        full = {k: attrs.get(k, s.default) for k, s in d.attrs.items() if k in attrs or not s.required}
        try:
            types = d.infer([v.type for v in operands], full)
        except LpfcError as e:
            raise self.error(ShapeError, e.bare_message) from None
        for k, t in enumerate(types):
            # Before anything is allocated for it (folding) or generated: a tiny model must not declare
            # a tensor of 2^40 elements that reaches the C compiler.
            try:
                limits.check_shape(t.shape, f"result #{k} ({op_name})")
            except LpfcError as e:
                raise self.error(type(e), e.bare_message) from None
        node_outputs = [o for o in self.node.output] if self.node is not None else []
        hints = [name_hint(n) if n else None for n in node_outputs[:len(types)]]
        hints += [None] * (len(types) - len(hints))
        op = Operation(op_name, operands, types, attrs, location=self._loc(), result_names=hints)
        consts = [self.const_of(v) for v in operands]
        foldable = fold and operands and all(c is not None for c in consts)
        if foldable and sum(t.num_elements for t in types) <= FOLD_LIMIT and not grows_quantized_weight(consts, types):
            from ..interp import evaluate_op
            outs = evaluate_op(op, consts)
            op.drop_operands()
            return [self.constant(o, n) for o, n in zip(outs, node_outputs + [""] * len(outs))]
        self.function.body.append(op)
        return list(op.results)

    def emit1(self, op_name: str, operands: Sequence[Value], attrs: Optional[dict] = None) -> Value:
        return self.emit(op_name, operands, attrs)[0]


def _check_input_shapes(input_shapes) -> dict:
    """``input_shapes`` as {name: tuple of ints}; anything else is a clear ShapeError, never a TypeError."""
    if input_shapes is None:
        return {}
    if not isinstance(input_shapes, Mapping):
        raise ShapeError(f"input_shapes must map input names to shapes, got {type(input_shapes).__name__}")
    out = {}
    for name, shape in input_shapes.items():
        if isinstance(shape, (str, bytes)) or not isinstance(shape, (Sequence, np.ndarray)):
            raise ShapeError(f"input shape for {name!r} must be a list of integers, got {shape!r}",
                             hint=f"e.g. input_shapes={{{name!r}: [1, 128]}}")
        dims = []
        for k, d in enumerate(shape):
            # Integers only: 2.5 must not become 2, nor True become 1.
            if isinstance(d, (bool, np.bool_)) or not isinstance(d, (numbers.Integral, np.integer)):
                raise ShapeError(f"input shape for {name!r} has dimension {k} = {d!r}, which is not an integer",
                                 hint=f"e.g. input_shapes={{{name!r}: [1, 128]}}")
            dims.append(int(d))
        out[name] = tuple(dims)
    return out


def _is_splat(a: np.ndarray) -> bool:
    if a.size == 0:
        return False
    flat = a.reshape(-1)
    # most weights differ in their first few values: decide those without a full pass
    if not np.all(flat[:16] == flat[0]):
        return False
    return bool(np.all(flat == flat[0]))


def _unsupported_hint(op_type: str) -> str:
    from .onnx_ops import CONVERTERS
    return f"lpfc imports {len(CONVERTERS)} ONNX ops; see `lpfc ops` or docs/onnx-support.md"


def import_onnx(source: Union[str, os.PathLike, onnx.ModelProto],
                input_shapes: Optional[Mapping[str, Sequence[int]]] = None, name: str = "main",
                verify: bool = True, allow_zero_dims: bool = False) -> Module:
    """Import an ONNX model (path or ModelProto) into a graph-IR module.

    ``input_shapes`` fixes dynamic input dimensions, e.g. ``{"input_ids": [1, 128]}``.
    Graph inputs with a dimension of 0 are refused (lpfc compiles no empty tensors) unless
    ``allow_zero_dims`` (the reference interpreter handles them).  Sizes are bounded by
    :mod:`lpfc.frontend.limits`; the model must follow ONNX's rules (:mod:`lpfc.frontend.onnx_validate`).
    Raises an :class:`~lpfc.errors.LpfcError` naming the node for anything unsupported or inconsistent.
    """
    model = load_model(source)
    module = Converter(model, input_shapes, allow_zero_dims).build(name)
    if verify:
        from ..ir.verifier import verify as verify_ir
        verify_ir(module)
    return module
