"""Row-wise kernels: ``layer_norm``, ``softmax`` and ``embedding`` blocks.

Accepts ``graph.fused`` blocks of kind ``layer_norm``, ``softmax`` or ``embedding`` whose region is

* a prologue of element-wise f32 ops (with a vector form in the SIMD layer), reshapes, and
  row gathers ``graph.gather(table [V, N], indices, axis = 0)`` (table and indices block
  arguments, integer indices, negative ones counting from the end);
* exactly one anchor: ``graph.layer_norm`` over the last axis only (scale/bias of ``N`` or 1
  elements), ``graph.rms_norm`` likewise (scale only), or ``graph.softmax`` over the last axis
  (``nan_to_zero`` honoured);
* after it only reshapes; yields: the anchor's result and any prologue values (GPT-2's
  embedding also yields the sum before its LayerNorm).

Bare ``graph.layer_norm``/``graph.softmax`` ops outside blocks count as one-op blocks.
Every other operand of the prologue is a block argument that is a scalar, a row of ``N``,
one value per row or a whole tensor of the anchor's rows.  Rows run in parallel (lpfc_parallel.hpp);
each row's prologue is computed a vector at a time into the output row, then normalised in
place with the helpers of ``templates/rowwise.h.j2``.  A gather index out of range is reported through
the kernel's fault slot (``lpfc_index_fault``): the run returns LPFC_ERR_EXECUTION naming the op and the
index (the row is written NaN first; the check is the one compare the kernel always made).
"""
from __future__ import annotations

import math
from typing import Optional

from ..ir.core import Operation
from ..ir.types import DType
from . import simd as _simd
from .cpp_gemm import broadcast_mode, kernel_view, row_helper
from .kernel_source import (KERNEL_SIGNATURE, KERNEL_SIGNATURE_CHECKED, MODEL_DESC_HEADER, PARALLEL_HEADER,
                            KernelSource, StructuralEmitter, register_emitter)
from .targets import Target

_INT = (DType.i64, DType.i32)


