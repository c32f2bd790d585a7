"""SmolLM2-135M-Instruct, plain forward (no KV cache) at a short sequence: lpfc vs onnxruntime.

    python bench/llama_forward.py [--seq 32] [--exporter ts14] [--repeats 10]

Exports (cached, lpfc.testing.smollm2), compiles with lpfc (reports compile time and library size),
checks the logits against onnxruntime, then times one forward at 1 and 2 threads for each runtime,
alternating runtimes, median of --repeats runs after a warm-up.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lpfc  # noqa: E402
from lpfc.testing import smollm2  # noqa: E402


def _median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seq", type=int, default=smollm2.SEQ_LEN)
    p.add_argument("--exporter", default="ts14", choices=list(smollm2.EXPORTERS))
    p.add_argument("--repeats", type=int, default=10)
    args = p.parse_args(argv)
    import onnxruntime as ort

    path = smollm2.export(args.exporter, args.seq)
    feeds = smollm2.sample_inputs(args.seq)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        result = lpfc.compile(path, Path(tmp) / "libsmollm2.so")
        compile_s = time.perf_counter() - t
        size_mb = result.library.stat().st_size / 1e6
        print(f"model     {path.name} ({path.stat().st_size / 1e6:.0f} MB)")
        print(f"compile   {compile_s:.1f} s; library {size_mb:.1f} MB; {result.kernels} kernels {dict(result.kinds)}")
        rows = []
        for threads in (1, 2):
            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            osess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
            lsess = lpfc.load(result.library, threads=threads)
            want = osess.run(["logits"], feeds)[0]
            got = lsess.run(feeds)["logits"]
            diff = float(np.max(np.abs(got - want)))
            same_argmax = float(np.mean(got.argmax(-1) == want.argmax(-1)))
            t_l = _median_ms(lambda: lsess.run(feeds), args.repeats)
            t_o = _median_ms(lambda: osess.run(["logits"], feeds), args.repeats)
            t_l2 = _median_ms(lambda: lsess.run(feeds), args.repeats)    # again, after onnxruntime ran
            lsess.close()
            rows.append((threads, min(t_l, t_l2), t_o, diff, same_argmax))
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
               platform.processor())
    print(f"cpu       {cpu}")
    print(f"{'threads':>7} {'lpfc ms':>9} {'ort ms':>9} {'ort/lpfc':>9} {'max|diff|':>10} {'argmax ==':>9}")
    for threads, tl, to, diff, same in rows:
        print(f"{threads:>7} {tl:>9.1f} {to:>9.1f} {to / tl:>9.2f} {diff:>10.2e} {same:>9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
