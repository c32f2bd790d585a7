"""The latency oracle's accuracy and speed (issue 13): measured vs predicted on held-out architectures.

    python -m bench.oracle                              # 12 held-out archs (small space), all phases
    python -m bench.oracle --n 40 --space full --compile-only        # build and cache the libraries
    python -m bench.oracle --n 40 --space full --time-only --tag quiet \
        --min-runs 3 --cap 1.0 --profile-cap 0.5                     # time them (on a quiet machine)
    python -m bench.oracle --n 40 --space full --report-only --tag quiet   # statistics, tables, plots

Needs a calibration for each thread count for the report (``lpfc calibrate --threads 1,2``). The held-out
architectures are drawn at random (seed ``--seed``) from the NAS space and are never calibration models.

Phases (all three without a phase flag):

* compile: each architecture is planned and compiled once (smallest first) into
  ``$LPFC_CACHE_DIR/bench/oracle/<key>/`` (bench/oracle_store.py; the key hashes the architecture, the
  target key and lpfc's code-generating sources, so editing the cost model keeps the libraries);
* time: each cached library (largest first, so a budget cut leaves the quick ones for a later call) runs
  in one fresh process, one session per thread count: warm-up, whole runs (``--runs``, or fewer — at least
  ``--min-runs`` — once ``--cap`` seconds are spent), then a per-kernel profile (``Session.profile``, as
  ``lpfc run --profile``); stored as ``times-<tag>.json`` beside the library;
* report: fresh predictions ``lpfc.estimate_latency(arch, threads=t, require_calibration=True)`` against
  the stored times — per thread count the median absolute % error, the share within ±10 %, Spearman's rank
  correlation, and per kernel class measured vs predicted; nothing is timed, so the model can be changed
  and re-reported at once. Writes oracle.md, oracle.csv, raw.json (with every kernel), oracle.png and
  oracle-kernels.png (matplotlib) to --out.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.peak import cpu_name

SPACES = {
    # the NAS space
    "full": dict(layers=(1, 12), hidden=(128, 768), ffn=(256, 3072), seq=(32, 512), batch=(1, 4)),
    # small enough to compile and time a dozen models on a busy 2-core machine in ~20 minutes
    "small": dict(layers=(1, 4), hidden=(128, 512), ffn=(256, 2048), seq=(32, 256), batch=(1, 2)),
    # a smoke test of the script's mechanics only (tests/cost)
    "tiny": dict(layers=(1, 2), hidden=(64, 128), ffn=(64, 128), seq=(16, 32), batch=(1, 1)),
}


def draw_arch(rng: random.Random, space: dict) -> dict:
    L = rng.randint(*space["layers"])
    H = 64 * rng.randint(space["hidden"][0] // 64, space["hidden"][1] // 64)
    heads_ok = [h for h in range(2, 13) if H % h == 0]
    heads = [rng.choice(heads_ok) for _ in range(L)]
    ffn = [64 * rng.randint(space["ffn"][0] // 64, space["ffn"][1] // 64) for _ in range(L)]
    seq = 16 * rng.randint(space["seq"][0] // 16, space["seq"][1] // 16)
    return dict(layers=L, hidden=H, heads=heads, ffn=ffn, seq=seq, batch=rng.randint(*space["batch"]), vocab=30522)


def spearman(x, y) -> float:
    """Spearman's rank correlation; NaN where it is not defined (fewer than 3 points, or a constant side)."""
    from scipy.stats import spearmanr
    if len(x) <= 2 or len(set(x)) == 1 or len(set(y)) == 1:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def time_in_fresh_process(lib: Path, threads: int, runs: int) -> list:
    code = ("import json,sys,lpfc\nfrom lpfc.cost.measure import time_session\n"
            f"s=lpfc.load({str(lib)!r}, threads={threads})\nprint(json.dumps(time_session(s, runs={runs}, warmup=3)))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]),
                                                                     os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=1800)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def speed(space: dict, seed: int, log) -> dict:
    """Seconds per estimate: new dicts (planning included), cached ones, BERT-base as a graph-IR module."""
    import lpfc
    from lpfc.cost.arch import build_encoder
    from lpfc.cost.plan import _PART_CACHE

    rng = random.Random(seed + 1)
    dicts = [draw_arch(rng, space) for _ in range(200)]
    cold = []
    for d in dicts:
        t = time.perf_counter()
        lpfc.estimate_latency(d)
        cold.append(time.perf_counter() - t)
    varied = []
    for i in range(1000):
        d = dicts[rng.randrange(len(dicts))]
        t = time.perf_counter()
        lpfc.estimate_latency(d)
        varied.append(time.perf_counter() - t)
    t = time.perf_counter()
    module = build_encoder(dict(layers=12, hidden=768, heads=12, ffn=3072, seq=128, batch=1, vocab=30522))
    t_build = time.perf_counter() - t
    t = time.perf_counter()
    lpfc.estimate_latency(module)
    t_module = time.perf_counter() - t
    res = {"new_dict_median_ms": statistics.median(cold) * 1e3, "new_dict_max_ms": max(cold) * 1e3,
           "cached_varied_median_ms": statistics.median(varied) * 1e3, "cached_varied_p99_ms":
           sorted(varied)[int(0.99 * len(varied))] * 1e3, "bert_base_module_s": t_module,
           "bert_base_build_s": t_build, "part_cache_entries": len(_PART_CACHE)}
    log(f"speed: new dict median {res['new_dict_median_ms']:.1f} ms (max {res['new_dict_max_ms']:.0f} ms); "
        f"1000 calls over those 200 dicts (cached) median {res['cached_varied_median_ms']:.3f} ms; "
        f"BERT-base graph-IR module {t_module:.2f} s (+ {t_build:.2f} s to build it from the dict)")
    return res


