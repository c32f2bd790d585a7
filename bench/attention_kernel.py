"""The attention kernel alone (issue #18 item 2): each schedule of ``cpp_attention`` built into one library
for BERT-shaped attention (the fused QKV GEMM's output ``[B, S, 3·H·d]``, a padding mask ``[B, 1, 1, S]``,
the head merge ``[B, S, H·d]``), timed in one process, schedules interleaved call by call, so a busy
machine slows every schedule alike and their ratios stay meaningful.

    python -m bench.attention_kernel --shapes minilm,bert-base --seqs 32,64,128,256,512 --threads 1,2
    python -m bench.attention_kernel --schedules 'flash;tiled;attention=flash,key_block=64' --batch 4

``--schedules``: ``;``-separated emitter choices, each ``name`` (the ``attention`` choice) or ``k=v,...``.
Prints per case the median time of each schedule (ms), its GFLOP/s (4·B·H·S·T·d flops) and its ratio to
the first schedule. At 1 thread the clock is the thread's CPU time (the caller computes; a time slice lost to
another job does not count), at 2 threads wall time (noisy on a shared machine: compare the minima).
Not a test and not the benchmark of record (``python -m bench`` / ``bench.attention_sweep`` time models).
"""
from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

SHAPES = {"minilm": (12, 32), "bert-base": (12, 64), "gpt2": (12, 64)}   # (heads, head size)


def plan_for(batch: int, heads: int, seq: int, d: int, causal: bool = False):
    """The AttentionPlan the zoo's BERT exports give (``analyse`` of their attention block), at any shape:
    arg 0 the QKV output, arg 1 the mask ([B, 1, 1, S] padding, or [1, 1, S, S] causal)."""
    from lpfc.codegen.plans.attention import AttentionPlan, View
    hd, ld = heads * d, 3 * heads * d
    sq = seq * ld
    q = View(0, 0, (batch, heads, seq, d), (sq, d, ld, 1))
    kt = View(0, hd, (batch, heads, d, seq), (sq, d, 1, ld))
    v = View(0, 2 * hd, (batch, heads, seq, d), (sq, d, ld, 1))
    mask = (View(1, 0, (batch, heads, seq, seq), (0, 0, seq, 1)) if causal
            else View(1, 0, (batch, heads, seq, seq), (seq, 0, 0, 1)))
    out = View(-1, 0, (batch, heads, seq, d), (seq * hd, d, hd, 1))
    return AttentionPlan(batch=(batch, heads), S=seq, D=d, T=seq, DV=d, q=q, kt=kt, v=v,
                         steps=[("graph.add", mask, True)], out=out, nan_to_zero=True)


def parse_schedules(text: str) -> list:
    out = []
    for item in text.split(";"):
        item = item.strip()
        if not item:
            continue
        choice = {}
        for kv in item.split(","):
            k, _, v = kv.partition("=")
            if not v:
                choice["attention"] = k
            else:
                choice[k] = int(v) if v.lstrip("-").isdigit() else v
        out.append((item, choice))
    return out


