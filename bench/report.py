"""Turns a results folder's raw JSON into results.csv, results.md and the PNG plots.

    python -m bench report results/DATE     # re-render (e.g. after a partial or resumed run)

Columns (CSV and Markdown):
  model, seq, threads, runtime     the cell
  status        ok | not available: <error> | conversion failed: <error> | wrong outputs (max diff X)
                | failed: <error> | not run
  median_ms     median of all timed runs over all of the cell's processes
  min_ms, max_ms
  n             timed runs (fewer than asked when the per-cell budget cut a slow runtime short)
  processes     fresh processes the runs came from (the rounds)
  x_lpfc        median / lpfc's median at the same model, seq and threads (> 1: slower than lpfc)
  gflop         2*M*N*K over every MatMul/Gemm of the model at that seq (bench/flops.py)
  gflops        gflop / median
  pct_peak      gflops / the machine's peak at that thread count (peak.json: max of the FMA probe
                and the best SGEMM measured by the same run)
  max_diff      the checked outputs' max abs diff from onnxruntime, over max(1, |reference|)
"""
from __future__ import annotations

import csv
import json
import statistics
import sys
from pathlib import Path

CSV_COLUMNS = ["model", "seq", "threads", "runtime", "status", "median_ms", "min_ms", "max_ms", "n", "processes",
               "x_lpfc", "gflop", "gflops", "pct_peak", "max_diff", "version", "note"]


