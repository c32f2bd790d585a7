"""Dependences, schedules, loop variants and C generation through isl's AST builder.

* :func:`access_maps` - every statement's reads and writes as isl union maps
  (``S[dims] -> Buf[flat offset]``; data-dependent indices over-approximated).
* :func:`dependences` - flow, anti and output dependences (``isl.UnionAccessInfo``,
  ``compute_flow``) of the kernel IR's reference order (statement after statement).
* :func:`schedule_map` - a kernel's schedule: each nest is one loop nest whose
  statements share their leading (outer) loops; :func:`check_legal` proves it
  against the dependences (every dependence goes forward in time).
* :func:`variants` / :func:`apply_variant` - loop variants: for element-wise
  nests whose body has a term depending on fewer dims than the nest (the
  paper's broadcast term, Figure 4) ``recompute`` (fuse_add: the term inside
  the full nest), ``hoist`` (fuse_add': the term's dims outer, the term computed
  once per outer iteration into a scalar, the other dims inner) and
  ``precompute`` (the term into a small buffer by its own nest first); for
  GEMM-like nests, tile sizes.
* :func:`generate_c` - the isl AST of each nest (``AstBuild.node_from_schedule_map``)
  printed to C++ by :class:`CPrinter`, parallel outer loops through lpfc_parallel::parallel_for.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Optional

import islpy as isl

from ..codegen import scalar_expr as se
from ..ir.types import DType
from .model import (Aff, Const, Div, Expr, IfLess, IndexValue, Kernel, Load, Mod, Op, Read, Scaled, Stmt, Sum, expr_dims,
                    is_expensive, linearize, op_count, reads_of, walk)

# -- isl views of a kernel ------------------------------------------------------------------------------


def _flat(k: Kernel, buf: str, index) -> object:
    b = k.buffers[buf]
    if len(index) == len(b.shape):
        return linearize(index, b.shape)
    return index[0] if index else Aff.cst(0)


def _access(k: Kernel, s: Stmt, buf: str, index) -> isl.UnionMap:
    names = ", ".join(d for d, _ in s.dims)
    cons = [f"0 <= {d} < {n}" for d, n in s.dims]
    size = k.storage(buf).size
    flat = _flat(k, buf, index).isl()
    if flat is None:                          # data-dependent: anywhere in the buffer
        cons.append(f"0 <= x < {max(size, 1)}")
        target = "x"
    else:
        target = flat
    c = " and ".join(cons)
    return isl.UnionMap(f"{{ {s.name}[{names}] -> {k.storage(buf).name}[{target}]" + (f" : {c} }}" if c else " }"))


def access_maps(k: Kernel) -> tuple:
    """(reads, writes) as isl union maps."""
    reads = isl.UnionMap("{ }")
    writes = isl.UnionMap("{ }")
    for s in k.stmts:
        for buf, index in reads_of(s.body):
            reads = reads.union(_access(k, s, buf, index))
        w = _access(k, s, s.buf, s.index)
        writes = writes.union(w)
        if s.update != "assign":             # a reduction reads what it updates
            reads = reads.union(w)
            if s.aux:
                a = _access(k, s, s.aux, s.index)
                reads, writes = reads.union(a), writes.union(a)
    return reads, writes


def _time(entries, n) -> str:
    out = []
    for e in entries:
        if isinstance(e, tuple):              # ("tile", dim, size)
            out.append(f"floor(({e[1]})/{e[2]})")
        else:
            out.append(str(e))
    return ", ".join(out + ["0"] * (n - len(out)))


def _sched_len(k: Kernel) -> int:
    return max((len(s.sched) for s in k.stmts), default=0)


def reference_schedule(k: Kernel) -> isl.UnionMap:
    """Statement after statement, each over its whole domain (the semantics of :mod:`.execute`)."""
    n = max((len(s.dims) for s in k.stmts), default=0)
    m = isl.UnionMap("{ }")
    for pos, s in enumerate(k.stmts):
        m = m.union(_sched_map(s, [pos] + [d for d, _ in s.dims], n + 1))
    return m


def _sched_map(s: Stmt, entries, n) -> isl.UnionMap:
    names = ", ".join(d for d, _ in s.dims)
    c = " and ".join(f"0 <= {d} < {x}" for d, x in s.dims)
    return isl.UnionMap(f"{{ {s.name}[{names}] -> [{_time(entries, n)}]" + (f" : {c} }}" if c else " }"))


def schedule_map(k: Kernel) -> isl.UnionMap:
    """The kernel's schedule: ``[nest, sched...]`` for every statement."""
    n = _sched_len(k) + 1
    m = isl.UnionMap("{ }")
    for ni, nest in enumerate(k.nests):
        for s in nest:
            m = m.union(_sched_map(s, [ni] + list(s.sched), n))
    return m


