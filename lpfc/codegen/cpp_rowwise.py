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

from typing import Optional

import numpy as np

from ..ir.core import Operation
from ..ir.types import DType
from . import simd as _simd
from .cpp_gemm import row_helper
from .kernel_source import (KERNEL_SIGNATURE, KERNEL_SIGNATURE_CHECKED, MODEL_DESC_HEADER, PARALLEL_HEADER,
                            KernelSource, StructuralEmitter)
from .plans.blocks import operand_is_constant
from .plans.rowwise import RowwisePlan, analyse
from .precision import half_weights
from .targets import Target


def _body(info: RowwisePlan, partial: bool, half_tables: frozenset = frozenset()) -> list:
    ld = (lambda p: f"V::load_partial({p}, cnt)") if partial else (lambda p: f"V::load({p})")
    st = (lambda p, v: f"V::store_partial({p}, {v}, cnt);") if partial else (lambda p, v: f"V::store({p}, {v});")
    L = []
    for key, name in info.leaves.items():
        if key[0] == "gather":
            _, tab, ia = key
            gi = info.gathers[ia]
            if tab in half_tables:     # --precision fp16: a half table row, widened to fp32 (docs/fp16.md)
                h = f"p{tab} + {gi} * N + n"
                L.append(f"const V::vf {name} = " + (f"lpfc_f16io::load_partial({h}, cnt);" if partial
                                                     else f"lpfc_f16io::load({h});"))
                continue
            L.append(f"const V::vf {name} = {ld(f'p{tab} + {gi} * N + n')};")
        elif key[0] in ("scalar", "row"):
            L.append(f"const V::vf {name} = V::set1(p{key[1]}[{'0' if key[0] == 'scalar' else 'm'}]);")
        else:
            L.append(f"const V::vf {name} = {ld(f'p{key[1]} + ' + ('n' if key[0] == 'col' else 'm * N + n'))};")
    for t, o, argv in info.steps:
        L.append(f"const V::vf {t} = {_simd.vector_expr(o, argv)};")
    for j, t in info.yields:
        L.append(st(f"o{j} + m * N + n", t))
    L.append(st("Y + m * N + n", info.x))
    L.append(" ".join(f"(void){t};" for t in [*info.leaves.values(), *(s[0] for s in info.steps)]))
    return L


def emit_rowwise(op: Operation, target: Target, symbol: str, choice: Optional[dict] = None) -> KernelSource:
    return render_rowwise(ROWWISE_EMITTER.plan(op, symbol), target, symbol, choice)


#: --precision fp16 on NEON: constant gather tables (embeddings) are stored in half precision and widened on load
_F16_IO = r"""namespace lpfc_f16io {
inline float32x4_t load(const __fp16 *p) { return vcvt_f32_f16(vld1_f16(p)); }
inline float32x4_t load_partial(const __fp16 *p, int n) {
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int i = 0; i < n; ++i) t[i] = (float)p[i];
    return vld1q_f32(t);
}
}  // namespace lpfc_f16io
"""


def pack_table_f16(w: np.ndarray) -> np.ndarray:
    """A gather table in half precision (a value beyond fp16's range is refused)."""
    return half_weights(w, f"a gather table {list(np.shape(w))}")