def draw_archs(n: int, space: str, seed: int) -> list:
    """The held-out architectures: drawn at random from ``space``, never a calibration model."""
    from lpfc.cost.calibrate import CALIBRATION_ARCHS

    rng = random.Random(seed)
    calib = [json.dumps(a, sort_keys=True) for a in CALIBRATION_ARCHS]
    archs = []
    while len(archs) < n:
        a = draw_arch(rng, SPACES[space])
        if json.dumps(a, sort_keys=True) not in calib:
            archs.append(a)
    return archs


def approx_gflop(a: dict) -> float:
    """A rough size (the GEMMs and attention), only to order the compile and timing phases."""
    t, h = a["seq"] * a["batch"], a["hidden"]
    return sum(2 * t * (4 * h * h + 2 * h * f) + 4 * t * a["seq"] * h for f in a["ffn"]) / 1e9


def compile_phase(archs: list, log, budget=None) -> None:
    """Compiles every architecture not cached yet, smallest first (so a bounded run covers most of them)."""
    from bench import oracle_store as st
    from lpfc.cost.plan import target_key_cached

    tkey, src = target_key_cached("host"), st.source_hash()
    log(f"compile phase: {len(archs)} architectures; store {st.store_root()}; target key {tkey}; lpfc sources {src}")
    t0 = time.monotonic()
    order = sorted(range(len(archs)), key=lambda i: approx_gflop(archs[i]))
    for j, i in enumerate(order):
        d = st.entry_dir(archs[i], tkey, src)
        if st.compiled(d):
            log(f"[{j + 1}/{len(archs)}] #{i} cached: {d.name}")
            continue
        if budget is not None and time.monotonic() - t0 > budget:
            log(f"compile budget {budget:g} s spent: {len(archs) - j} architecture(s) not compiled")
            break
        meta = st.compile_arch(archs[i], d)
        log(f"[{j + 1}/{len(archs)}] #{i} {_arch_text(archs[i])} (~{approx_gflop(archs[i]):.1f} GFLOP): "
            f"{meta['kernels']} kernels, build {meta['build_s']:.0f} s -> {d.name}")


