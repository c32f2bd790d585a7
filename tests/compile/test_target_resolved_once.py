"""The target is resolved once (issue #11, item 1): ``lpfc.compile`` turns the name into a Target that
carries its toolchain (``resolve_target``), and the stages below -- the emitters' ISA choice, the tuning
database's key, the tuner's builds -- use that toolchain instead of looking the compiler up again."""
from __future__ import annotations

import time

import pytest

import lpfc
from lpfc.codegen import toolchain as toolchain_mod
from lpfc.codegen.generic import GENERIC
from lpfc.codegen.targets import get_target
from lpfc.codegen.toolchain import resolve_target
from lpfc.errors import ToolchainError
from lpfc.testing import zoo
from lpfc.tune import TuningDatabase, target_key, tune_kernel

from ..poly.test_figure4 import figure4


def _count_lookups(monkeypatch) -> list:
    calls = []
    real = toolchain_mod.find_toolchain

    def counting(target, **kw):
        calls.append(getattr(target, "name", target))
        return real(target, **kw)
    monkeypatch.setattr(toolchain_mod, "find_toolchain", counting)
    return calls


def test_resolve_target_carries_the_toolchain_and_keeps_the_targets_identity():
    t = resolve_target("host")
    assert t.toolchain is not None and t.toolchain.target == t and t == get_target("host")
    assert resolve_target(t) is t                      # already resolved: not looked up again
    assert resolve_target(get_target("host")).toolchain is not None
    with pytest.raises(ToolchainError, match="unknown target"):
        resolve_target("nope")


def test_compile_looks_the_toolchain_up_once(tmp_path, monkeypatch):
    model = zoo.export("tiny-bert", "dynamo20")
    monkeypatch.setenv("LPFC_CACHE_DIR", str(tmp_path / "cache"))
    calls = _count_lookups(monkeypatch)
    res = lpfc.compile(model, emit_source=tmp_path / "pkg")   # sources only: no build, but every emitter
    assert res.kernels > 0
    assert calls == ["host"], calls                             # once, in _prepare; never per kernel


def test_the_tuner_builds_with_the_toolchain_the_target_carries(tmp_path, monkeypatch):
    tgt = resolve_target("host")

    def no_lookup(target, **kw):
        raise AssertionError(f"find_toolchain({target!r}) called again below the entry point")
    monkeypatch.setattr(toolchain_mod, "find_toolchain", no_lookup)
    db = TuningDatabase(tmp_path / "t.json")
    r = tune_kernel(figure4(), tgt, GENERIC, budget_s=0.2, db=db, workdir=tmp_path,
                    deadline=time.monotonic() + 600)
    assert r.source == "measured" and len(db) == 1
    assert target_key(tgt).startswith("host:")
