"""Ground truth: compile a model and time it (``mode="measure"``), and profile it per kernel (calibration).

Libraries and results are cached under ``$LPFC_CACHE_DIR/latency/measure/``, keyed by the target key,
the thread count and the kernel signatures in call order (two models with the same kernels share a
measurement).
"""
from __future__ import annotations

import hashlib
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Optional

import numpy as np

from .model import cache_root


def sample_feeds(session) -> dict:
    """Valid inputs for any model: integer inputs are 1 (a token id, a type id, an unmasked position)."""
    rng = np.random.default_rng(0)
    feeds = {}
    for a in session.get_inputs():
        if np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_:
            feeds[a.name] = np.ones(a.shape, dtype=a.dtype)
        else:
            feeds[a.name] = rng.standard_normal(a.shape).astype(a.dtype)
    return feeds


def plan_key(plans, tkey: str, threads: int) -> str:
    text = tkey + f"|t{threads}|" + ",".join(k.signature for k in plans)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def codegen_hash(root: Optional[Path] = None) -> str:
    """A hash of lpfc's sources that shape a compiled library (``lpfc/cost/`` only predicts: left out)."""
    root = root or Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if not p.is_file() or rel.startswith("cost/") or "__pycache__" in rel or p.suffix in (".pyc", ".so"):
            continue
        h.update(rel.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def cached_library(module, plans, target: str, tkey: str, say=None) -> Path:
    """The compiled library of ``module`` (its default pipeline already run), cached in
    ``$LPFC_CACHE_DIR/latency/libs/`` by target key, kernel signatures and lpfc's codegen sources, so that a
    calibration's measuring can run apart from its compiling (``lpfc calibrate --compile-only`` first)."""
    text = tkey + "|" + codegen_hash() + "|" + ",".join(k.signature for k in plans)
    key = hashlib.sha256(text.encode()).hexdigest()[:24]
    d = cache_root() / "latency" / "libs"
    lib = d / f"{key}.so"
    if lib.exists():
        return lib
    d.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lpfc-calibrate-", dir=d) as tmp:
        tmp_lib = Path(tmp) / f"{key}.so"
        t = time.monotonic()
        compile_module(module, target, tmp_lib)
        if say:
            say(f"      compiled in {time.monotonic() - t:.0f} s")
        tmp_lib.replace(lib)      # atomic: a half-written library is never cached
    return lib


def compile_module(module, target: str, out: Path):
    """Compiles a module whose default pipeline has already run (plan_module ran it)."""
    from ..compiler import compile as lpfc_compile

    return lpfc_compile(module, out, target=target, pipeline="")


def time_session(session, runs: int = 20, warmup: int = 3) -> list:
    feeds = sample_feeds(session)
    for _ in range(warmup):
        session.run(feeds)
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        session.run(feeds)
        ts.append((time.perf_counter() - t0) * 1e3)
    return ts


def measure(module, plans, target: str, threads: int, tkey: str, runs: int = 20, profile_runs: int = 0,
            use_cache: bool = True) -> dict:
    """{"ms": median ms of ``runs`` runs, "runs": [...], "kernels_ms": [per-kernel medians] (profile_runs>0)}."""
    from ..runtime.session import load

    key = plan_key(plans, tkey, threads)
    d = cache_root() / "latency" / "measure"
    res_path = d / f"{key}.json"
    if use_cache and res_path.exists():
        try:
            res = json.loads(res_path.read_text())
            if len(res.get("runs", ())) >= runs and (not profile_runs or res.get("kernels_ms")):
                return res
        except (OSError, ValueError):
            pass
    d.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lpfc-measure-") as tmp:
        lib = Path(tmp) / "libmeasured.so"
        compile_module(module, target, lib)
        with load(lib, threads=threads) as sess:
            res = {"threads": threads, "target_key": tkey}
            if profile_runs:
                prof = sess.profile(sample_feeds(sess), runs=profile_runs, warmup=2)
                res["kernels_ms"] = [k.seconds * 1e3 for k in prof.kernels]
                res["kernels_emitter"] = [k.emitter for k in prof.kernels]
            ts = time_session(sess, runs=runs)
            res["runs"] = ts
            res["ms"] = statistics.median(ts)
    tmp_path = res_path.with_suffix(".tmp")
    tmp_path.write_text(json.dumps(res))
    tmp_path.replace(res_path)
    return res


__all__ = ["cached_library", "codegen_hash", "measure", "sample_feeds", "time_session"]
