"""GEMM kernels: register-blocked micro-kernels over weights packed at compile time, with fused epilogues.

Accepts ``graph.fused`` blocks of kind ``gemm`` and ``gemm_layer_norm`` whose
region is exactly

* one ``graph.matmul`` (activations ``[..., M, K]`` x a **constant** ``[K, N]``) or
  ``graph.gemm`` (``trans_a = false``; ``B`` constant ``[K, N]`` or ``[N, K]`` with ``trans_b``;
  any ``alpha``; an optional ``C`` that broadcasts along rows or columns, times ``beta``),
  reading block arguments directly, optionally preceded by a row select
  (``graph.gather`` of one constant row of the activations, BERT's pooler) or by
  ``graph.split``s of the activations along their last axis (a column slice read with a
  larger row stride; the other parts yielded as they are become row copies: MobileBERT);
* then element-wise ops and reshapes on that result (the epilogue), each other
  operand being a block argument that is a scalar, a row of ``N`` (bias), one
  value per row, or the whole ``[M, N]`` tensor (residual) - all f32;
* for ``gemm_layer_norm``: one ``graph.layer_norm`` over the last axis only (length
  ``N``), scale and bias of ``N`` elements (or none), or one ``graph.rms_norm`` likewise (scale
  only: Llama's RMSNorm, ``"rms"`` in the plan), followed only by reshapes;
* yields: values of the epilogue (any number, e.g. GPT-2's residual and its LayerNorm).

A bare ``graph.matmul``/``graph.gemm`` outside blocks (``--no-fusion``) is taken as a one-op
block.  Anything else is declined, and the generic emitter takes it.  The checks are
structural (op kinds, shapes, dtypes, which operands are constants), never on names.

Code: the per-ISA driver (``templates/gemm_driver.h.j2``, in the SIMD layer's
vocabulary) is a helper shared by every GEMM kernel of a model; each kernel is a
function that builds its epilogue as a lambda (vectorised through the SIMD layer,
or scalar through :mod:`.scalar_expr` when an op has no vector form) and calls
the driver.  Layers with the same shapes and epilogue get identical code, which
the model generator deduplicates.
"""
from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path
from typing import Optional

import numpy as np

from ..ir.core import Operation
from ..ir.types import DType
from . import simd as _simd
from .kernel_source import KERNEL_SIGNATURE, PARALLEL_HEADER, KernelSource, StructuralEmitter
from .plans import Decline
from .plans.gemm import Epilogue, GemmNorm, GemmPlan, analyse, oriented_weight
from .precision import half_weights
from .targets import Target

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
#: A one-row GEMM (M = 1) is split into about this many units of whole panels (claimed dynamically by the threads).
GEMV_UNITS = 16

@functools.lru_cache(maxsize=None)
def _jinja_env():
    import jinja2
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)), undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True, autoescape=False)


def render(template: str, **kw) -> str:
    return _jinja_env().get_template(template).render(**kw)


@functools.lru_cache(maxsize=None)
def gemm_driver_helper(isa_name: str) -> str:
    isa = _simd.ISAS[isa_name]
    template = "gemm_driver_neon.h.j2" if isa.name == "neon" else "gemm_driver.h.j2"   # NEON: A packed, lane FMAs
    return render(template, isa=isa.name, ns=isa.ns, mr=isa.mr, nr=isa.nr)


#: --precision fp16 on NEON (templates/gemm_driver_neon_f16.h.j2): an 8 x 8 tile of half products, whose sums
#: over FP16_KH k's at a time are added into fp32 accumulators (docs/fp16.md)
FP16_MR, FP16_NR, FP16_KH = 8, 8, 16


@functools.lru_cache(maxsize=None)
def gemm_driver_f16_helper(isa_name: str) -> str:
    isa = _simd.ISAS[isa_name]
    return render("gemm_driver_neon_f16.h.j2", ns=isa.ns, kh=FP16_KH)


