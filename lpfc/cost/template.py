"""Kernel templates: a dict with layer shapes never seen in the process, planned in milliseconds.

The kernels of a BERT-style encoder layer are structurally the same for every (batch, seq, hidden, heads,
head_dim, ffn): only the numbers in their types change. So the real pipeline runs once per *structural
class* on a probe model whose sizes are distinct primes (>= 17, so no weight is small enough to be inlined
and no size coincides with a constant of the graph), and every number of every fused kernel's types and
shape attributes is recorded as a monomial of the probe's sizes (``3·heads·head_dim``, ``batch·seq``...).
A new dict of the same class instantiates the template: the fused kernel ops of the probe are *retyped in
place* to the new sizes (and restored), and lpfc's own functions decide on them, exactly as ``plan_kernel``
does on a real plan: ``emitter_for`` (the emitters' acceptance tests), the tuning database's choice
(``database_choice``) else the emitter's default variant, the emitter's ``emit`` for the variant text
(``avx2 flash 6x16 IB=48 KB=..``; for cpp-gemm's default, ``cpp_gemm.blocking`` on ``analyse``'s plan
gives ``avx2 6x16 MC=.. NC=.. KC=..`` without generating the C++, in ``emit``'s words, checked against
``emit`` on the probe). The kernel signature is the probe's canonical IR text with the new numbers
substituted (what ``kernel_signature`` prints for the retyped op, without printing it); the shapes text,
FLOPs, bytes, elements and tile-padded FLOPs are products of the monomials, evaluated by straight-line
code compiled once per template and checked against ``kernel_flop``, ``_shape_text`` and the plan's own
counts on the probe.

The structural class of a part is which of its sizes are 1 and which are equal to each other (batch,
seq, hidden, heads, head_dim, ffn and the attention width heads·head_dim for a layer; batch, seq, hidden,
vocab for the embeddings and pooler): those are what the pipeline's and the emitters' structural
decisions compare (a dimension of 1 is squeezed, ``hidden == heads·head_dim`` in every unpruned BERT).

What is not recomputed and why: the generic (polyhedral) emitter's default schedule is the template's
(``recompute``/``precompute`` depend on which loops have extent >= 2 and on legality, which the class
fixes; computing it costs the isl scheduler ~0.2 s). Where a decision cannot be reproduced this way — the
retyped kernel gets another emitter than the probe's, a generic kernel has a tuning-database entry, a
probe's numbers cannot be factorised — ``instantiate`` returns None and the caller plans the real model
(``plan._planned``). ``tests/cost/test_template.py`` checks that the template's kernels (kind, emitter,
variant, shapes, FLOPs, bytes, signature) equal the real plan's on fixed and random dicts, on every target.
"""
from __future__ import annotations

import hashlib
import os
import re
import threading
from dataclasses import dataclass
from typing import Optional

from .plan import _inner_ops

PRIMES = (17, 19, 23, 29, 31, 37, 41, 43, 47, 53)
LAYER_SYMS = ("B", "S", "H", "nh", "hd", "F", "A")       # A = nh·hd, the attention width
ENDS_SYMS = ("B", "S", "H", "V")

_LOCK = threading.Lock()          # retyping mutates the probe's ops: one instantiation at a time


def structural_class(vals: dict) -> tuple:
    """The partition of the sizes into groups of equal value, with the group of 1s marked: a tuple of
    (symbols, is_one) in a canonical order."""
    by: dict = {}
    for s, v in vals.items():
        by.setdefault(v, []).append(s)
    groups = sorted((tuple(sorted(ss)), v == 1) for v, ss in by.items())
    return tuple(groups)


def probe_values(cls: tuple) -> Optional[dict]:
    """Probe sizes of a class: a distinct prime per free group; A's group is nh·hd; 1s stay 1."""
    out, primes = {}, iter(PRIMES)
    for syms, one in cls:
        if one:
            for s in syms:
                out[s] = 1
        elif "A" in syms and "nh" not in syms and "hd" not in syms:
            continue                                   # after nh and hd
        else:
            p = next(primes)
            for s in syms:
                out[s] = p
    for syms, one in cls:
        if not one and "A" in syms and "nh" not in syms and "hd" not in syms:
            v = out["nh"] * out["hd"]
            for s in syms:
                out[s] = v
    return out


def _free_primes(probe: dict) -> dict:
    """prime -> a symbol of that free group (its value in a new dict is the group's value)."""
    out = {}
    for s, v in sorted(probe.items()):
        if v in PRIMES:
            out.setdefault(v, s)
    return out