def dependences(k: Kernel) -> isl.UnionMap:
    """Flow, anti and output dependences between statement instances (isl compute_flow)."""
    reads, writes = access_maps(k)
    ref = reference_schedule(k)
    flow = isl.UnionAccessInfo.from_sink(reads).set_may_source(writes).set_schedule_map(ref) \
        .compute_flow().get_may_dependence()
    anti = isl.UnionAccessInfo.from_sink(writes).set_may_source(reads).set_schedule_map(ref) \
        .compute_flow().get_may_dependence()
    output = isl.UnionAccessInfo.from_sink(writes).set_may_source(writes).set_schedule_map(ref) \
        .compute_flow().get_may_dependence()
    # a statement instance's own read-modify-write is not a dependence between instances
    ident = isl.UnionMap("{ }")
    for s in k.stmts:
        ident = ident.union(_sched_map(s, [d for d, _ in s.dims], len(s.dims)).apply_range(
            _sched_map(s, [d for d, _ in s.dims], len(s.dims)).reverse()))
    return flow.union(anti).union(output).subtract(ident)


def _time_deps(k: Kernel, deps: isl.UnionMap) -> Optional[isl.Map]:
    sched = schedule_map(k)
    dt = deps.apply_domain(sched).apply_range(sched)
    if dt.is_empty():
        return None
    return isl.Map.from_union_map(dt)


def check_legal(k: Kernel, deps: Optional[isl.UnionMap] = None) -> bool:
    """Every dependence goes forward in the kernel's schedule."""
    dt = _time_deps(k, deps if deps is not None else dependences(k))
    if dt is None:
        return True
    lt = isl.Map.lex_lt(dt.get_space().domain())
    return dt.is_subset(lt)


def parallel_nests(k: Kernel, deps: Optional[isl.UnionMap] = None) -> list:
    """For each nest: True when its outermost loop carries no dependence (its iterations may run on several threads)."""
    dt = _time_deps(k, deps if deps is not None else dependences(k))
    out = []
    for ni, nest in enumerate(k.nests):
        first = [s.sched[0] if s.sched else 0 for s in nest]
        if not all(isinstance(e, (str, tuple)) for e in first):
            out.append(False)
            continue
        if dt is None:
            out.append(True)
            continue
        n = dt.dim(isl.dim_type.in_)
        names = ", ".join(f"a{j}" for j in range(n))
        names2 = ", ".join(f"b{j}" for j in range(n))
        carried = isl.Map(f"{{ [{names}] -> [{names2}] : a0 = {ni} and b0 = {ni} and a1 != b1 }}")
        out.append(dt.intersect(carried).is_empty())
    return out


# -- variants ---------------------------------------------------------------------------------------------

DEFAULT_TILES = [(16, 64, 64), (32, 128, 128), (64, 64, 256)]


def _hoistable_terms(s: Stmt) -> list:
    """Maximal sub-expressions of ``s``'s body that depend on a strict subset of its dims."""
    dims = {d for d, _ in s.dims}
    found = []

    def visit(e: Expr):
        if isinstance(e, Op):
            d = expr_dims(e)
            if d < dims and any(isinstance(x, Read) for x in walk(e)):
                found.append(e)
                return
            for a in e.args:
                visit(a)
        elif isinstance(e, Read):
            d = expr_dims(e)
            if d < dims and d:
                found.append(e)
    visit(s.body)
    return found


def _is_elementwise_nest(nest) -> bool:
    return len(nest) == 1 and nest[0].update == "assign" and list(nest[0].sched) == [d for d, _ in nest[0].dims] \
        and len(nest[0].dims) >= 2


def _core(e: Expr, temps: set) -> Optional[Expr]:
    """The smallest sub-expression of ``e`` holding every read of ``temps``, when what surrounds it only
    combines it with broadcast terms and constants (layer_norm's ``x_hat * gamma + beta``)."""
    def uses(x):
        return any(isinstance(y, Read) and y.buf in temps for y in walk(x))
    cur = e
    while isinstance(cur, Op):
        inner = [a for a in cur.args if uses(a)]
        if len(inner) != 1:
            break
        cur = inner[0]
    return cur if cur is not e else None


