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


def candidates() -> dict:
    """Feature sets to compare (each a function of a kernel plan and its model's plans)."""
    from lpfc.cost.model import features, llc_bytes, model_context

    llc = llc_bytes()

    def v2(p, ps):
        return features(p, model_context(ps, llc))

    return {"v1 (no DRAM term)": lambda p, ps: features(p)[:5], "v2 (+ weights from DRAM)": v2,
            "v2 without padded GFLOP": lambda p, ps: v2(p, ps)[[0, 2, 3, 4, 5]],
            "v2 without MB moved": lambda p, ps: v2(p, ps)[[0, 1, 2, 4, 5]]}


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
