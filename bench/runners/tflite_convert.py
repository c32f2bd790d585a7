"""Converts an ONNX file to a .tflite file with onnx2tf (runs in the tflite peer venv).

    python -m bench.runners.tflite_convert MODEL.onnx OUT.tflite WORKDIR
    python -m bench.runners.tflite_convert MODEL.onnx OUTDIR WORKDIR --dynamic-range-quant

onnx2tf writes a SavedModel and {stem}_float32.tflite into WORKDIR; the fp32 file is copied to
OUT.tflite. With --dynamic-range-quant (onnx2tf's -odrqt: int8 weights, activations quantized at run time by
XNNPACK) every .tflite it makes ({stem}_float32, {stem}_dynamic_range_quant, ...) is copied into OUTDIR under
its own name. Prints one JSON line with the time and the converter's peak memory.
"""
from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path


def first_error(text: str) -> str | None:
    """The cause in onnx2tf's output: the first exception (with its detail line) and the ONNX node it names."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", l).strip() for l in text.splitlines()]
    lines = [l for l in lines if l]
    for i, line in enumerate(lines):
        if re.match(r"^[A-Za-z_.]*(Error|Exception): ", line) and not line.startswith("FileNotFoundError"):
            msg = line
            if "Exception encountered when calling layer" in line and i + 1 < len(lines):
                msg += " " + lines[i + 1]  # TF's detail ("Dimensions must be equal ...") follows
            node = next((l.split("onnx_op_name:", 1)[1].strip() for l in lines[i:] if "onnx_op_name:" in l), None)
            return msg + (f" (ONNX node {node})" if node else "")
    return next((l for l in lines if re.search(r"\b\w*Error\b", l)), None)


def main() -> None:
    src, out, work = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    drq = "--dynamic-range-quant" in sys.argv[4:]
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    # onnx2tf rewrites its input file in place (it names the nodes); never let it touch the zoo's copy
    model = work / Path(src).name
    shutil.copy2(src, model)
    exe = Path(sys.executable).with_name("onnx2tf")
    cmd = [str(exe), "-i", str(model), "-o", str(work), "-n", "-coion"] + (["-odrqt"] if drq else [])
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if drq:
        out.mkdir(parents=True, exist_ok=True)
    log = (out / "onnx2tf.log") if drq else out.with_name(out.name + ".log")  # the whole output, for a post-mortem
    log.write_text(f"$ {' '.join(cmd)}\n# exit {r.returncode}\n" + r.stdout + r.stderr)
    rss_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    made = sorted(work.glob("*_float32.tflite"))
    if made and drq:
        for f in work.glob("*.tflite"):
            shutil.copy2(f, out / f.name)
    elif made:
        shutil.copy2(made[0], out)
    shutil.rmtree(work, ignore_errors=True)  # a SavedModel as big as the model; the log above is kept
    if not made:  # (a non-zero exit after the fp32 file was written is a later step failing; outputs are checked)
        tail = (r.stderr.strip() or r.stdout.strip()).splitlines()[-15:]
        error = first_error(r.stdout + "\n" + r.stderr) or (tail[-1] if tail else "?")
        print(json.dumps({"error": f"onnx2tf exited {r.returncode}: {error} (log: {log})", "log_tail": tail,
                          "seconds": seconds, "peak_rss_gb": rss_gb}))
        sys.exit(1)
    import onnx2tf

    print(json.dumps({"seconds": seconds, "peak_rss_gb": rss_gb, "onnx2tf": getattr(onnx2tf, "__version__", "?"),
                      "cmd": " ".join(cmd[1:])}))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
