"""Choosing the next token from logits: greedy, or temperature / top-k / top-p sampling, with
transformers' repetition penalty (same definitions as its logits processors)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

import numpy as np


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.0        # 0: greedy (argmax)
    top_k: int = 0                  # 0: off
    top_p: float = 1.0              # 1: off
    repetition_penalty: float = 1.0  # 1: off; > 1 discourages tokens already in the text
    seed: Optional[int] = None

    def check(self) -> "Sampling":
        if not self.temperature >= 0:
            raise ValueError(f"temperature must be >= 0, not {self.temperature}")
        if self.top_k < 0:
            raise ValueError(f"top-k must be >= 0, not {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top-p must be in (0, 1], not {self.top_p}")
        if not self.repetition_penalty > 0:
            raise ValueError(f"the repetition penalty must be > 0, not {self.repetition_penalty}")
        return self


class Sampler:
    def __init__(self, s: Sampling):
        self.s = s.check()
        self.rng = np.random.default_rng(s.seed)

    def __call__(self, logits: np.ndarray, seen: Iterable[int]) -> int:
        x = np.array(logits, dtype=np.float64).reshape(-1)
        if self.s.repetition_penalty != 1.0:
            idx = np.fromiter(set(seen), dtype=np.int64)
            if idx.size:
                v = x[idx]
                x[idx] = np.where(v < 0, v * self.s.repetition_penalty, v / self.s.repetition_penalty)
        if self.s.temperature == 0:
            return int(np.argmax(x))
        x = x / self.s.temperature
        if 0 < self.s.top_k < x.size:
            kth = np.partition(x, -self.s.top_k)[-self.s.top_k]
            x = np.where(x < kth, -np.inf, x)
        if self.s.top_p < 1.0:
            order = np.argsort(-x, kind="stable")
            p = np.exp(x[order] - x[order[0]])
            p /= p.sum()
            cum = np.cumsum(p)
            drop = cum - p > self.s.top_p          # keep the smallest prefix whose mass reaches top_p
            x[order[drop]] = -np.inf
        p = np.exp(x - x.max())
        p /= p.sum()
        return int(self.rng.choice(x.size, p=p))
