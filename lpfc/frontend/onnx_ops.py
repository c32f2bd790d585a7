"""One converter per ONNX op type: ONNX node -> graph ops.

A converter receives the :class:`~lpfc.frontend.onnx.Converter` and the node
and returns the IR values of the node's outputs.  Shape-deciding inputs are
read as constants (``cv.const_input``), so every result shape is static.
Reshape, Flatten, Squeeze and Unsqueeze all become ``graph.reshape``.  Ops rare in
transformers (Elu, HardSwish, BatchNormalization, OneHot, DepthToSpace, ...) are
compositions of graph ops rather than graph ops of their own.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import onnx
from onnx import helper

from onnx import AttributeProto as A

from ..errors import InvalidModelError, LpfcError, ShapeError, UnsupportedError
from ..ir.types import DType
from .limits import check_computed
from .onnx import Converter, onnx_dtype

CONVERTERS: dict[str, Callable] = {}


def converter(*op_types: str):
    def deco(fn):
        for t in op_types:
            CONVERTERS[t] = fn
        return fn
    return deco


def attributes(node: onnx.NodeProto) -> dict:
    """The node's attributes, each read from the field of its *declared* type, never another.

    (:mod:`~lpfc.frontend.onnx_validate` has already checked each declared type against
    ONNX's schema of the op and refused a value in a second field.)
    """
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        out[a.name] = v
    return out


def f32(v) -> float:
    """An ONNX float attribute (stored as float32) as the shortest Python float with the same float32 value."""
    return float(str(np.float32(v)))


def _axis(cv: Converter, axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise cv.error(ShapeError, f"axis {axis} is out of range for rank {rank}")
    return axis % rank if rank else 0


def _dim_axis(cv: Converter, axis: int, x) -> int:
    """An axis that indexes one of ``x``'s dimensions (so ``x`` must not be a scalar)."""
    if x.type.rank == 0:
        raise cv.error(ShapeError, f"{cv.node.op_type} needs an input of rank >= 1, got a scalar")
    return _axis(cv, axis, x.type.rank)


def _scalar(cv: Converter, value, dtype: DType):
    """A rank-0 constant of ``dtype`` (for compositions)."""
    return cv.constant(np.array(value, dtype=dtype.numpy))


def _reject_attrs(cv: Converter, node, attrs: dict, **unsupported_values):
    for k, bad in unsupported_values.items():
        if k in attrs and attrs[k] != bad[0]:
            raise cv.error(UnsupportedError, f"attribute {k}={attrs[k]!r} is not supported ({bad[1]})")


# -- element-wise ---------------------------------------------------------------------
_BINARY = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Pow": "pow", "And": "and", "Or": "or",
           "Xor": "xor", "BitwiseAnd": "bitwise_and", "BitwiseOr": "bitwise_or", "BitwiseXor": "bitwise_xor",
           "Equal": "equal", "Less": "less", "LessOrEqual": "less_equal", "Greater": "greater",
           "GreaterOrEqual": "greater_equal"}


@converter(*_BINARY)
def convert_binary(cv: Converter, node):
    a, b = cv.input(node, 0), cv.input(node, 1)
    return cv.emit("graph." + _BINARY[node.op_type], [a, b])


@converter("Mod")
def convert_mod(cv: Converter, node):
    fmod = bool(attributes(node).get("fmod", 0))
    return cv.emit("graph.mod", [cv.input(node, 0), cv.input(node, 1)], {"fmod": fmod} if fmod else {})


@converter("BitShift")
def convert_bitshift(cv: Converter, node):
    direction = attributes(node).get("direction", "")
    if direction not in ("LEFT", "RIGHT"):
        raise cv.error(ShapeError, f"BitShift direction must be LEFT or RIGHT, got {direction!r}")
    x = cv.input(node, 0)
    if x.type.dtype.numpy.kind == "i":
        # BitShift-28 added signed types (arithmetic right shift, defined results for out-of-range
        # shifts); lpfc's shifts implement BitShift-11's unsigned ones only.
        raise cv.error(UnsupportedError, f"BitShift version {cv.op_version(node)} on signed {x.type.dtype} is not "
                       "supported (lpfc implements unsigned shifts)")
    return cv.emit(f"graph.bitshift_{direction.lower()}", [cv.input(node, 0), cv.input(node, 1)])


