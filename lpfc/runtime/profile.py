"""Per-kernel profiles of a compiled model (``Session.profile``, ``lpfc run lib.so --profile``).

The library times every kernel call when run through ``lpfc_model_profile`` (one clock read per
kernel; ``lpfc_model_run`` reads no clock) and describes each call in a static table: name,
emitter, block kind, shapes, FLOPs (2·M·N·K over the kernel's matmuls) and variant.  A
:class:`Profile` holds the median of each call's time over several runs.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Optional


@dataclass
class KernelTime:
    index: int                  # call position in the run
    name: str
    emitter: str
    kind: str
    shapes: str
    flop: int
    variant: str
    seconds: float              # median over the runs
    samples: list = field(default_factory=list)

    @property
    def gflops(self) -> Optional[float]:
        return self.flop / self.seconds / 1e9 if self.flop and self.seconds > 0 else None


@dataclass
class Profile:
    kernels: list               # [KernelTime] in call order
    total_seconds: float        # median wall time of a whole profiled run (as seen from Python)
    threads: int = 1
    runs: int = 0
    library: str = ""

    @classmethod
    def from_samples(cls, info: str, samples: list, totals: list, threads: int = 1, library: str = "") -> "Profile":
        lines = [ln for ln in info.split("\n") if ln]
        kernels = []
        for i, ln in enumerate(lines):
            f = (ln.split("\t") + [""] * 6)[:6]
            try:
                flop = int(f[4])
            except ValueError:
                flop = 0
            xs = [s[i] for s in samples if i < len(s)]
            kernels.append(KernelTime(i, f[0], f[1], f[2], f[3], flop, f[5], statistics.median(xs) if xs else 0.0,
                                      xs))
        return cls(kernels, statistics.median(totals) if totals else 0.0, threads, len(samples), library)

    @property
    def kernel_seconds(self) -> float:
        """Sum of the kernels' median times (the run minus the runtime's checks and Python's overhead)."""
        return sum(k.seconds for k in self.kernels)

    @property
    def flop(self) -> int:
        return sum(k.flop for k in self.kernels)

    def by_kind(self) -> dict:
        """kind -> (calls, seconds, flop)."""
        out: dict = {}
        for k in self.kernels:
            c, s, f = out.get(k.kind, (0, 0.0, 0))
            out[k.kind] = (c + 1, s + k.seconds, f + k.flop)
        return out

    def table(self, top: Optional[int] = None, peak_gflops: Optional[float] = None, peak_label: str = "") -> str:
        """The kernels sorted by time (longest first), then a summary by block kind. With ``peak_gflops`` (the
        machine's fp32 peak at the profile's thread count) each kernel and kind also shows its share of it."""
        tot = self.kernel_seconds or 1e-30

        def pct(gflops):
            return f" {100 * gflops / peak_gflops:6.1f}" if peak_gflops and gflops else (" " * 7 if peak_gflops else "")
        rows = sorted(self.kernels, key=lambda k: -k.seconds)
        if top:
            rows = rows[:top]
        head = (f"{'#':>4} {'kernel':<22} {'emitter':<14} {'kind':<16} {'ms':>8} {'%':>6} {'GFLOP':>8} "
                f"{'GFLOP/s':>8}{' % peak' if peak_gflops else ''}  shapes / variant")
        out = [f"profile of {self.library or 'the model'}: {self.threads} thread(s), median of {self.runs} run(s)"
               + (f"; peak {peak_gflops:.1f} GFLOP/s ({peak_label})" if peak_gflops else ""),
               head, "-" * len(head)]
        for k in rows:
            g = f"{k.gflops:8.1f}" if k.gflops is not None else f"{'-':>8}"
            out.append(f"{k.index:>4} {k.name[:22]:<22} {k.emitter[:14]:<14} {k.kind[:16]:<16} {k.seconds * 1e3:8.3f} "
                       f"{100 * k.seconds / tot:6.1f} {k.flop / 1e9:8.4f} {g}{pct(k.gflops)}  {k.shapes}  [{k.variant}]")
        out.append("-" * len(head))
        out.append("by kind:")
        for kind, (c, s, f) in sorted(self.by_kind().items(), key=lambda kv: -kv[1][1]):
            g = f"{f / s / 1e9:.1f} GFLOP/s" if f and s > 0 else ""
            if g and peak_gflops:
                g += f", {100 * f / s / 1e9 / peak_gflops:.1f}% of peak"
            out.append(f"  {kind:<18} {c:>4} calls {s * 1e3:9.3f} ms {100 * s / tot:6.1f} %  {g}")
        gf = self.flop / tot / 1e9 if self.flop else 0.0
        share = f", {100 * gf / peak_gflops:.1f}% of peak" if peak_gflops and gf else ""
        out.append(f"kernels {tot * 1e3:.3f} ms ({len(self.kernels)} calls, {self.flop / 1e9:.3f} GFLOP, "
                   f"{gf:.1f} GFLOP/s{share}); whole run {self.total_seconds * 1e3:.3f} ms (median, incl. checks and Python)")
        return "\n".join(out)

    def to_dict(self) -> dict:
        return {"threads": self.threads, "runs": self.runs, "total_seconds": self.total_seconds,
                "kernel_seconds": self.kernel_seconds,
                "kernels": [{"index": k.index, "name": k.name, "emitter": k.emitter, "kind": k.kind,
                             "shapes": k.shapes, "flop": k.flop, "variant": k.variant, "seconds": k.seconds}
                            for k in self.kernels]}


__all__ = ["KernelTime", "Profile"]
