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
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ..ir.constants import constant_root, constant_value
from ..ir.core import Operation, Value
from ..ir.types import DType
from . import simd as _simd
from .kernel_source import KERNEL_SIGNATURE, PARALLEL_HEADER, KernelSource, StructuralEmitter, register_emitter
from .targets import Target

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"

_RESHAPES = ("graph.reshape",)


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


@functools.lru_cache(maxsize=None)
def row_helper(isa_name: str) -> str:
    isa = _simd.ISAS[isa_name]
    return render("rowwise.h.j2", isa=isa.name, ns=isa.ns)


# -- structural helpers (shared with the other C++ emitters) -------------------------------------------------

def operand_is_constant(op: Operation, index: int) -> bool:
    return constant_root(op.operands[index]) is not None


def body_ops(op: Operation) -> Optional[list]:
    """The region's ops without the terminator, or None when the op is not a one-block fused region."""
    if op.name != "graph.fused" or len(op.regions) != 1:
        return None
    block = op.regions[0].block
    ops = list(block.ops)
    if not ops or ops[-1].name != "graph.yield":
        return None
    return ops[:-1]


def kernel_view(op: Operation, bare_kinds: dict) -> Optional[tuple]:
    """(kind, ops, args, yielded values) of a kernel op: a fused block's region, or a bare graph op (a kernel
    of its own outside blocks, e.g. with --no-fusion) seen as a one-op block whose arguments are its operands.
    ``bare_kinds`` maps the bare op names an emitter takes to the block kind they stand for."""
    if op.name == "graph.fused":
        ops = body_ops(op)
        if not ops:
            return None
        block = op.regions[0].block
        return op.attributes.get("kind"), ops, list(block.args), list(block.ops[-1].operands)
    if op.name not in bare_kinds or op.regions or len({id(v) for v in op.operands}) != len(op.operands):
        return None
    return bare_kinds[op.name], [op], list(op.operands), list(op.results)


def broadcast_mode(shape: tuple, value_shape: tuple, n: int) -> Optional[str]:
    """How an operand of ``shape`` broadcast to ``value_shape`` (a row-major view of [M, N]) is indexed:
    ``scalar``, ``col`` (by column n: a bias), ``row`` (by row m), ``full`` (by m*N + n), or None."""
    if len(shape) > len(value_shape):
        if any(d != 1 for d in shape[:len(shape) - len(value_shape)]):
            return None
        shape = shape[len(shape) - len(value_shape):]
    s = (1,) * (len(value_shape) - len(shape)) + tuple(shape)
    if all(d == 1 for d in s):
        return "scalar"
    if tuple(s) == tuple(value_shape):
        return "full"
    # the split point j with prod(value_shape[j:]) == n
    for j in range(len(value_shape) + 1):
        if math.prod(value_shape[j:]) == n:
            head, tail = s[:j], s[j:]
            if all(d == 1 for d in head) and tuple(tail) == tuple(value_shape[j:]):
                return "col"
            if all(d == 1 for d in tail) and tuple(head) == tuple(value_shape[:j]):
                return "row"
    return None


# -- the block analysis ----------------------------------------------------------------------------------

@dataclass
class Epilogue:
    """Element-wise ops on an [M, N] tile, as straight-line statements over named temporaries."""
    n: int
    leaves: dict = field(default_factory=dict)     # (arg, mode) -> temp name
    steps: list = field(default_factory=list)      # (temp, op, [arg temps]) in order
    names: dict = field(default_factory=dict)      # id(Value) -> temp name (tile values only)
    vector: bool = True
    helpers: set = field(default_factory=set)

    def leaf(self, arg: int, mode: str) -> str:
        key = (arg, mode)
        if key not in self.leaves:
            self.leaves[key] = f"l{len(self.leaves)}"
        return self.leaves[key]


