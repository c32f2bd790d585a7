"""Scale folding: multiplications by a scalar constant move into the constant weights they reach.

Part of LP-Fusion's algebra (the distributive law over matmul): BERT's
``1/sqrt(d)`` attention scale ends up inside the Q (and K) projection weights
and biases, and ``fold-constants`` evaluates ``W*c`` once at compile time.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ...errors import LpfcError
from ...ir.constants import constant_value
from ...ir.opdef import with_defaults
from ...ir.core import Function, Operation, Value
from ...ir.dialects.graph import broadcast_shapes
from ..fold_constants import make_constant
from ..rewrite import Rewriter, erase_dead


@dataclass
class _OperandEdit:
    """Multiply operand ``index`` of ``op`` by ``factor`` (a float64 array)."""

    op: Operation
    index: int
    factor: np.ndarray


@dataclass
class _AttrEdit:
    """Multiply attribute ``name`` (gemm's alpha or beta) of ``op`` by a scalar."""

    op: Operation
    name: str
    factor: float


def fold_scales_into_weights(fn: Function) -> int:
    """Fold multiplications by a scalar constant into the constant weights they reach.

    ``y = x * c`` (or ``x / c``) with ``c`` a finite non-zero splat constant is
    removed when ``x`` comes, through values that have no other user, from:

    - reshape / transpose / neg (they commute with a scalar factor);
    - one result of a split (the factor then applies to that slice only, and
      becomes a vector over the split axis; it can still reach a weight when
      that axis is the matmul's output-feature axis, as in GPT-2's fused QKV);
    - ``t + b`` / ``t - b`` with a constant b: ``(t+b)*c = t*c + b*c``, b is scaled;
    - ``t * d``, ``t / d`` or ``d / t`` with a constant d: d absorbs the factor;
    - matmul / gemm with a constant weight: the weight absorbs it (and gemm's
      bias C, or beta when C is not constant); a matmul of two activations
      (``Q @ K^T``) passes the factor on to either side;
    - gemm without a constant operand: alpha (and beta) absorb it.

    The constants are scaled by new ``graph.mul`` ops that ``fold-constants``
    evaluates, e.g. ``W * 0.42``.  Values along the way must have no other
    user: then they are only ever seen scaled, and nothing else changes
    meaning.  (Cloning a shared chain would mean computing its matmul twice,
    which costs more than the multiplication it saves, so shared chains are
    left alone.)  Returns the number of multiplications removed.
    """
    rewrites = 0
    for op in list(fn.body.ops):
        if op.parent is None:
            continue
        found = _scalar_scale(op)
        if found is None:
            continue
        x, scale = found
        edits = _plan(x, scale)
        if not edits or not _edits_keep_types(edits):
            continue
        for e in edits:
            _apply_edit(e)
        op.result.replace_all_uses_with(x)
        erase_dead(op)
        rewrites += 1
    return rewrites


def _scalar_scale(op: Operation) -> Optional[tuple[Value, np.ndarray]]:
    """(x, s) when ``op`` computes x * s for a finite non-zero scalar s, without broadcasting x."""
    if op.name not in ("graph.mul", "graph.div") or not op.result.type.dtype.is_float:
        return None
    for i in ((0, 1) if op.name == "graph.mul" else (1,)):
        c, x = constant_value(op.operands[i]), op.operands[1 - i]
        if c is None or c.size == 0 or constant_value(x) is not None or x.type != op.result.type:
            continue
        s = np.float64(c.flat[0])
        if np.all(c == c.flat[0]) and np.isfinite(s) and s != 0:
            return x, np.array(s if op.name == "graph.mul" else 1.0 / s)
    return None


def _is_constant_expr(v: Value, depth: int = 6) -> bool:
    """A value fold-constants can evaluate: a constant, or cheap ops on constants."""
    op = v.owner
    if not isinstance(op, Operation):
        return False
    if op.name == "graph.constant":
        return True
    return (depth > 0 and op.name in _CONST_EXPR_OPS and bool(op.operands)
            and all(_is_constant_expr(a, depth - 1) for a in op.operands))


_CONST_EXPR_OPS = {"graph.mul", "graph.div", "graph.add", "graph.sub", "graph.neg", "graph.reshape",
                   "graph.transpose"}


def _plan(v: Value, s: np.ndarray) -> Optional[list]:
    """Edits that make ``v`` come out multiplied by ``s`` (an array broadcasting to v), or None."""
    op = v.owner
    if len(v.uses) != 1 or not isinstance(op, Operation) or _is_constant_expr(v):
        return None
    name = op.name
    if name == "graph.reshape":
        s2 = _scale_through_reshape(s, op)
        return None if s2 is None else _plan(op.operands[0], s2)
    if name == "graph.transpose":
        return _plan(op.operands[0], _scale_through_transpose(s, op))
    if name == "graph.split":
        return _plan(op.operands[0], _scale_through_split(s, op, v.index))
    if name == "graph.neg":
        return _plan(op.operands[0], s)
    if name in ("graph.add", "graph.sub"):
        consts = [i for i, a in enumerate(op.operands) if _is_constant_expr(a)]
        if len(consts) != 1:
            return None
        rest = _plan(op.operands[1 - consts[0]], s)
        return None if rest is None else [_OperandEdit(op, consts[0], s)] + rest
    if name == "graph.mul":
        consts = [i for i, a in enumerate(op.operands) if _is_constant_expr(a)]
        return [_OperandEdit(op, consts[0], s)] if consts else None
    if name == "graph.div":  # (t/d)*s = t/(d/s), (d/t)*s = (d*s)/t
        if _is_constant_expr(op.operands[1]):
            return [_OperandEdit(op, 1, 1.0 / s)]
        return [_OperandEdit(op, 0, s)] if _is_constant_expr(op.operands[0]) else None
    if name == "graph.matmul":
        return _plan_matmul(op, s)
    if name == "graph.gemm":
        return _plan_gemm(op, s)
    return None


def _as_scalar(s: np.ndarray) -> Optional[np.ndarray]:
    return np.array(s.flat[0]) if np.all(s == s.flat[0]) else None


def _last_axis_vector(s: np.ndarray) -> Optional[np.ndarray]:
    """s as a 1-D vector when it varies along its last axis only."""
    if s.ndim == 0 or any(d != 1 for d in s.shape[:-1]):
        return None
    return s.reshape(-1)


def _scale_through_reshape(s: np.ndarray, op: Operation) -> Optional[np.ndarray]:
    scalar = _as_scalar(s)
    if scalar is not None:
        return scalar
    vec = _last_axis_vector(s)
    src, dst = op.operands[0].type.shape, op.result.type.shape
    # A per-feature scale survives a reshape that keeps the last axis whole.
    if vec is not None and src and dst and src[-1] == dst[-1] == vec.size:
        return vec
    return None


def _scale_through_transpose(s: np.ndarray, op: Operation) -> np.ndarray:
    perm = list(op.attributes["perm"])
    full = s.reshape((1,) * (len(perm) - s.ndim) + s.shape)
    return np.transpose(full, np.argsort(perm))


def _scale_through_split(s: np.ndarray, op: Operation, k: int) -> np.ndarray:
    """Split result ``k`` scaled by s = the split input scaled by s on slice k, by 1 elsewhere."""
    rank = op.operands[0].type.rank
    axis = op.attributes["axis"] % rank
    full = s.reshape((1,) * (rank - s.ndim) + s.shape)
    pieces = []
    for j, size in enumerate(op.attributes["sizes"]):
        shape = list(full.shape)
        shape[axis] = size
        pieces.append(np.broadcast_to(full, shape) if j == k else np.ones(shape))
    return np.concatenate(pieces, axis=axis)


def _plan_matmul(op: Operation, s: np.ndarray) -> Optional[list]:
    a, b = op.operands
    scalar = _as_scalar(s)
    if _is_constant_expr(b):
        if scalar is not None:
            return [_OperandEdit(op, 1, scalar)]
        vec = _last_axis_vector(s)  # per output feature = per column of the weight
        return [_OperandEdit(op, 1, vec)] if vec is not None and b.type.rank >= 2 else None
    if scalar is None:
        return None
    if _is_constant_expr(a):
        return [_OperandEdit(op, 0, scalar)]
    # (P @ Q) * c = (P * c) @ Q = P @ (Q * c): pass the factor to whichever side reaches a weight.
    return _plan(a, scalar) or _plan(b, scalar)


def _plan_gemm(op: Operation, s: np.ndarray) -> Optional[list]:
    """gemm = alpha * A @ B + beta * C."""
    a, b = op.operands[:2]
    scalar = _as_scalar(s)
    full = s.reshape((1,) * (2 - s.ndim) + s.shape)
    if _is_constant_expr(b):
        vec = _last_axis_vector(full)
        if scalar is not None:
            edits = [_OperandEdit(op, 1, scalar)]
        elif vec is not None:
            edits = [_OperandEdit(op, 1, vec.reshape(-1, 1) if op.attributes.get("trans_b") else vec)]
        else:
            return None
    elif scalar is not None:
        edits = [_OperandEdit(op, 0, scalar)] if _is_constant_expr(a) else \
            [_AttrEdit(op, "alpha", float(scalar))]
    else:
        return None
    if len(op.operands) == 3:
        if _is_constant_expr(op.operands[2]):
            edits.append(_OperandEdit(op, 2, _fit_rank(full, op.operands[2].type.rank)))
        elif scalar is not None:
            edits.append(_AttrEdit(op, "beta", float(scalar)))
        else:
            return None
    return edits


def _fit_rank(s: np.ndarray, rank: int) -> np.ndarray:
    """Drop leading unit axes of s down to ``rank``, so scaling a bias keeps its shape."""
    while s.ndim > rank and s.shape[0] == 1:
        s = s.reshape(s.shape[1:])
    return s


def _edits_keep_types(edits: list) -> bool:
    """Check that every edited op still infers its current result types (and scales floats only)."""
    by_op: dict[Operation, list] = {}
    for e in edits:
        by_op.setdefault(e.op, []).append(e)
    for op, es in by_op.items():
        types = [v.type for v in op.operands]
        try:
            for e in (e for e in es if isinstance(e, _OperandEdit)):
                t = types[e.index]
                if not t.dtype.is_float:
                    return False
                types[e.index] = t.with_shape(broadcast_shapes(t.shape, _fit_rank(e.factor, t.rank).shape))
            if op.opdef.infer(types, with_defaults(op.name, op.attributes)) != op.result_types:
                return False
        except LpfcError:  # the scaled operand no longer fits the op
            return False
    return True


def _apply_edit(e) -> None:
    if isinstance(e, _AttrEdit):
        e.op.attributes[e.name] = float(e.op.attributes.get(e.name, 1.0)) * e.factor
        return
    old = e.op.operands[e.index]
    rw = Rewriter()
    factor = make_constant(rw, e.op, _fit_rank(e.factor, old.type.rank).astype(old.type.dtype.numpy), "scale")
    scaled = rw.create(e.op, "graph.mul", [old, factor.result])
    e.op.set_operand(e.index, scaled.result)