def split_epilogues(k: Kernel) -> Kernel:
    """A copy of ``k`` where a reduction nest's last statement ``out = E(core, gamma[j], beta[j])``
    becomes ``out = core`` plus an element-wise nest ``out = E(out, gamma[j], beta[j])``, whose
    broadcast terms then have the recompute / hoist choice."""
    k = copy.deepcopy(k)
    nests = []
    n_stmt = len(k.stmts)
    for nest in k.nests:
        nests.append(nest)
        if len(nest) < 2:
            continue
        s = nest[-1]
        temps = {x.buf for x in nest[:-1]}
        if s.update != "assign" or s.buf in temps or not _hoistable_terms(s) or len(s.dims) < 2 or \
                any(isinstance(x, Read) and x.buf == s.buf for x in walk(s.body)):
            continue
        core = _core(s.body, temps)
        if core is None:
            continue
        epi = Stmt(f"S{n_stmt}", list(s.dims), s.buf, s.index,
                   _replace(s.body, core, Read(s.buf, s.index, core.dtype)), sched=[d for d, _ in s.dims])
        n_stmt += 1
        if not _hoistable_terms(epi):
            continue
        s.body = core
        nests.append([epi])
    k.nests = nests
    return k


def broadcast_terms(k: Kernel, split: bool = True) -> list:
    """(nest index, term, term dims) of every hoistable broadcast term of an element-wise nest
    (after :func:`split_epilogues`, when ``split``)."""
    if split:
        k = split_epilogues(k)
    out = []
    for ni, nest in enumerate(k.nests):
        if _is_elementwise_nest(nest):
            for t in _hoistable_terms(nest[0]):
                out.append((ni, t, expr_dims(t)))
    return out


def _gemm_nests(k: Kernel) -> list:
    out = []
    for ni, nest in enumerate(k.nests):
        upd = [s for s in nest if s.update == "sum" and "k" in s.reduction_dims]
        if not upd or len(upd[0].dims) < 3:
            continue
        names = [d for d, _ in upd[0].dims]
        i, j = names[-3], names[-2]
        if names[-1] == "k" and i[0] == "i" and j[0] == "i" and int(j[1:]) == int(i[1:]) + 1:
            out.append(ni)
    return out


def variants(k: Kernel) -> list:
    """The kernel's schedule choices; the first is the default heuristic's (see :func:`default_variant`)."""
    out = []
    terms = broadcast_terms(k)
    if terms:
        names = ["recompute", "hoist"] + (["precompute"] if any(isinstance(t, Op) for _, t, _ in terms) else [])
        split = split_epilogues(k)
        if any(split.nests[ni][0].dims[-1][0] in tdims for ni, _, tdims in terms):
            names.append("hoist_tiled")
        out = [{"variant": n} for n in names]
        d = default_variant(k)
        out.sort(key=lambda c: c["variant"] != d)
    if _gemm_nests(k):
        base = out or [{"variant": "recompute"}]
        tiles = [{**base[0], "tile": list(t)} for t in DEFAULT_TILES]
        out = base + tiles
    if len(k.stmts) > 1:
        out = (out or [{"variant": "recompute"}]) + [{"variant": "isl"}]
    if not out:
        return [{"variant": "recompute"}]
    deps = dependences(k)                    # the variants' statements are the kernel's (plus hoisted copies)
    legal = [c for c in out if _legal_choice(k, c, deps)]
    return legal or [{"variant": "recompute"}]


def _legal_choice(k: Kernel, choice: dict, deps) -> bool:
    if choice.get("variant") == "isl":
        return True                          # isl's scheduler honours the dependences by construction
    kv = apply_variant(k, choice)
    if choice.get("variant", "recompute") != "recompute":
        deps = None                          # new statements: recompute the dependences
    try:
        return check_legal(kv, deps)
    except isl.Error:
        return False


def default_variant(k: Kernel) -> str:
    """The stated heuristic: recompute (fuse_add, row-major locality) unless a broadcast term is
    expensive (a transcendental or division) and would be recomputed at least twice: then
    precompute it once (into a buffer the row-major nest reads).  Measured on the host: cheap
    terms (bias, gamma/beta, mask) recompute 3-35x faster than hoisting; exp*tanh terms
    precompute 4x (4x4096) to 65x (256x512) faster than recomputing."""
    split = split_epilogues(k)
    for ni, t, tdims in broadcast_terms(split, split=False):
        s = split.nests[ni][0]
        saved = 1
        for d, n in s.dims:
            if d not in tdims:
                saved *= n
        if isinstance(t, Op) and is_expensive(t) and saved >= 2:
            return "precompute"
    return "recompute"


