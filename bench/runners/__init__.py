"""One module per runtime, each run as a fresh process: ``python -m bench.runners.NAME ...``.

A runner loads one prepared artifact (a compiled library, an ONNX file, a .tflite file, ...),
feeds it the inputs from an .npz, runs warm-up and timed runs and prints one JSON line. Runners
for peers run inside the peer's own venv, so they import only the standard library, numpy and
the runtime itself (never lpfc, except the lpfc and torch runners, which run in lpfc's venv).
"""