def render_rowwise(info: RowwisePlan, target: Target, symbol: str, choice: Optional[dict] = None,
                   half_tables: frozenset = frozenset()) -> KernelSource:
    """``half_tables``: gather tables (argument indices, constants) to store and read in half precision."""
    isa = _simd.select_isa(target, choice)
    if half_tables and isa.name != "neon":
        raise ValueError(f"half-precision tables need the NEON SIMD layer, not {isa.name}")
    N, R = info.N, info.R
    arg_types = info.arg_types
    sig = KERNEL_SIGNATURE_CHECKED if info.gathers else KERNEL_SIGNATURE
    L = [sig.format(symbol=symbol) + " {",
         f"    namespace V = {isa.ns};",
         f"    const long N = {N}, R = {R};",
         f"    float *Y = (float *)out[{info.out}];"]
    used = sorted({k[1] for k in info.leaves})          # (the table of a gather, the argument otherwise)
    for a in used:
        ct = "__fp16" if a in half_tables else "float"
        L.append(f"    const {ct} *p{a} = (const {ct} *)in[{a}];")
    for ia in info.gathers:
        ct = "int64_t" if arg_types[ia].dtype == DType.i64 else "int32_t"
        L.append(f"    const {ct} *ix{ia} = (const {ct} *)in[{ia}];")
    for j, _ in info.yields:
        L.append(f"    float *o{j} = (float *)out[{j}];")
    # (threads only pay off beyond ~64K elements: waking a worker costs microseconds, a row of 384 ~50 ns)
    L.append("    const int threads = num_threads > 1 && R > 8 && R * N >= 65536 ? num_threads : 1;")
    L.append("    lpfc_parallel::parallel_for(threads, R, 8, [&](long m, int) {")
    for ia, g in info.gathers.items():
        tabs = {k[1] for k in info.leaves if k[0] == "gather" and k[2] == ia}
        rows = min(arg_types[t].shape[0] for t in tabs)
        L.append(f"        long {g} = (long)ix{ia}[m];")
        L.append(f"        if ({g} < 0) {g} += {rows};")
        L.append(f"        if ({g} < 0 || {g} >= {rows}) {{   // out of range: reported (the run fails); a NaN row")
        L.append(f"            lpfc_index_fault(fault, (int64_t)ix{ia}[m], {rows});")
        L.append("            for (long n = 0; n < N; ++n) Y[m * N + n] = NAN;")
        for j, _ in info.yields:
            L.append(f"            for (long n = 0; n < N; ++n) o{j}[m * N + n] = NAN;")
        L.append("            return;")
        L.append("        }")
    L.append("        long n = 0;")
    L.append("        for (; n + V::W <= N; n += V::W) {")
    L += ["            " + s for s in _body(info, False, half_tables)]
    L.append("        }")
    L.append("        if (n < N) {")
    L.append("            const int cnt = (int)(N - n);")
    L += ["            " + s for s in _body(info, True, half_tables)]
    L.append("        }")
    if info.anchor == "graph.rms_norm":
        gs = "(const float *)in[%d]" % info.scale[0] if info.scale else "(const float *)0"
        L.append(f"        {isa.ns}_row::rms_norm(Y + m * N, N, {_simd._f(info.eps)}, {gs}, "
                 f"{'true' if info.scale and info.scale[1] else 'false'});")
    elif info.anchor == "graph.layer_norm":
        gs = "(const float *)in[%d]" % info.scale[0] if info.scale else "(const float *)0"
        bs = "(const float *)in[%d]" % info.bias[0] if info.bias else "(const float *)0"
        L.append(f"        {isa.ns}_row::layer_norm(Y + m * N, N, {_simd._f(info.eps)}, {gs}, "
                 f"{'true' if info.scale and info.scale[1] else 'false'}, {bs}, "
                 f"{'true' if info.bias and info.bias[1] else 'false'});")
    else:
        L.append(f"        {isa.ns}_row::softmax(Y + m * N, N, {'true' if info.nan_to_zero else 'false'});")
    L.append("    });")
    L.append("}")
    headers = ("<math.h>", "<stdint.h>", "<string.h>", PARALLEL_HEADER) + ((MODEL_DESC_HEADER,) if info.gathers else ())
    helpers = (isa.helper(), row_helper(isa.name)) + ((_F16_IO,) if half_tables else ())
    return KernelSource(symbol=symbol, code="\n".join(L) + "\n", headers=tuple(dict.fromkeys(headers)),
                        helpers=helpers, variant=f"{isa.name} rows" + (" fp16-tables" if half_tables else ""),
                        index_checks=bool(info.gathers),
                        packed={t: pack_table_f16 for t in sorted(half_tables)})


class RowwiseEmitter(StructuralEmitter):
    """``layer_norm`` / ``softmax`` / ``embedding`` blocks (see the module docstring)."""
    name = "cpp-rowwise"
    what = "a row-wise block"
    analyse = staticmethod(analyse)
    render_plan = staticmethod(render_rowwise)

    def emit(self, op: Operation, target: Target, symbol: str, choice: Optional[dict] = None) -> KernelSource:
        plan = self.plan(op, symbol)
        half = frozenset()
        if target.precision == "fp16":   # constant tables (embeddings) in half precision
            half = frozenset(k[1] for k in plan.leaves if k[0] == "gather" and operand_is_constant(op, k[1]))
        return render_rowwise(plan, target, symbol, choice, half)


ROWWISE_EMITTER = RowwiseEmitter()

__all__ = ["ROWWISE_EMITTER", "RowwiseEmitter", "emit_rowwise", "render_rowwise"]