def apply_variant(k: Kernel, choice: Optional[dict] = None) -> Kernel:
    """A copy of ``k`` with the variant's schedule (and new hoisted statements where it has them)."""
    choice = choice or {}
    k = copy.deepcopy(k)
    v = choice.get("variant", "recompute")
    if v in ("hoist", "precompute", "hoist_tiled"):
        k = split_epilogues(k)
        new_nests = []
        n_temp = sum(1 for b in k.buffers.values() if b.kind == "temp")
        n_stmt = len(k.stmts)
        for nest in k.nests:
            if not _is_elementwise_nest(nest):
                new_nests.append(nest)
                continue
            s = nest[0]
            terms = _hoistable_terms(s)
            if v == "precompute":
                terms = [t for t in terms if isinstance(t, Op)]
            if v in ("hoist", "hoist_tiled") and terms:
                # hoist the terms sharing the most common dim set: those dims become the outer loops
                sets = [frozenset(expr_dims(t)) for t in terms]
                best = max(set(sets), key=lambda ds: (sets.count(ds), len(ds)))
                terms = [t for t, ds in zip(terms, sets) if ds == best]
                if v == "hoist_tiled" and s.dims[-1][0] not in best:
                    terms = []
            if not terms:
                new_nests.append(nest)
                continue
            hoisted = []
            body = s.body
            for t in terms:
                tdims = [(d, n) for d, n in s.dims if d in expr_dims(t)]
                name = f"h{n_temp}"
                n_temp += 1
                from .model import Buffer
                k.buffers[name] = Buffer(name, tuple(n for _, n in tdims) or (1,), t.dtype, "temp")
                idx = tuple(Aff.dim(d) for d, _ in tdims) or (Aff.cst(0),)
                hs = Stmt(f"S{n_stmt}", tdims, name, idx, t, sched=[d for d, _ in tdims])
                n_stmt += 1
                hoisted.append(hs)
                body = _replace(body, t, Read(name, idx, t.dtype))
            s.body = body
            if v == "precompute":
                for hs in hoisted:
                    new_nests.append([hs])
                new_nests.append([s])
            elif v == "hoist_tiled":
                # strips of `strip` columns: the terms for the strip, then every row of the strip
                last = s.dims[-1][0]
                tnames = [d for d, _ in s.dims if d in expr_dims(terms[0])]
                outer = [d for d in tnames if d != last]
                rest = [d for d, _ in s.dims if d not in tnames]
                strip = ("tile", last, int(choice.get("strip", 16)))
                s.sched = outer + [strip, 1] + rest + [last]
                for hs in hoisted:
                    hs.sched = outer + [strip, 0, last] + [0] * (len(s.sched) - len(outer) - 3)
                new_nests.append(hoisted + [s])
            else:
                outer = [d for d, _ in s.dims if d in expr_dims(terms[0])]
                inner = [d for d, _ in s.dims if d not in outer]
                for hs in hoisted:
                    hs.sched = outer + [0] + [0] * len(inner)
                s.sched = outer + [1] + inner
                new_nests.append(hoisted + [s])
        k.nests = new_nests
    tile = choice.get("tile")
    if tile:
        for ni in _gemm_nests(k):
            _tile_gemm(k.nests[ni], tuple(tile))
    return k


def _replace(e: Expr, old: Expr, new: Expr) -> Expr:
    if e is old or e == old:
        return new
    if isinstance(e, Op):
        return Op(e.name, e.attrs, tuple(_replace(a, old, new) for a in e.args), e.dtype)
    return e


def _tile_gemm(nest, tile):
    """[outer.., i, phase, (k), j] -> [outer.., i/Ti, j/Tj, phase, k/Tk, i, k, j]."""
    ti, tj, tk = tile
    upd = [s for s in nest if s.update == "sum" and "k" in s.reduction_dims][0]
    names = [d for d, _ in upd.dims]
    jd, idim = names[-2], names[-3]          # dims: [batch.., i, j, k]
    kd = "k"
    batch = names[:-3]
    for s in nest:
        has_k = kd in [d for d, _ in s.dims]
        phase = [e for e in s.sched if isinstance(e, int)][0] if any(isinstance(e, int) for e in s.sched) else 0
        s.sched = (batch + [("tile", idim, ti), ("tile", jd, tj), phase,
                            ("tile", kd, tk) if has_k else 0, idim, kd if has_k else 0, jd])


# -- isl AST -> C ----------------------------------------------------------------------------------------