@converter("Max", "Min", "Sum", "Mean")
def convert_variadic(cv: Converter, node):
    vals = [cv.input(node, i) for i in range(len(node.input)) if node.input[i]]
    if not vals:
        raise cv.error(ShapeError, "needs at least one input")
    op = {"Max": "graph.max", "Min": "graph.min", "Sum": "graph.add", "Mean": "graph.add"}[node.op_type]
    acc = vals[0]
    for v in vals[1:]:
        acc = cv.emit1(op, [acc, v])
    if node.op_type == "Mean" and len(vals) > 1:
        n = cv.constant(np.array(len(vals), dtype=acc.type.dtype.numpy))
        acc = cv.emit1("graph.div", [acc, n])
    return [acc]


_UNARY = {"Neg": "neg", "Abs": "abs", "Exp": "exp", "Log": "log", "Sqrt": "sqrt", "Reciprocal": "reciprocal",
          "Erf": "erf", "Tanh": "tanh", "Sigmoid": "sigmoid", "Relu": "relu", "Not": "not", "Floor": "floor",
          "Ceil": "ceil", "Round": "round", "Sign": "sign", "Sin": "sin", "Cos": "cos", "Softplus": "softplus",
          "IsNaN": "isnan", "BitwiseNot": "bitwise_not"}


@converter(*_UNARY)
def convert_unary(cv: Converter, node):
    return cv.emit("graph." + _UNARY[node.op_type], [cv.input(node, 0)])


@converter("Identity")
def convert_identity(cv: Converter, node):
    return [cv.input(node, 0)]


@converter("Dropout")
def convert_dropout(cv: Converter, node):
    # Inference: Dropout is the identity unless training_mode is a true constant.
    mode = cv.const_input(node, 2, "training_mode", optional=True)
    if mode is not None and bool(mode):
        raise cv.error(UnsupportedError, "Dropout in training mode is not supported")
    return [cv.input(node, 0)]


@converter("IsInf")
def convert_isinf(cv: Converter, node):
    a = attributes(node)
    x = cv.input(node, 0)
    neg, pos = a.get("detect_negative", 1), a.get("detect_positive", 1)
    inf = cv.emit1("graph.isinf", [x])
    if neg and pos:
        return [inf]
    zero = cv.constant(np.array(0, dtype=x.type.dtype.numpy))
    side = cv.emit1("graph.greater" if pos else "graph.less", [x, zero])
    if not neg and not pos:
        return [cv.emit1("graph.and", [inf, cv.emit1("graph.not", [inf])])]
    return [cv.emit1("graph.and", [inf, side])]


@converter("Gelu")
def convert_gelu(cv: Converter, node):
    approx = attributes(node).get("approximate", "none")
    if approx not in ("none", "tanh"):
        raise cv.error(ShapeError, f"Gelu approximate={approx!r} is not 'none' or 'tanh'")
    return cv.emit("graph.gelu", [cv.input(node, 0)], {"approximate": approx} if approx != "none" else {})


@converter("LeakyRelu")
def convert_leaky_relu(cv: Converter, node):
    return cv.emit("graph.leaky_relu", [cv.input(node, 0)], {"alpha": f32(attributes(node).get("alpha", 0.01))})


@converter("Where")
def convert_where(cv: Converter, node):
    return cv.emit("graph.where", [cv.input(node, 0), cv.input(node, 1), cv.input(node, 2)])


@converter("Cast")
def convert_cast(cv: Converter, node):
    a = attributes(node)
    if "to" not in a:
        raise cv.error(ShapeError, "Cast has no 'to' attribute")
    to = onnx_dtype(a["to"], "Cast target")
    x = cv.input(node, 0)
    if x.type.dtype == to:
        return [x]
    exact = cv.exact_float_of.get(id(x))
    if exact is not None and exact.type.dtype == to:
        return [exact]          # MatMulInteger's integer-valued float32 product, not cast twice
    return cv.emit("graph.cast", [x], {"to": to})


@converter("CastLike")
def convert_cast_like(cv: Converter, node):
    x, like = cv.input(node, 0), cv.input(node, 1)
    if x.type.dtype == like.type.dtype:
        return [x]
    return cv.emit("graph.cast", [x], {"to": like.type.dtype})


