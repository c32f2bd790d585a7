"""lpfc's benchmark harness: lpfc against onnxruntime, PyTorch, LiteRT/TFLite and TVM.

Run ``python -m bench --help`` (or ``lpfc bench --help``); docs/benchmarks.md explains the
method, the columns and how the peers are set up.
"""