def time_phase(archs: list, threads: list, tag: str, args, log) -> None:
    """Times every compiled architecture, largest first (a budget cut then leaves the quick ones, which a later
    call finishes), in one fresh process per library; stores runs + per-kernel profile per thread count."""
    from bench import oracle_store as st
    from lpfc.cost.plan import target_key_cached

    tkey, src = target_key_cached("host"), st.source_hash()
    t0 = time.monotonic()
    order = sorted(range(len(archs)), key=lambda i: -approx_gflop(archs[i]))
    for j, i in enumerate(order):
        d = st.entry_dir(archs[i], tkey, src)
        if not st.compiled(d):
            log(f"[{j + 1}/{len(archs)}] #{i} not compiled: skipped")
            continue
        if args.max_gflop is not None and approx_gflop(archs[i]) > args.max_gflop:
            continue
        data = st.load_times(d, tag)
        todo = [t for t in threads if str(t) not in data]
        if not todo:
            continue
        if args.budget is not None and time.monotonic() - t0 > args.budget:
            log(f"time budget {args.budget:g} s spent at #{i}: the rest is not timed")
            return
        res = st.time_library(d / "liboracle.so", todo, runs=args.runs, min_runs=args.min_runs, cap_s=args.cap,
                              profile_runs=args.profile_runs, profile_cap_s=args.profile_cap)
        stamp = dict(cpu=cpu_name(), when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     loadavg=os.getloadavg()[0])
        for t, r in res.items():
            data[t] = dict(r, **stamp)
            log(f"[{j + 1}/{len(archs)}] #{i} t{t}: {statistics.median(r['runs']):.2f} ms "
                f"({len(r['runs'])} runs, profile {r['profile_runs']}), {time.monotonic() - t0:.0f} s")
        st.save_times(d, tag, data)


def kernel_summary(kernel_rows: list, log) -> dict:
    """Per kernel class and thread count: how many, measured vs predicted total and median per-kernel error."""
    groups: dict = {}
    for k in kernel_rows:
        groups.setdefault((k["threads"], k["cls"]), []).append(k)
    out = {}
    for (t, cls), ks in sorted(groups.items()):
        m, pr = sum(k["measured_ms"] for k in ks), sum(k["predicted_ms"] for k in ks)
        errs = [k["predicted_ms"] / k["measured_ms"] - 1 for k in ks if k["measured_ms"] > 0]
        med = 100 * statistics.median(errs) if errs else float("nan")
        out[f"t{t} {cls}"] = {"n": len(ks), "measured_ms": m, "predicted_ms": pr, "median_err_pct": med}
        log(f"  t{t} {cls:32s} n={len(ks):4d} measured {m:9.2f} ms predicted {pr:9.2f} ms "
            f"(sum {100 * (pr / m - 1) if m else float('nan'):+.1f} %, median kernel {med:+.1f} %)")
    return out