@converter("Clip")
def convert_clip(cv: Converter, node):
    x = cv.input(node, 0)
    if cv.op_version(node) < 11:
        # Clip-6: min and max are float attributes, defaulting to no bound.
        a = attributes(node)
        lo = np.array(a["min"], np.float32) if "min" in a else None
        hi = np.array(a["max"], np.float32) if "max" in a else None
    else:
        lo = cv.const_input(node, 1, "Clip min", optional=True)
        hi = cv.const_input(node, 2, "Clip max", optional=True)
    attrs = {}
    for key, arr in (("min", lo), ("max", hi)):
        if arr is not None:
            if arr.size != 1:
                raise cv.error(ShapeError, f"Clip {key} must be a scalar, has shape {list(arr.shape)}")
            val = arr.reshape(()).item()
            attrs[key] = float(val) if x.type.dtype.is_float else int(val)
    return cv.emit("graph.clip", [x], attrs)


# -- linear algebra ------------------------------------------------------------------------
@converter("MatMul")
def convert_matmul(cv: Converter, node):
    return cv.emit("graph.matmul", [cv.input(node, 0), cv.input(node, 1)])


@converter("Gemm")
def convert_gemm(cv: Converter, node):
    a = attributes(node)
    ops = [cv.input(node, 0), cv.input(node, 1)]
    c = cv.input(node, 2, optional=True)
    if c is not None:
        ops.append(c)
    attrs = {"alpha": f32(a.get("alpha", 1.0)), "beta": f32(a.get("beta", 1.0)),
             "trans_a": bool(a.get("transA", 0)), "trans_b": bool(a.get("transB", 0))}
    return cv.emit("graph.gemm", ops, attrs)


# -- normalisation and reductions ---------------------------------------------------------------
def coerced_2d(cv: Converter, node, x, per_axis):
    """Softmax/LogSoftmax/Hardmax by the version's rule: ``per_axis(x, axis)`` -> value.

    From version 13 the op works along ``axis`` (default -1).  Before, it coerced the
    input to 2-D, [prod(shape[:axis]), prod(shape[axis:])] (default axis 1), and worked
    along the second dimension: over all trailing dimensions at once.
    """
    r = x.type.rank
    if cv.op_version(node) >= 13:
        axis = attributes(node).get("axis", -1)
        return per_axis(x, _dim_axis(cv, axis, x) if node.op_type == "Hardmax" else _axis(cv, axis, r))
    axis = attributes(node).get("axis", 1)
    if not -r <= axis < max(r, 1):
        raise cv.error(ShapeError, f"axis {axis} is out of range for rank {r}")
    axis = axis % r if r else 0
    if axis == r - 1:                   # the 2-D view's rows are the last axis: no reshape needed
        return per_axis(x, axis)
    s = x.type.shape
    flat = _reshape(cv, x, [int(np.prod(s[:axis], dtype=np.int64)), int(np.prod(s[axis:], dtype=np.int64))])[0]
    return _reshape(cv, per_axis(flat, 1), list(s))[0]


@converter("Softmax", "LogSoftmax")
def convert_softmax(cv: Converter, node):
    name = "graph.softmax" if node.op_type == "Softmax" else "graph.log_softmax"
    return [coerced_2d(cv, node, cv.input(node, 0), lambda x, axis: cv.emit1(name, [x], {"axis": axis}))]


@converter("LayerNormalization")
def convert_layer_norm(cv: Converter, node):
    a = attributes(node)
    x = cv.input(node, 0)
    ops = [x, cv.input(node, 1)]
    bias = cv.input(node, 2, optional=True)
    if bias is not None:
        ops.append(bias)
    if a.get("stash_type", 1) != 1:
        raise cv.error(UnsupportedError, f"stash_type={a['stash_type']} is not supported (only float32 stash)")
    axis = _axis(cv, a.get("axis", -1), x.type.rank)
    eps = f32(a.get("epsilon", 1e-5))
    outs = cv.emit("graph.layer_norm", ops, {"axis": axis, "epsilon": eps})
    if any(node.output[1:3]):
        # The optional Mean and InvStdDev outputs (training), in the float32 stash type,
        # composed from reductions; the main output stays one fusable layer_norm.
        xs = x if x.type.dtype == DType.f32 else cv.emit1("graph.cast", [x], {"to": DType.f32})
        axes = list(range(axis, x.type.rank))
        mean = cv.emit1("graph.reduce_mean", [xs], {"axes": axes, "keepdims": True})
        d = cv.emit1("graph.sub", [xs, mean])
        var = cv.emit1("graph.reduce_mean", [cv.emit1("graph.mul", [d, d])], {"axes": axes, "keepdims": True})
        std = cv.emit1("graph.sqrt", [cv.emit1("graph.add", [var, _scalar(cv, eps, DType.f32)])])
        outs = outs + [mean, cv.emit1("graph.reciprocal", [std])]
    return outs


