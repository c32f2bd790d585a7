"""Which cost-model features explain this machine's calibration (the model's development tool, issue 13).

    python -m bench.oracle_fit [--threads 1,2] [--calibration-dir DIR]

Fits only calibration data (the models ``lpfc calibrate`` measured, per kernel): for each candidate feature
set it refits the per-class NNLS with each calibration model left out in turn and predicts that model
(kernel sum + run overhead), and prints the leave-one-model-out whole-model errors and the per-class
kernel errors. The held-out architectures of bench/oracle.py are never read here.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np


def load(threads: int, directory=None) -> dict:
    from lpfc.cost.model import calibration_path
    from lpfc.cost.plan import target_key_cached

    p = calibration_path(target_key_cached("host"), threads)
    if directory:
        p = Path(directory) / p.name
    return json.loads(p.read_text())


def plans_of(models: list) -> list:
    from lpfc.cost.plan import plan_arch

    out = []
    for m in models:
        ps = plan_arch(dict(m["arch"], vocab=m["arch"].get("vocab", 30522)), "host")
        if len(ps) != len(m["samples"]):
            raise SystemExit(f"{m['arch']}: {len(ps)} plans, {len(m['samples'])} samples")
        out.append(ps)
    return out


def lomo(models: list, plans: list, feats, fit_fn=None) -> tuple:
    """Leave-one-model-out: (whole-model relative errors, [(cls, rel error)] per kernel)."""
    from lpfc.cost import model as M
    from lpfc.cost.calibrate import _models_fit

    fit_fn = fit_fn or M.fit
    ms = []
    for m, ps in zip(models, plans):
        ss = [dict(s, x=list(feats(p, ps))) for s, p in zip(m["samples"], ps)]
        ms.append(dict(m, samples=ss))
    errs, kerrs = [], []
    for j, m in enumerate(ms):
        f, over = _models_fit(ms, skip=j)
        pred = over
        for s in m["samples"]:
            c = f["classes"].get(s["cls"], f["all"])
            k = float(np.dot(c, s["x"]))
            pred += k
            kerrs.append((s["cls"], k / s["ms"] - 1 if s["ms"] > 0 else 0.0))
        errs.append(pred / m["ms"] - 1)
    return errs, kerrs


def report(name: str, errs, kerrs) -> None:
    e = np.abs(errs) * 100
    print(f"  {name:28s} LOMO median |err| {np.median(e):5.1f} %  within 10 % {np.mean(e <= 10) * 100:3.0f} %  "
          f"max {e.max():5.1f} %   signed: " + " ".join(f"{x * 100:+.0f}" for x in errs))
    by: dict = {}
    for c, x in kerrs:
        by.setdefault(c, []).append(x)
    print("      kernels: " + "; ".join(f"{c} n={len(v)} med {statistics.median(v) * 100:+.0f} % "
                                       f"|med| {statistics.median(np.abs(v)) * 100:.0f} %" for c, v in sorted(by.items())))


def weight_bytes(p) -> int:
    """A GEMM kernel's weight operand (its second operand, K x N) in bytes; 0 for other kernels."""
    if not p.kind.startswith("gemm"):
        return 0
    try:
        dims = [int(x) for x in p.shapes.split(",")[1].split("x")]
    except (IndexError, ValueError):
        return 0
    return 4 * int(np.prod(dims)) if len(dims) == 2 else 0


def llc_bytes() -> int:
    try:
        t = Path("/sys/devices/system/cpu/cpu0/cache/index3/size").read_text().strip()
        return int(t[:-1]) * 1024 if t.endswith("K") else int(t)
    except (OSError, ValueError):
        return 32 << 20


def candidates() -> dict:
    from lpfc.cost.model import features

    llc = llc_bytes()

    def dram(p, ps):
        total = sum(weight_bytes(q) for q in ps)
        return np.append(features(p), weight_bytes(p) / 1e6 if total > llc else 0.0)

    def dram_share(p, ps):
        total = sum(weight_bytes(q) for q in ps)
        return np.append(features(p), weight_bytes(p) / 1e6 * max(0.0, 1 - llc / total) if total else 0.0)

    def no_padded(p, ps):
        return features(p)[[0, 2, 3, 4]]

    return {"current": lambda p, ps: features(p), "+weights from DRAM": dram, "+weights beyond LLC share": dram_share,
            "without padded GFLOP": no_padded}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.oracle_fit", description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--calibration-dir")
    args = ap.parse_args(argv)
    for t in [int(x) for x in args.threads.split(",")]:
        data = load(t, args.calibration_dir)
        models = data["models"]
        plans = plans_of(models)
        print(f"{t} thread(s): {len(models)} calibration models ({data.get('created')}, {data.get('cpu')})")
        for name, feats in candidates().items():
            report(name, *lomo(models, plans, feats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