def _arch_text(a: dict) -> str:
    return f"L{a['layers']} H{a['hidden']} heads{a['heads']} ffn{a['ffn']} S{a['seq']} B{a['batch']}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.oracle", description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=12, help="held-out architectures (default 12)")
    p.add_argument("--space", choices=sorted(SPACES), default="small")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--runs", type=int, default=20, help="whole runs per library and thread count (at most)")
    p.add_argument("--min-runs", type=int, default=20, help="whole runs at least, even past --cap")
    p.add_argument("--cap", type=float, default=1e9, help="seconds of whole runs after which to stop at --min-runs")
    p.add_argument("--profile-runs", type=int, default=10)
    p.add_argument("--profile-cap", type=float, default=1e9, help="seconds of profiled runs (at least one)")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--budget", type=float, help="start no new compile / timing after this many seconds")
    p.add_argument("--no-speed", action="store_true", help="skip the time-per-estimate part")
    p.add_argument("--compile-only", action="store_true", help="compile and cache the libraries, time nothing")
    p.add_argument("--time-only", action="store_true", help="time the cached libraries, compile nothing")
    p.add_argument("--report-only", action="store_true", help="statistics from stored times + fresh predictions")
    p.add_argument("--max-gflop", type=float, help="time only architectures of at most this many GFLOP (rough)")
    p.add_argument("--tag", default="default", help="name of the stored timing set (times-<tag>.json)")
    p.add_argument("--out", default=f"results/oracle-{time.strftime('%Y-%m-%d')}")
    args = p.parse_args(argv)

    import lpfc

    threads = [int(t) for t in args.threads.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    logf = open(out / "log.txt", "a")

    def log(s):
        print(s, flush=True)
        logf.write(s + "\n")
        logf.flush()

    cpu = cpu_name()
    log(f"bench.oracle {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; CPU {cpu}; threads {threads}; "
        f"nproc {os.cpu_count()}; space {args.space}; seed {args.seed}; lpfc {lpfc.__version__}; "
        f"args {' '.join(argv if argv is not None else sys.argv[1:])}")
    archs = draw_archs(args.n, args.space, args.seed)
    phases = [ph for ph, on in (("compile", args.compile_only), ("time", args.time_only),
                                ("report", args.report_only)) if on] or ["compile", "time", "report"]
    if "report" in phases:
        for t in threads:   # fail before any build when a calibration is missing
            lpfc.estimate_latency(dict(layers=2, hidden=64, heads=2, ffn=128, seq=16), threads=t,
                                  require_calibration=True)
    if "compile" in phases:
        compile_phase(archs, log, args.budget)
    if "time" in phases:
        time_phase(archs, threads, args.tag, args, log)
    if "report" in phases:
        report_phase(archs, threads, args, out, cpu, log, argv)
    return 0


def report_phase(archs: list, threads: list, args, out: Path, cpu: str, log, argv) -> None:
    """Statistics and plot from the stored times and fresh predictions (nothing is timed here)."""
    import lpfc
    from bench import oracle_store as st
    from lpfc.cost.plan import target_key_cached

    tkey, src = target_key_cached("host"), st.source_hash()
    rows, kernel_rows = [], []
    for i, arch in enumerate(archs):
        d = st.entry_dir(arch, tkey, src)
        data = st.load_times(d, args.tag) if st.compiled(d) else {}
        for t in threads:
            r = data.get(str(t))
            if not r:
                continue
            est = lpfc.estimate_latency(arch, threads=t, require_calibration=True)
            m = statistics.median(r["runs"])
            row = {"i": i, "threads": t, "arch": arch, "measured_ms": m, "predicted_ms": est.ms,
                   "band_pct": est.band_pct, "err_pct": 100 * (est.ms / m - 1), "gflop": est.flop / 1e9,
                   "runs": len(r["runs"]), "kernel_sum_ms": sum(k["ms"] for k in r["kernels"])}
            rows.append(row)
            if len(r["kernels"]) == len(est.kernels):
                for k, e in zip(r["kernels"], est.kernels):
                    kernel_rows.append({"i": i, "threads": t, "cls": f"{e.emitter}/{e.kind}", "part": e.part,
                                        "shapes": e.shapes, "variant": e.variant, "measured_ms": k["ms"],
                                        "predicted_ms": e.ms})
            else:
                log(f"#{i} t{t}: the library ran {len(r['kernels'])} kernels, the estimate has {len(est.kernels)}")
            log(f"#{i} t{t} {_arch_text(arch)}: measured {m:.2f} ms ({len(r['runs'])} runs), predicted "
                f"{est.ms:.2f} ms ({row['err_pct']:+.1f} %)")
    summary = {}
    for t in threads:
        rs = [r for r in rows if r["threads"] == t]
        if not rs:
            continue
        e = [abs(r["err_pct"]) for r in rs]
        summary[t] = {"n": len(rs), "median_abs_err_pct": statistics.median(e),
                      "within_10_pct": sum(x <= 10 for x in e) / len(e),
                      "spearman": spearman([r["measured_ms"] for r in rs], [r["predicted_ms"] for r in rs])}
        s = summary[t]
        log(f"{t} thread(s): n={s['n']}, median |error| {s['median_abs_err_pct']:.1f} %, within ±10 % "
            f"{100 * s['within_10_pct']:.0f} %, Spearman {s['spearman']:.3f}")
    sp = None if args.no_speed else speed(SPACES[args.space], args.seed, log)
    (out / "raw.json").write_text(json.dumps({"cpu": cpu, "rows": rows, "summary": summary, "speed": sp,
                                              "kernels": kernel_rows}, indent=1))
    kernel_summary(kernel_rows, log)
    with open(out / "oracle.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["i", "threads", "arch", "measured_ms", "predicted_ms", "err_pct", "gflop"])
        for r in rows:
            w.writerow([r["i"], r["threads"], json.dumps(r["arch"]), f"{r['measured_ms']:.4f}",
                        f"{r['predicted_ms']:.4f}", f"{r['err_pct']:.2f}", f"{r['gflop']:.4f}"])
    md = [f"# Latency oracle: measured vs predicted ({time.strftime('%Y-%m-%d', time.gmtime())})", "",
          f"CPU {cpu}, nproc {os.cpu_count()}; space {args.space}; seed {args.seed}; "
          f"`python -m bench.oracle {' '.join(argv if argv is not None else sys.argv[1:])}`", "",
          "| threads | n | median abs error | within ±10 % | Spearman |", "|---|---|---|---|---|"]
    for t, s in summary.items():
        md.append(f"| {t} | {s['n']} | {s['median_abs_err_pct']:.1f} % | {100 * s['within_10_pct']:.0f} % | "
                  f"{s['spearman']:.3f} |")
    md += ["", "| # | threads | arch | measured ms | predicted ms | error |", "|---|---|---|---|---|---|"]
    for r in rows:
        a = r["arch"]
        md.append(f"| {r['i']} | {r['threads']} | L{a['layers']} H{a['hidden']} heads {a['heads']} ffn {a['ffn']} "
                  f"S{a['seq']} B{a['batch']} | {r['measured_ms']:.2f} | {r['predicted_ms']:.2f} | "
                  f"{r['err_pct']:+.1f} % |")
    if sp:
        md += ["", f"Time per estimate: new dict median {sp['new_dict_median_ms']:.1f} ms; cached, 1000 varied calls "
               f"median {sp['cached_varied_median_ms']:.3f} ms; BERT-base graph-IR module "
               f"{sp['bert_base_module_s']:.2f} s."]
    (out / "oracle.md").write_text("\n".join(md) + "\n")
    try:
        if not rows:
            raise ImportError
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(5, 5))
        for t in threads:
            rs = [r for r in rows if r["threads"] == t]
            ax.scatter([r["measured_ms"] for r in rs], [r["predicted_ms"] for r in rs], label=f"{t} thread(s)")
        lim = [min(r["measured_ms"] for r in rows) * 0.8, max(r["measured_ms"] for r in rows) * 1.2]
        ax.plot(lim, lim, "k--", lw=0.8)
        ax.set_xscale("log"), ax.set_yscale("log"), ax.set_xlabel("measured ms"), ax.set_ylabel("predicted ms")
        ax.legend(), fig.tight_layout(), fig.savefig(out / "oracle.png", dpi=110)
        if kernel_rows:     # per kernel: where the model is wrong, by class
            fig, axes = plt.subplots(1, len(threads), figsize=(5 * len(threads), 5), squeeze=False)
            for ax, t in zip(axes[0], threads):
                ks = [k for k in kernel_rows if k["threads"] == t and k["measured_ms"] > 0]
                for cls in sorted({k["cls"] for k in ks}):
                    kc = [k for k in ks if k["cls"] == cls]
                    ax.scatter([k["measured_ms"] for k in kc], [k["predicted_ms"] for k in kc], s=6, label=cls)
                lo = min(k["measured_ms"] for k in ks) * 0.8
                hi = max(k["measured_ms"] for k in ks) * 1.2
                ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
                ax.set_xscale("log"), ax.set_yscale("log"), ax.set_title(f"{t} thread(s), per kernel")
                ax.set_xlabel("measured ms"), ax.set_ylabel("predicted ms"), ax.legend(fontsize=6)
            fig.tight_layout(), fig.savefig(out / "oracle-kernels.png", dpi=110)
    except ImportError:
        log("matplotlib is not installed: no oracle.png")
    log(f"wrote {out}/oracle.md, oracle.csv, raw.json")


if __name__ == "__main__":
    sys.exit(main())
