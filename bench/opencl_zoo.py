"""The opencl target on zoo models: kernel split, program build (cold / cached), latency, vs the host target.

    .venv/bin/python bench/opencl_zoo.py minilm tiny-bert [--runs 9] [--cold] [--host]

--cold builds once with empty caches (a fresh LPFC_OPENCL_CACHE_DIR and POCL_KERNEL_CACHE=0, in a child
process) before the cached measurement; --host also times the host C++ target.  Not a test.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

_CHILD = r"""
import json, sys, time, numpy as np, lpfc
from lpfc.testing import zoo
lib, model, variant, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
feeds = zoo.sample_inputs(model)
t0 = time.perf_counter(); s = lpfc.load(lib, threads=2); load = time.perf_counter() - t0
t0 = time.perf_counter(); out = s.run(feeds); first = time.perf_counter() - t0
ts = []
for _ in range(runs):
    t0 = time.perf_counter(); s.run(feeds); ts.append(time.perf_counter() - t0)
ref = zoo.reference_outputs(zoo.model_path(model, variant), feeds)
diff = max(float(np.max(np.abs(out[k].astype(np.float64) - v))) for k, v in ref.items())
print(json.dumps(dict(load_s=load, first_run_s=first, run_ms=1e3 * float(np.median(ts)), max_abs_diff=diff)))
"""


def child(lib, model, variant, runs, env=None):
    r = subprocess.run([sys.executable, "-c", _CHILD, str(lib), model, variant, str(runs)], capture_output=True,
                       text=True, env={**os.environ, **(env or {})}, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    import lpfc
    from lpfc.testing import zoo

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--variant", default="ts14")
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--cold", action="store_true")
    ap.add_argument("--host", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="lpfc-oclbench-") as d:
        for model in a.models:
            lib = Path(d) / f"lib{model}.so"
            res = lpfc.compile(zoo.export(model, a.variant), lib, target="opencl", emit_source=Path(d) / model)
            model_cc = (Path(d) / model / "model.cc").read_text()
            row = dict(model=model, kernels=res.kernels, kinds=res.kinds,
                       launches=model_cc.count("lpfc_ocl_launch("), host_kernels=model_cc.count(", on the host"))
            if a.cold:
                cache = Path(d) / "clcache"
                row["cold"] = child(lib, model, a.variant, 1, {"LPFC_OPENCL_CACHE_DIR": str(cache),
                                                               "POCL_KERNEL_CACHE": "0"})
                row["cached"] = child(lib, model, a.variant, a.runs, {"LPFC_OPENCL_CACHE_DIR": str(cache)})
            else:
                child(lib, model, a.variant, 1)                       # warm both caches
            row["opencl"] = child(lib, model, a.variant, a.runs)
            if a.host:
                hlib = Path(d) / f"libhost{model}.so"
                lpfc.compile(zoo.export(model, a.variant), hlib)
                row["host"] = child(hlib, model, a.variant, a.runs)
            row["loadavg"] = os.getloadavg()[0]
            print(json.dumps(row), flush=True)
            lib.unlink()


if __name__ == "__main__":
    main()