_OPS = {isl.ast_expr_op_type.add: "+", isl.ast_expr_op_type.sub: "-", isl.ast_expr_op_type.mul: "*",
        isl.ast_expr_op_type.div: "/", isl.ast_expr_op_type.pdiv_q: "/", isl.ast_expr_op_type.pdiv_r: "%",
        isl.ast_expr_op_type.zdiv_r: "%", isl.ast_expr_op_type.and_: "&&", isl.ast_expr_op_type.or_: "||",
        isl.ast_expr_op_type.eq: "==", isl.ast_expr_op_type.le: "<=", isl.ast_expr_op_type.lt: "<",
        isl.ast_expr_op_type.ge: ">=", isl.ast_expr_op_type.gt: ">"}

FLOORD = ("static inline int64_t lpfc_floord(int64_t a, int64_t b) "
          "{ return a >= 0 ? a / b : -((-a + b - 1) / b); }")
#: an index loaded from a tensor (gather, scatter): negatives count from the end; out of range is reported
#: through the kernel's fault slot (lpfc_check_index in lpfc_model_desc.h; the run fails) and reads index 0
WRAP = ("static inline int64_t lpfc_wrap(int64_t *fault, int64_t i, int64_t n) "
        "{ return lpfc_check_index(fault, i, n); }")


def ast_expr_c(e) -> str:
    t = e.get_type()
    if t == isl.ast_expr_type.id:
        return e.get_id().get_name()
    if t == isl.ast_expr_type.int:
        return str(e.get_val().to_python())
    op = e.get_op_type()
    args = [ast_expr_c(e.get_op_arg(i)) for i in range(e.get_op_n_arg())]
    if op in _OPS:
        return f"({args[0]} {_OPS[op]} {args[1]})"
    if op == isl.ast_expr_op_type.minus:
        return f"(-{args[0]})"
    if op == isl.ast_expr_op_type.fdiv_q:
        return f"lpfc_floord({args[0]}, {args[1]})"
    if op == isl.ast_expr_op_type.max:
        out = args[0]
        for a in args[1:]:
            out = f"std::max<int64_t>({out}, {a})"
        return out
    if op == isl.ast_expr_op_type.min:
        out = args[0]
        for a in args[1:]:
            out = f"std::min<int64_t>({out}, {a})"
        return out
    if op in (isl.ast_expr_op_type.cond, isl.ast_expr_op_type.select):
        return f"({args[0]} ? {args[1]} : {args[2]})"
    if op == isl.ast_expr_op_type.call:
        return f"{args[0]}({', '.join(args[1:])})"
    raise NotImplementedError(f"isl AST expression {op}")


def _last_value(cond, iterator: str) -> Optional[str]:
    """The last value of a for loop's iterator as C, when its condition is ``it <= e`` or ``it < e``
    (what isl builds for these nests); None otherwise (the loop then stays sequential)."""
    if cond.get_type() != isl.ast_expr_type.op or cond.get_op_n_arg() != 2:
        return None
    op, lhs = cond.get_op_type(), cond.get_op_arg(0)
    if lhs.get_type() != isl.ast_expr_type.id or lhs.get_id().get_name() != iterator:
        return None
    bound = ast_expr_c(cond.get_op_arg(1))
    if op == isl.ast_expr_op_type.le:
        return bound
    if op == isl.ast_expr_op_type.lt:
        return f"({bound} - 1)"
    return None


