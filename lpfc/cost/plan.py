"""The fused kernels lpfc will emit for a model, as the estimator sees them (no C++ build).

Every figure comes from lpfc's own planning code, not from a re-guess: the default pipeline fuses the
kernels (``lpfc.passes``), ``emitter_for`` picks the emitter, ``select_variant`` the variant (the
tuning database's, else the emitter's default, exactly as ``lpfc compile`` without --tune), and the
emitter's ``emit`` names the variant and tile (e.g. ``avx2 6x16 MC=132 NC=192 KC=384``).

Architecture dicts are planned per layer: a model's kernels are the embedding/mask kernels, then each
layer's kernels, then the pooler's, and each part depends only on a few sizes, so a part is planned
once per process (``_PART_CACHE``) from a one-layer model and reused; a test checks that the parts
put together equal the plan of the whole model.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

import numpy as np


@dataclass(frozen=True)
class KernelPlan:
    kind: str            # the fused block's kind (gemm, attention, gemm_layer_norm, embedding, ...)
    emitter: str         # the emitter that generates it (cpp-gemm, cpp-attention, generic, ...)
    variant: str         # the variant/tile the emitter reports (as in `lpfc run --profile`)
    shapes: str          # operand and result shapes, "AxB,CxD->ExF"
    flop: int            # 2·M·N·K over its matmuls (as the profiles count)
    bytes: int           # operand + result bytes (what a call must at least read and write)
    elements: int        # elements produced by all its inner ops (the non-matmul work)
    padded_flop: int     # flop with M and N rounded up to the GEMM register tile (= flop otherwise)
    signature: str       # the tuning database's kernel signature
    part: str = ""       # embeddings / layer N / pooler, for architecture dicts

    @property
    def cls(self) -> str:
        """The cost model's class of this kernel: emitter and block kind."""
        return f"{self.emitter}/{self.kind}"


def _inner_ops(op):
    stack, out = [op], []
    while stack:
        o = stack.pop()
        out.append(o)
        for r in o.regions:
            stack.extend(r.block.ops)
    return out


_TILE = re.compile(r"(\d+)x(\d+)")