_REDUCE = {"ReduceSum": "reduce_sum", "ReduceMean": "reduce_mean", "ReduceMax": "reduce_max",
           "ReduceMin": "reduce_min", "ReduceProd": "reduce_prod", "ReduceL2": "reduce_l2",
           "ReduceSumSquare": "reduce_sum_square", "ReduceLogSumExp": "reduce_log_sum_exp",
           # composed: ReduceL1 = reduce_sum(abs(x)), ReduceLogSum = log(reduce_sum(x))
           "ReduceL1": "reduce_sum", "ReduceLogSum": "reduce_sum"}
# Reductions that are the identity on a single element (so reducing no axes is x itself).
_REDUCE_SINGLE_IDENTITY = {"reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod"}


@converter(*_REDUCE)
def convert_reduce(cv: Converter, node):
    a = attributes(node)
    x = cv.input(node, 0)
    # ReduceSum takes axes as an input from opset 13, the others from opset 18.
    axes_from_input = cv.opset >= (13 if node.op_type == "ReduceSum" else 18)
    if axes_from_input:
        if "axes" in a:
            raise cv.error(ShapeError, f"{node.op_type} takes axes as an input at opset {cv.opset}, "
                           "not as an attribute")
        axes = cv.const_input(node, 1, "axes", optional=True)
        axes = [] if axes is None else [int(v) for v in axes.reshape(-1)]
    else:
        axes = list(a.get("axes", []))
    name = _REDUCE[node.op_type]
    if node.op_type == "ReduceL1":
        x = cv.emit1("graph.abs", [x])
    if not axes:
        if a.get("noop_with_empty_axes", 0):
            # Reduce over no axes: each element alone (x*x for sum_square, |x| for l2, ...),
            # as onnx.reference computes it.
            if name in _REDUCE_SINGLE_IDENTITY:
                y = x
            else:
                y = cv.emit1("graph." + name, [x], {"axes": [], "keepdims": True})
            return [cv.emit1("graph.log", [y]) if node.op_type == "ReduceLogSum" else y]
        axes = list(range(x.type.rank))
    axes = sorted({_axis(cv, ax, x.type.rank) for ax in axes})
    y = cv.emit1("graph." + name, [x], {"axes": axes, "keepdims": bool(a.get("keepdims", 1))})
    return [cv.emit1("graph.log", [y]) if node.op_type == "ReduceLogSum" else y]


@converter("ArgMax", "ArgMin")
def convert_arg(cv: Converter, node):
    a = attributes(node)
    x = cv.input(node, 0)
    return cv.emit("graph." + node.op_type.lower(), [x],
                   {"axis": _axis(cv, a.get("axis", 0), x.type.rank), "keepdims": bool(a.get("keepdims", 1)),
                    "select_last_index": bool(a.get("select_last_index", 0))})


# -- shapes and data movement -------------------------------------------------------------
def _reshape(cv: Converter, x, shape) -> list:
    shape = [int(d) for d in shape]
    if tuple(shape) == x.type.shape:
        return [x]
    return cv.emit("graph.reshape", [x], {"shape": shape})


@converter("Reshape")
def convert_reshape(cv: Converter, node):
    x = cv.input(node, 0)
    target = [int(d) for d in cv.const_input(node, 1, "target shape").reshape(-1)]
    allowzero = attributes(node).get("allowzero", 0)
    out = []
    for i, d in enumerate(target):
        if d == 0 and not allowzero:
            if i >= x.type.rank:
                raise cv.error(ShapeError, f"shape {target} copies dimension {i}, but the input has rank {x.type.rank}")
            d = x.type.shape[i]
        out.append(d)
    if out.count(-1) > 1:
        raise cv.error(ShapeError, f"shape {target} has more than one -1")
    if -1 in out:
        known = int(np.prod([d for d in out if d != -1], dtype=np.int64))
        total = x.type.num_elements
        if known == 0 or total % known:
            raise cv.error(ShapeError, f"cannot reshape {list(x.type.shape)} to {target}")
        out[out.index(-1)] = total // known
    if any(d < 0 for d in out):
        raise cv.error(ShapeError, f"invalid target shape {target}")
    return _reshape(cv, x, out)