def _monomial(d: int, primes: dict) -> Optional[tuple]:
    """d as (coefficient, ((symbol, exponent), ...)) over the probe's primes; None if d is ambiguous."""
    terms = []
    for p, s in sorted(primes.items()):
        e = 0
        while d % p == 0:
            d //= p
            e += 1
        if e:
            terms.append((s, e))
    if any(d % p == 0 for p in PRIMES):               # a prime no free group has: not a size of this model
        return None
    return d, tuple(terms)


def _eval(mono: tuple, vals: dict) -> int:
    c, terms = mono
    for s, e in terms:
        c *= vals[s] ** e
    return c


_NUMBERS = re.compile(r"tensor<((?:\d+x)+)|((?:shape|sizes) = \[)([\d, ]*)(\])")
_INT = re.compile(r"\d+")
_NAMES = re.compile(r"[%^][A-Za-z_]+\d+")            # %v17, ^bb0: positional names, not sizes


@dataclass
class _KernelTemplate:
    op: object                 # the probe's fused kernel op (retyped in place while instantiated)
    part: str
    emitter: str               # the probe's emitter
    kind: str                  # the fused block's kind
    generic_choice: Optional[dict]  # the generic emitter's default choice on the probe
    values: list               # [(Value, dtype, (mono index, ...))]
    attrs: list                # [(op, name, (mono index, ...))]
    text: str                  # the canonical text (signature input) as a %-format of mono indices ...
    text_order: tuple          # ... filled in this order
    monos: tuple               # the distinct monomials of its numbers
    used: tuple                # the symbols its numbers depend on (its cache key)
    measures: Optional[dict] = None   # shape text, bytes, elements, matmuls in mono indices (see _measures)
    gemm_text: bool = False    # cpp-gemm: gemm_variant gives emit's variant text (checked on the probe)
    fast: object = None        # compiled: sizes -> (monomials, signature text, shape text, flop, bytes, elements)
    padded: object = None      # compiled: (monomials, MR, NR) -> tile-padded flop


def _retype(kt: _KernelTemplate, ev: list) -> list:
    """Set every type and shape attribute of the template op to the evaluated monomials ``ev``; returns the
    old ones to restore."""
    from ..ir.types import TensorType

    saved = []
    types: dict = {}             # one TensorType per distinct shape (most values share a few)
    for v, dtype, shape in kt.values:
        saved.append((v, v.type))
        sh = tuple([ev[i] for i in shape])
        t = types.get((sh, dtype))
        if t is None:
            t = types[(sh, dtype)] = TensorType(sh, dtype)
        v.type = t
    for o, name, lst in kt.attrs:
        saved.append((o, name, o.attributes[name]))
        o.attributes[name] = [ev[i] for i in lst]
    return saved


def _restore(saved: list) -> None:
    for s in reversed(saved):
        if len(s) == 2:
            s[0].type = s[1]
        else:
            s[0].attributes[s[1]] = s[2]


def _text_template(text: str, primes: dict) -> Optional[list]:
    segs: list = []
    pos = 0
    for m in _NUMBERS.finditer(text):
        segs.append(text[pos:m.start()])
        if m.group(1) is not None:
            segs.append("tensor<")
            for d in m.group(1).split("x")[:-1]:
                mono = _monomial(int(d), primes)
                if mono is None:
                    return None
                segs += [mono, "x"]
        else:
            segs.append(m.group(2))
            nums = [int(x) for x in _INT.findall(m.group(3))]
            for i, d in enumerate(nums):
                mono = _monomial(d, primes)
                if mono is None:
                    return None
                segs += ([", "] if i else []) + [mono]
            segs.append(m.group(4))
        pos = m.end()
    segs.append(text[pos:])
    # a probe size anywhere else (an attribute we do not substitute) would be left stale
    for s in segs:
        if isinstance(s, str) and any(int(x) % p == 0 for x in _INT.findall(_NAMES.sub("", s)) for p in primes
                                      if int(x) >= p):
            return None
    return segs


def _render(segs: list, vals: dict) -> str:
    return "".join(s if isinstance(s, str) else str(_eval(s, vals)) for s in segs)