def _padded_flop(op, flop: int, variant: str) -> int:
    """flop as the register tile computes it: M rounded to MR, N to NR (the edge tiles' wasted lanes)."""
    m = _TILE.search(variant or "")
    if not m or not flop:
        return flop
    mr, nr = int(m.group(1)), int(m.group(2))
    total = 0
    for o in _inner_ops(op):
        if o.name in ("graph.matmul", "graph.gemm") and o.operands and o.results:
            a = o.operands[0].type.shape
            out = o.results[0].type.shape
            if not a or len(out) < 2:
                continue
            k = a[0] if o.name == "graph.gemm" and o.attributes.get("trans_a", False) else a[-1]
            M, N = out[-2], out[-1]
            batch = int(np.prod(out[:-2], dtype=np.int64)) if len(out) > 2 else 1
            total += 2 * batch * (-(-M // mr) * mr) * (-(-N // nr) * nr) * int(k)
    return max(total, flop)


def _variant_text(op, tgt, emitter, choice) -> str:
    try:
        ks = emitter.emit(op, tgt, "lpfc_cost_probe", choice)
        return ks.variant or "-"
    except Exception:   # the estimate never fails on what only names the variant
        return ",".join(f"{k}={v}" for k, v in sorted(choice.items())) or "-"


_VARIANT_CACHE: dict = {}
VARIANT_CACHE_LIMIT = 100_000     # entries (~0.3 KB each); a NAS loop's new shapes must not grow memory forever


def remember_variant(tkey: str, sig: str, hit: tuple) -> None:
    if len(_VARIANT_CACHE) >= VARIANT_CACHE_LIMIT:
        _VARIANT_CACHE.clear()
    _VARIANT_CACHE[(tkey, sig)] = hit


def plan_kernel(op, tgt, tkey: str, part: str = "") -> KernelPlan:
    from ..codegen.kernel_source import emitter_for
    from ..codegen.model_gen import _shape_text, kernel_flop, kernel_kind
    from ..tune import kernel_signature, select_variant

    sig = kernel_signature(op)
    hit = _VARIANT_CACHE.get((tkey, sig))
    if hit is None:
        emitter = emitter_for(op, tgt)
        choice = select_variant(op, tgt, emitter).choice
        hit = (emitter.name, _variant_text(op, tgt, emitter, choice))
        remember_variant(tkey, sig, hit)
    emitter_name, variant = hit
    flop = kernel_flop(op)
    nbytes = sum(v.type.nbytes for v in (*op.operands, *op.results))
    elements = sum(r.type.num_elements for o in _inner_ops(op)[1:] for r in o.results) or \
        sum(r.type.num_elements for r in op.results)
    return KernelPlan(kernel_kind(op), emitter_name, variant, _shape_text(op), flop, nbytes, elements,
                      _padded_flop(op, flop, variant), sig, part)


def plan_module(module, target="host", pipeline: str = "default", run_pipeline: bool = True) -> list:
    """The kernel plans of a graph-IR module (the pipeline runs on it in place)."""
    from ..codegen.targets import get_target
    from ..passes import Pipeline
    from ..passes.lp_fusion.blocks import kernels

    tgt = get_target(target) if isinstance(target, str) else target
    if run_pipeline and pipeline:
        Pipeline.parse(pipeline).run(module)
    tkey = target_key_cached(tgt.name)
    return [plan_kernel(op, tgt, tkey) for op in kernels(module.main)]


@lru_cache(maxsize=None)
def target_key_cached(target: str) -> str:
    from ..tune import target_key

    return target_key(target)


# -- architecture dicts: plans by part ----------------------------------------------------------------

_PART_CACHE: dict = {}


def _part_of(op) -> str:
    locs = [o.location.name for o in _inner_ops(op) if getattr(o, "location", None) is not None]
    if any(n.startswith(("/embeddings", "/Cast", "/Reshape_1")) for n in locs):
        return "embeddings"
    if any(n.startswith("/pooler") for n in locs):
        return "pooler"
    m = re.search(r"/encoder/layer\.(\d+)/", " ".join(locs))
    return f"layer {m.group(1)}" if m else "layer"


def _planned(target: str, arch: dict) -> dict:
    """part -> [KernelPlan] of the model ``arch`` (cached per process)."""
    key = (target, tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in arch.items())))
    hit = _PART_CACHE.get(key)
    if hit is None:
        from ..codegen.targets import get_target
        from ..passes import Pipeline
        from ..passes.lp_fusion.blocks import kernels
        from .arch import build_encoder

        tgt = get_target(target)
        tkey = target_key_cached(target)
        m = build_encoder(arch)
        Pipeline.parse("default").run(m)
        hit = {"all": []}
        for op in kernels(m.main):
            part = _part_of(op)
            p = plan_kernel(op, tgt, tkey, part)
            hit.setdefault(part, []).append(p)
            hit["all"].append(p)
        _PART_CACHE[key] = hit
    return hit


_TEMPLATES: dict = {}       # (target, part kind, structural class) -> PartTemplate, or None (plan the real model)
_ARCH_CACHE: dict = {}      # (target, normalized dict) -> [KernelPlan]
_PARTED: dict = {}          # (id(plan), part) -> (plan, the plan with that part): dataclasses.replace is slow


def _with_part(k: KernelPlan, part: str) -> KernelPlan:
    hit = _PARTED.get((id(k), part))
    if hit is None:
        if len(_PARTED) > 100_000:
            _PARTED.clear()
        k2 = object.__new__(KernelPlan)          # replace(k, part=part), without dataclasses' introspection
        k2.__dict__.update(k.__dict__)
        k2.__dict__["part"] = part
        hit = _PARTED[(id(k), part)] = (k, k2)
    return hit[1]
TEMPLATES = True            # False: plan every part from a real model (the tests compare both)
STATS = {"template": 0, "real": 0}   # parts planned each way (tests and bench/oracle_speed.py report it)


_CLASS_OF: dict = {}        # (target, which, sizes) -> PartTemplate: skips computing the class of known sizes


def _template(target: str, which: str, vals: dict):
    """The PartTemplate of ``which`` ("layer" or "ends") for the structural class of ``vals`` (cached)."""
    sizes = (target, which, tuple(vals.values()))
    hit = _CLASS_OF.get(sizes, _CLASS_OF)
    if hit is not _CLASS_OF:
        return hit
    if len(_CLASS_OF) > 100_000:
        _CLASS_OF.clear()
    hit = _CLASS_OF[sizes] = _template_of_class(target, which, vals)
    return hit