def _fp16(target: Target, isa) -> bool:
    """Whether this GEMM gets the half-precision kernel (``--precision fp16``; with_precision checked the target)."""
    if target.precision != "fp16":
        return False
    if isa.name != "neon":
        raise ValueError(f"--precision fp16 needs the NEON SIMD layer, not {isa.name}")
    return True


@functools.lru_cache(maxsize=None)
def gemv_driver_helper(isa_name: str, half: bool = False) -> str:
    """The one-row driver (``templates/gemv_driver.h.j2``) over the same packed panels; ``half``: fp16 panels."""
    isa = _simd.ISAS[isa_name]
    return render("gemv_driver.h.j2", isa=isa.name, ns=isa.ns, nr=isa.nr, half=half)


@functools.lru_cache(maxsize=None)
def row_helper(isa_name: str) -> str:
    isa = _simd.ISAS[isa_name]
    return render("rowwise.h.j2", isa=isa.name, ns=isa.ns)


# -- packing ---------------------------------------------------------------------------------------------

def pack_b(w: np.ndarray, *, nr: int, trans_b: bool, alpha: float) -> np.ndarray:
    """B [K, N] (or [N, K] with trans_b) -> panels [ceil(N/nr), K, nr], zero-padded, times alpha."""
    w = oriented_weight(w, trans_b, alpha)
    k, n = w.shape
    p = -(-n // nr)
    padded = np.zeros((k, p * nr), dtype=np.float32)
    padded[:, :n] = w
    return np.ascontiguousarray(padded.reshape(k, p, nr).transpose(1, 0, 2))


def pack_b_half(w: np.ndarray, *, nr: int, trans_b: bool, alpha: float) -> np.ndarray:
    """:func:`pack_b`'s panels stored as fp16 (round to nearest even): one-row GEMMs' weight-only half storage
    (computed in fp32) and ``--precision fp16``'s panels.  A weight beyond fp16's range (65504) is refused, never
    stored as infinity."""
    return half_weights(pack_b(w, nr=nr, trans_b=trans_b, alpha=alpha), f"a GEMM weight {list(np.shape(w))}")


# -- code ------------------------------------------------------------------------------------------------

def _leaf_index(mode: str) -> str:
    return {"scalar": "0", "col": "n", "row": "m", "full": "m * N + n"}[mode]


def epilogue_lines(epi: Epilogue, plan_yields: list, x_store: Optional[str], vector: bool, partial: bool,
                   helpers: set) -> list:
    """Statements computing the epilogue at (m, n): vectors of W columns (``cnt`` valid when partial); the
    scalar form adds the C helpers it calls to ``helpers``."""
    from .scalar_expr import c_expr, c_helpers_needed

    lines = []
    if vector:
        ld = (lambda p: f"V::load_partial({p}, cnt)") if partial else (lambda p: f"V::load({p})")
        st = (lambda p, v: f"V::store_partial({p}, {v}, cnt);") if partial else (lambda p, v: f"V::store({p}, {v});")
        T = "V::vf"
        lines.append(f"const {T} acc = {ld('C + m * N + n')};")
        for (arg, mode), name in epi.leaves.items():
            if mode in ("scalar", "row"):
                lines.append(f"const {T} {name} = V::set1(p{arg}[{_leaf_index(mode)}]);")
            else:
                lines.append(f"const {T} {name} = {ld(f'p{arg} + {_leaf_index(mode)}')};")
        for t, o, argv in epi.steps:
            if isinstance(o, tuple):
                e = (f"V::add({argv[0]}, {argv[1]})" if o[0] == "add"
                     else f"V::fma(V::set1({_simd._f(o[1])}), {argv[1]}, {argv[0]})")
            else:
                e = _simd.vector_expr(o, argv)
            lines.append(f"const {T} {t} = {e};")
        for j, name in plan_yields:
            lines.append(st(f"o{j} + m * N + n", name))
        if x_store is not None:
            lines.append(st("C + m * N + n", x_store))
        lines.append(" ".join(f"(void){t};" for t in ["acc", *epi.leaves.values(), *(s[0] for s in epi.steps)]))
    else:
        lines.append("const float acc = C[m * N + n];")
        for (arg, mode), name in epi.leaves.items():
            lines.append(f"const float {name} = p{arg}[{_leaf_index(mode)}];")
        f32 = DType.f32
        for t, o, argv in epi.steps:
            if isinstance(o, tuple):
                e = (f"({argv[0]} + {argv[1]})" if o[0] == "add"
                     else f"({argv[0]} + {_simd._f(o[1])} * {argv[1]})")
            else:
                e = c_expr(o.name, dict(o.attributes), argv, [f32] * len(argv), f32)
                helpers.update(c_helpers_needed(o.name, [f32] * len(argv)))
            lines.append(f"const float {t} = {e};")
        for j, name in plan_yields:
            lines.append(f"o{j}[m * N + n] = {name};")
        if x_store is not None:
            lines.append(f"C[m * N + n] = {x_store};")
        lines.append(" ".join(f"(void){t};" for t in ["acc", *epi.leaves.values(), *(s[0] for s in epi.steps)]))
    return lines


def blocking(plan: GemmPlan, isa, choice: Optional[dict]) -> tuple:
    """(MC, NC, KC): units of about 128 rows (all of BERT's 128 tokens: each weight panel streams from memory
    once, not once per row block) x 192 columns (N = 384 still makes 2 units for 2 threads, N = 768 four); K in
    even blocks of at most 6144/NR (384 for AVX2: a KC x NR weight panel slice of ~24 KiB stays in L1).  A
    LayerNorm epilogue runs over blocks of rows once every unit is done (``ln_whole_rows=True``: units of ~64
    whole rows normalised while still in cache, the previous default; 4-5% slower on BERT's and MiniLM's LN GEMMs,
    whose weights then stream from memory once per row block)."""
    mr, nr = isa.mr, isa.nr
    M, N, K = plan.M, plan.N, plan.K
    c = choice or {}
    whole_rows = plan.ln is not None and c.get("ln_whole_rows", False)
    mblocks = max(1, round(M / c.get("mc_target", 64 if whole_rows else 128)))
    MC = mr * -(-(-(-M // mr)) // mblocks)
    if whole_rows:
        NC = nr * -(-N // nr)
    else:
        nblocks = max(1, round(N / c.get("nc_target", 192)))
        NC = nr * -(-(-(-N // nr)) // nblocks)
    kmax = c.get("kc_max", max(64, 6144 // nr))     # a KC x NR panel slice of ~24 KiB stays in L1
    KC = -(-K // -(-K // kmax))
    return MC, NC, KC


def emit_gemm(op: Operation, target: Target, symbol: str, choice: Optional[dict] = None) -> KernelSource:
    return render_gemm(GEMM_EMITTER.plan(op, symbol), target, symbol, choice)


def render_gemm(plan: GemmPlan, target: Target, symbol: str, choice: Optional[dict] = None) -> KernelSource:
    """The kernel of ``plan`` (read-only: it is shared by every variant of the op)."""
    isa = _simd.select_isa(target, choice)
    # one row (a decode step) takes the one-row driver; under --precision fp16 its weights are fp16 (fp32 arithmetic)
    fp16 = _fp16(target, isa) and plan.M != 1
    vector = plan.epi.vector
    if choice and "vector_epilogue" in choice:
        vector = vector and bool(choice["vector_epilogue"])
    MC, NC, KC = blocking(plan, replace(isa, mr=FP16_MR, nr=FP16_NR) if fp16 else isa, choice)
    M, N, K = plan.M, plan.N, plan.K
    ln = plan.ln
    c_out = ln.out if ln is not None else plan.yields[0][0]
    yields = [(j, t) for j, t in plan.yields if not (ln is None and j == c_out and t == "acc")]
    x_store = ln.x if ln is not None else None
    epi_helpers: set = set()
    L = []
    L.append(KERNEL_SIGNATURE.format(symbol=symbol) + " {")
    L.append(f"    namespace V = {isa.ns};")
    L.append(f"    const long N = {N};")
    L.append(f"    const float *A = (const float *)in[{plan.a_arg}] + {plan.a_row * plan.lda + plan.a_col}L;")
    for j, arg, off, width, rowlen, rows in plan.copies:      # split parts that are yielded as they are
        L.append(f"    for (long r = 0; r < {rows}L; ++r) memcpy((float *)out[{j}] + r * {width}L, "
                 f"(const float *)in[{arg}] + {off}L + r * {rowlen}L, sizeof(float) * {width});")
    if fp16:
        L.append(f"    const __fp16 *Bp = (const __fp16 *)in[{plan.b_arg}];")
    else:
        L.append(f"    const float *Bp = (const float *)in[{plan.b_arg}];")
    L.append(f"    float *C = (float *)out[{c_out}];")
    for arg in sorted({a for a, _ in plan.epi.leaves}):
        L.append(f"    const float *p{arg} = (const float *)in[{arg}];")
    for j in sorted({j for j, _ in yields}):
        if j != c_out:
            L.append(f"    float *o{j} = (float *)out[{j}];")
        else:
            L.append(f"    float *o{j} = C;")
    body_full = epilogue_lines(plan.epi, yields, x_store, vector, False, epi_helpers)
    if not yields and x_store in (None, "acc"):
        L.append("    auto epi = [](long, int, long, int) {};")
    else:
        L.append("    auto epi = [&](long m0, int rows, long n0, int cols) {")
        L.append("        for (long m = m0; m < m0 + rows; ++m) {")
        if vector:
            body_part = epilogue_lines(plan.epi, yields, x_store, True, True, epi_helpers)
            L.append("            long n = n0;")
            L.append("            for (; n + V::W <= n0 + cols; n += V::W) {")
            L += ["                " + s for s in body_full]
            L.append("            }")
            L.append("            if (n < n0 + cols) {")
            L.append("                const int cnt = (int)(n0 + cols - n);")
            L += ["                " + s for s in body_part]
            L.append("            }")
        else:
            L.append("            for (long n = n0; n < n0 + cols; ++n) {")
            L += ["                " + s for s in body_full]
            L.append("            }")
        L.append("        }")
        L.append("    };")
    if ln is not None:
        L += _ln_rows_lines(ln, N, isa.ns)
    else:
        L.append("    auto rows = [](long, long, long, long) {};")
    if plan.int8:     # quantize-int8: the int8 driver and weight packing (cpp_gemm_int8.py); same epilogue
        return _render_int8(plan, target, symbol, choice, L, isa, epi_helpers, vector)
    gemv = M == 1       # a decode step's projections, a pooler: bandwidth-bound, their own driver
    half = gemv and "fp16" in (target.weights, target.precision)     # lpfc.compile(weights= / precision="fp16")
    if gemv:
        pu = max(1, -(-(-(-N // isa.nr)) // GEMV_UNITS))
        if half:
            L[L.index(f"    const float *Bp = (const float *)in[{plan.b_arg}];")] = \
                f"    const uint16_t *Bp = (const uint16_t *)in[{plan.b_arg}];"
        L.append(f"    {isa.ns}_gemv{'_h' if half else ''}::run(N, {K}L, A, Bp, C, {pu}L, num_threads, epi, rows);")
    else:
        L.append(f"    {isa.ns}_gemm{'_f16' if fp16 else ''}::run<{plan.lda}L>({M}L, N, {K}L, A, Bp, C, N, {MC}L, "
                 f"{NC}L, {KC}L, num_threads, epi, rows);")
    L.append("}")
    code = "\n".join(L) + "\n"
    from .scalar_expr import C_HELPERS, helper_code
    driver = (gemv_driver_helper(isa.name, half) if gemv else
              gemm_driver_f16_helper(isa.name) if fp16 else gemm_driver_helper(isa.name))
    helpers = [isa.helper(), driver] + ([row_helper(isa.name)] if ln is not None else [])
    if epi_helpers:
        helpers.insert(0, helper_code(sorted(epi_helpers, key=list(C_HELPERS).index)))
    headers = ("<math.h>", "<stdint.h>", "<string.h>", PARALLEL_HEADER)
    nr = FP16_NR if fp16 else isa.nr
    pack = pack_b_half if half or fp16 else pack_b
    packed = {plan.b_arg: functools.partial(pack, nr=nr, trans_b=plan.trans_b, alpha=plan.alpha)}
    tile = f"fp16 {FP16_MR}x{FP16_NR}" if fp16 else f"{isa.mr}x{isa.nr}"
    return KernelSource(symbol=symbol, code=code, headers=tuple(dict.fromkeys(headers)), helpers=tuple(helpers),
                        packed=packed, variant=(f"{isa.name} gemv 1x{isa.nr} {pu} panels a unit" + (" fp16 weights" if half else "")
                                                if gemv else
                                                f"{isa.name} {tile} MC={MC} NC={NC} KC={KC}")
                        + ("" if vector else " scalar-epilogue"))


def _render_int8(plan: GemmPlan, target: Target, symbol: str, choice, lines: list, isa, epi_helpers: set,
                 vector: bool) -> KernelSource:
    from .cpp_gemm_int8 import finish_int8
    from .scalar_expr import C_HELPERS, helper_code
    helpers = [isa.helper()] + ([row_helper(isa.name)] if plan.ln is not None else [])
    if epi_helpers:
        helpers.insert(0, helper_code(sorted(epi_helpers, key=list(C_HELPERS).index)))
    return finish_int8(plan, target, symbol, choice, lines, isa, helpers, vector)


def _ln_rows_lines(ln: GemmNorm, N: int, ns: str) -> list:
    """LayerNorm over each finished row of C (the LN input), in place (the row helper: numpy's two passes)."""
    g = f"(const float *)in[{ln.scale}]" if ln.scale is not None else "(const float *)0"
    b = f"(const float *)in[{ln.bias}]" if ln.bias is not None else "(const float *)0"
    gs = "true" if ln.scale_scalar else "false"
    bs = "true" if ln.bias_scalar else "false"
    call = (f"rms_norm(C + m * N, N, {_simd._f(ln.eps)}, {g}, {gs});" if ln.rms else
            f"layer_norm(C + m * N, N, {_simd._f(ln.eps)}, {g}, {gs}, {b}, {bs});")
    return ["    auto rows = [&](long m0, long mc, long, long) {",
            "        for (long m = m0; m < m0 + mc; ++m)",
            f"            {ns}_row::{call}",
            "    };"]


class GemmEmitter(StructuralEmitter):
    """``gemm`` / ``gemm_layer_norm`` blocks with a constant weight (see the module docstring)."""
    name = "cpp-gemm"
    what = "a GEMM block"
    analyse = staticmethod(analyse)
    render_plan = staticmethod(render_gemm)

    def variants(self, op: Operation, target: Target) -> list:
        old = {"mc_target": 64, "nc_target": 384}      # the default before the 128 x 192 units
        plan = analyse(op)
        if not isinstance(plan, Decline) and plan.ln is not None:
            old = {"mc_target": 64, "ln_whole_rows": True}
        return [{}, old, {"nc_target": 384}, {"kc_max": 256}, {"mc_target": 32}, {"kc_max": 100000}]


GEMM_EMITTER = GemmEmitter()

__all__ = ["GEMM_EMITTER", "GemmEmitter", "GemmPlan", "emit_gemm", "pack_b", "render", "render_gemm"]