@dataclass
class CPrinter:
    """Prints a kernel's isl AST (one per nest) as C++ statements."""
    kernel: Kernel
    scalars: set = field(default_factory=set)      # contracted temps: one local per outer iteration
    helpers: set = field(default_factory=set)
    lines: list = field(default_factory=list)

    def emit(self, text: str, depth: int):
        self.lines.append("    " * depth + text)

    # ---- statements
    def node(self, n, depth: int, stmts: dict, pre: Optional[list] = None, parallel: bool = False):
        t = n.get_type()
        if t == isl.ast_node_type.for_:
            it = ast_expr_c(n.for_get_iterator())
            init = ast_expr_c(n.for_get_init())
            cond = ast_expr_c(n.for_get_cond())
            inc = ast_expr_c(n.for_get_inc())
            last = _last_value(n.for_get_cond(), it) if parallel and inc == "1" else None
            if last is not None:
                # lpfc_parallel::parallel_for over the iterations (the runtime's pool; lpfc/c_runtime/include/lpfc_parallel.hpp)
                self.emit("{", depth)
                self.emit(f"const int64_t {it}_first = {init}, {it}_count = {last} - {it}_first + 1;", depth + 1)
                self.emit(f"lpfc_parallel::parallel_for(num_threads, (long){it}_count, "
                          f"lpfc_parallel::balanced_chunk((long){it}_count, num_threads), [&](long {it}_i, int) {{",
                          depth + 1)
                self.emit(f"const int64_t {it} = {it}_first + {it}_i;", depth + 2)
                for p in pre or []:
                    self.emit(p, depth + 2)
                self.node(n.for_get_body(), depth + 2, stmts)
                self.emit("});", depth + 1)
                self.emit("}", depth)
                return
            step = f"{it}++" if inc == "1" else f"{it} += {inc}"
            self.emit(f"for (int64_t {it} = {init}; {cond}; {step}) {{", depth)
            for p in pre or []:
                self.emit(p, depth + 1)
            self.node(n.for_get_body(), depth + 1, stmts)
            self.emit("}", depth)
        elif t == isl.ast_node_type.block:
            children = n.block_get_children()
            if pre:
                self.emit("{", depth)
                for p in pre:
                    self.emit(p, depth + 1)
                depth += 1
            for i in range(children.n_ast_node()):
                self.node(children.get_at(i), depth, stmts)
            if pre:
                self.emit("}", depth - 1)
        elif t == isl.ast_node_type.if_:
            self.emit(f"if ({ast_expr_c(n.if_get_cond())}) {{", depth)
            self.node(n.if_get_then_node(), depth + 1, stmts)
            if n.if_has_else_node():
                self.emit("} else {", depth)
                self.node(n.if_get_else_node(), depth + 1, stmts)
            self.emit("}", depth)
        elif t == isl.ast_node_type.user:
            e = n.user_get_expr()
            name = e.get_op_arg(0).get_id().get_name()
            args = [ast_expr_c(e.get_op_arg(i)) for i in range(1, e.get_op_n_arg())]
            if pre:
                self.emit("{", depth)
                for p in pre:
                    self.emit(p, depth + 1)
            self.stmt(stmts[name], args, depth + (1 if pre else 0))
            if pre:
                self.emit("}", depth)
        elif t == isl.ast_node_type.mark:
            self.node(n.mark_get_node(), depth, stmts)
        else:
            raise NotImplementedError(f"isl AST node {t}")

    def stmt(self, s: Stmt, args, depth):
        env = {d: a for (d, _), a in zip(s.dims, args)}
        body = self.expr(s.body, env)
        dst = self.access(s.buf, s.index, env)
        ct = se.c_type(self.kernel.buffers[s.buf].dtype)
        if s.update == "assign":
            self.emit(f"{dst} = {body};", depth)
        elif s.update == "sum":
            self.emit(f"{dst} += {body};" if self.kernel.buffers[s.buf].dtype != DType.bool
                      else f"{dst} = {dst} || {body};", depth)
        elif s.update == "prod":
            self.emit(f"{dst} *= {body};", depth)
        elif s.update in ("max", "min"):
            self.helpers.update(["lpfc_isnan", f"lpfc_{s.update}"])
            self.emit(f"{dst} = lpfc_{s.update}<{ct}>({dst}, {body});", depth)
        else:                                          # argmax / argmin
            self.helpers.add("lpfc_isnan")
            best = self.access(s.aux, s.index, env)
            vt = se.c_type(self.kernel.buffers[s.aux].dtype)
            cmp = (">" if s.update == "argmax" else "<") + ("=" if s.select_last else "")
            nan = "(lpfc_isnan(v_) && !lpfc_isnan(b_))" if not s.select_last else "lpfc_isnan(v_)"
            guard = "!lpfc_isnan(b_) && " if not s.select_last else ""
            self.emit(f"{{ {vt} v_ = {body}; {vt} b_ = {best}; "
                      f"if (({guard}v_ {cmp} b_) || {nan}) {{ {best} = v_; {dst} = (int64_t)({env[s.arg_dim]}); }} }}",
                      depth)

    # ---- expressions
    def access(self, buf: str, index, env) -> str:
        if buf in self.scalars:
            return buf
        return f"{buf}[{self.index(_flat(self.kernel, buf, index), env)}]"

    def index(self, i, env) -> str:
        if isinstance(i, Aff):
            parts = []
            for d, c in i.terms:
                parts.append(f"{env[d]}" if c == 1 else f"{c} * {env[d]}")
            if i.const or not parts:
                parts.append(str(i.const))
            return " + ".join(parts).replace("+ -", "- ")
        if isinstance(i, Div):
            return f"(({self.index(i.arg, env)}) / {i.d})"
        if isinstance(i, Mod):
            return f"(({self.index(i.arg, env)}) % {i.d})"
        if isinstance(i, Sum):
            return " + ".join(f"({self.index(a, env)})" for a in i.args)
        if isinstance(i, Scaled):
            return f"{i.c} * ({self.index(i.arg, env)})"
        if isinstance(i, IfLess):
            return (f"(({self.index(i.a, env)}) < {i.bound} ? ({self.index(i.then, env)}) : "
                    f"({self.index(i.other, env)}))")
        if isinstance(i, Load):
            v = self.access(i.buf, i.index, env)
            if i.wrap:
                self.helpers.add("lpfc_wrap")
                return f"lpfc_wrap(fault, (int64_t){v}, {i.wrap})"
            return f"(int64_t){v}"
        raise TypeError(i)

    def expr(self, e: Expr, env) -> str:
        if isinstance(e, Read):
            return self.access(e.buf, e.index, env)
        if isinstance(e, Const):
            return se.c_literal(e.value, e.dtype)
        if isinstance(e, IndexValue):
            return f"((int64_t)({self.index(e.index, env)}))"
        if isinstance(e, Op):
            dts = [a.dtype for a in e.args]
            self.helpers.update(se.c_helpers_needed(e.name, dts))
            return se.c_expr(e.name, e.attr_dict, [self.expr(a, env) for a in e.args], dts, e.dtype)
        raise TypeError(e)


