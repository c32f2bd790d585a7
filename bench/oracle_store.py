"""bench/oracle.py's phases: compile (cached libraries), time (fresh processes), and their stored raw data.

The compile phase builds each drawn architecture once and keeps the library under
``$LPFC_CACHE_DIR/bench/oracle/<key>/`` where ``key`` hashes the architecture, the host's target key (CPU
model and ISA features) and lpfc's code-generating sources (everything under ``lpfc/`` except
``lpfc/cost/``, which only predicts): editing the cost model keeps the libraries, editing codegen rebuilds
them. The timing phase runs each cached library in a fresh process per thread count and stores the whole
runs and the per-kernel profile as JSON beside it (``times-<tag>.json``), so that the report phase can
price fresh predictions against stored measurements without timing anything again.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def store_root() -> Path:
    from lpfc.cost.model import cache_root

    return cache_root() / "bench" / "oracle"


def source_hash() -> str:
    """A hash of the sources that shape a compiled library (lpfc/cost/ only predicts, so it is left out)."""
    from lpfc.cost.measure import codegen_hash

    return codegen_hash()


def arch_key(arch: dict, tkey: str, src: str) -> str:
    text = json.dumps(arch, sort_keys=True) + "|" + tkey + "|" + src
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def entry_dir(arch: dict, tkey: str, src: str) -> Path:
    return store_root() / arch_key(arch, tkey, src)


def compiled(d: Path) -> bool:
    return (d / "meta.json").exists() and (d / "liboracle.so").exists()


def compile_arch(arch: dict, d: Path) -> dict:
    """Plans and compiles one architecture into ``d`` (atomically: meta.json is written last)."""
    from lpfc.codegen.targets import get_target
    from lpfc.cost.arch import build_encoder
    from lpfc.cost.measure import compile_module
    from lpfc.cost.plan import plan_module

    d.mkdir(parents=True, exist_ok=True)
    module = build_encoder(arch)
    plans = plan_module(module, get_target("host"))
    t = time.monotonic()
    compile_module(module, "host", d / "liboracle.so")
    meta = {"arch": arch, "build_s": time.monotonic() - t, "kernels": len(plans),
            "plan": [{"cls": p.cls, "part": p.part, "shapes": p.shapes, "variant": p.variant, "flop": p.flop,
                      "bytes": p.bytes, "elements": p.elements, "padded_flop": p.padded_flop,
                      "signature": p.signature} for p in plans],
            "compiled": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    tmp = d / "meta.json.tmp"
    tmp.write_text(json.dumps(meta))
    tmp.replace(d / "meta.json")
    return meta


# One fresh process per library, timing each thread count in its own session: warm-up, whole runs, then
# profiled runs. A big model's runs take seconds, so a time cap bounds them (at least ``min_runs``); the counts
# are stored with the data.
_TIMER = r"""
import json, statistics, sys, time
import lpfc
from lpfc.cost.measure import sample_feeds
lib, threads, runs, min_runs, cap, pruns, pcap = sys.argv[1:]
runs, min_runs, pruns = int(runs), int(min_runs), int(pruns)
cap, pcap = float(cap), float(pcap)
out = {}
for t in [int(x) for x in threads.split(",")]:
    t_load = time.perf_counter()
    s = lpfc.load(lib, threads=t)
    t_load = time.perf_counter() - t_load
    feeds = sample_feeds(s)
    t0 = time.perf_counter(); s.run(feeds); first = time.perf_counter() - t0
    warm = 1 if first > 0.5 else 3
    for _ in range(warm - 1):
        s.run(feeds)
    ts = []
    start = time.perf_counter()
    while len(ts) < runs and (len(ts) < min_runs or time.perf_counter() - start < cap):
        t0 = time.perf_counter(); s.run(feeds); ts.append((time.perf_counter() - t0) * 1e3)
    n = max(1, min(pruns, int(pcap / max(statistics.median(ts) / 1e3, 1e-6))))
    p = s.profile(feeds, runs=n, warmup=0)
    s.close()
    out[str(t)] = {"runs": ts, "warmup": warm, "first_ms": first * 1e3, "load_s": t_load,
                   "profile_runs": n, "profile_total_ms": p.total_seconds * 1e3,
                   "kernels": [{"i": k.index, "name": k.name, "kind": k.kind, "emitter": k.emitter,
                                "ms": k.seconds * 1e3, "samples_ms": [x * 1e3 for x in k.samples]}
                               for k in p.kernels]}
print(json.dumps(out))
"""


def time_library(lib: Path, threads, runs: int = 20, min_runs: int = 3, cap_s: float = 2.0,
                 profile_runs: int = 10, profile_cap_s: float = 1.0, timeout: float = 900) -> dict:
    """{str(threads): {"runs": [ms], "kernels": [per-kernel profile], ...}} from one fresh process."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, "-c", _TIMER, str(lib), ",".join(map(str, threads)), str(runs),
                          str(min_runs), str(cap_s), str(profile_runs), str(profile_cap_s)],
                         capture_output=True, text=True, env=env, timeout=timeout)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def load_times(d: Path, tag: str) -> dict:
    p = d / f"times-{tag}.json"
    return json.loads(p.read_text()) if p.exists() else {}


def save_times(d: Path, tag: str, data: dict) -> None:
    tmp = d / f"times-{tag}.json.tmp"
    tmp.write_text(json.dumps(data))
    tmp.replace(d / f"times-{tag}.json")


__all__ = ["arch_key", "compile_arch", "compiled", "entry_dir", "load_times", "save_times", "source_hash",
           "store_root", "time_library"]