def analyse(op: Operation) -> Optional[dict]:
    view = kernel_view(op, {"graph.layer_norm": "layer_norm", "graph.rms_norm": "layer_norm",
                            "graph.softmax": "softmax"})
    if view is None:
        return None
    kind, ops, args, yielded = view
    if kind not in ("layer_norm", "softmax", "embedding"):
        return None
    arg_index = {id(a): i for i, a in enumerate(args)}
    anchors = [o for o in ops if o.name in ("graph.layer_norm", "graph.rms_norm", "graph.softmax")]
    if len(anchors) != 1:
        return None
    anchor = anchors[0]
    x = anchor.operands[0]
    if x.type.dtype != DType.f32 or x.type.rank == 0:
        return None
    N = x.type.shape[-1]
    R = math.prod(x.type.shape[:-1])
    if N == 0 or R == 0:
        return None
    axis = anchor.attributes.get("axis", -1)
    axis = axis + x.type.rank if axis < 0 else axis
    if axis != x.type.rank - 1:
        return None
    leaves: dict = {}           # key -> temp
    steps: list = []            # (temp, op, args)
    names: dict = {}            # id(Value) -> temp
    gathers: dict = {}          # idx arg -> index temp name

    def leaf(key):
        if key not in leaves:
            leaves[key] = f"l{len(leaves)}"
        return leaves[key]

    a_pos = ops.index(anchor)
    for o in ops[:a_pos]:
        if o.name == "graph.reshape":
            src = o.operands[0]
            if id(src) in names:
                names[id(o.results[0])] = names[id(src)]
                continue
            if id(src) in arg_index:
                continue        # a reshape of an argument: classified where it is used
            return None
        if o.name == "graph.gather":
            tab, idx = o.operands
            if id(tab) not in arg_index or id(idx) not in arg_index or tab.type.dtype != DType.f32:
                return None
            if idx.type.dtype not in _INT or tab.type.rank != 2 or tab.type.shape[1] != N:
                return None
            if o.attributes.get("axis", 0) not in (0, -2) or math.prod(idx.type.shape) != R:
                return None
            if math.prod(o.results[0].type.shape) != R * N or o.results[0].type.shape[-1] != N:
                return None
            ia = arg_index[id(idx)]
            gathers.setdefault(ia, f"g{len(gathers)}")
            names[id(o.results[0])] = leaf(("gather", arg_index[id(tab)], ia))
            continue
        if not o.has_trait("elementwise") or len(o.results) != 1 or o.results[0].type.dtype != DType.f32:
            return None
        rshape = o.results[0].type.shape
        if math.prod(rshape) != R * N or (rshape and rshape[-1] != N):
            return None
        argt = []
        for v in o.operands:
            if v.type.dtype != DType.f32:
                return None
            if id(v) in names:
                argt.append(names[id(v)])
                continue
            src = v
            while id(src) not in arg_index and getattr(src.owner, "name", None) == "graph.reshape" \
                    and src.owner in ops:
                src = src.owner.operands[0]
            if id(src) not in arg_index:
                return None
            mode = broadcast_mode(v.type.shape, rshape, N)
            if mode is None or (src is not v and mode != "full"):
                return None
            argt.append(leaf((mode, arg_index[id(src)])))
        if _simd.vector_expr(o, argt) is None:
            return None
        t = f"t{len(steps) + 1}"
        steps.append((t, o, argt))
        names[id(o.results[0])] = t
    if id(x) in names:
        xt = names[id(x)]
    elif id(x) in arg_index:
        xt = leaf(("full", arg_index[id(x)]))
    else:
        return None
    info = {"anchor": anchor.name, "N": N, "R": R, "x": xt, "leaves": leaves, "steps": steps,
            "gathers": gathers, "arg_types": [a.type for a in args]}
    if anchor.name in ("graph.layer_norm", "graph.rms_norm"):
        extra = []
        for w in anchor.operands[1:]:
            if id(w) not in arg_index or w.type.dtype != DType.f32 or math.prod(w.type.shape) not in (1, N):
                return None
            extra.append((arg_index[id(w)], math.prod(w.type.shape) == 1 and N != 1))
        info.update(eps=float(anchor.attributes.get("epsilon", 1e-5)),
                    scale=extra[0] if extra else None, bias=extra[1] if len(extra) > 1 else None)
    else:
        info["nan_to_zero"] = bool(anchor.attributes.get("nan_to_zero", False))
    out_val = anchor.results[0]
    for o in ops[a_pos + 1:]:
        if o.name != "graph.reshape" or o.operands[0] is not out_val:
            return None
        out_val = o.results[0]
    yields, y_anchor = [], None
    for j, v in enumerate(yielded):
        if v is out_val and y_anchor is None:
            y_anchor = j
        elif id(v) in names and v.type.dtype == DType.f32 and math.prod(v.type.shape) == R * N:
            yields.append((j, names[id(v)]))
        else:
            return None
    if y_anchor is None:
        return None
    info["out"] = y_anchor
    info["yields"] = yields
    return info


def _body(info: dict, partial: bool) -> list:
    ld = (lambda p: f"V::load_partial({p}, cnt)") if partial else (lambda p: f"V::load({p})")
    st = (lambda p, v: f"V::store_partial({p}, {v}, cnt);") if partial else (lambda p, v: f"V::store({p}, {v});")
    L = []
    for key, name in info["leaves"].items():
        if key[0] == "gather":
            _, tab, ia = key
            gi = info["gathers"][ia]
            L.append(f"const V::vf {name} = {ld(f'p{tab} + {gi} * N + n')};")
        elif key[0] in ("scalar", "row"):
            L.append(f"const V::vf {name} = V::set1(p{key[1]}[{'0' if key[0] == 'scalar' else 'm'}]);")
        else:
            L.append(f"const V::vf {name} = {ld(f'p{key[1]} + ' + ('n' if key[0] == 'col' else 'm * N + n'))};")
    for t, o, argv in info["steps"]:
        L.append(f"const V::vf {t} = {_simd.vector_expr(o, argv)};")
    for j, t in info["yields"]:
        L.append(st(f"o{j} + m * N + n", t))
    L.append(st("Y + m * N + n", info["x"]))
    L.append(" ".join(f"(void){t};" for t in [*info["leaves"].values(), *(s[0] for s in info["steps"])]))
    return L