def _read(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _status_text(chk: dict | None, runtime: str) -> str:
    if chk is None:
        return "not run"
    st = chk.get("status")
    err = chk.get("error", "")
    if st == "ok":
        return "ok"
    if st == "unavailable":
        return f"not available: {err}"
    if st == "prepare_failed":
        what = {"tflite": "conversion failed", "tvm": "build failed"}.get(runtime, "compile failed"
                                                                         if runtime.startswith("lpfc") else
                                                                         "preparation failed")
        return f"{what}: {err}"
    if st == "wrong":
        return f"wrong outputs (max diff {chk.get('max_diff', float('nan')):.2e})"
    return f"failed: {err}"


def collect(out: Path) -> tuple[list, dict, dict]:
    """(rows, run meta, peak) for every cell the run's config names."""
    from .harness import RUNTIMES, Config

    meta = _read(out / "run.json") or {}
    peak = _read(out / "peak.json") or {}
    c = meta.get("config", {})
    cfg = Config(models=c.get("models", []), runtimes=c.get("runtimes", []), threads=c.get("threads", [1]),
                 seq=c.get("seq", 128), sweep_models=c.get("sweep_models", []), sweep_seqs=c.get("sweep_seqs", []),
                 sweep_runtimes=c.get("sweep_runtimes"))
    raw: dict = {}
    for p in sorted((out / "raw").glob("*.json")):
        r = _read(p)
        if r:
            raw.setdefault((r["model"], r["seq"], r["threads"], r["runtime"]), []).append(r)
    rows = []
    for model, seq in cfg.groups():
        mj = _read(out / "models" / f"{model}-s{seq}.json") or {}
        flop = mj.get("flop")
        for threads in cfg.threads:
            for rt in cfg.runtimes_for(model, seq):
                chk = _read(out / "check" / f"{model}-s{seq}-{rt}.json")
                status = _status_text(chk, rt)
                row = {"model": model, "seq": seq, "threads": threads, "runtime": rt,
                       "label": RUNTIMES[rt].label if rt in RUNTIMES else rt, "status": status,
                       "gflop": round(flop / 1e9, 3) if flop else None,
                       "max_diff": chk.get("max_diff") if chk else None,
                       "version": chk.get("version") if chk else None, "note": ""}
                spec = RUNTIMES.get(rt)
                if status == "ok" and spec is not None and spec.one_thread and threads > 1:
                    row["status"] = f"not timed at {threads} threads: {spec.one_thread}"
                    rows.append(row)
                    continue
                procs = raw.get((model, seq, threads, rt), [])
                times = [t for p in procs if "error" not in p for t in p.get("times_ms", [])]
                errors = [p["error"] for p in procs if "error" in p]
                if status == "ok" and times:
                    med = statistics.median(times)
                    row.update(median_ms=med, min_ms=min(times), max_ms=max(times), n=len(times),
                               processes=len([p for p in procs if "error" not in p]))
                    if flop:
                        row["gflops"] = flop / 1e9 / (med / 1e3)
                        pk = (peak.get("peak_gflops") or {}).get(str(threads))
                        if pk:
                            row["pct_peak"] = 100.0 * row["gflops"] / pk
                    if len(times) < n_asked(c):
                        row["note"] = f"{len(times)} of {n_asked(c)} runs: per-cell budget"
                    elif spec is not None and spec.max_rounds and row["processes"] < c.get("rounds", 4):
                        row["note"] = f"{row['processes']} process(es): {spec.max_rounds_why}"
                    if errors:
                        row["note"] = (row["note"] + "; " if row["note"] else "") + f"{len(errors)} process(es) failed"
                elif status == "ok":
                    row["status"] = f"failed: {errors[-1]}" if errors else "not run"
                rows.append(row)
    by = {(r["model"], r["seq"], r["threads"]): r for r in rows if r["runtime"] == "lpfc" and r.get("median_ms")}
    for r in rows:
        base = by.get((r["model"], r["seq"], r["threads"]))
        if base and r.get("median_ms"):
            r["x_lpfc"] = r["median_ms"] / base["median_ms"]
    return rows, meta, peak


def n_asked(c: dict) -> int:
    return int(c.get("runs", 0))


def _fmt(v, spec=".2f", none="–"):
    if v is None or v == "":
        return none
    return format(v, spec)


def write_csv(rows: list, path: Path) -> None:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{r[k]:.4g}" if isinstance(r.get(k), float) else r.get(k, "")) for k in CSV_COLUMNS})


def _ms_cell(r: dict) -> str:
    """The median, or what happened instead in a few words (the "All cells" table has the whole reason)."""
    if r.get("median_ms") is None:
        return r["status"].split(":")[0] if r["status"] != "ok" else "–"
    return f"{r['median_ms']:.2f}"


def markdown(rows: list, meta: dict, peak: dict) -> str:
    c = meta.get("config", {})
    seq = c.get("seq", 128)
    threads = c.get("threads", [1])
    runtimes = c.get("runtimes", [])
    labels = {r["runtime"]: r["label"] for r in rows}
    L = []
    L.append(f"# lpfc benchmark: {meta.get('started', '?')}")
    L.append("")
    L.append("Command: `" + (meta.get("commands") or ["?"])[-1] + "`" +
             (f" (started as `{meta['commands'][0]}`)" if len(meta.get("commands", [])) > 1 else ""))
    L.append("")
    pk = peak.get("peak_gflops", {})
    fma = peak.get("fma_gflops", {})
    sg = peak.get("best_sgemm_gflops", {})
    L.append(f"Machine: {peak.get('cpu', '?')}, {peak.get('cpus', '?')} logical CPUs, load average "
             f"{_fmt(peak.get('load_avg'), '.2f')} when the peak was first measured. Peak GFLOP/s (the higher of the "
             f"FMA probe and the best SGEMM, best of the measurements at the start and the end of the run): " + ", ".join(
                 f"{t} thread(s) {_fmt(pk.get(str(t)), '.1f')} (FMA {_fmt(fma.get(str(t)), '.1f')}, "
                 f"SGEMM {_fmt(sg.get(str(t)), '.1f')})" for t in threads) + ".")
    L.append("")
    L.append(f"Batch 1, fp32. Median of `n` timed runs from `processes` fresh processes per cell, runtimes "
             f"interleaved round by round, after warm-up ({c.get('warmup', '?')} runs per process); "
             f"x lpfc > 1 means slower than lpfc. GFLOP counts 2·M·N·K of every MatMul/Gemm.")
    L.append("")
    # summary: median ms, wide
    L.append(f"## Summary (median ms, sequence {seq})")
    L.append("")
    L.append("| model (GFLOP) | threads | " + " | ".join(labels.get(r, r) for r in runtimes) + " |")
    L.append("|---|---:|" + "---:|" * len(runtimes))
    for model in c.get("models", []):
        for t in threads:
            cells = {r["runtime"]: r for r in rows if r["model"] == model and r["seq"] == seq and r["threads"] == t}
            g = next((r["gflop"] for r in cells.values() if r.get("gflop")), None)
            L.append(f"| {model} ({_fmt(g, '.2f')}) | {t} | " +
                     " | ".join(_ms_cell(cells[r]) if r in cells else "–" for r in runtimes) + " |")
    L.append("")
    # full table
    L.append(f"## All cells (sequence {seq})")
    L.append("")
    L.append("| model | threads | runtime | median ms | min–max ms | n | processes | x lpfc | GFLOP/s | % peak | status |")
    L.append("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        if r["seq"] != seq:
            continue
        L.append(f"| {r['model']} | {r['threads']} | {r['label']} | {_fmt(r.get('median_ms'))} | "
                 + (f"{r['min_ms']:.2f}–{r['max_ms']:.2f}" if r.get("median_ms") is not None else "–")
                 + f" | {r.get('n', '–')} | {r.get('processes', '–')} | {_fmt(r.get('x_lpfc'))} | "
                 f"{_fmt(r.get('gflops'), '.1f')} | {_fmt(r.get('pct_peak'), '.1f')} | {r['status']}"
                 + (f" ({r['note']})" if r.get("note") else "") + " |")
    L.append("")
    # ablation
    if "lpfc" in runtimes and "lpfc-nofusion" in runtimes:
        L.append(f"## Ablation (the paper's Table 1): lpfc with and without LP-Fusion, sequence {seq}")
        L.append("")
        L.append("| model | threads | lpfc ms | lpfc --no-fusion ms | speed-up from fusion |")
        L.append("|---|---:|---:|---:|---:|")
        for model in c.get("models", []):
            for t in threads:
                a = next((r for r in rows if (r["model"], r["seq"], r["threads"], r["runtime"]) == (model, seq, t, "lpfc")), {})
                b = next((r for r in rows if (r["model"], r["seq"], r["threads"], r["runtime"]) == (model, seq, t, "lpfc-nofusion")), {})
                sp = b["median_ms"] / a["median_ms"] if a.get("median_ms") and b.get("median_ms") else None
                L.append(f"| {model} | {t} | {_ms_cell(a) if a else '–'} | {_ms_cell(b) if b else '–'} | "
                         f"{_fmt(sp, '.2f')}{'x' if sp else ''} |")
        L.append("")
    # sweep
    sweep = [r for r in rows if r["model"] in c.get("sweep_models", []) and r["seq"] in c.get("sweep_seqs", [])]
    if sweep:
        L.append("## Sequence sweep (median ms)")
        L.append("")
        L.append("| model | seq | threads | " + " | ".join(labels.get(r, r) for r in runtimes) + " |")
        L.append("|---|---:|---:|" + "---:|" * len(runtimes))
        for model in c.get("sweep_models", []):
            for s in c.get("sweep_seqs", []):
                for t in threads:
                    cells = {r["runtime"]: r for r in sweep if (r["model"], r["seq"], r["threads"]) == (model, s, t)}
                    L.append(f"| {model} | {s} | {t} | " + " | ".join(_ms_cell(cells[r]) if r in cells else "–"
                                                                       for r in runtimes) + " |")
        L.append("")
    # versions
    vers = {}
    for r in rows:
        if r.get("version"):
            vers.setdefault(r["label"], r["version"])
    if vers:
        L.append("Versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()) + ".")
        L.append("")
    return "\n".join(L)


def plots(rows: list, meta: dict, out: Path) -> list:
    """latency.png (per model, per runtime, per thread count) and sweep.png; [] without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("[bench] matplotlib is not installed: no plots (pip install -e '.[bench]')", file=sys.stderr)
        return []
    c = meta.get("config", {})
    seq, threads, runtimes = c.get("seq", 128), c.get("threads", [1]), c.get("runtimes", [])
    labels = {r["runtime"]: r["label"] for r in rows}
    made = []
    models = c.get("models", [])
    if models:
        fig, axes = plt.subplots(1, len(threads), figsize=(6 * len(threads), 4.5), squeeze=False)
        width = 0.8 / max(1, len(runtimes))
        vals = [r["median_ms"] for r in rows if r["seq"] == seq and r.get("median_ms")]
        bottom = min(vals) / 2 if vals else 0.1
        for ax, t in zip(axes[0], threads):
            for i, rt in enumerate(runtimes):
                for j, m in enumerate(models):
                    r = next((r for r in rows if (r["model"], r["seq"], r["threads"], r["runtime"]) == (m, seq, t, rt)), {})
                    x = j + (i - (len(runtimes) - 1) / 2) * width
                    y = r.get("median_ms")
                    if y:
                        ax.bar([x], [y - bottom], width, bottom=bottom, color=f"C{i}",
                               label=labels.get(rt, rt) if j == 0 else None)
                        ax.text(x, y * 1.05, f"{y:,.0f}" if y >= 100 else f"{y:.3g}", ha="center", va="bottom", fontsize=6, rotation=90)
                    else:  # not available / failed / wrong: a marker, the reason is in results.md
                        ax.text(x, bottom * 1.1, "×", ha="center", va="bottom", fontsize=8, color=f"C{i}")
                        if j == 0:
                            ax.bar([x], [0], width, bottom=bottom, color=f"C{i}", label=labels.get(rt, rt))
            ax.set_xticks(range(len(models)))
            ax.set_xticklabels(models, rotation=20)
            ax.set_yscale("log")
            ax.set_ylim(bottom=bottom, top=(max(vals) * 2.5 if vals else None))
            ax.set_ylabel("median latency (ms, log)")
            ax.set_title(f"batch 1, seq {seq}, {t} thread(s) (× = no valid timing, see results.md)", fontsize=9)
            ax.grid(axis="y", alpha=0.3)
        axes[0][0].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "latency.png", dpi=110)
        plt.close(fig)
        made.append(out / "latency.png")
    sm, ss = c.get("sweep_models", []), c.get("sweep_seqs", [])
    if sm and ss:
        fig, axes = plt.subplots(len(sm), len(threads), figsize=(6 * len(threads), 4 * len(sm)), squeeze=False)
        for i, m in enumerate(sm):
            for j, t in enumerate(threads):
                ax = axes[i][j]
                for rt in runtimes:
                    pts = [(s, r["median_ms"]) for s in ss for r in rows
                           if (r["model"], r["seq"], r["threads"], r["runtime"]) == (m, s, t, rt) and r.get("median_ms")]
                    if pts:
                        ax.plot(*zip(*pts), marker="o", label=labels.get(rt, rt))
                ax.set_xscale("log", base=2)
                ax.set_yscale("log")
                ax.set_xticks(ss)
                ax.set_xticklabels([str(s) for s in ss])
                ax.set_xlabel("sequence length")
                ax.set_ylabel("median latency (ms, log)")
                ax.set_title(f"{m}, {t} thread(s)")
                ax.grid(alpha=0.3)
                ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "sweep.png", dpi=110)
        plt.close(fig)
        made.append(out / "sweep.png")
    return made


def write(out: Path) -> Path:
    out = Path(out)
    rows, meta, peak = collect(out)
    write_csv(rows, out / "results.csv")
    (out / "results.md").write_text(markdown(rows, meta, peak) + "\n")
    plots(rows, meta, out)
    return out