def build_template(op, part: str, probe: dict, tgt) -> Optional[_KernelTemplate]:
    """The template of one probe kernel op, or None where its numbers cannot be put in symbols."""
    from ..codegen.kernel_source import emitter_for
    from ..codegen.signature import canonical_text

    primes = _free_primes(probe)
    values, seen, attrs = [], set(), []

    def add(v):
        if id(v) in seen:
            return True
        seen.add(id(v))
        shape = []
        for d in v.type.shape:
            mono = _monomial(d, primes)
            if mono is None:
                return False
            shape.append(mono)
        values.append((v, v.type.dtype, tuple(shape)))
        return True

    ops = _inner_ops(op)
    for o in ops:
        for v in (*o.operands, *o.results):
            if not add(v):
                return None
        for r in o.regions:
            for a in r.block.args:
                if not add(a):
                    return None
        if o is not op:
            for name, val in o.attributes.items():
                if name in ("shape", "sizes") and isinstance(val, (list, tuple)):
                    monos = [_monomial(int(x), primes) for x in val]
                    if any(m is None for m in monos):
                        return None
                    attrs.append((o, name, tuple(monos)))
                elif isinstance(val, (list, tuple)) and any(isinstance(x, int) and x >= 17 for x in val):
                    return None                    # a size in an attribute we do not know how to substitute
    text = canonical_text(op) + "|" + ",".join(str(v.type) for v in op.operands)
    segs = _text_template(text, primes)
    if segs is None or _render(segs, probe) != text:
        return None
    emitter = emitter_for(op, tgt)
    generic_choice = None
    if emitter.name == "generic":
        generic_choice = emitter.variants(op, tgt)[0]
    index: dict = {}
    for m in [m for _, _, sh in values for m in sh] + [m for _, _, lst in attrs for m in lst] + \
            [x for x in segs if not isinstance(x, str)]:
        index.setdefault(m, len(index))
    values = [(v, dt, tuple(index[m] for m in sh)) for v, dt, sh in values]
    attrs = [(o, n, tuple(index[m] for m in lst)) for o, n, lst in attrs]
    fmt = "".join(x.replace("%", "%%") if isinstance(x, str) else "%s" for x in segs)
    order = tuple(index[x] for x in segs if not isinstance(x, str))
    used = sorted({s for m in index for s, _ in m[1]})
    from ..codegen.model_gen import kernel_kind

    kt = _KernelTemplate(op, part, emitter.name, kernel_kind(op), generic_choice, values, attrs, fmt, order, tuple(index),
                         tuple(used))
    if _signature_text(kt, [_eval(m, probe) for m in kt.monos]) != text:
        return None
    kt.measures = _measures(kt, ops)
    _compile(kt)
    if kt.fast(probe)[1] != text:
        return None
    for tile in ("-", "avx2 6x16", "neon 8x12", "avx512 14x32"):      # no tile, and the register tiles
        if _measured(kt, probe, tile) != _measured_real(op, tile):
            return None
    if emitter.name == "cpp-gemm" and emitter.variants(op, tgt)[0] == {}:
        kt.gemm_text = gemm_variant(op, tgt) == emitter.emit(op, tgt, "lpfc_cost_probe", {}).variant
    return kt


def _measures(kt: _KernelTemplate, ops: list) -> dict:
    """What plan_kernel counts (kernel_flop, bytes, elements, _padded_flop, _shape_text), as products of mono
    indices, so a cached variant needs no retyping; build_template checks them against the real functions."""
    op = ops[0]
    shape_of = {id(v): sh for v, _, sh in kt.values}
    dtype_of = {id(v): dt for v, dt, _ in kt.values}

    def fmt(vs):
        parts, order = [], []
        for v in vs:
            sh = shape_of[id(v)]
            parts.append("x".join(["%s"] * len(sh)) or "scalar")
            order += sh
        return ",".join(parts), order
    f_in, o_in = fmt(op.operands)
    f_out, o_out = fmt(op.results)
    mms = []
    for o in ops:
        if o.name in ("graph.matmul", "graph.gemm") and o.operands and o.results:
            a = shape_of[id(o.operands[0])]
            if not a:
                continue
            k = a[0] if o.name == "graph.gemm" and o.attributes.get("trans_a", False) else a[-1]
            mms.append((shape_of[id(o.results[0])], k))
    return {"shape_fmt": f"{f_in}->{f_out}", "shape_order": tuple(o_in + o_out),
            "bytes": [(dtype_of[id(v)].itemsize, shape_of[id(v)]) for v in (*op.operands, *op.results)],
            "elements": [shape_of[id(r)] for o in ops[1:] for r in o.results],
            "results": [shape_of[id(r)] for r in op.results], "matmuls": mms}


def _prod(ev: list, idx) -> int:
    n = 1
    for i in idx:
        n *= ev[i]
    return n