def emit_rowwise(op: Operation, target: Target, symbol: str, choice: Optional[dict] = None) -> KernelSource:
    info = analyse(op)
    if info is None:
        raise ValueError(f"{symbol}: not a row-wise block this emitter accepts")
    isa = _simd.select_isa(target, choice)
    N, R = info["N"], info["R"]
    arg_types = info["arg_types"]
    sig = KERNEL_SIGNATURE_CHECKED if info["gathers"] else KERNEL_SIGNATURE
    L = [sig.format(symbol=symbol) + " {",
         f"    namespace V = {isa.ns};",
         f"    const long N = {N}, R = {R};",
         f"    float *Y = (float *)out[{info['out']}];"]
    used = sorted({k[1] for k in info["leaves"]})          # (the table of a gather, the argument otherwise)
    for a in used:
        L.append(f"    const float *p{a} = (const float *)in[{a}];")
    for ia in info["gathers"]:
        ct = "int64_t" if arg_types[ia].dtype == DType.i64 else "int32_t"
        L.append(f"    const {ct} *ix{ia} = (const {ct} *)in[{ia}];")
    for j, _ in info["yields"]:
        L.append(f"    float *o{j} = (float *)out[{j}];")
    # (threads only pay off beyond ~64K elements: waking a worker costs microseconds, a row of 384 ~50 ns)
    L.append("    const int threads = num_threads > 1 && R > 8 && R * N >= 65536 ? num_threads : 1;")
    L.append("    lpfc_parallel::parallel_for(threads, R, 8, [&](long m, int) {")
    for ia, g in info["gathers"].items():
        tabs = {k[1] for k in info["leaves"] if k[0] == "gather" and k[2] == ia}
        rows = min(arg_types[t].shape[0] for t in tabs)
        L.append(f"        long {g} = (long)ix{ia}[m];")
        L.append(f"        if ({g} < 0) {g} += {rows};")
        L.append(f"        if ({g} < 0 || {g} >= {rows}) {{   // out of range: reported (the run fails); a NaN row")
        L.append(f"            lpfc_index_fault(fault, (int64_t)ix{ia}[m], {rows});")
        L.append("            for (long n = 0; n < N; ++n) Y[m * N + n] = NAN;")
        for j, _ in info["yields"]:
            L.append(f"            for (long n = 0; n < N; ++n) o{j}[m * N + n] = NAN;")
        L.append("            return;")
        L.append("        }")
    L.append("        long n = 0;")
    L.append("        for (; n + V::W <= N; n += V::W) {")
    L += ["            " + s for s in _body(info, False)]
    L.append("        }")
    L.append("        if (n < N) {")
    L.append("            const int cnt = (int)(N - n);")
    L += ["            " + s for s in _body(info, True)]
    L.append("        }")
    if info["anchor"] == "graph.rms_norm":
        gs = "(const float *)in[%d]" % info["scale"][0] if info["scale"] else "(const float *)0"
        L.append(f"        {isa.ns}_row::rms_norm(Y + m * N, N, {_simd._f(info['eps'])}, {gs}, "
                 f"{'true' if info['scale'] and info['scale'][1] else 'false'});")
    elif info["anchor"] == "graph.layer_norm":
        gs = "(const float *)in[%d]" % info["scale"][0] if info["scale"] else "(const float *)0"
        bs = "(const float *)in[%d]" % info["bias"][0] if info["bias"] else "(const float *)0"
        L.append(f"        {isa.ns}_row::layer_norm(Y + m * N, N, {_simd._f(info['eps'])}, {gs}, "
                 f"{'true' if info['scale'] and info['scale'][1] else 'false'}, {bs}, "
                 f"{'true' if info['bias'] and info['bias'][1] else 'false'});")
    else:
        L.append(f"        {isa.ns}_row::softmax(Y + m * N, N, {'true' if info['nan_to_zero'] else 'false'});")
    L.append("    });")
    L.append("}")
    headers = ("<math.h>", "<stdint.h>", "<string.h>", PARALLEL_HEADER) + ((MODEL_DESC_HEADER,) if info["gathers"] else ())
    return KernelSource(symbol=symbol, code="\n".join(L) + "\n", headers=tuple(dict.fromkeys(headers)),
                        helpers=(isa.helper(), row_helper(isa.name)), variant=f"{isa.name} rows",
                        index_checks=bool(info["gathers"]))


class RowwiseEmitter(StructuralEmitter):
    """``layer_norm`` / ``softmax`` / ``embedding`` blocks (see the module docstring)."""
    name = "cpp-rowwise"
    analyse = staticmethod(analyse)
    emit_fn = staticmethod(emit_rowwise)


ROWWISE_EMITTER = RowwiseEmitter()
register_emitter(ROWWISE_EMITTER, 110)

__all__ = ["ROWWISE_EMITTER", "RowwiseEmitter", "analyse", "emit_rowwise"]
