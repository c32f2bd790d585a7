"""The reward: accuracy and latency in one number (MnasNet, Tan et al. 2019, eq. 2).

    reward = acc × (lat / target) ^ w,   w = alpha if lat <= target else beta

- soft (default): alpha = beta = w (-0.07, MnasNet's value): a model 2× over the target loses ~5 % of
  its reward, one 2× under gains ~5 %; the controller trades accuracy against latency smoothly.
- hard constraint: alpha = 0, beta = -1 (MnasNet's "hard" setting): meeting the target earns nothing
  extra, missing it divides the reward by how far it is over.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import NasError

DEFAULT_WEIGHT = -0.07


@dataclass(frozen=True)
class Reward:
    target_ms: float
    weight: float = DEFAULT_WEIGHT
    hard: bool = False

    def __post_init__(self):
        if not (isinstance(self.target_ms, (int, float)) and math.isfinite(self.target_ms) and self.target_ms > 0):
            raise NasError(f"the latency target must be a positive number of milliseconds, got {self.target_ms!r}")
        if not math.isfinite(self.weight) or self.weight > 0:
            raise NasError(f"the reward's latency exponent must be <= 0 (a slower model must not earn more), "
                           f"got {self.weight!r}")

    def exponent(self, latency_ms: float) -> float:
        if self.hard:
            return 0.0 if latency_ms <= self.target_ms else -1.0
        return self.weight

    def __call__(self, accuracy: float, latency_ms: float) -> float:
        return float(accuracy) * (float(latency_ms) / self.target_ms) ** self.exponent(latency_ms)

    def describe(self) -> str:
        if self.hard:
            return f"hard: acc if lat <= {self.target_ms:g} ms, else acc x (lat/{self.target_ms:g})^-1"
        return f"soft: acc x (lat/{self.target_ms:g} ms)^{self.weight:g}"


__all__ = ["DEFAULT_WEIGHT", "Reward"]
