"""What a candidate costs: the compiler's latency oracle (default), or a FLOP count for comparison.

``oracle``: ``lpfc.estimate_latency(arch, target=..., threads=...)`` -- the kernels lpfc's own pipeline
fuses the candidate into, priced by this machine's calibration (docs/cost.md). Compiler-aware: it sees
what fusion and the emitters do (which kernels exist, which emitter and variant each one gets).

``flops``: the multiply-adds of the architecture, scaled to milliseconds by one oracle estimate of the
space's largest architecture (ms per FLOP at that point), so the same ``--latency-ms`` target means the
same thing. This is the FLOP-count proxy of issue #15 item 7: what a compiler-unaware search would use.
"""
from __future__ import annotations

import warnings
from typing import Mapping

from ..errors import NasError

MODELS = ("oracle", "flops")


def arch_flops(arch: Mapping) -> int:
    """Multiply-add FLOPs (2 per MAC) of one inference of an encoder architecture (embeddings' gathers free)."""
    n, H, S, B = arch["layers"], arch["hidden"], arch["seq"], arch.get("batch", 1)
    heads = arch["heads"] if isinstance(arch["heads"], (list, tuple)) else [arch["heads"]] * n
    ffn = arch["ffn"] if isinstance(arch["ffn"], (list, tuple)) else [arch["ffn"]] * n
    total = 0
    for nh, F in zip(heads, ffn):
        A = nh * (arch.get("head_dim") or H // nh)        # attention width
        total += 2 * S * H * A * 3                        # Q, K, V projections
        total += 2 * S * S * A * 2                        # scores and context
        total += 2 * S * A * H                            # output projection
        total += 2 * S * H * F * 2                        # FFN up and down
    total += 2 * H * H                                    # pooler
    return int(total * B)


class LatencyModel:
    """``model(arch) -> ms``. ``kind`` is ``oracle`` or ``flops``."""

    def __init__(self, kind: str = "oracle", *, target: str = "host", threads: int = 1, reference=None):
        if kind not in MODELS:
            raise NasError(f"unknown latency model {kind!r}; use one of {', '.join(MODELS)}")
        self.kind, self.target, self.threads = kind, target, threads
        self.source = ""          # the oracle's profile: calibrated / analytic / spec
        self.ms_per_flop = None
        if kind == "flops":
            if reference is None:
                raise NasError("the flops latency model needs a reference architecture to scale FLOPs to ms")
            self.ms_per_flop = self.oracle(reference) / arch_flops(reference)

    def oracle(self, arch: Mapping) -> float:
        from ..cost.estimate import estimate_latency
        from ..errors import LpfcError

        with warnings.catch_warnings(record=True) as caught:   # the uncalibrated warning: said once, in describe()
            warnings.simplefilter("always")
            try:
                est = estimate_latency(dict(arch), target=self.target, threads=self.threads)
            except NasError:
                raise
            except LpfcError as e:
                raise NasError(f"the latency oracle cannot price {arch}: {e}") from None
        self.source = est.source if not self.source else self.source
        self._warning = str(caught[0].message) if caught else getattr(self, "_warning", "")
        return float(est.ms)

    def __call__(self, arch: Mapping) -> float:
        if self.kind == "flops":
            return arch_flops(arch) * self.ms_per_flop
        return self.oracle(arch)

    def describe(self) -> str:
        if self.kind == "flops":
            return (f"FLOP-count proxy: {self.ms_per_flop * 1e9:.4f} ms per GFLOP (scaled by the oracle's "
                    f"estimate of the space's largest architecture, target {self.target}, {self.threads} thread(s))")
        src = {"calibrated": "calibrated"}.get(self.source, f"UNCALIBRATED {self.source}")
        return f"latency oracle (lpfc.estimate_latency, target {self.target}, {self.threads} thread(s), {src})"

    @property
    def warning(self) -> str:
        return getattr(self, "_warning", "")


__all__ = ["MODELS", "LatencyModel", "arch_flops"]
