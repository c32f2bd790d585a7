"""ONNX ops with no graph op of their own, built from graph ops at import.

Rare activations, normalisations and generators (Elu, OneHot, GroupNormalization,
HannWindow, ...) become a few standard graph ops, so the passes and code
generators see a small, regular dialect.
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, UnsupportedError
from ..ir.types import DType
import onnx

from .onnx import Converter, onnx_dtype
from .onnx_ops import _axis, _computed, _dim_axis, _reshape, _scalar, attributes, coerced_2d, converter, f32


# -- activations composed from graph ops ---------------------------------------------------------
# Rare in transformers, so they are compositions rather than graph ops of their own;
# LP-Fusion sees ordinary element-wise chains.
def _float_input(cv: Converter, node):
    x = cv.input(node, 0)
    if not x.type.dtype.is_float:
        raise cv.error(ShapeError, f"{node.op_type} needs a floating-point input, got {x.type.dtype}")
    return x


@converter("Elu", "Celu", "Selu")
def convert_elu(cv: Converter, node):
    a = attributes(node)
    x = _float_input(cv, node)
    dt = x.type.dtype
    zero, one = _scalar(cv, 0, dt), _scalar(cv, 1, dt)
    if node.op_type == "Celu":     # max(0, x) + min(0, alpha * (exp(x / alpha) - 1))
        alpha = _scalar(cv, f32(a.get("alpha", 1.0)), dt)
        e = cv.emit1("graph.sub", [cv.emit1("graph.exp", [cv.emit1("graph.div", [x, alpha])]), one])
        return [cv.emit1("graph.add", [cv.emit1("graph.relu", [x]),
                                       cv.emit1("graph.min", [zero, cv.emit1("graph.mul", [alpha, e])])])]
    default_alpha = 1.0 if node.op_type == "Elu" else 1.67326319217681884765625
    alpha = _scalar(cv, f32(a.get("alpha", default_alpha)), dt)
    neg = cv.emit1("graph.mul", [alpha, cv.emit1("graph.sub", [cv.emit1("graph.exp", [x]), one])])
    cond = cv.emit1("graph.less" if node.op_type == "Elu" else "graph.less_equal", [x, zero])
    y = cv.emit1("graph.where", [cond, neg, x])
    if node.op_type == "Selu":
        y = cv.emit1("graph.mul", [_scalar(cv, f32(a.get("gamma", 1.05070102214813232421875)), dt), y])
    return [y]


@converter("HardSigmoid", "HardSwish")
def convert_hard_sigmoid(cv: Converter, node):
    a = attributes(node)
    x = _float_input(cv, node)
    dt = x.type.dtype
    alpha, beta = (1 / 6, 0.5) if node.op_type == "HardSwish" else (f32(a.get("alpha", 0.2)), f32(a.get("beta", 0.5)))
    lin = cv.emit1("graph.add", [cv.emit1("graph.mul", [x, _scalar(cv, alpha, dt)]), _scalar(cv, beta, dt)])
    y = cv.emit1("graph.clip", [lin], {"min": 0.0, "max": 1.0})
    return [cv.emit1("graph.mul", [x, y]) if node.op_type == "HardSwish" else y]


@converter("Softsign")
def convert_softsign(cv: Converter, node):
    x = _float_input(cv, node)
    return [cv.emit1("graph.div", [x, cv.emit1("graph.add", [_scalar(cv, 1, x.type.dtype),
                                                             cv.emit1("graph.abs", [x])])])]


@converter("Mish")
def convert_mish(cv: Converter, node):
    x = _float_input(cv, node)
    return [cv.emit1("graph.mul", [x, cv.emit1("graph.tanh", [cv.emit1("graph.softplus", [x])])])]


@converter("ThresholdedRelu")
def convert_thresholded_relu(cv: Converter, node):
    x = _float_input(cv, node)
    dt = x.type.dtype
    cond = cv.emit1("graph.greater", [x, _scalar(cv, f32(attributes(node).get("alpha", 1.0)), dt)])
    return [cv.emit1("graph.where", [cond, x, _scalar(cv, 0, dt)])]


@converter("Shrink")
def convert_shrink(cv: Converter, node):
    a = attributes(node)
    x = cv.input(node, 0)
    dt = x.type.dtype
    lambd, bias = f32(a.get("lambd", 0.5)), f32(a.get("bias", 0.0))
    if not dt.is_float:
        lambd, bias = int(lambd), int(bias)
    lo = cv.emit1("graph.less", [x, _scalar(cv, -lambd, dt)])
    hi = cv.emit1("graph.greater", [x, _scalar(cv, lambd, dt)])
    b = _scalar(cv, bias, dt)
    y = cv.emit1("graph.where", [hi, cv.emit1("graph.sub", [x, b]), _scalar(cv, 0, dt)])
    return [cv.emit1("graph.where", [lo, cv.emit1("graph.add", [x, b]), y])]


@converter("PRelu")
def convert_prelu(cv: Converter, node):
    x, slope = cv.input(node, 0), cv.input(node, 1)
    neg = cv.emit1("graph.less", [x, _scalar(cv, 0, x.type.dtype)])
    return [cv.emit1("graph.where", [neg, cv.emit1("graph.mul", [x, slope]), x])]


# -- cumulative sums, one-hot, hardmax ------------------------------------------------------------
@converter("CumSum")
def convert_cumsum(cv: Converter, node):
    a = attributes(node)
    x = cv.input(node, 0)
    axis = cv.const_input(node, 1, "axis")
    if axis.size != 1:
        raise cv.error(ShapeError, f"CumSum axis must be a scalar, has shape {list(axis.shape)}")
    return cv.emit("graph.cumsum", [x], {"axis": _axis(cv, int(axis.reshape(())), x.type.rank),
                                          "exclusive": bool(a.get("exclusive", 0)),
                                          "reverse": bool(a.get("reverse", 0))})


def _one_hot_mask(cv: Converter, idx, depth: int, axis: int):
    """i1 tensor: idx (unsqueezed at ``axis``) == arange(depth) along ``axis``."""
    rank = idx.type.rank + 1
    shape = [1] * rank
    shape[axis] = depth
    _computed(cv, shape, idx.type.dtype.itemsize, "one-hot index range")
    ar = cv.constant(np.arange(depth, dtype=idx.type.dtype.numpy).reshape(shape))
    idx = _reshape(cv, idx, idx.type.shape[:axis] + (1,) + idx.type.shape[axis:])[0]
    return cv.emit1("graph.equal", [idx, ar])


@converter("OneHot")
def convert_one_hot(cv: Converter, node):
    idx, values = cv.input(node, 0), cv.input(node, 2)
    depth = cv.const_input(node, 1, "depth")
    if depth.size != 1:
        raise cv.error(ShapeError, f"OneHot depth must be a scalar, has shape {list(depth.shape)}")
    depth = int(depth.reshape(()))       # a float depth is truncated, as ONNX specifies
    if depth < 1:
        raise cv.error(ShapeError, f"OneHot depth must be positive, got {depth}")
    if values.type.num_elements != 2:
        raise cv.error(ShapeError, f"OneHot values must hold [off, on], has shape {list(values.type.shape)}")
    axis = _axis(cv, attributes(node).get("axis", -1), idx.type.rank + 1)
    if not idx.type.dtype.is_int:       # float indices are truncated toward zero
        idx = cv.emit1("graph.cast", [idx], {"to": DType.i64})
    # Negative indices count from the end: idx + depth where idx < 0.
    zero = _scalar(cv, 0, idx.type.dtype)
    wrapped = cv.emit1("graph.add", [idx, _scalar(cv, depth, idx.type.dtype)])
    idx = cv.emit1("graph.where", [cv.emit1("graph.less", [idx, zero]), wrapped, idx])
    mask = _one_hot_mask(cv, idx, depth, axis)
    flat = _reshape(cv, values, [2])[0]
    off = cv.emit1("graph.slice", [flat], {"starts": [0], "ends": [1], "axes": [0], "steps": [1]})
    on = cv.emit1("graph.slice", [flat], {"starts": [1], "ends": [2], "axes": [0], "steps": [1]})
    return [cv.emit1("graph.where", [mask, on, off])]


@converter("Hardmax")
def convert_hardmax(cv: Converter, node):
    def per_axis(x, axis):
        am = cv.emit1("graph.argmax", [x], {"axis": axis, "keepdims": False})     # the first maximum
        mask = _one_hot_mask(cv, am, x.type.shape[axis], axis)
        return cv.emit1("graph.cast", [mask], {"to": x.type.dtype})
    return [coerced_2d(cv, node, cv.input(node, 0), per_axis)]


# -- normalisations composed from reductions ---------------------------------------------------
def _channel_param(cv: Converter, v, rank: int):
    """A per-channel [C] parameter shaped to broadcast over NCHW... (axis 1)."""
    return _reshape(cv, v, [v.type.num_elements] + [1] * (rank - 2))[0]


def _normalize(cv: Converter, x, axes: list, eps: float):
    """(x - mean) / sqrt(var + eps) over ``axes``."""
    mean = cv.emit1("graph.reduce_mean", [x], {"axes": axes, "keepdims": True})
    d = cv.emit1("graph.sub", [x, mean])
    var = cv.emit1("graph.reduce_mean", [cv.emit1("graph.mul", [d, d])], {"axes": axes, "keepdims": True})
    std = cv.emit1("graph.sqrt", [cv.emit1("graph.add", [var, _scalar(cv, eps, x.type.dtype)])])
    return cv.emit1("graph.div", [d, std])


@converter("BatchNormalization")
def convert_batch_norm(cv: Converter, node):
    a = attributes(node)
    if a.get("training_mode", 0):
        raise cv.error(UnsupportedError, "BatchNormalization in training mode is not supported")
    if not a.get("spatial", 1):
        # BatchNormalization-7: spatial=0 takes per-element (C x D1 x ...) statistics.
        raise cv.error(UnsupportedError, f"BatchNormalization-{cv.op_version(node)} spatial=0 (per-element "
                       "statistics) is not supported")
    x = _float_input(cv, node)
    if x.type.rank < 2:
        raise cv.error(ShapeError, f"BatchNormalization needs rank >= 2, got {x.type.rank}")
    scale, bias, mean, var = (_channel_param(cv, cv.input(node, i), x.type.rank) for i in range(1, 5))
    eps = _scalar(cv, f32(a.get("epsilon", 1e-5)), var.type.dtype)
    inv = cv.emit1("graph.div", [scale, cv.emit1("graph.sqrt", [cv.emit1("graph.add", [var, eps])])])
    y = cv.emit1("graph.mul", [cv.emit1("graph.sub", [x, mean]), inv])
    return [cv.emit1("graph.add", [y, bias])]


@converter("InstanceNormalization")
def convert_instance_norm(cv: Converter, node):
    x = _float_input(cv, node)
    r = x.type.rank
    if r < 3:
        raise cv.error(ShapeError, f"InstanceNormalization needs rank >= 3, got {r}")
    y = _normalize(cv, x, list(range(2, r)), f32(attributes(node).get("epsilon", 1e-5)))
    y = cv.emit1("graph.mul", [y, _channel_param(cv, cv.input(node, 1), r)])
    return [cv.emit1("graph.add", [y, _channel_param(cv, cv.input(node, 2), r)])]


@converter("GroupNormalization")
def convert_group_norm(cv: Converter, node):
    a = attributes(node)
    x = _float_input(cv, node)
    if cv.opset < 21:
        raise cv.error(UnsupportedError, "GroupNormalization before opset 21 (per-group scale) is not supported",
                       hint="opset 21 made scale and bias per channel")
    if a.get("stash_type", 1) != 1:
        raise cv.error(UnsupportedError, f"stash_type={a['stash_type']} is not supported (only float32 stash)")
    groups = int(a["num_groups"])
    shape = x.type.shape
    if len(shape) < 3 or groups < 1 or shape[1] % groups:
        raise cv.error(ShapeError, f"cannot split {shape[1] if len(shape) > 1 else '?'} channels into "
                       f"{groups} groups")
    xs = x if x.type.dtype == DType.f32 else cv.emit1("graph.cast", [x], {"to": DType.f32})
    g = _reshape(cv, xs, [shape[0], groups, int(np.prod(shape[1:], dtype=np.int64)) // groups])[0]
    y = _normalize(cv, g, [2], f32(a.get("epsilon", 1e-5)))
    y = _reshape(cv, y, shape)[0]
    if y.type.dtype != x.type.dtype:
        y = cv.emit1("graph.cast", [y], {"to": x.type.dtype})
    y = cv.emit1("graph.mul", [y, _channel_param(cv, cv.input(node, 1), len(shape))])
    return [cv.emit1("graph.add", [y, _channel_param(cv, cv.input(node, 2), len(shape))])]


@converter("MeanVarianceNormalization")
def convert_mvn(cv: Converter, node):
    x = _float_input(cv, node)
    axes = attributes(node).get("axes", [0, 2, 3])
    axes = sorted({_axis(cv, ax, x.type.rank) for ax in axes})
    # ONNX's definition: (x - mean) / (sqrt(var) + 1e-9), var = E[x^2] - E[x]^2.
    mean = cv.emit1("graph.reduce_mean", [x], {"axes": axes, "keepdims": True})
    ex2 = cv.emit1("graph.reduce_mean", [cv.emit1("graph.mul", [x, x])], {"axes": axes, "keepdims": True})
    var = cv.emit1("graph.sub", [ex2, cv.emit1("graph.mul", [mean, mean])])
    std = cv.emit1("graph.add", [cv.emit1("graph.sqrt", [var]), _scalar(cv, 1e-9, x.type.dtype)])
    return [cv.emit1("graph.div", [cv.emit1("graph.sub", [x, mean]), std])]


@converter("GlobalAveragePool", "GlobalMaxPool")
def convert_global_pool(cv: Converter, node):
    x = cv.input(node, 0)
    if x.type.rank < 3:
        raise cv.error(ShapeError, f"{node.op_type} needs rank >= 3 (N, C, spatial...), got {x.type.rank}")
    name = "graph.reduce_mean" if node.op_type == "GlobalAveragePool" else "graph.reduce_max"
    return cv.emit(name, [x], {"axes": list(range(2, x.type.rank)), "keepdims": True})


# -- data movement composed from reshape/transpose ------------------------------------------------
@converter("DepthToSpace", "SpaceToDepth")
def convert_depth_space(cv: Converter, node):
    a = attributes(node)
    x = cv.input(node, 0)
    if x.type.rank != 4:
        raise cv.error(ShapeError, f"{node.op_type} needs a 4-D NCHW input, got rank {x.type.rank}")
    b = int(a.get("blocksize", 0))
    n, c, h, w = x.type.shape
    if b < 1:
        raise cv.error(ShapeError, f"blocksize must be positive, got {b}")
    mode = a.get("mode", "DCR")
    if node.op_type == "SpaceToDepth":
        if h % b or w % b:
            raise cv.error(ShapeError, f"height {h} and width {w} must be multiples of blocksize {b}")
        if mode not in ("DCR", "CRD"):
            raise cv.error(ShapeError, f"SpaceToDepth mode must be DCR or CRD, got {mode!r}")
        t = _reshape(cv, x, [n, c, h // b, b, w // b, b])[0]
        perm = [0, 3, 5, 1, 2, 4] if mode == "DCR" else [0, 1, 3, 5, 2, 4]
        t = cv.emit1("graph.transpose", [t], {"perm": perm})
        return _reshape(cv, t, [n, c * b * b, h // b, w // b])
    if c % (b * b):
        raise cv.error(ShapeError, f"channels {c} must be a multiple of blocksize^2 = {b * b}")
    if mode == "DCR":
        t = _reshape(cv, x, [n, b, b, c // (b * b), h, w])[0]
        perm = [0, 3, 4, 1, 5, 2]
    elif mode == "CRD":
        t = _reshape(cv, x, [n, c // (b * b), b, b, h, w])[0]
        perm = [0, 1, 4, 2, 5, 3]
    else:
        raise cv.error(ShapeError, f"DepthToSpace mode must be DCR or CRD, got {mode!r}")
    t = cv.emit1("graph.transpose", [t], {"perm": perm})
    return _reshape(cv, t, [n, c // (b * b), h * b, w * b])


# -- constant generators -------------------------------------------------------------------------------
@converter("EyeLike")
def convert_eye_like(cv: Converter, node):
    a = attributes(node)
    x = cv.input(node, 0)
    if x.type.rank != 2:
        raise cv.error(ShapeError, f"EyeLike needs a 2-D input, got rank {x.type.rank}")
    dt = onnx_dtype(a["dtype"], "EyeLike dtype") if "dtype" in a else x.type.dtype
    _computed(cv, x.type.shape, dt.itemsize, "EyeLike result")
    return [cv.constant(np.eye(*x.type.shape, k=int(a.get("k", 0)), dtype=dt.numpy), node.output[0])]


@converter("HannWindow", "HammingWindow", "BlackmanWindow")
def convert_window(cv: Converter, node):
    a = attributes(node)
    size = cv.const_input(node, 0, "size")
    if size.size != 1:
        raise cv.error(ShapeError, f"window size must be a scalar, has shape {list(size.shape)}")
    n = int(size.reshape(()))
    if n < 0:
        raise cv.error(ShapeError, f"window size must not be negative, got {n}")
    dt = onnx_dtype(a.get("output_datatype", onnx.TensorProto.FLOAT), "window output_datatype")
    _computed(cv, [n], max(dt.itemsize, 8), f"{node.op_type} result")
    periodic = bool(a.get("periodic", 1))
    denom = n if periodic else n - 1
    k = np.arange(n, dtype=np.float64) * (2 * np.pi / denom if denom > 0 else 0.0)
    if node.op_type == "HannWindow":
        w = 0.5 - 0.5 * np.cos(k)
    elif node.op_type == "HammingWindow":
        w = 25 / 46 - (1 - 25 / 46) * np.cos(k)
    else:
        w = 0.42 - 0.5 * np.cos(k) + 0.08 * np.cos(2 * k)
    return [cv.constant(w.astype(dt.numpy), node.output[0])]