def _measured_real(op, variant: str) -> tuple:
    from ..codegen.model_gen import _shape_text, kernel_flop
    from .plan import _padded_flop

    flop = kernel_flop(op)
    nbytes = sum(v.type.nbytes for v in (*op.operands, *op.results))
    elements = sum(r.type.num_elements for o in _inner_ops(op)[1:] for r in o.results) or \
        sum(r.type.num_elements for r in op.results)
    return _shape_text(op), flop, nbytes, elements, _padded_flop(op, flop, variant)


_TILE = re.compile(r"(\d+)x(\d+)")


def _evaluate(kt: _KernelTemplate, vals: dict) -> list:
    return kt.fast(vals)[0]


def _compile(kt: _KernelTemplate) -> None:
    """kt.fast(vals) -> (monomials, signature text, shape text, flop, bytes, elements) and kt.padded(ev, mr, nr):
    straight-line Python made once per template (what _measured computes, without its loops)."""
    def mono(m):
        c, terms = m
        return "*".join([str(c)] + [f"v[{s!r}]" + (f"**{e}" if e > 1 else "") for s, e in terms])

    def prod(idx):
        return "*".join(["1"] + [f"e{i}" for i in idx])
    m = kt.measures
    n = len(kt.monos)
    body = [f"    e{i} = {mono(x)}" for i, x in enumerate(kt.monos)]
    body.append(f"    ev = [{', '.join(f'e{i}' for i in range(n))}]")
    body.append(f"    sig = _T % ({''.join(f'e{i}, ' for i in kt.text_order)})")
    body.append(f"    shp = _S % ({''.join(f'e{i}, ' for i in m['shape_order'])})")
    body.append("    flop = " + (" + ".join(f"2*{prod(out)}*e{k}" for out, k in m["matmuls"]) or "0"))
    body.append("    nbytes = " + (" + ".join(f"{size}*{prod(sh)}" for size, sh in m["bytes"]) or "0"))
    body.append("    elements = (" + (" + ".join(prod(sh) for sh in m["elements"]) or "0") + ") or ("
                + (" + ".join(prod(sh) for sh in m["results"]) or "0") + ")")
    body.append("    return ev, sig, shp, flop, nbytes, elements")
    pad = ["def padded(ev, mr, nr):", "    total = 0"]
    for out, k in m["matmuls"]:
        if len(out) >= 2:
            b = "*".join(["1"] + [f"ev[{i}]" for i in out[:-2]])
            pad.append(f"    total += 2*{b}*(-(-ev[{out[-2]}]//mr)*mr)*(-(-ev[{out[-1]}]//nr)*nr)*ev[{k}]")
    pad.append("    return total")
    ns = {"_T": kt.text, "_S": m["shape_fmt"]}
    exec(compile("def fast(v):\n" + "\n".join(body) + "\n" + "\n".join(pad) + "\n", "<lpfc-template>", "exec"), ns)
    kt.fast, kt.padded = ns["fast"], ns["padded"]


def _signature_text(kt: _KernelTemplate, ev: list) -> str:
    return kt.text % tuple([ev[i] for i in kt.text_order])


def _measured(kt: _KernelTemplate, vals: dict, variant: str) -> tuple:
    """(shape text, flop, bytes, elements, padded flop) at the sizes ``vals``."""
    _, _, text, flop, nbytes, elements = kt.fast(vals)
    padded = flop
    t = _TILE.search(variant or "")
    if t and flop:
        padded = max(kt.padded(kt.fast(vals)[0], int(t.group(1)), int(t.group(2))), flop)
    return text, flop, nbytes, elements, padded


class PartTemplate:
    """The kernel templates of one part (a layer, or the embeddings and pooler) of one structural class."""

    def __init__(self, kernels: list, probe: dict, module):
        self.kernels = kernels
        self.probe = probe
        self.module = module            # keeps the probe ops alive
        self.cache: dict = {}           # (kernel index, used sizes) -> KernelPlan


_DB = [None, None]                       # (mtime, TuningDatabase): reloaded when the file changes


_DB_PATH: dict = {}                      # $LPFC_CACHE_DIR -> the tuning database's path (a str: no pathlib per call)


def _database():
    from ..tune.database import TuningDatabase, default_path

    env = os.environ.get("LPFC_CACHE_DIR")
    p = _DB_PATH.get(env)
    if p is None:
        p = _DB_PATH[env] = str(default_path())
    try:
        stamp = (p, os.stat(p).st_mtime_ns)
    except OSError:
        stamp = (p, None)
    if _DB[1] is None or _DB[0] != stamp:
        _DB[0], _DB[1] = stamp, TuningDatabase(p)
    return _DB[1]


