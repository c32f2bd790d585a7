"""An ``onnx.backend.base.Backend`` over lpfc's importer and reference interpreter.

This is how lpfc runs ONNX's own backend node tests (``tests/onnx_backend``)::

    from lpfc.testing.onnx_backend import LpfcBackend
    rep = LpfcBackend.prepare(model)            # import to graph IR (raises LpfcError if unsupported)
    outputs = rep.run([x, y])                   # positional, in graph-input order

Inputs are the graph inputs that are not initializers, positionally or by name;
outputs come back in graph-output order, as a tuple that can also be indexed by
output name (``onnx.backend.base.namedtupledict``).  ``prepare(model, specialize=True)``
accepts models whose graph inputs decide shapes (see :class:`SpecializingBackendRep`).
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.backend.base import Backend, BackendRep, Device, DeviceType, namedtupledict

from ..errors import InputError
from ..frontend.onnx import RuntimeConstantError, import_onnx
from ..frontend.onnx_loader import MAX_OPSET
from ..frontend.onnx_versions import REVIEWED_OPSET
from ..interp import run_function
from ..ir.core import Module


def _as_array(x: Any) -> np.ndarray:
    if isinstance(x, onnx.TensorProto):
        return numpy_helper.to_array(x)
    return np.asarray(x)


class LpfcBackendRep(BackendRep):
    """A model imported to graph IR, run by the numpy reference interpreter."""

    def __init__(self, module: Module):
        self.module = module
        self.function = module.function(None)
        self.input_names = list(self.function.input_names)
        self.output_names = list(self.function.output_names)
        self._outputs = namedtupledict("Outputs", self.output_names)

    def feeds(self, inputs: Any) -> dict:
        """Inputs (a sequence in graph-input order, a mapping by name, or one array) keyed by name."""
        return _feeds(inputs, self.input_names)

    def run(self, inputs: Any, **kwargs: Any) -> tuple:
        outs = run_function(self.function, self.feeds(inputs))
        return self._outputs(*(outs[n] for n in self.output_names))


def _feeds(inputs: Any, input_names: Sequence[str]) -> dict:
    if isinstance(inputs, Mapping):
        return {k: _as_array(v) for k, v in inputs.items()}
    if isinstance(inputs, (np.ndarray, onnx.TensorProto)) or np.isscalar(inputs):
        inputs = [inputs]
    inputs = list(inputs)
    if len(inputs) != len(input_names):
        raise InputError(f"{len(inputs)} input(s) given, the model takes {len(input_names)}: "
                         + ", ".join(repr(n) for n in input_names))
    return {n: _as_array(v) for n, v in zip(input_names, inputs)}


class SpecializingBackendRep(BackendRep):
    """A model some of whose graph inputs decide shapes (a Reshape's shape, a Slice's starts, ...).

    lpfc compiles static shapes, so such inputs must be constants.  This rep imports
    the model at ``run`` time with those inputs' values baked in as initializers,
    once per distinct set of values.  ``frozen`` names the inputs baked in so far;
    it grows when an import reports another run-time constant computed from graph
    inputs (:func:`deciding_inputs`).
    """

    def __init__(self, model: onnx.ModelProto, frozen: Sequence[str], input_shapes=None):
        self.model = model
        self.input_shapes = input_shapes
        self.input_names = [i.name for i in model.graph.input
                            if i.name not in {t.name for t in model.graph.initializer}]
        self.frozen = list(frozen)
        self._reps: dict = {}

    def run(self, inputs: Any, **kwargs: Any) -> tuple:
        feeds = _feeds(inputs, self.input_names)
        missing = [n for n in self.input_names if n not in feeds]
        if missing:
            raise InputError(f"missing input {missing[0]!r}; the model's inputs are "
                             + ", ".join(repr(n) for n in self.input_names))
        while True:
            key = tuple((n, feeds[n].dtype.str, feeds[n].shape, feeds[n].tobytes()) for n in self.frozen)
            rep = self._reps.get(key)
            if rep is None:
                try:
                    rep = LpfcBackendRep(import_onnx(_freeze(self.model, {n: feeds[n] for n in self.frozen}),
                                                     input_shapes=self.input_shapes,
                                                     allow_zero_dims=True))
                except RuntimeConstantError as e:
                    more = [n for n in deciding_inputs(self.model, e.tensor) if n not in self.frozen]
                    if not more:
                        raise
                    self.frozen += more
                    continue
                self._reps[key] = rep
            return rep.run({n: v for n, v in feeds.items() if n not in self.frozen})


# Ops whose output depends only on their input's (static) shape, not on its values.
_SHAPE_QUERIES = {"Shape", "Size"}


def deciding_inputs(model: onnx.ModelProto, tensor: str) -> list:
    """The graph inputs whose values ``tensor`` is computed from (in graph-input order).

    The walk stops at Shape and Size, which read only the static shape.  Empty when
    ``tensor`` depends on no graph input's values (or is produced by a subgraph op).
    """
    g = model.graph
    inputs = [i.name for i in g.input if i.name not in {t.name for t in g.initializer}]
    producer = {o: n for n in g.node for o in n.output if o}
    seen, stack = set(), [tensor]
    while stack:
        t = stack.pop()
        if t in seen:
            continue
        seen.add(t)
        n = producer.get(t)
        if n is not None and n.op_type not in _SHAPE_QUERIES:
            stack.extend(i for i in n.input if i)
    return [i for i in inputs if i in seen]


def _freeze(model: onnx.ModelProto, values: Mapping[str, np.ndarray]) -> onnx.ModelProto:
    """A copy of ``model`` whose graph inputs named in ``values`` are initializers holding them."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    keep = [i for i in m.graph.input if i.name not in values]
    del m.graph.input[:]
    m.graph.input.extend(keep)
    m.graph.initializer.extend(numpy_helper.from_array(np.asarray(v), n) for n, v in values.items())
    return m


