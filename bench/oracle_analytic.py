"""The analytic host profile (no calibration) against the measurements a calibration stored (issue 13).

    python -m bench.oracle_analytic [--threads 1,2]

Measures nothing: it reads this machine's calibration files (``lpfc calibrate``) from
``$LPFC_CACHE_DIR/latency/``, prices every calibration model's measured kernels with
``lpfc.cost.analytic.host_profile()`` (the fallback ``estimate_latency`` uses without a calibration)
and prints, per model, the measured whole-run median, the analytic prediction and the error; then the
median absolute error and its 90th percentile (what the profile's ± band should cover).
"""
from __future__ import annotations

import argparse
import json
import statistics
from types import SimpleNamespace

from bench.peak import cpu_name


def compare(data: dict, threads: int) -> list:
    from lpfc.cost.analytic import host_profile

    prof = host_profile()
    rows = []
    for m in data["models"]:
        pred = prof.run_overhead_ms
        for s in m["samples"]:
            emitter, kind = s["cls"].split("/", 1)
            _, padded, gflop, mbytes, melems = s["x"]
            pred += prof.kernel_ms(SimpleNamespace(emitter=emitter, kind=kind, padded_flop=padded * 1e9,
                                                   flop=gflop * 1e9, bytes=mbytes * 1e6, elements=melems * 1e6),
                                   threads)
        rows.append((m["arch"], m["ms"], pred, 100 * (pred / m["ms"] - 1)))
    return rows


def main(argv=None) -> int:
    from lpfc.cost.analytic import host_profile
    from lpfc.cost.model import calibration_path
    from lpfc.cost.plan import target_key_cached

    ap = argparse.ArgumentParser(prog="python -m bench.oracle_analytic", description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2")
    args = ap.parse_args(argv)
    tkey = target_key_cached("host")
    print(f"CPU {cpu_name()}; {host_profile().describe()}")
    for t in [int(x) for x in args.threads.split(",") if x]:
        p = calibration_path(tkey, t)
        if not p.exists():
            print(f"threads {t}: no calibration ({p}); make one with: lpfc calibrate --threads {t}")
            continue
        data = json.loads(p.read_text())
        rows = compare(data, t)
        print(f"\nthreads {t} (calibration {data.get('created', '?')}, {p.name})")
        print(f"{'arch':<78} {'measured':>9} {'analytic':>9} {'error':>7}")
        for arch, meas, pred, err in rows:
            print(f"{json.dumps(arch, sort_keys=True)[:78]:<78} {meas:9.2f} {pred:9.2f} {err:+6.0f}%")
        errs = sorted(abs(r[3]) for r in rows)
        p90 = errs[min(len(errs) - 1, int(round(0.9 * (len(errs) - 1))))]
        print(f"median |error| {statistics.median(errs):.0f} %, 90th percentile {p90:.0f} %, n={len(rows)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
