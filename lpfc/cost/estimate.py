"""``lpfc.estimate_latency``: the compiler predicts its own latency (docs/cost.md)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping, Optional, Union

from ..errors import LpfcError
from .model import calibration_path, llc_bytes, load_calibration, model_context, predict_ms

MODES = ("model", "measure")


@dataclass
class KernelEstimate:
    index: int
    part: str           # embeddings / layer N / pooler (architecture dicts), else ""
    kind: str
    emitter: str
    variant: str
    shapes: str
    flop: int
    bytes: int
    ms: float           # predicted (mode="model") or measured median (mode="measure")
    fallback: bool = False   # its class had no calibration samples: the all-kernel fit predicted it


@dataclass
class LatencyEstimate:
    ms: float                         # one inference, milliseconds
    target: str
    threads: int
    mode: str
    band_pct: Optional[float] = None  # ± this % holds ~90% of calibration models (model mode)
    kernels: list = field(default_factory=list)   # [KernelEstimate] in call order
    overhead_ms: float = 0.0          # the run outside the kernels (input checks, copies, the call)
    calibration: str = ""             # the calibration file used (model mode)
    runs: list = field(default_factory=list)       # measured run times in ms (measure mode)
    source: str = "calibrated"        # model mode: "calibrated" (this machine's calibration file), "analytic"
    #                                   (the host's ISA-derived profile) or "spec" (published specifications)
    profile: str = ""                 # which calibration file or analytic profile priced it, for people

    @property
    def calibrated(self) -> bool:
        return self.mode == "measure" or self.source == "calibrated"

    def __float__(self) -> float:
        return float(self.ms)

    @property
    def low_ms(self) -> Optional[float]:
        return None if self.band_pct is None else max(0.0, self.ms * (1 - self.band_pct / 100))

    @property
    def high_ms(self) -> Optional[float]:
        return None if self.band_pct is None else self.ms * (1 + self.band_pct / 100)

    @property
    def flop(self) -> int:
        return sum(k.flop for k in self.kernels)

    def __str__(self) -> str:
        band = f" ± {self.band_pct:.0f} %" if self.band_pct is not None else ""
        how = "predicted" if self.mode == "model" else f"measured, median of {len(self.runs)} runs"
        if self.mode == "model" and self.source != "calibrated":
            how += ", UNCALIBRATED " + ("spec estimate" if self.source == "spec" else "analytic estimate")
        return (f"{self.ms:.3f} ms{band} ({how}; target {self.target}, {self.threads} thread(s), "
                f"{len(self.kernels)} kernel calls, {self.flop / 1e9:.3f} GFLOP)")

    def by_class(self) -> dict:
        out: dict = {}
        for k in self.kernels:
            c = f"{k.emitter}/{k.kind}"
            n, ms = out.get(c, (0, 0.0))
            out[c] = (n + 1, ms + k.ms)
        return out

    def table(self) -> str:
        head = (f"{'#':>4} {'part':<11} {'kind':<16} {'emitter':<14} {'ms':>9} {'%':>6} {'GFLOP':>8} {'MB':>8}"
                "  shapes [variant]")
        tot = sum(k.ms for k in self.kernels) or 1e-30
        rows = [str(self)] + ([f"profile: {self.profile}"] if self.profile else []) + [head, "-" * len(head)]
        for k in self.kernels:
            mark = " *" if k.fallback else ""
            rows.append(f"{k.index:>4} {k.part[:11]:<11} {k.kind[:16]:<16} {k.emitter[:14]:<14} {k.ms:9.4f} "
                        f"{100 * k.ms / tot:6.1f} {k.flop / 1e9:8.4f} {k.bytes / 1e6:8.3f}  "
                        f"{k.shapes} [{k.variant}]{mark}")
        rows.append("-" * len(head))
        for c, (n, ms) in sorted(self.by_class().items(), key=lambda kv: -kv[1][1]):
            rows.append(f"  {c:<32} {n:>4} calls {ms:9.3f} ms {100 * ms / tot:6.1f} %")
        rows.append(f"kernels {tot:.3f} ms + run overhead {self.overhead_ms:.3f} ms = {self.ms:.3f} ms")
        if any(k.fallback for k in self.kernels):
            rows.append("* a kernel class the calibration never measured: predicted by the fit over all kernels")
        return "\n".join(rows)

    def to_dict(self) -> dict:
        return {"ms": self.ms, "band_pct": self.band_pct, "target": self.target, "threads": self.threads,
                "mode": self.mode, "overhead_ms": self.overhead_ms, "calibration": self.calibration,
                "runs": self.runs, "source": self.source, "profile": self.profile,
                "kernels": [k.__dict__ for k in self.kernels]}


def _plans_and_module(model, target: str, input_shapes, need_module: bool):
    from .arch import build_encoder
    from .plan import plan_arch, plan_module

    if isinstance(model, Mapping):
        module = None
        if need_module:
            module = build_encoder(model)
            return plan_module(module, target), module
        return plan_arch(model, target), None
    from ..ir import Module

    if isinstance(model, Module):
        module = model
    elif isinstance(model, (str, os.PathLike)):
        from ..frontend.load import load_module
        from .onnx_fast import load_module_mapped

        # the weights mapped from the file, not copied (onnx_fast.py); else the frontend's ordinary import
        module = load_module_mapped(str(model), input_shapes)
        if module is None:
            module = load_module(str(model), input_shapes)
    else:
        raise LpfcError(f"estimate_latency takes an ONNX/IR path, a graph-IR Module or an architecture dict, "
                        f"not {type(model).__name__}")
    return plan_module(module, target), module


def estimate_latency(model: Union[str, os.PathLike, Mapping, "object"], *, target: str = "host", threads: int = 1,
                     mode: str = "model", input_shapes: Optional[dict] = None, runs: int = 20,
                     require_calibration: bool = False, cache: bool = True) -> LatencyEstimate:
    """How long one inference of ``model`` takes once lpfc compiles it for ``target`` with ``threads`` threads.

    ``model``: an ONNX (or .mlir) path, a graph-IR Module (the default pipeline runs on it in place, as
    ``lpfc.compile`` does) or an architecture dict (lpfc.cost.arch). ``mode="model"`` predicts from the
    kernel plan and this machine's calibration (``lpfc calibrate``); ``mode="measure"`` compiles and times
    it (median of ``runs`` runs after warm-up, cached by kernel signatures; ``cache=False`` times it now
    and replaces the stored figure: a VM's speed drifts by 10-20 % between hours, so a benchmark that
    compares against a measurement takes it in its own run).

    With no calibration for the target and thread count, ``mode="model"`` warns (UncalibratedWarning)
    and prices the kernels with an analytic profile (lpfc.cost.analytic: the host's from its ISA, the
    others from published specifications); the result says so (``source`` "analytic" or "spec") and
    carries a wide band. ``require_calibration=True`` raises CalibrationError instead, as does a
    calibration file that cannot be used."""
    from ..codegen.targets import get_target
    from .plan import target_key_cached

    if mode not in MODES:
        raise LpfcError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise LpfcError(f"threads must be a positive integer, not {threads!r}")
    tgt = get_target(target)
    tkey = target_key_cached(tgt.name)
    if mode == "model":
        if require_calibration or calibration_path(tkey, threads).exists():
            cal = load_calibration(tkey, tgt.name, threads)     # before planning: a missing one fails fast
        else:
            return _analytic(model, tgt.name, threads, input_shapes)
        plans, _ = _plans_and_module(model, tgt.name, input_shapes, need_module=False)
        fit = cal["fit"]
        ctx = model_context(plans, int(cal.get("llc_bytes") or llc_bytes()))
        ks = []
        for i, p in enumerate(plans):
            ms, fb = predict_ms(fit, p, ctx)
            ks.append(KernelEstimate(i, p.part, p.kind, p.emitter, p.variant, p.shapes, p.flop, p.bytes, ms, fb))
        over = float(cal.get("overhead_ms", 0.0))
        return LatencyEstimate(sum(k.ms for k in ks) + over, tgt.name, threads, mode, cal.get("band_pct"), ks, over,
                               cal.get("_path", ""), source="calibrated",
                               profile=f"calibrated: {cal.get('_path', '')}")
    from .measure import measure

    plans, module = _plans_and_module(model, tgt.name, input_shapes, need_module=True)
    res = measure(module, plans, tgt.name, threads, tkey, runs=max(20, int(runs)), profile_runs=10,
                  use_cache=bool(cache))
    kms = res.get("kernels_ms") or [0.0] * len(plans)
    ks = [KernelEstimate(i, p.part, p.kind, p.emitter, p.variant, p.shapes, p.flop, p.bytes, ms)
          for i, (p, ms) in enumerate(zip(plans, kms))]
    return LatencyEstimate(res["ms"], tgt.name, threads, mode, None, ks, max(0.0, res["ms"] - sum(kms)), "",
                           res["runs"])


def _analytic(model, target: str, threads: int, input_shapes) -> LatencyEstimate:
    """No calibration: the analytic profile of the target prices the planned kernels (docs/cost.md)."""
    from .analytic import profile_for, warn_uncalibrated

    prof = profile_for(target)
    warn_uncalibrated(target, threads, prof, f"make a calibration with: lpfc calibrate --target {target} "
                      f"--threads {threads}" if target == "host" else "calibrate on a device to replace it")
    plans, _ = _plans_and_module(model, target, input_shapes, need_module=False)
    ks = [KernelEstimate(i, p.part, p.kind, p.emitter, p.variant, p.shapes, p.flop, p.bytes,
                         prof.kernel_ms(p, threads)) for i, p in enumerate(plans)]
    over = prof.run_overhead_ms
    return LatencyEstimate(sum(k.ms for k in ks) + over, target, threads, "model", prof.band_pct, ks, over,
                           "", source=prof.source, profile=prof.describe())


__all__ = ["KernelEstimate", "LatencyEstimate", "estimate_latency"]