@converter("Flatten")
def convert_flatten(cv: Converter, node):
    x = cv.input(node, 0)
    r = x.type.rank
    axis = attributes(node).get("axis", 1)
    if not -r <= axis <= r:
        raise cv.error(ShapeError, f"axis {axis} is out of range for rank {r}")
    axis = axis + r if axis < 0 else axis
    s = x.type.shape
    return _reshape(cv, x, [int(np.prod(s[:axis], dtype=np.int64)), int(np.prod(s[axis:], dtype=np.int64))])


def _axes_input_or_attr(cv: Converter, node, min_opset_input: int):
    if cv.opset >= min_opset_input:
        arr = cv.const_input(node, 1, "axes", optional=True)
        return None if arr is None else [int(v) for v in arr.reshape(-1)]
    a = attributes(node).get("axes")
    return None if a is None else list(a)


@converter("Squeeze")
def convert_squeeze(cv: Converter, node):
    x = cv.input(node, 0)
    axes = _axes_input_or_attr(cv, node, 13)
    shape = x.type.shape
    if axes is None:
        axes = [i for i, d in enumerate(shape) if d == 1]
    axes = {_axis(cv, a, x.type.rank) for a in axes}
    for a in axes:
        if shape[a] != 1:
            raise cv.error(ShapeError, f"cannot squeeze axis {a} of size {shape[a]}")
    return _reshape(cv, x, [d for i, d in enumerate(shape) if i not in axes])


@converter("Unsqueeze")
def convert_unsqueeze(cv: Converter, node):
    x = cv.input(node, 0)
    axes = _axes_input_or_attr(cv, node, 13)
    if axes is None:
        raise cv.error(ShapeError, "Unsqueeze needs axes")
    rank = x.type.rank + len(axes)
    axes = sorted(_axis(cv, a, rank) for a in axes)
    if len(set(axes)) != len(axes):
        raise cv.error(ShapeError, f"Unsqueeze repeats an axis: {axes}")
    shape = list(x.type.shape)
    for a in axes:
        shape.insert(a, 1)
    return _reshape(cv, x, shape)


@converter("Transpose")
def convert_transpose(cv: Converter, node):
    x = cv.input(node, 0)
    perm = attributes(node).get("perm")
    perm = list(range(x.type.rank))[::-1] if perm is None else [int(p) for p in perm]
    if perm == list(range(x.type.rank)):
        return [x]
    return cv.emit("graph.transpose", [x], {"perm": perm})


@converter("Expand")
def convert_expand(cv: Converter, node):
    x = cv.input(node, 0)
    shape = [int(d) for d in cv.const_input(node, 1, "target shape").reshape(-1)]
    return cv.emit("graph.expand", [x], {"shape": shape})


@converter("Tile")
def convert_tile(cv: Converter, node):
    x = cv.input(node, 0)
    reps = [int(d) for d in cv.const_input(node, 1, "repeats").reshape(-1)]
    return cv.emit("graph.tile", [x], {"repeats": reps})


@converter("Concat")
def convert_concat(cv: Converter, node):
    vals = [cv.input(node, i) for i in range(len(node.input)) if node.input[i]]
    a = attributes(node)
    if not vals:
        raise cv.error(ShapeError, "Concat needs at least one input")
    if "axis" not in a:
        raise cv.error(ShapeError, "Concat has no 'axis' attribute")
    return cv.emit("graph.concat", vals, {"axis": _axis(cv, a["axis"], vals[0].type.rank)})


