"""Converts an ONNX file to a .tflite file with onnx2tf (runs in the tflite peer venv).

    python -m bench.runners.tflite_convert MODEL.onnx OUT.tflite WORKDIR

onnx2tf writes a SavedModel and {stem}_float32.tflite into WORKDIR; the fp32 file is copied to
OUT.tflite. Prints one JSON line with the time and the converter's peak memory.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    src, out, work = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    # onnx2tf rewrites its input file in place (it names the nodes); never let it touch the zoo's copy
    model = work / Path(src).name
    shutil.copy2(src, model)
    exe = Path(sys.executable).with_name("onnx2tf")
    cmd = [str(exe), "-i", str(model), "-o", str(work), "-n", "-coion"]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    log = out.with_name(out.name + ".log")  # the converter's whole output, for a failure's post-mortem
    log.write_text(f"$ {' '.join(cmd)}\n# exit {r.returncode}\n" + r.stdout + r.stderr)
    rss_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    made = sorted(work.glob("*_float32.tflite"))
    if made:
        shutil.copy2(made[0], out)
    shutil.rmtree(work, ignore_errors=True)  # a SavedModel as big as the model; the log above is kept
    if not made:  # (a non-zero exit after the fp32 file was written is a later step failing; outputs are checked)
        tail = (r.stderr.strip() or r.stdout.strip()).splitlines()[-15:]
        lines = [l.strip() for l in (r.stdout + r.stderr).splitlines() if l.strip()]
        # the first error onnx2tf reports is the cause; a later FileNotFoundError is only its consequence
        error = next((l for l in lines if ("Error" in l or "ERROR" in l) and "FileNotFoundError" not in l),
                     next((l for l in reversed(tail) if "Error" in l or "error" in l), tail[-1] if tail else "?"))
        print(json.dumps({"error": f"onnx2tf exited {r.returncode}: {error} (log: {log})", "log_tail": tail,
                          "seconds": seconds, "peak_rss_gb": rss_gb}))
        sys.exit(1)
    import onnx2tf

    print(json.dumps({"seconds": seconds, "peak_rss_gb": rss_gb, "onnx2tf": getattr(onnx2tf, "__version__", "?"),
                      "cmd": " ".join(cmd[1:])}))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
