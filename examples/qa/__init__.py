"""Question answering on lpfc: MiniLM fine-tuned on SQuAD v1.1, compiled to a .so (issue #14).

    python -m examples.qa train --minutes 105     # fine-tune on the CPU (cached under $LPFC_CACHE_DIR/qa)
    python -m examples.qa build                   # ONNX export + lpfc.compile (cached)
    python -m examples.qa eval --limit 1000       # SQuAD v1.1 EM/F1 through lpfc and onnxruntime
    python -m examples.qa ask --context FILE --question "..."
    python -m examples.qa serve                   # the web page on http://127.0.0.1:8014/
    python -m examples.qa curve --limit 500       # F1 against training time over the run's snapshots

The app uses only lpfc's public API (``lpfc.compile``, ``lpfc.load``, and ``lpfc.nas.squad``:
SQuAD reading, the official metric, span post-processing).
"""