@converter("Split")
def convert_split(cv: Converter, node):
    x = cv.input(node, 0)
    a = attributes(node)
    axis = _dim_axis(cv, a.get("axis", 0), x)
    dim = x.type.shape[axis]
    n_out = len(node.output)
    if cv.op_version(node) < 13:
        sizes = np.array(a["split"], np.int64) if "split" in a else None   # Split-2/11: an attribute
    else:
        sizes = cv.const_input(node, 1, "split sizes", optional=True)
    if sizes is not None:
        sizes = [int(s) for s in sizes.reshape(-1)]
    elif "num_outputs" in a:
        n = int(a["num_outputs"])
        if n != n_out:
            raise cv.error(ShapeError, f"num_outputs={n} but the node has {n_out} outputs")
        chunk = -(-dim // n)
        sizes = [chunk] * (dim // chunk) + ([dim % chunk] if dim % chunk else [])
    else:
        if dim % n_out:
            raise cv.error(ShapeError, f"cannot split dimension {dim} into {n_out} equal parts")
        sizes = [dim // n_out] * n_out
    if len(sizes) != n_out:
        raise cv.error(ShapeError, f"split into {len(sizes)} parts but the node has {n_out} outputs")
    return cv.emit("graph.split", [x], {"axis": axis, "sizes": sizes})


@converter("Slice")
def convert_slice(cv: Converter, node):
    x = cv.input(node, 0)
    if cv.op_version(node) < 10:
        # Slice-1: starts, ends and axes are attributes; there are no steps.
        a = attributes(node)
        if "starts" not in a or "ends" not in a:
            raise cv.error(ShapeError, "Slice-1 needs the starts and ends attributes")
        starts, ends = [int(v) for v in a["starts"]], [int(v) for v in a["ends"]]
        axes = np.array(a["axes"], np.int64) if "axes" in a else None
        steps = None
    else:
        starts = [int(v) for v in cv.const_input(node, 1, "starts").reshape(-1)]
        ends = [int(v) for v in cv.const_input(node, 2, "ends").reshape(-1)]
        axes = cv.const_input(node, 3, "axes", optional=True)
        steps = cv.const_input(node, 4, "steps", optional=True)
    axes = list(range(len(starts))) if axes is None else [int(v) for v in axes.reshape(-1)]
    steps = [1] * len(starts) if steps is None else [int(v) for v in steps.reshape(-1)]
    if not (len(starts) == len(ends) == len(axes) == len(steps)):
        raise cv.error(ShapeError, "starts, ends, axes and steps differ in length")
    axes = [_axis(cv, a, x.type.rank) for a in axes]
    # Clamp to the dimension so the attributes stay small, readable integers.
    lim = []
    for s, e, a, st in zip(starts, ends, axes, steps):
        if st == 0:
            raise cv.error(ShapeError, "slice step is 0")
        r = range(x.type.shape[a])[slice(s, e, st)]
        lim.append((r.start, r.stop if r.stop >= 0 else -x.type.shape[a] - 1, a, st))
    if all(st == 1 and s == 0 and e == x.type.shape[a] for s, e, a, st in lim):
        return [x]
    return cv.emit("graph.slice", [x], {"starts": [v[0] for v in lim], "ends": [v[1] for v in lim],
                                        "axes": [v[2] for v in lim], "steps": [v[3] for v in lim]})


@converter("Gather")
def convert_gather(cv: Converter, node):
    x, idx = cv.input(node, 0), cv.input(node, 1)
    axis = _dim_axis(cv, attributes(node).get("axis", 0), x)
    arr = cv.const_of(idx)
    if arr is not None and arr.size and (arr.max() >= x.type.shape[axis] or arr.min() < -x.type.shape[axis]):
        raise cv.error(ShapeError, f"gather index out of range for dimension {x.type.shape[axis]}")
    from .onnx_quant import gather_dequantized     # (onnx_quant imports this module)
    return gather_dequantized(cv, x, idx, axis) or cv.emit("graph.gather", [x, idx], {"axis": axis})


@converter("GatherElements")
def convert_gather_elements(cv: Converter, node):
    x, idx = cv.input(node, 0), cv.input(node, 1)
    return cv.emit("graph.gather_elements", [x, idx], {"axis": _axis(cv, attributes(node).get("axis", 0), x.type.rank)})


@converter("GatherND")
def convert_gather_nd(cv: Converter, node):
    return cv.emit("graph.gather_nd", [cv.input(node, 0), cv.input(node, 1)],
                   {"batch_dims": int(attributes(node).get("batch_dims", 0))})


@converter("ScatterElements", "ScatterND")
def convert_scatter(cv: Converter, node):
    a = attributes(node)
    data, idx, upd = (cv.input(node, i) for i in range(3))
    attrs = {"reduction": a.get("reduction", "none")}
    if node.op_type == "ScatterElements":
        attrs["axis"] = _axis(cv, a.get("axis", 0), data.type.rank)
        return cv.emit("graph.scatter_elements", [data, idx, upd], attrs)
    return cv.emit("graph.scatter_nd", [data, idx, upd], attrs)


@converter("Trilu")
def convert_trilu(cv: Converter, node):
    k = cv.const_input(node, 1, "k", optional=True)
    k = 0 if k is None else int(k.reshape(-1)[0])
    return cv.emit("graph.trilu", [cv.input(node, 0)], {"upper": bool(attributes(node).get("upper", 1)), "k": k})


@converter("Pad")
def convert_pad(cv: Converter, node):
    x = cv.input(node, 0)
    a = attributes(node)
    mode = a.get("mode", "constant")
    if mode not in ("constant", "reflect", "edge", "wrap") or (mode == "wrap" and cv.opset < 19):
        raise cv.error(UnsupportedError, f"Pad mode {mode!r} is not supported at opset {cv.opset}")
    if cv.op_version(node) < 11:
        # Pad-2: pads and the (float) value are attributes.
        if "pads" not in a:
            raise cv.error(ShapeError, "Pad-2 needs the pads attribute")
        pads = [int(v) for v in a["pads"]]
        value = np.array(a["value"], np.float32) if "value" in a else None
        axes = None
    else:
        pads = [int(v) for v in cv.const_input(node, 1, "pads").reshape(-1)]
        value = cv.const_input(node, 2, "constant_value", optional=True)
        axes = cv.const_input(node, 3, "axes", optional=True)
    r = x.type.rank
    if axes is not None:
        axes = [_axis(cv, int(v), r) for v in axes.reshape(-1)]
        if len(pads) != 2 * len(axes):
            raise cv.error(ShapeError, f"{len(pads)} pads for {len(axes)} axes")
        full = [0] * (2 * r)
        for i, ax in enumerate(axes):
            full[ax], full[ax + r] = pads[i], pads[i + len(axes)]
        pads = full
    if len(pads) != 2 * r:
        raise cv.error(ShapeError, f"Pad needs {2 * r} pads for rank {r}, got {len(pads)}")
    attrs = {"pads": pads, "mode": mode}
    if value is not None and value.size:
        v = value.reshape(-1)[0].item()
        attrs["value"] = float(v) if x.type.dtype.is_float else int(v)
    return cv.emit("graph.pad", [x], attrs)


@converter("CenterCropPad")
def convert_center_crop_pad(cv: Converter, node):
    x = cv.input(node, 0)
    shape = [int(d) for d in cv.const_input(node, 1, "shape").reshape(-1)]
    r = x.type.rank
    axes = attributes(node).get("axes")
    axes = list(range(r)) if axes is None else [_axis(cv, int(ax), r) for ax in axes]
    if len(axes) != len(shape) or len(set(axes)) != len(axes):
        raise cv.error(ShapeError, f"CenterCropPad shape {shape} does not match axes {axes}")
    if any(d < 0 for d in shape):
        raise cv.error(ShapeError, f"CenterCropPad shape {shape} has a negative dimension")
    starts, ends, crop_axes, pads = [], [], [], [0] * (2 * r)
    for ax, want in zip(axes, shape):
        have = x.type.shape[ax]
        if have > want:              # crop: the extra element goes to the end
            s0 = (have - want) // 2
            starts.append(s0), ends.append(s0 + want), crop_axes.append(ax)
        elif have < want:            # pad with zeros: the extra element goes to the end
            pads[ax] = (want - have) // 2
            pads[ax + r] = want - have - pads[ax]
    if crop_axes:
        x = cv.emit1("graph.slice", [x], {"starts": starts, "ends": ends, "axes": crop_axes,
                                          "steps": [1] * len(crop_axes)})
    if any(pads):
        x = cv.emit1("graph.pad", [x], {"pads": pads})
    return [x]


# -- constants and shape queries ------------------------------------------------------------
@converter("Constant")
def convert_constant(cv: Converter, node):
    a = node.attribute
    if len(a) != 1:
        raise cv.error(ShapeError, "Constant must have exactly one value attribute")
    attr = a[0]
    # Each value is read from the field of the attribute's declared type only: a `value` declared
    # FLOAT that also carries a tensor (with external data, say) is never read as a tensor.
    wanted = {"value": A.TENSOR, "value_float": A.FLOAT, "value_floats": A.FLOATS, "value_int": A.INT,
              "value_ints": A.INTS}
    if attr.name not in wanted:
        raise cv.error(UnsupportedError, f"Constant attribute {attr.name!r} is not supported")
    if attr.type != wanted[attr.name]:
        raise cv.error(InvalidModelError, f"Constant attribute {attr.name!r} is declared "
                       f"{A.AttributeType.Name(attr.type) if attr.type in A.AttributeType.values() else attr.type}, "
                       f"not {A.AttributeType.Name(wanted[attr.name])}")
    if attr.type == A.TENSOR:
        arr = cv.tensor_array(attr.t, "Constant value")
    elif attr.type == A.FLOAT:
        arr = np.array(attr.f, dtype=np.float32)
    elif attr.type == A.FLOATS:
        arr = np.array(list(attr.floats), dtype=np.float32)
    elif attr.type == A.INT:
        arr = np.array(attr.i, dtype=np.int64)
    else:
        arr = np.array(list(attr.ints), dtype=np.int64)
    return [cv.constant(arr, node.output[0])]


@converter("Shape")
def convert_shape(cv: Converter, node):
    x = cv.input(node, 0)
    a = attributes(node)
    r = x.type.rank
    start, end = a.get("start", 0), a.get("end", r)
    start = min(max(start + r if start < 0 else start, 0), r)
    end = min(max(end + r if end < 0 else end, 0), r)
    return [cv.constant(np.array(x.type.shape[start:end], dtype=np.int64), node.output[0])]


@converter("Size")
def convert_size(cv: Converter, node):
    return [cv.constant(np.array(cv.input(node, 0).type.num_elements, dtype=np.int64), node.output[0])]


@converter("ConstantOfShape")
def convert_constant_of_shape(cv: Converter, node):
    shape = [int(d) for d in cv.const_input(node, 0, "shape").reshape(-1)]
    if any(d < 0 for d in shape):
        raise cv.error(ShapeError, f"negative dimension in {shape}")
    value = attributes(node).get("value")
    if value is None:
        fill = np.zeros(1, np.float32)
    else:
        if len(value.dims) > 1 or (value.dims and value.dims[0] != 1):
            raise cv.error(ShapeError, f"ConstantOfShape value must hold one element, has dims {list(value.dims)}")
        fill = cv.tensor_array(value, "ConstantOfShape value").reshape(-1)
        if fill.size != 1:
            raise cv.error(ShapeError, f"ConstantOfShape value must hold one element, holds {fill.size}")
    _computed(cv, shape, fill.dtype.itemsize, "ConstantOfShape result")
    return [cv.constant(np.full(shape, fill[0], dtype=fill.dtype), node.output[0])]


def _computed(cv: Converter, shape, itemsize: int, what: str) -> None:
    """Refuse a constant computed at import before it is allocated (limits.MAX_COMPUTED_BYTES)."""
    try:
        check_computed(shape, itemsize, what)
    except LpfcError as e:
        raise cv.error(type(e), e.bare_message) from None


@converter("Range")
def convert_range(cv: Converter, node):
    bounds = [cv.const_input(node, i, w) for i, w in enumerate(("start", "limit", "delta"))]
    for arr, w in zip(bounds, ("start", "limit", "delta")):
        if arr.size != 1:
            raise cv.error(ShapeError, f"Range {w} must be a scalar, has shape {list(arr.shape)}")
    start, limit, delta = (arr.reshape(()) for arr in bounds)
    if delta == 0:
        raise cv.error(ShapeError, "Range delta is 0")
    steps = np.ceil((np.float64(limit) - np.float64(start)) / np.float64(delta))
    if not np.isfinite(steps):
        raise cv.error(ShapeError, f"Range from {start} to {limit} by {delta} has no finite length")
    n = max(int(steps), 0)
    _computed(cv, [n], start.dtype.itemsize, "Range result")
    arr = (start + np.arange(n, dtype=np.float64 if start.dtype.kind == "f" else np.int64) * delta)
    return [cv.constant(arr.astype(start.dtype), node.output[0])]


from . import onnx_composed  # noqa: E402,F401  (registers the composed converters)
from . import onnx_transformer_ops  # noqa: E402,F401  (opset 23: RMSNormalization, RotaryEmbedding, Attention)
from . import onnx_quant  # noqa: E402,F401  (QuantizeLinear / DequantizeLinear)

SUPPORTED_OPS = sorted(CONVERTERS)