class LpfcBackend(Backend):
    """ONNX backend: ``prepare`` imports with :func:`lpfc.import_onnx`; the CPU device only.

    Keyword options of ``prepare``:

    * ``input_shapes=``: as for ``import_onnx``, for models with dynamic input dimensions;
    * ``specialize=True``: graph inputs that decide shapes (lpfc needs them constant)
      are baked into the model at run time (:class:`SpecializingBackendRep`)
      instead of being rejected.

    Graph inputs with a dimension of 0 are accepted (``allow_zero_dims``): this backend
    runs the reference interpreter, which handles empty tensors; ``lpfc.compile`` does not.

    Anything lpfc does not support raises an :class:`~lpfc.errors.LpfcError` from
    ``prepare`` (for a specialising rep: from its first ``run``, once the shape-deciding
    inputs are known), never a wrong result.
    """

    @classmethod
    def is_compatible(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> bool:
        """Whether every node is an op lpfc imports and the opset is one lpfc supports (a quick check)."""
        from ..frontend.onnx_loader import DEFAULT_DOMAINS, MIN_OPSET
        from ..frontend.onnx_ops import CONVERTERS
        opsets = [i.version for i in model.opset_import if i.domain in DEFAULT_DOMAINS]
        return (cls.supports_device(device) and len(opsets) == 1 and MIN_OPSET <= opsets[0] <= MAX_OPSET
                and all(n.domain in DEFAULT_DOMAINS and n.op_type in CONVERTERS for n in model.graph.node))

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> BackendRep:
        super().prepare(model, device, **kwargs)       # onnx.checker.check_model
        if not cls.supports_device(device):
            raise ValueError(f"lpfc's reference backend runs on CPU only, not {device!r}")
        input_shapes: Optional[Mapping[str, Sequence[int]]] = kwargs.get("input_shapes")
        try:
            return LpfcBackendRep(import_onnx(model, input_shapes=input_shapes, allow_zero_dims=True))
        except RuntimeConstantError as e:
            frozen = deciding_inputs(model, e.tensor)
            if not kwargs.get("specialize") or not frozen:
                raise
            return SpecializingBackendRep(model, frozen, input_shapes)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        try:
            return Device(device).type == DeviceType.CPU
        except AttributeError:          # an unknown device type name
            return False

    @classmethod
    def run_node(cls, node: onnx.NodeProto, inputs: Any, device: str = "CPU",
                 outputs_info: Optional[Sequence[tuple]] = None, **kwargs: Any) -> tuple:
        """Run a single node on ``inputs`` (positional, matching the node's non-empty inputs).

        Inputs that decide shapes are baked in as constants (``specialize``).
        """
        super().run_node(node, inputs, device=device, **kwargs)   # onnx.checker.check_node
        opset = int(kwargs.get("opset_version", min(onnx.defs.onnx_opset_version(), MAX_OPSET, REVIEWED_OPSET)))
        names = list(dict.fromkeys(n for n in node.input if n))
        feeds = _feeds(inputs, names)
        graph_inputs = [onnx.helper.make_tensor_value_info(n, onnx.helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
                        for n, a in feeds.items()]
        graph_outputs = [onnx.helper.make_empty_tensor_value_info(n) for n in node.output if n]
        graph = onnx.helper.make_graph([node], f"run_node_{node.op_type}", graph_inputs, graph_outputs)
        model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)])
        try:
            rep: BackendRep = LpfcBackendRep(import_onnx(model, allow_zero_dims=True))
        except RuntimeConstantError as e:
            frozen = deciding_inputs(model, e.tensor)
            if not frozen:
                raise
            rep = SpecializingBackendRep(model, frozen)
        return rep.run(feeds)


prepare = LpfcBackend.prepare
run_model = LpfcBackend.run_model
run_node = LpfcBackend.run_node
supports_device = LpfcBackend.supports_device

__all__ = ["LpfcBackend", "LpfcBackendRep", "SpecializingBackendRep", "deciding_inputs", "prepare", "run_model",
           "run_node", "supports_device"]
