"""A long-lived LiteRT+XNNPACK process that times a .tflite file on request (runs in the tflite peer venv).

    python -m bench.runners.tflite_worker MODEL.tflite FEEDS.npz THREADS

For benchmarks that interleave LiteRT with runtimes living in lpfc's own interpreter (the QA
latency script): the interpreter is loaded once, then each request on stdin is answered with one
JSON line on stdout:

    {"cmd": "outputs", "save": PATH}   one run; the outputs go to PATH (.npz keyed by output name)
    {"cmd": "time", "runs": N, "warmup": W}   W untimed runs, then N timed: {"times_ms": [...]}
    {"cmd": "quit"}

The first line it prints, once loaded, is {"ready": true, "version": ..., "inputs": ..., "outputs": ...}.
Errors come back as {"error": "..."} and end the process.
"""
from __future__ import annotations

import json
import sys
import time

from ._common import load_inputs, set_thread_env


def _reply(obj) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main() -> None:
    model, feeds_path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    set_thread_env(threads)
    import importlib.metadata as md

    import numpy as np
    from ai_edge_litert import interpreter as litert

    try:
        version = md.version("ai-edge-litert")
    except md.PackageNotFoundError:
        version = "?"
    # The default delegate of LiteRT's CPU interpreter is XNNPACK; num_threads reaches it.
    interp = litert.Interpreter(model_path=model, num_threads=threads)
    interp.allocate_tensors()
    feeds = load_inputs(feeds_path)
    sets = []
    for d in interp.get_input_details():
        name = d["name"].split(":")[0]
        key = next((k for k in feeds if name == k or name.endswith(k) or k in name), None)
        if key is None:
            _reply({"error": f"no feed for the TFLite input {d['name']!r} (feeds: {sorted(feeds)})"})
            sys.exit(1)
        sets.append((d["index"], np.ascontiguousarray(feeds[key].astype(d["dtype"]))))
    outs = [(d["name"], d["index"]) for d in interp.get_output_details()]

    def call():
        for index, value in sets:
            interp.set_tensor(index, value)
        interp.invoke()
        return {name: interp.get_tensor(i) for name, i in outs}

    _reply({"ready": True, "version": version, "inputs": [d["name"] for d in interp.get_input_details()],
            "outputs": [n for n, _ in outs]})
    for line in sys.stdin:
        req = json.loads(line)
        if req["cmd"] == "quit":
            break
        if req["cmd"] == "outputs":
            np.savez(req["save"], **call())
            _reply({"saved": req["save"]})
        elif req["cmd"] == "time":
            for _ in range(req.get("warmup", 1)):
                call()
            times = []
            for _ in range(req["runs"]):
                t0 = time.perf_counter()
                call()
                times.append((time.perf_counter() - t0) * 1e3)
            _reply({"times_ms": times})
        else:
            _reply({"error": f"unknown request {req!r}"})
            sys.exit(1)


if __name__ == "__main__":
    main()