def contracted_temps(k: Kernel) -> dict:
    """temp buffer -> nest index, for temps a single nest uses and indexes exactly by its outer loops:
    each outer iteration owns one element, so it becomes a local scalar of that iteration."""
    users: dict = {}
    for ni, nest in enumerate(k.nests):
        for s in nest:
            accs = [(s.buf, s.index)] + reads_of(s.body) + ([(s.aux, s.index)] if s.aux else [])
            for buf, index in accs:
                users.setdefault(buf, []).append((ni, s, index))
    out = {}
    for name, uses in users.items():
        b = k.buffers[name]
        if b.kind != "temp" or len({ni for ni, _, _ in uses}) != 1:
            continue
        ni = uses[0][0]
        nest = k.nests[ni]
        outer = []
        for pos in range(min(len(s.sched) for s in nest)):
            es = {str(s.sched[pos]) for s in nest}
            if len(es) == 1 and isinstance(nest[0].sched[pos], str):
                outer.append(nest[0].sched[pos])
            else:
                break
        ext = {d: n for s in nest for d, n in s.dims}
        want = linearize([Aff.dim(d) for d in outer], [ext[d] for d in outer])
        if b.size != max(1, _prod(ext[d] for d in outer)):
            continue
        if all(_flat(k, name, index) == want for _, _, index in uses):
            out[name] = ni
    return out


def _prod(xs):
    p = 1
    for x in xs:
        p *= x
    return p


@dataclass
class GeneratedC:
    body: str                  # the function body (C++ statements)
    helpers: set               # names of scalar_expr.C_HELPERS used
    extra_helpers: list        # other helper snippets (lpfc_floord, lpfc_wrap)
    parallel: list             # per nest: its outer loop runs on the thread pool


#: a nest is split across threads when it runs at least this many statement instances
PARALLEL_MIN_WORK = 1 << 15


def isl_schedule(k: Kernel, deps: Optional[isl.UnionMap] = None) -> isl.Schedule:
    """isl's own scheduler (Pluto-style) on the kernel's statements: validity = every dependence,
    proximity and coincidence = the same (fuse producers with consumers, find parallel loops)."""
    deps = deps if deps is not None else dependences(k)
    dom = reference_schedule(k).domain()
    sc = isl.ScheduleConstraints.on_domain(dom).set_validity(deps).set_proximity(deps).set_coincidence(deps)
    return sc.compute_schedule()