def build(cases, schedules, workdir: Path):
    """One library with a kernel per (case, schedule); returns (ctypes lib, {(case, sched): (symbol, variant)})."""
    from lpfc.codegen.cpp_attention import render_attention
    from lpfc.codegen.kernel_source import headers_and_helpers
    from lpfc.codegen.targets import get_target
    from lpfc.codegen.toolchain import compile_shared
    host = get_target("host")
    kernels, names = [], {}
    for ci, (plan, _) in enumerate(cases):
        for si, (_, choice) in enumerate(schedules):
            ks = render_attention(plan, host, f"att_{ci}_{si}", choice)
            kernels.append(ks)
            names[ci, si] = (ks.symbol, ks.variant)
    headers, helpers = headers_and_helpers(kernels)
    src = [f"#include {h}" for h in headers] + helpers
    for ks in kernels:
        src += [ks.code, f'extern "C" __attribute__((visibility("default"))) void call_{ks.symbol}'
                         f'(const void *const *in, void *const *out, int nt) {{ {ks.symbol}(in, out, nt); }}']
    text = "\n".join(src) + "\n"
    key = hashlib.sha256(text.encode()).hexdigest()[:16]
    workdir.mkdir(parents=True, exist_ok=True)
    lib = workdir / f"libattn-{key}.so"
    if not lib.exists():
        cc = workdir / f"attn-{key}.cc"
        cc.write_text(text)
        compile_shared(host, [cc], lib, [], with_runtime=False)
    return ctypes.CDLL(str(lib)), names


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.attention_kernel", description=__doc__.split("\n\n")[0])
    ap.add_argument("--shapes", default="minilm,bert-base", help=f"of {', '.join(SHAPES)}")
    ap.add_argument("--seqs", default="32,64,128,256,512")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--schedules", default="flash;tiled")
    ap.add_argument("--runs", type=int, default=20, help="timed calls per schedule")
    ap.add_argument("--min-ms", type=float, default=0.0, help="repeat each timed call until this long (ms)")
    ap.add_argument("--build-only", action="store_true", help="build (and cache) the library, time nothing")
    ap.add_argument("--record", type=Path, help="with --build-only: write the library's path and kernels here; "
                    "without: time the library recorded there (built earlier, by another source tree maybe) and "
                    "compile nothing")
    ap.add_argument("--workdir", type=Path, default=Path(os.environ.get("LPFC_CACHE_DIR",
                                                                        Path.home() / ".cache" / "lpfc"))
                    / "bench" / "attention-kernel")
    ap.add_argument("--out", type=Path, help="also write the results as JSON here")
    a = ap.parse_args(argv)
    schedules = parse_schedules(a.schedules)
    cases = [(plan_for(a.batch, SHAPES[m][0], s, SHAPES[m][1], causal=(m == "gpt2")), (m, s))
             for m in a.shapes.split(",") for s in map(int, a.seqs.split(","))]
    if a.record and not a.build_only:
        rec = json.loads(a.record.read_text())
        if rec["args"] != [a.shapes, a.seqs, a.batch, a.schedules]:
            raise SystemExit(f"{a.record} was built for {rec['args']}, not for these arguments")
        lib = ctypes.CDLL(rec["lib"])
        names = {tuple(k): tuple(v) for k, v in rec["names"]}
    else:
        lib, names = build(cases, schedules, a.workdir)
    if a.build_only:
        if a.record:
            a.record.write_text(json.dumps({"lib": lib._name, "args": [a.shapes, a.seqs, a.batch, a.schedules],
                                            "names": [[list(k), list(v)] for k, v in names.items()]}))
        print("built", len(names), "kernels:", lib._name)
        return 0
    rng = np.random.default_rng(0)
    rows = []
    for ci, (plan, (model, seq)) in enumerate(cases):
        B, H = plan.batch
        qkv = rng.standard_normal((B, seq, 3 * H * plan.D)).astype(np.float32)
        mask = (np.triu(np.full((seq, seq), -np.inf, np.float32), 1).reshape(1, 1, seq, seq) if model == "gpt2"
                else np.zeros((B, 1, 1, seq), np.float32))
        out = np.zeros((B, seq, H * plan.DV), np.float32)
        ins = (ctypes.c_void_p * 2)(qkv.ctypes.data, mask.ctypes.data)
        outs = (ctypes.c_void_p * 1)(out.ctypes.data)
        flops = 4.0 * B * H * seq * seq * plan.D
        for nt in map(int, a.threads.split(",")):
            fns = [getattr(lib, f"call_{names[ci, si][0]}") for si in range(len(schedules))]
            reps = 1
            if a.min_ms:
                t0 = time.perf_counter()
                fns[0](ins, outs, ctypes.c_int(nt))
                reps = max(1, int(a.min_ms / max(1e-6, (time.perf_counter() - t0) * 1e3)))
            for f in fns:                                            # warm-up
                f(ins, outs, ctypes.c_int(nt))
            times = [[] for _ in fns]
            now = time.thread_time if nt == 1 else time.perf_counter
            for _ in range(a.runs):
                for si, f in enumerate(fns):
                    t0 = now()
                    for _ in range(reps):
                        f(ins, outs, ctypes.c_int(nt))
                    times[si].append((now() - t0) * 1e3 / reps)
            base = statistics.median(times[0])
            for si, (label, _) in enumerate(schedules):
                med = statistics.median(times[si])
                row = {"model": model, "seq": seq, "batch": B, "threads": nt, "schedule": label,
                       "variant": names[ci, si][1], "ms": med, "min_ms": min(times[si]),
                       "gflops": flops / med / 1e6, "ratio": med / base}
                rows.append(row)
                print(f"{model:9} B={B} S={seq:4} T={nt} {label:28} {med:9.3f} ms (min {min(times[si]):8.3f}) "
                      f"{row['gflops']:6.1f} GFLOP/s  x{row['ratio']:.3f}  [{row['variant']}]", flush=True)
    if a.out:
        a.out.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
