"""A made-up accuracy for tests and for exercising the search machinery: no model, no data.

The score rises with the architecture's size and saturates, as accuracy does: 1 - exp(-capacity), where
capacity weighs depth most (the paper's observation that layer count matters most), then widths. It is
a smooth, deterministic function of the dict, so a search on it has a known optimum under a latency cost.
"""
from __future__ import annotations

import math
import time


def evaluate(arch, *, sleep: float = 0.0, dry_run: bool = False, **_ignored) -> float:
    if sleep:
        time.sleep(float(sleep))
    n, h = arch["layers"], arch["hidden"]
    heads = sum(arch["heads"]) / n
    ffn = sum(arch["ffn"]) / n
    capacity = 0.45 * n + 0.6 * h / 384 + 0.15 * heads / 12 + 0.25 * ffn / 1536
    return round(1.0 - math.exp(-capacity), 6)