def generate_c(k: Kernel, parallel: bool = True, deps: Optional[isl.UnionMap] = None,
               use_isl_scheduler: bool = False) -> GeneratedC:
    """C++ statements computing kernel ``k`` (already scheduled by :func:`apply_variant`); with
    ``use_isl_scheduler`` the schedule is isl's (:func:`isl_schedule`) instead of the nests' own."""
    if use_isl_scheduler:
        return _generate_c_isl(k, deps)
    deps = deps if deps is not None else dependences(k)
    if not check_legal(k, deps):
        raise AssertionError("illegal schedule: a dependence goes backwards")
    par = parallel_nests(k, deps) if parallel else [False] * len(k.nests)
    scalars = contracted_temps(k)
    pr = CPrinter(k, set(scalars))
    stmts = {s.name: s for s in k.stmts}
    for b in k.buffers.values():
        ct = se.c_type(b.dtype)
        if b.kind == "in":
            pr.emit(f"const {ct} *const {b.name} = (const {ct} *)in[{b.index}];", 1)
            pr.emit(f"(void){b.name};", 1)
        elif b.kind == "out":
            pr.emit(f"{ct} *const {b.name} = ({ct} *)out[{b.index}];", 1)
        elif b.name not in scalars:
            pr.emit(f"std::unique_ptr<{ct}[]> {b.name}_mem(new {ct}[{max(b.size, 1)}]);", 1)
            pr.emit(f"{ct} *const {b.name} = {b.name}_mem.get();", 1)
    used_par = []
    for ni, nest in enumerate(k.nests):
        n = _sched_len_nest(nest)
        m = isl.UnionMap("{ }")
        for s in nest:
            m = m.union(_sched_map(s, list(s.sched), n))
        if m.is_empty():
            used_par.append(False)
            continue
        ast = isl.AstBuild.from_context(isl.Set("{ : }")).node_from_schedule_map(m)
        decls = [f"{se.c_type(k.buffers[t].dtype)} {t} = 0;" for t, tn in scalars.items() if tn == ni]
        work = max(_prod(x for _, x in s.dims) for s in nest)
        is_par = par[ni] and work >= PARALLEL_MIN_WORK and ast.get_type() == isl.ast_node_type.for_
        used_par.append(is_par)
        pr.emit(f"// nest {ni}: {', '.join(s.name for s in nest)}", 1)
        if ast.get_type() == isl.ast_node_type.for_:
            pr.node(ast, 1, stmts, pre=decls, parallel=is_par)
        else:
            pr.node(ast, 1, stmts, pre=decls or None)
    body = "\n".join(pr.lines)
    extra = []
    if "lpfc_floord" in body:
        extra.append(FLOORD)
    if "lpfc_wrap" in pr.helpers:
        extra.append(WRAP)
    return GeneratedC(body, {h for h in pr.helpers if h in se.C_HELPERS}, extra, used_par)


def _generate_c_isl(k: Kernel, deps=None) -> GeneratedC:
    sched = isl_schedule(k, deps)
    pr = CPrinter(k, set())
    for b in k.buffers.values():
        ct = se.c_type(b.dtype)
        if b.kind == "in":
            pr.emit(f"const {ct} *const {b.name} = (const {ct} *)in[{b.index}];", 1)
            pr.emit(f"(void){b.name};", 1)
        elif b.kind == "out":
            pr.emit(f"{ct} *const {b.name} = ({ct} *)out[{b.index}];", 1)
        else:
            pr.emit(f"std::unique_ptr<{ct}[]> {b.name}_mem(new {ct}[{max(b.size, 1)}]);", 1)
            pr.emit(f"{ct} *const {b.name} = {b.name}_mem.get();", 1)
    pr.emit("// schedule: isl compute_schedule", 1)
    if not sched.get_domain().is_empty():
        ast = isl.AstBuild.from_context(isl.Set("{ : }")).node_from_schedule(sched)
        pr.node(ast, 1, {s.name: s for s in k.stmts})
    body = "\n".join(pr.lines)
    extra = [FLOORD] if "lpfc_floord" in body else []
    if "lpfc_wrap" in pr.helpers:
        extra.append(WRAP)
    return GeneratedC(body, {h for h in pr.helpers if h in se.C_HELPERS}, extra, [])


def _sched_len_nest(nest) -> int:
    return max((len(s.sched) for s in nest), default=0)


def loop_structure(k: Kernel) -> list:
    """Per nest, the isl AST printed by isl itself (for tests and reports)."""
    out = []
    for nest in k.nests:
        n = _sched_len_nest(nest)
        m = isl.UnionMap("{ }")
        for s in nest:
            m = m.union(_sched_map(s, list(s.sched), n))
        out.append(isl.AstBuild.from_context(isl.Set("{ : }")).node_from_schedule_map(m).to_C_str())
    return out


__all__ = ["CPrinter", "DEFAULT_TILES", "GeneratedC", "access_maps", "apply_variant", "broadcast_terms",
           "check_legal", "contracted_temps", "default_variant", "dependences", "generate_c", "loop_structure",
           "parallel_nests", "reference_schedule", "schedule_map", "variants", "op_count"]
