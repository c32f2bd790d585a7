"""Kernel templates (lpfc/cost/template.py): a dict's kernels instantiated from its structural class's template
must be exactly the real plan's — kind, emitter, variant, shapes, FLOPs, bytes, elements, signature."""
import random

import pytest

import lpfc.cost.plan as P
from lpfc.cost.arch import build_encoder
from lpfc.cost.plan import plan_arch, plan_module
from lpfc.cost.template import probe_values, structural_class


def _full(plans):
    return sorted((k.kind, k.emitter, k.variant, k.shapes, k.flop, k.bytes, k.elements, k.padded_flop, k.signature)
                  for k in plans)


def _random_archs(n, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        L = rng.randint(1, 3)
        H = rng.choice([32, 48, 64, 96, 128])
        hd = rng.choice([None, None, 16])
        heads = [rng.choice([h for h in (1, 2, 3, 4, 6, 8) if hd or H % h == 0]) for _ in range(L)]
        ffn = [rng.choice([H, 37, 64, 100, 3 * H]) for _ in range(L)]
        a = dict(layers=L, hidden=H, heads=heads, ffn=ffn, seq=rng.choice([7, 37, 64, H]),
                 batch=rng.choice([1, 2, 3]), vocab=rng.choice([2, 50, 300]))
        if hd:
            a["head_dim"] = hd
        out.append(a)
    return out


ARCHS = [
    dict(layers=1, hidden=64, heads=4, ffn=128, seq=37, batch=3, vocab=100),               # 1 layer, odd seq, batch 3
    dict(layers=3, hidden=48, heads=[3, 6, 2], ffn=[40, 96, 48], seq=7, batch=1, vocab=30),  # lists, ffn == hidden
    dict(layers=2, hidden=96, heads=[12, 4], head_dim=16, ffn=[160, 96], seq=96, batch=2, vocab=50),  # pruned heads
    dict(layers=2, hidden=32, heads=[1, 2], ffn=[32, 64], seq=1, batch=2, vocab=20),        # one token: planned whole
] + _random_archs(5, seed=4)


@pytest.mark.parametrize("arch", ARCHS, ids=[f"arch{i}" for i in range(len(ARCHS))])
def test_template_kernels_equal_the_real_plan(arch):
    P._ARCH_CACHE.clear()
    before = P.STATS["template"]
    got = plan_arch(arch)
    assert _full(got) == _full(plan_module(build_encoder(arch)))
    if arch["seq"] > 1:
        assert P.STATS["template"] > before          # the template was used, not the real-model fallback
    # a second dict of the same class with other sizes: instantiated, not probed again
    other = dict(arch, hidden=arch["hidden"] * 2, seq=arch["seq"] + 2 if arch["seq"] > 1 else 1)
    got2 = plan_arch(other)
    assert _full(got2) == _full(plan_module(build_encoder(other)))


def test_structural_class_and_probe():
    vals = {"B": 1, "S": 128, "H": 768, "nh": 12, "hd": 64, "F": 3072, "A": 768}
    cls = structural_class(vals)
    assert (("B",), True) in cls and (("A", "H"), False) in cls
    pv = probe_values(cls)
    assert pv["B"] == 1 and pv["A"] == pv["H"] == pv["nh"] * pv["hd"]
    assert len({pv["S"], pv["nh"], pv["hd"], pv["F"]}) == 4 and min(pv["S"], pv["F"]) > 16
    assert structural_class(dict(vals, S=96, F=1024)) == cls                    # same class: only sizes differ
    assert structural_class(dict(vals, F=768)) != cls                            # ffn == hidden: another class


def test_the_probe_is_restored_and_a_decision_it_cannot_reproduce_falls_back(monkeypatch):
    arch = dict(layers=2, hidden=64, heads=[2, 4], ffn=[80, 96], seq=12, batch=2, vocab=40)
    P._ARCH_CACHE.clear()
    want = _full(plan_module(build_encoder(arch)))
    assert _full(plan_arch(arch)) == want
    pt = next(t for (tg, which, _), t in P._TEMPLATES.items() if which == "layer" and t is not None)
    types = [v.type for kt in pt.kernels for v, _, _ in kt.values]
    P._ARCH_CACHE.clear()
    plan_arch(dict(arch, hidden=128, seq=20))
    assert [v.type for kt in pt.kernels for v, _, _ in kt.values] == types    # retyped, then restored
    # the emitter of a retyped kernel differs from the probe's: the part is planned from a real model
    for t in list(P._TEMPLATES.values()):
        if t is not None:
            for kt in t.kernels:
                monkeypatch.setattr(kt, "emitter", "not-" + kt.emitter)
                t.cache.clear()
    P._ARCH_CACHE.clear()
    before = P.STATS["real"]
    assert _full(plan_arch(arch)) == want
    assert P.STATS["real"] > before


@pytest.mark.parametrize("target", ["arm64-linux", "opencl"])
def test_templates_on_other_targets(target):
    arch = dict(layers=2, hidden=64, heads=[2, 4], ffn=[96, 64], seq=21, batch=3, vocab=40)
    P._ARCH_CACHE.clear()
    before = P.STATS["template"]
    assert _full(plan_arch(arch, target)) == _full(plan_module(build_encoder(arch), target))
    assert P.STATS["template"] > before


def _clear_plan_caches():
    P._ARCH_CACHE.clear()
    P._VARIANT_CACHE.clear()
    for t in P._TEMPLATES.values():
        if t is not None:
            t.cache.clear()


def test_a_tuned_variant_reaches_the_template_plan(tmp_path, monkeypatch):
    """A tuning-database entry for a layer's kernel changes its variant in the real plan and in the template's."""
    from lpfc.tune.database import TuningDatabase

    monkeypatch.setenv("LPFC_CACHE_DIR", str(tmp_path))
    arch = dict(layers=2, hidden=64, heads=[2, 4], ffn=[96, 160], seq=100, batch=3, vocab=40)
    _clear_plan_caches()
    default = plan_arch(arch)
    ffn = next(k for k in default if k.part == "layer 1" and k.kind == "gemm" and "x160" in k.shapes)
    TuningDatabase().store(ffn.signature, P.target_key_cached("host"),
                           {"emitter": "cpp-gemm", "choice": {"mc_target": 32}, "timings": {}, "op": "graph.fused",
                            "kind": "gemm"})
    _clear_plan_caches()
    before = P.STATS["template"]
    tuned = plan_arch(arch)
    assert P.STATS["template"] == before + 3            # from templates, not from real models
    real = plan_module(build_encoder(arch))
    assert _full(tuned) == _full(real)
    assert _full(tuned) != _full(default)          # the entry did change a variant (MC)
    _clear_plan_caches()
