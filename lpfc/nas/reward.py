"""The reward: accuracy and latency in one number (MnasNet, Tan et al. 2019, eq. 2).

    reward = acc × (lat / target) ^ w,   w = alpha if lat <= target else beta

- soft (default): alpha = beta = w (-0.07, MnasNet's value): a model 2× over the target loses ~5 % of
  its reward, one 2× under gains ~5 %; the controller trades accuracy against latency smoothly.
- hard constraint: alpha = 0, beta = ``hard_weight`` (-1 by default, MnasNet's "hard" setting): meeting
  the target earns nothing extra, missing it divides the reward by how far it is over (to the power
  -beta). Where accuracies differ by several times across the space (a sub-network's F1 after a short
  distillation: 10 for a halved width, 75 for the full width with fewer heads), -1 is not steep enough:
  a model 1.7x over the target with 4x the F1 still out-earns every model within it, and the controller
  settles where nothing is within the target. ``hard_weight=-4`` makes a 10 % miss cost a third.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import NasError

DEFAULT_WEIGHT = -0.07
HARD_WEIGHT = -1.0       # MnasNet's hard setting: beta = -1


@dataclass(frozen=True)
class Reward:
    target_ms: float
    weight: float = DEFAULT_WEIGHT
    hard: bool = False
    hard_weight: float = HARD_WEIGHT

    def __post_init__(self):
        if not (isinstance(self.target_ms, (int, float)) and math.isfinite(self.target_ms) and self.target_ms > 0):
            raise NasError(f"the latency target must be a positive number of milliseconds, got {self.target_ms!r}")
        if not math.isfinite(self.weight) or self.weight > 0:
            raise NasError(f"the reward's latency exponent must be <= 0 (a slower model must not earn more), "
                           f"got {self.weight!r}")
        if not math.isfinite(self.hard_weight) or self.hard_weight > 0:
            raise NasError(f"the hard reward's exponent over the target must be <= 0, got {self.hard_weight!r}")

    def exponent(self, latency_ms: float) -> float:
        if self.hard:
            return 0.0 if latency_ms <= self.target_ms else self.hard_weight
        return self.weight

    def __call__(self, accuracy: float, latency_ms: float) -> float:
        return float(accuracy) * (float(latency_ms) / self.target_ms) ** self.exponent(latency_ms)

    def describe(self) -> str:
        if self.hard:
            return (f"hard: acc if lat <= {self.target_ms:g} ms, else acc x (lat/{self.target_ms:g})^"
                    f"{self.hard_weight:g}")
        return f"soft: acc x (lat/{self.target_ms:g} ms)^{self.weight:g}"


__all__ = ["DEFAULT_WEIGHT", "HARD_WEIGHT", "Reward"]