def instantiate(pt: PartTemplate, vals: dict, tgt, tkey: str, part_filter=None, db_box=None) -> Optional[list]:
    """The KernelPlans of the template at sizes ``vals`` (symbol -> size), or None to fall back.
    ``db_box``: a one-item list holding the tuning database for this dict (looked up at the first miss)."""
    out = []
    db_box = db_box if db_box is not None else [None]
    db = db_box[0]
    for i, kt in enumerate(pt.kernels):
        if part_filter is not None and kt.part not in part_filter:
            continue
        key = (i, tuple([vals[s] for s in kt.used]))
        hit = pt.cache.get(key)
        if hit is None:
            if db is None:
                db = db_box[0] = _database()
            hit = _plan_one(kt, vals, tgt, tkey, db)
            if hit is None:
                return None
            if len(pt.cache) > 20_000:        # bounded: a long NAS loop keeps memory flat
                pt.cache.clear()
            pt.cache[key] = hit
        out.append(hit)
    return out


_F: dict = {}      # the planning functions, imported once (codegen and tune sit beside cost, not below it)


def _funcs() -> dict:
    if not _F:
        from ..codegen.generic import choice_name
        from ..codegen.kernel_source import emitter_for
        from ..codegen.model_gen import _shape_text, kernel_flop, kernel_kind
        from ..tune.tuner import database_choice
        from . import plan

        _F.update(choice_name=choice_name, emitter_for=emitter_for, shape_text=_shape_text, kernel_flop=kernel_flop,
                  kernel_kind=kernel_kind, database_choice=database_choice, plan=plan)
    return _F


def _plan_one(kt: _KernelTemplate, vals: dict, tgt, tkey: str, db):
    f = _funcs()
    plan = f["plan"]
    ev, sigtext, text, flop, nbytes, elements = kt.fast(vals)
    sig = hashlib.sha256(sigtext.encode()).hexdigest()[:32]
    hit = plan._VARIANT_CACHE.get((tkey, sig))
    if hit is None:
        hit = _decide(kt, ev, sig, tgt, tkey, db)
        if hit is None:
            return None
        plan.remember_variant(tkey, sig, hit)
    emitter_name, variant = hit
    if emitter_name != kt.emitter:
        return None                              # another emitter than the probe's: plan the real model
    padded = flop
    t = _TILE.search(variant)
    if t and flop:
        padded = max(kt.padded(ev, int(t.group(1)), int(t.group(2))), flop)
    return plan.KernelPlan(kt.kind, emitter_name, variant, text, flop, nbytes, elements, padded, sig, kt.part)


def _decide(kt: _KernelTemplate, ev: list, sig: str, tgt, tkey: str, db) -> Optional[tuple]:
    """(emitter, variant text) of the template op retyped to ``ev``, decided by lpfc's own functions, as
    plan.plan_kernel decides them (select_variant: the tuning database's choice, else the default)."""
    f = _funcs()
    op = kt.op
    with _LOCK:
        saved = _retype(kt, ev)
        try:
            emitter = f["emitter_for"](op, tgt)
            if emitter.name != kt.emitter:
                return None
            if emitter.name == "generic":
                if db.lookup(sig, tkey) is not None:
                    return None                  # its variants need the isl scheduler: plan the real model
                return emitter.name, f["choice_name"](kt.generic_choice)
            found = f["database_choice"](db, op, tgt, emitter, sig, tkey)
            choice = found.choice if found is not None else emitter.variants(op, tgt)[0]
            if kt.gemm_text and not choice:
                text = gemm_variant(op, tgt)
                if text is not None:
                    return emitter.name, text
            return emitter.name, f["plan"]._variant_text(op, tgt, emitter, choice)
        finally:
            _restore(saved)


def gemm_variant(op, tgt) -> Optional[str]:
    """The cpp-gemm emitter's variant text for its default choice without generating its C++: its tile
    choice is ``cpp_gemm.blocking`` on ``cpp_gemm.analyse``'s plan, for the ISA ``select_isa`` picks; the
    words are those ``emit_gemm`` writes (build_template checks them against ``emit`` on the probe)."""
    from ..codegen import cpp_gemm, simd

    plan = cpp_gemm.analyse(op)
    if plan is None:
        return None
    isa = simd.select_isa(tgt, {})
    MC, NC, KC = cpp_gemm.blocking(plan, isa, {})
    return (f"{isa.name} {isa.mr}x{isa.nr} MC={MC} NC={NC} KC={KC}"
            + ("" if plan.epi.vector else " scalar-epilogue"))


__all__ = ["PartTemplate", "build_template", "instantiate", "probe_values", "structural_class"]
