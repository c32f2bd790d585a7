"""A poly kernel printed as C++: isl's AST of each nest walked by :class:`CPrinter`.

Poly (lpfc/poly/schedule.py) decides the schedule -- variants, dependences, legality, which nests run in
parallel, which temps contract to scalars; this module only prints it, with the scalar expressions of
:mod:`.scalar_expr`. It sits in codegen so that poly never imports codegen (docs/design.md, "Layers";
issue #11 item 2). Parallel outer loops go through lpfc_parallel::parallel_for.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import islpy as isl

from ..ir.types import DType
from ..poly.model import Aff, Const, Div, Expr, IfLess, IndexValue, Kernel, Load, Mod, Op, Read, Scaled, Stmt, Sum
# the schedule's own views of a kernel (private to poly, shared with its printer only)
from ..poly.schedule import (_flat, _prod, _sched_len_nest, _sched_map, check_legal, contracted_temps, dependences,
                             isl_schedule, parallel_nests)
from . import scalar_expr as se

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


@dataclass
class GeneratedC:
    body: str                  # the function body (C++ statements)
    helpers: set               # names of scalar_expr.C_HELPERS used
    extra_helpers: list        # other helper snippets (lpfc_floord, lpfc_wrap)
    parallel: list             # per nest: its outer loop runs on the thread pool


#: a nest is split across threads when it runs at least this many statement instances
PARALLEL_MIN_WORK = 1 << 15


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
    _declare_buffers(pr, k, scalars)
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


def _declare_buffers(pr: "CPrinter", k: Kernel, scalars) -> None:
    """The kernel's buffer pointers: inputs and outputs from the call's arrays, temporaries on the heap
    (except those contracted to ``scalars``, which each nest declares itself)."""
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


def _generate_c_isl(k: Kernel, deps=None) -> GeneratedC:
    sched = isl_schedule(k, deps)
    pr = CPrinter(k, set())
    _declare_buffers(pr, k, {})
    pr.emit("// schedule: isl compute_schedule", 1)
    if not sched.get_domain().is_empty():
        ast = isl.AstBuild.from_context(isl.Set("{ : }")).node_from_schedule(sched)
        pr.node(ast, 1, {s.name: s for s in k.stmts})
    body = "\n".join(pr.lines)
    extra = [FLOORD] if "lpfc_floord" in body else []
    if "lpfc_wrap" in pr.helpers:
        extra.append(WRAP)
    return GeneratedC(body, {h for h in pr.helpers if h in se.C_HELPERS}, extra, [])


__all__ = ["CPrinter", "FLOORD", "GeneratedC", "PARALLEL_MIN_WORK", "WRAP", "ast_expr_c", "generate_c"]