def _template_of_class(target: str, which: str, vals: dict):
    from .template import PartTemplate, build_template, probe_values, structural_class

    cls = structural_class(vals)
    key = (target, which, cls)
    if key in _TEMPLATES:
        return _TEMPLATES[key]
    from ..codegen.targets import get_target
    from ..passes import Pipeline
    from ..passes.lp_fusion.blocks import kernels
    from .arch import build_encoder

    pv = probe_values(cls)
    if which == "layer":
        arch = {"layers": 2, "hidden": pv["H"], "heads": pv["nh"], "head_dim": pv["hd"], "ffn": pv["F"],
                "seq": pv["S"], "batch": pv["B"], "vocab": 59}
        parts = ("layer 1",)
    else:
        arch = {"layers": 2, "hidden": pv["H"], "heads": 1, "ffn": 61, "seq": pv["S"], "batch": pv["B"],
                "vocab": pv["V"]}
        parts = ("embeddings", "pooler")
    tgt = get_target(target)
    try:
        m = build_encoder(arch)
        Pipeline.parse("default").run(m)
        kts = []
        for op in kernels(m.main):
            part = _part_of(op)
            if part not in parts:
                continue
            kt = build_template(op, part, pv, tgt)
            if kt is None:      # a number we cannot put in symbols: this class is planned from real models
                kts = None
                break
            kts.append(kt)
    except Exception:           # noqa: BLE001  a probe that fails is no template: the real models answer (or fail)
        kts, m = None, None
    pt = PartTemplate(kts, pv, m) if kts else None
    _TEMPLATES[key] = pt
    return pt


def _from_template(target: str, which: str, vals: dict, parts=None, db_box=None):
    from .template import instantiate

    if not TEMPLATES:
        return None
    pt = _template(target, which, vals)
    if pt is None:
        return None
    return instantiate(pt, vals, get_target_cached(target), target_key_cached(target), parts, db_box)


@lru_cache(maxsize=None)
def get_target_cached(target: str):
    from ..codegen.targets import get_target

    return get_target(target)


def plan_arch(arch: Mapping, target: str = "host") -> list:
    """The kernel plans of an architecture dict, put together from per-part plans.

    The embeddings and mask kernels depend only on hidden/seq/batch/vocab, the pooler's on
    hidden/seq/batch, and each layer's on its own sizes. Each part is instantiated from the template of
    its structural class (lpfc.cost.template: the real pipeline ran once on a probe of that class; the
    emitters decide on the retyped kernels); where a template cannot reproduce a decision, the part comes
    from a real two-layer model (layer 1's kernels; layer 0 is the same) with a tiny vocabulary where the
    vocabulary does not matter. Whole dicts and parts are cached per process."""
    from .arch import attention_width, normalize

    a = normalize(arch)
    key = (target, tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(a.items())))
    hit = _ARCH_CACHE.get(key)
    if hit is not None:
        return list(hit)
    H, S, B, V = a["hidden"], a["seq"], a["batch"], a["vocab"]
    if S == 1:      # one token: the pooler's row gather fuses into the last layer's kernel; no parts
        out = _planned(target, a)["all"]
        _ARCH_CACHE[key] = tuple(out)
        return list(out)
    db_box = [None]         # the tuning database, stat'ed once per dict
    ends = _from_template(target, "ends", {"B": B, "S": S, "H": H, "V": V}, db_box=db_box)
    STATS["template" if ends is not None else "real"] += 1
    if ends is None:
        e = _planned(target, {"layers": 2, "hidden": H, "heads": 1, "ffn": 16, "seq": S, "batch": B, "vocab": V,
                              "head_dim": a["head_dim"] and H})
        ends = e.get("embeddings", []) + e.get("pooler", [])
    out = [_with_part(k, "embeddings") for k in ends if k.part == "embeddings"]
    for i in range(a["layers"]):
        nh, hd, A = attention_width(a, i)
        mid = _from_template(target, "layer", {"B": B, "S": S, "H": H, "nh": nh, "hd": hd, "F": a["ffn"][i],
                                               "A": A}, db_box=db_box)
        STATS["template" if mid is not None else "real"] += 1
        if mid is None:
            mid = _planned(target, {"layers": 2, "hidden": H, "heads": a["heads"][i], "ffn": a["ffn"][i], "seq": S,
                                    "batch": B, "vocab": 2, "head_dim": a["head_dim"]}).get("layer 1", [])
        part = f"layer {i}"
        out += [_with_part(k, part) for k in mid]
    out += [_with_part(k, "pooler") for k in ends if k.part == "pooler"]
    if len(_ARCH_CACHE) > 10_000:
        _ARCH_CACHE.clear()
    _ARCH_CACHE[key] = tuple(out)
    return out


__all__ = ["KernelPlan", "plan_arch", "plan_kernel", "plan_module"]