@dataclass
class GemmPlan:
    M: int
    N: int
    K: int
    a_arg: int
    a_row: int               # row offset into A (row select prologue), in rows of K
    b_arg: int
    trans_b: bool
    alpha: float
    epi: Epilogue
    yields: list             # [(out index, temp name)]
    ln: Optional[dict] = None  # {"x": temp, "eps": float, "scale": arg|None, "bias": arg|None, "out": j}
    lda: int = 0             # row stride of A (K, or the full row when A is a column slice)
    a_col: int = 0           # column offset into A's rows (a split prologue)
    copies: list = field(default_factory=list)   # [(out j, arg, col offset, width, row length, rows)]


def _f32(v: Value) -> bool:
    return v.type.dtype == DType.f32


def analyse(op: Operation) -> Optional[GemmPlan]:
    view = kernel_view(op, {"graph.matmul": "gemm", "graph.gemm": "gemm"})
    if view is None:
        return None
    kind, ops, args, yielded = view
    if kind not in ("gemm", "gemm_layer_norm"):
        return None
    arg_index = {id(a): i for i, a in enumerate(args)}
    pos = 0
    a_row = 0
    row_select: Optional[Value] = None
    # optional prologue: select one row of the activations with a constant index (BERT's pooler)
    if ops[0].name == "graph.gather":
        g = ops[0]
        data, idx = g.operands
        if id(data) not in arg_index or id(idx) not in arg_index or not _f32(data):
            return None
        iv = constant_value(op.operands[arg_index[id(idx)]], through_reshapes=True)
        if iv is None or iv.ndim != 0 or not np.issubdtype(iv.dtype, np.integer):
            return None
        shape = data.type.shape
        axis = g.attributes.get("axis", 0)
        axis = axis + len(shape) if axis < 0 else axis
        if len(shape) < 2 or axis != len(shape) - 2 or any(d != 1 for d in shape[:-2]):
            return None
        rows = shape[-2]
        r = int(iv)
        r = r + rows if r < 0 else r
        if not 0 <= r < rows:
            return None
        a_row = r
        row_select = g.results[0]
        pos = 1
    # optional prologue: splits of an argument along its last axis (column slices; MobileBERT's bottlenecks)
    colviews: dict = {}          # id(Value) -> (arg, col offset, width, row length, rows)
    while pos < len(ops) and row_select is None and ops[pos].name in ("graph.split",) + _RESHAPES:
        o = ops[pos]
        src = o.operands[0]
        if o.name == "graph.split":
            if id(src) not in arg_index or not _f32(src) or src.type.rank < 1:
                return None
            axis = o.attributes["axis"]
            if (axis + src.type.rank if axis < 0 else axis) != src.type.rank - 1:
                return None
            rowlen = src.type.shape[-1]
            rows = math.prod(src.type.shape[:-1])
            off = 0
            for r, size in zip(o.results, o.attributes["sizes"]):
                colviews[id(r)] = (arg_index[id(src)], off, size, rowlen, rows)
                off += size
        elif id(src) in colviews:
            colviews[id(o.results[0])] = colviews[id(src)]
        else:
            return None
        pos += 1
    if pos >= len(ops):
        return None
    mm = ops[pos]
    if mm.name not in ("graph.matmul", "graph.gemm"):
        return None
    a, b = mm.operands[0], mm.operands[1]
    a_col, lda = 0, a.type.shape[-1] if a.type.rank else 0
    if row_select is not None:
        if a is not row_select:
            return None
        a_arg = arg_index[id(row_select.owner.operands[0])]
    elif id(a) in colviews:
        a_arg, a_col, width, lda, rows = colviews[id(a)]
        if a.type.rank < 2 or a.type.shape[-1] != width or math.prod(a.type.shape[:-1]) != rows:
            return None
    else:
        if id(a) not in arg_index:
            return None
        a_arg = arg_index[id(a)]
    if id(b) not in arg_index:
        return None
    b_arg = arg_index[id(b)]
    if not operand_is_constant(op, b_arg) or operand_is_constant(op, a_arg) or a_arg == b_arg:
        return None
    if not (_f32(a) and _f32(b) and _f32(mm.results[0])):
        return None
    trans_b, alpha = False, 1.0
    if b.type.rank != 2 or a.type.rank < 1:
        return None
    if mm.name == "graph.gemm":
        if mm.attributes.get("trans_a", False):
            return None
        trans_b = bool(mm.attributes.get("trans_b", False))
        alpha = float(mm.attributes.get("alpha", 1.0))
        if a.type.rank != 2:
            return None
    elif a.type.rank < 2:
        return None
    K = a.type.shape[-1]
    Kb, N = b.type.shape[::-1] if trans_b else b.type.shape
    if K != Kb:
        return None
    M = math.prod(a.type.shape[:-1])
    out_shape = mm.results[0].type.shape
    if math.prod(out_shape) != M * N or M == 0 or N == 0 or K == 0:
        return None

    epi = Epilogue(n=N)
    epi.names[id(mm.results[0])] = "acc"
    epi_temp = 0

    def tile_temp():
        nonlocal epi_temp
        epi_temp += 1
        return f"t{epi_temp}"

    if mm.name == "graph.gemm" and len(mm.operands) == 3:
        c = mm.operands[2]
        if id(c) not in arg_index or not _f32(c):
            return None
        mode = broadcast_mode(c.type.shape, out_shape, N)
        if mode is None:
            return None
        cl = epi.leaf(arg_index[id(c)], mode)
        beta = float(mm.attributes.get("beta", 1.0))
        t = tile_temp()
        if beta == 1.0:
            epi.steps.append((t, ("add",), ["acc", cl]))
        else:
            epi.steps.append((t, ("axpb", beta), ["acc", cl]))
        epi.names[id(mm.results[0])] = t

    ln = None
    ln_value: Optional[Value] = None
    for o in ops[pos + 1:]:
        if o.name in _RESHAPES:
            src = o.operands[0]
            if id(src) in colviews:
                colviews[id(o.results[0])] = colviews[id(src)]
                continue
            if ln_value is not None and src is ln_value:
                ln_value = o.results[0]
                continue
            if id(src) not in epi.names:
                return None
            epi.names[id(o.results[0])] = epi.names[id(src)]
            continue
        if ln_value is not None:
            return None                      # only reshapes after the LayerNorm
        if o.name in ("graph.layer_norm", "graph.rms_norm"):
            if kind != "gemm_layer_norm" or ln is not None:
                return None
            x = o.operands[0]
            if id(x) not in epi.names or not _f32(o.results[0]):
                return None
            axis = o.attributes.get("axis", -1)
            axis = axis + x.type.rank if axis < 0 else axis
            if axis != x.type.rank - 1 or x.type.shape[-1] != N:
                return None
            extra = []
            for w in o.operands[1:]:
                if id(w) not in arg_index or not _f32(w) or math.prod(w.type.shape) not in (1, N):
                    return None
                extra.append(arg_index[id(w)])
            ln = {"x": epi.names[id(x)], "eps": float(o.attributes.get("epsilon", 1e-5)),
                  "scale": extra[0] if len(extra) > 0 else None, "bias": extra[1] if len(extra) > 1 else None,
                  "scale_scalar": len(extra) > 0 and math.prod(o.operands[1].type.shape) == 1 and N != 1,
                  "bias_scalar": len(extra) > 1 and math.prod(o.operands[2].type.shape) == 1 and N != 1,
                  "rms": o.name == "graph.rms_norm"}
            ln_value = o.results[0]
            continue
        if not o.has_trait("elementwise") or len(o.results) != 1 or not _f32(o.results[0]):
            return None
        rshape = o.results[0].type.shape
        if math.prod(rshape) != M * N:
            return None
        argt = []
        n_tile = 0
        for v in o.operands:
            if not _f32(v):
                return None
            if id(v) in epi.names:
                if tuple(v.type.shape) != tuple(rshape) and math.prod(v.type.shape) != M * N:
                    return None
                argt.append(epi.names[id(v)])
                n_tile += 1
            elif id(v) in arg_index:
                mode = broadcast_mode(v.type.shape, rshape, N)
                if mode is None:
                    return None
                argt.append(epi.leaf(arg_index[id(v)], mode))
            else:
                return None
        if n_tile == 0:
            return None
        if _simd.vector_expr(o, argt) is None:
            from .scalar_expr import c_expr
            try:        # the scalar fallback must exist, or the block is declined now (never at emit)
                c_expr(o.name, dict(o.attributes), argt, [DType.f32] * len(argt), DType.f32)
            except Exception:
                return None
            epi.vector = False
        t = tile_temp()
        epi.steps.append((t, o, argt))
        epi.names[id(o.results[0])] = t

    if kind == "gemm_layer_norm" and ln is None:
        return None
    yields = []
    copies = []
    for j, v in enumerate(yielded):
        if id(v) in colviews and _f32(v):
            arg, off, width, rowlen, rows = colviews[id(v)]
            copies.append((j, arg, off, width, rowlen, rows))
            continue
        if not _f32(v) or math.prod(v.type.shape) != M * N:
            return None
        if ln_value is not None and v is ln_value:
            if ln is None or "out" in ln:
                return None
            ln["out"] = j
            continue
        if id(v) not in epi.names:
            return None
        yields.append((j, epi.names[id(v)]))
    if ln is not None and "out" not in ln:
        return None
    if not yields and ln is None:
        return None
    return GemmPlan(M, N, K, a_arg, a_row, b_arg, trans_b, alpha, epi, yields, ln, lda, a_col, copies)


