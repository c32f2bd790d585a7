"""Dependences, schedules and loop variants of a kernel, through isl.

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
* :func:`contracted_temps`, :func:`isl_schedule`, :func:`loop_structure` - what the C printer
  needs to know; the printing itself (isl AST -> C++, :func:`lpfc.codegen.poly_c.generate_c`) is
  codegen's, so poly never imports codegen (docs/design.md, "Layers").
"""
from __future__ import annotations

import copy
from typing import Optional

import islpy as isl

from .model import (Aff, Expr, Kernel, Op, Read, Stmt, expr_dims, is_expensive, linearize, op_count, reads_of,
                    walk)

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
                idx = tuple(Aff.dim(d) for d, _ in tdims) or (Aff.cst(0),)
                replaced = _replace(body, t, Read(name, idx, t.dtype))
                if replaced == body:
                    continue            # t held a term hoisted before it: no longer in the body, never read
                n_temp += 1
                from .model import Buffer
                k.buffers[name] = Buffer(name, tuple(n for _, n in tdims) or (1,), t.dtype, "temp")
                hs = Stmt(f"S{n_stmt}", tdims, name, idx, t, sched=[d for d, _ in tdims])
                n_stmt += 1
                hoisted.append(hs)
                body = replaced
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


def isl_schedule(k: Kernel, deps: Optional[isl.UnionMap] = None) -> isl.Schedule:
    """isl's own scheduler (Pluto-style) on the kernel's statements: validity = every dependence,
    proximity and coincidence = the same (fuse producers with consumers, find parallel loops)."""
    deps = deps if deps is not None else dependences(k)
    dom = reference_schedule(k).domain()
    sc = isl.ScheduleConstraints.on_domain(dom).set_validity(deps).set_proximity(deps).set_coincidence(deps)
    return sc.compute_schedule()


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


__all__ = ["DEFAULT_TILES", "access_maps", "apply_variant", "broadcast_terms",
           "check_legal", "contracted_temps", "default_variant", "dependences", "isl_schedule", "loop_structure",
           "parallel_nests", "reference_schedule", "schedule_map", "variants", "op_count"]