# -- packing ---------------------------------------------------------------------------------------------

def pack_b(w: np.ndarray, *, nr: int, trans_b: bool, alpha: float) -> np.ndarray:
    """B [K, N] (or [N, K] with trans_b) -> panels [ceil(N/nr), K, nr], zero-padded, times alpha."""
    w = np.asarray(w, dtype=np.float32)
    if trans_b:
        w = w.T
    if alpha != 1.0:
        w = (w.astype(np.float64) * alpha).astype(np.float32)
    k, n = w.shape
    p = -(-n // nr)
    padded = np.zeros((k, p * nr), dtype=np.float32)
    padded[:, :n] = w
    return np.ascontiguousarray(padded.reshape(k, p, nr).transpose(1, 0, 2))


# -- code ------------------------------------------------------------------------------------------------

def _leaf_index(mode: str) -> str:
    return {"scalar": "0", "col": "n", "row": "m", "full": "m * N + n"}[mode]


def epilogue_lines(epi: Epilogue, plan_yields: list, x_store: Optional[str], vector: bool, partial: bool) -> list:
    """Statements computing the epilogue at (m, n): vectors of W columns (``cnt`` valid when partial)."""
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
                epi.helpers.update(c_helpers_needed(o.name, [f32] * len(argv)))
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
    plan = analyse(op)
    if plan is None:
        raise ValueError(f"{symbol}: not a GEMM block this emitter accepts")
    isa = _simd.select_isa(target, choice)
    if choice and "vector_epilogue" in choice:
        plan.epi.vector = plan.epi.vector and bool(choice["vector_epilogue"])
    MC, NC, KC = blocking(plan, isa, choice)
    M, N, K = plan.M, plan.N, plan.K
    ln = plan.ln
    c_out = ln["out"] if ln is not None else plan.yields[0][0]
    yields = [(j, t) for j, t in plan.yields if not (ln is None and j == c_out and t == "acc")]
    x_store = ln["x"] if ln is not None else None
    L = []
    L.append(KERNEL_SIGNATURE.format(symbol=symbol) + " {")
    L.append(f"    namespace V = {isa.ns};")
    L.append(f"    const long N = {N};")
    L.append(f"    const float *A = (const float *)in[{plan.a_arg}] + {plan.a_row * plan.lda + plan.a_col}L;")
    for j, arg, off, width, rowlen, rows in plan.copies:      # split parts that are yielded as they are
        L.append(f"    for (long r = 0; r < {rows}L; ++r) memcpy((float *)out[{j}] + r * {width}L, "
                 f"(const float *)in[{arg}] + {off}L + r * {rowlen}L, sizeof(float) * {width});")
    L.append(f"    const float *Bp = (const float *)in[{plan.b_arg}];")
    L.append(f"    float *C = (float *)out[{c_out}];")
    for arg in sorted({a for a, _ in plan.epi.leaves}):
        L.append(f"    const float *p{arg} = (const float *)in[{arg}];")
    for j in sorted({j for j, _ in yields}):
        if j != c_out:
            L.append(f"    float *o{j} = (float *)out[{j}];")
        else:
            L.append(f"    float *o{j} = C;")
    body_full = epilogue_lines(plan.epi, yields, x_store, plan.epi.vector, False)
    if not yields and x_store in (None, "acc"):
        L.append("    auto epi = [](long, int, long, int) {};")
    else:
        L.append("    auto epi = [&](long m0, int rows, long n0, int cols) {")
        L.append("        for (long m = m0; m < m0 + rows; ++m) {")
        if plan.epi.vector:
            body_part = epilogue_lines(plan.epi, yields, x_store, True, True)
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
    L.append(f"    {isa.ns}_gemm::run<{plan.lda}L>({M}L, N, {K}L, A, Bp, C, N, {MC}L, {NC}L, {KC}L, num_threads, "
             "epi, rows);")
    L.append("}")
    code = "\n".join(L) + "\n"
    from .scalar_expr import C_HELPERS, helper_code
    helpers = [isa.helper(), gemm_driver_helper(isa.name)] + ([row_helper(isa.name)] if ln is not None else [])
    if plan.epi.helpers:
        helpers.insert(0, helper_code(sorted(plan.epi.helpers, key=list(C_HELPERS).index)))
    headers = ("<math.h>", "<stdint.h>", "<string.h>", PARALLEL_HEADER)
    nr = isa.nr
    packed = {plan.b_arg: functools.partial(pack_b, nr=nr, trans_b=plan.trans_b, alpha=plan.alpha)}
    return KernelSource(symbol=symbol, code=code, headers=tuple(dict.fromkeys(headers)), helpers=tuple(helpers),
                        packed=packed, variant=f"{isa.name} {isa.mr}x{isa.nr} MC={MC} NC={NC} KC={KC}"
                        + ("" if plan.epi.vector else " scalar-epilogue"))


def _ln_rows_lines(ln: dict, N: int, ns: str) -> list:
    """LayerNorm over each finished row of C (the LN input), in place (the row helper: numpy's two passes)."""
    g = f"(const float *)in[{ln['scale']}]" if ln["scale"] is not None else "(const float *)0"
    b = f"(const float *)in[{ln['bias']}]" if ln["bias"] is not None else "(const float *)0"
    gs = "true" if ln["scale_scalar"] else "false"
    bs = "true" if ln["bias_scalar"] else "false"
    call = (f"rms_norm(C + m * N, N, {_simd._f(ln['eps'])}, {g}, {gs});" if ln.get("rms") else
            f"layer_norm(C + m * N, N, {_simd._f(ln['eps'])}, {g}, {gs}, {b}, {bs});")
    return ["    auto rows = [&](long m0, long mc, long, long) {",
            "        for (long m = m0; m < m0 + mc; ++m)",
            f"            {ns}_row::{call}",
            "    };"]


class GemmEmitter(StructuralEmitter):
    """``gemm`` / ``gemm_layer_norm`` blocks with a constant weight (see the module docstring)."""
    name = "cpp-gemm"
    analyse = staticmethod(analyse)
    emit_fn = staticmethod(emit_gemm)

    def variants(self, op: Operation, target: Target) -> list:
        old = {"mc_target": 64, "nc_target": 384}      # the default before the 128 x 192 units
        plan = analyse(op)
        if plan is not None and plan.ln is not None:
            old = {"mc_target": 64, "ln_whole_rows": True}
        return [{}, old, {"nc_target": 384}, {"kc_max": 256}, {"mc_target": 32}, {"kc_max": 100000}]


GEMM_EMITTER = GemmEmitter()
register_emitter(GEMM_EMITTER, 100)

__all__ = ["GEMM_EMITTER", "GemmEmitter", "GemmPlan", "analyse", "emit_gemm", "pack_b", "render"]
