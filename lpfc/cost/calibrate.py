"""``lpfc calibrate``: measure calibration models per kernel and fit the cost model (docs/cost.md).

Each calibration model (a two-layer BERT-style encoder whose layers differ in heads and FFN, so one
build yields two shapes of every layer kernel) is compiled once; for each thread count it is profiled
per kernel (``Session.profile``, the median of each kernel call over the runs) and timed whole (median
of ``runs`` runs after warm-up). The per-kernel times fit the per-class NNLS model; the whole-run times
give the run overhead outside the kernels and, by leaving each model out of the fit in turn and
predicting it, the ±% band the estimates carry.
"""
from __future__ import annotations

import platform
import statistics
import time
from typing import Callable, Optional, Sequence

import numpy as np

from .model import VERSION, band_from_errors, features, fit, llc_bytes, model_context, save_calibration

# Fixed, and unlike bench/oracle.py's held-out architectures (drawn at random with their own seed).
CALIBRATION_ARCHS = (
    dict(layers=2, hidden=128, heads=[2, 4], ffn=[256, 512], seq=64, batch=1),
    dict(layers=2, hidden=256, heads=[4, 8], ffn=[1024, 384], seq=128, batch=1),
    dict(layers=2, hidden=384, heads=[6, 12], ffn=[1536, 768], seq=32, batch=2),
    dict(layers=1, hidden=448, heads=7, ffn=1792, seq=96, batch=1),
    dict(layers=2, hidden=512, heads=[8, 4], ffn=[2048, 1024], seq=128, batch=1),
    dict(layers=2, hidden=192, heads=[3, 6], ffn=[768, 2560], seq=256, batch=2),
    dict(layers=2, hidden=768, heads=[12, 6], ffn=[3072, 1280], seq=64, batch=1),
    dict(layers=2, hidden=320, heads=[5, 10], ffn=[1280, 2816], seq=384, batch=1),
    dict(layers=2, hidden=640, heads=[10, 5], ffn=[2560, 640], seq=192, batch=1),
    dict(layers=2, hidden=576, heads=[9, 12], ffn=[2304, 3072], seq=96, batch=3),
    # one layer (its mask is a kernel of its own, as with more layers: lpfc/passes/lp_fusion/blocks.py)
    dict(layers=1, hidden=256, heads=4, ffn=512, seq=160, batch=2),
    # deeper and larger models: weights beyond the last-level cache streamed at small M, long sequences
    # with batches (attention-heavy), large M on wide GEMMs
    dict(layers=4, hidden=768, heads=[12, 4, 6, 3], ffn=[3072, 2048, 1024, 2560], seq=32, batch=1),
    dict(layers=1, hidden=256, heads=4, ffn=1024, seq=512, batch=4),
    dict(layers=3, hidden=640, heads=[10, 5, 8], ffn=[2560, 1536, 3072], seq=128, batch=2),
    dict(layers=6, hidden=384, heads=[6, 12, 3, 4, 2, 8], ffn=[1536, 768, 2304, 384, 3072, 1152], seq=64, batch=2),
    dict(layers=2, hidden=704, heads=[11, 2], ffn=[2816, 1600], seq=224, batch=2),
    dict(layers=2, hidden=128, heads=[2, 8], ffn=[3072, 256], seq=480, batch=3),
    # eight drawn at random from the NAS space (bench.oracle.draw_arch, random.Random(2026), the first eight of
    # at most 20 GFLOP), so that the calibration sees the space as the search does: deep narrow models too
    dict(layers=2, hidden=448, heads=[2, 4], ffn=[2688, 2752], seq=304, batch=4),
    dict(layers=6, hidden=320, heads=[5, 8, 8, 10, 8, 8], ffn=[2496, 2944, 384, 1408, 1536, 2112], seq=496, batch=1),
    dict(layers=8, hidden=640, heads=[5, 8, 4, 8, 8, 2, 5, 8], ffn=[1728, 640, 1024, 1920, 832, 2048, 256, 576], seq=32,
         batch=4),
    dict(layers=10, hidden=256, heads=[8, 8, 8, 4, 2, 4, 8, 2, 2, 8],
         ffn=[1472, 2304, 1920, 1792, 832, 2368, 1024, 1792, 256, 640], seq=224, batch=1),
    dict(layers=1, hidden=448, heads=[7], ffn=[320], seq=32, batch=4),
    dict(layers=3, hidden=768, heads=[3, 6, 4], ffn=[1984, 2432, 1920], seq=464, batch=1),
    dict(layers=7, hidden=384, heads=[3, 4, 3, 4, 6, 6, 6], ffn=[1408, 2112, 960, 1536, 2368, 2176, 2048], seq=80, batch=3),
    dict(layers=2, hidden=320, heads=[4, 2], ffn=[576, 2112], seq=352, batch=3),
)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _models_fit(models: list, skip: Optional[int] = None) -> tuple:
    samples = [s for j, m in enumerate(models) if j != skip for s in m["samples"]]
    f = fit(samples)
    # the run outside the kernels, from the smallest models: on a busy machine a big model's whole-run and
    # kernel-sum medians differ by more noise than the overhead itself
    kept = sorted((m for j, m in enumerate(models) if j != skip), key=lambda m: m["kernel_sum_ms"])[:3]
    over = [max(0.0, m["ms"] - m["kernel_sum_ms"]) for m in kept]
    return f, (min(over) if over else 0.0)


def fit_calibration(models: list) -> dict:
    """The fit, the run overhead and the leave-one-model-out errors of measured calibration models."""
    f, over = _models_fit(models)
    errs = []
    for j, m in enumerate(models):
        fj, oj = _models_fit(models, skip=j) if len(models) >= 3 else (f, over)
        pred = oj + sum(float(np.dot(fj["classes"].get(s["cls"], fj["all"]), s["x"])) for s in m["samples"])
        m["predicted_ms_lomo"] = pred
        errs.append(pred / m["ms"] - 1.0)
    return {"fit": f, "overhead_ms": over, "band_pct": band_from_errors(errs),
            "lomo_median_abs_pct": float(np.median(np.abs(errs)) * 100) if errs else None}


def calibrate(target: str = "host", threads: Sequence[int] = (1,), archs: Sequence[dict] = CALIBRATION_ARCHS,
              budget_s: Optional[float] = None, runs: int = 20, profile_runs: int = 10,
              progress: Optional[Callable[[str], None]] = None, runner: Optional[Sequence[str]] = None,
              compile_only: bool = False) -> dict:
    """Measures ``archs`` (until ``budget_s`` runs out; at least two), fits, writes one JSON per thread
    count; returns {threads: path}.

    ``runner`` (a command prefix, e.g. a script that pushes files with adb and runs them on the phone)
    runs each calibration library through lpfc's driver (``--profile``) on the device of a cross target;
    without it only the host can be calibrated. Libraries are cached (``measure.cached_library``), so
    ``compile_only=True`` can build them beforehand and a later call only measures (on a quiet machine)."""
    from ..codegen.targets import get_target
    from ..runtime.foreign import DriverSession
    from ..errors import LpfcError
    from ..runtime.session import load
    from .arch import build_encoder
    from .measure import cached_library, sample_feeds, time_session
    from .plan import plan_module, target_key_cached

    say = progress or (lambda s: None)
    tgt = get_target(target)
    if tgt.opencl:
        raise LpfcError(f"calibrating {tgt.name} is not supported: its kernels run on the OpenCL device, where "
                        "lpfc's driver cannot time them one by one",
                        hint="its estimates come from the published specification profile (docs/cost.md)")
    if tgt.is_cross and runner is None:
        raise LpfcError(f"calibrating {tgt.name} needs the device: give a runner command that runs lpfc's driver "
                        "there (--runner)", hint="docs/cost.md, 'Calibrating a phone'")
    if runner is not None and not tgt.is_cross:
        raise LpfcError(f"--runner is for cross targets; {tgt.name} is calibrated on this machine")
    threads = sorted({int(t) for t in threads})
    tkey = target_key_cached(tgt.name)
    llc = llc_bytes()
    t0 = time.monotonic()
    per_t: dict = {t: [] for t in threads}
    n = len(archs)
    for i, arch in enumerate(archs):
        spent = time.monotonic() - t0
        if budget_s is not None and i >= 2 and spent > budget_s:
            say(f"[{i + 1}/{n}] budget of {budget_s:g} s spent after {spent:.0f} s: {n - i} model(s) left out")
            break
        eta = f", ETA {spent / i * (n - i):.0f} s" if i else ""
        say(f"[{i + 1}/{n}] {_arch_text(arch)}: planning{eta}")
        module = build_encoder(dict(arch, vocab=arch.get("vocab", 30522)))
        plans = plan_module(module, tgt.name)
        tc = time.monotonic()
        lib = cached_library(module, plans, tgt.name, tkey, say)
        tc = time.monotonic() - tc
        if compile_only:
            continue
        for t in threads:
            if runner is not None:      # one driver process per thread count; its profiled runs are the times
                dev = DriverSession(lib, threads=t, runner=runner)
                prof = dev.profile(sample_feeds(dev), runs=max(runs, profile_runs))
                ts = [prof.total_seconds * 1e3]
            else:
                with load(lib, threads=t) as sess:
                    prof = sess.profile(sample_feeds(sess), runs=profile_runs, warmup=2)
                    ts = time_session(sess, runs=runs)
            if len(prof.kernels) != len(plans):
                raise LpfcError(f"calibration model {i + 1}: the library ran {len(prof.kernels)} kernels, "
                                f"the plan has {len(plans)} (a planning bug)")
            ctx = model_context(plans, llc)
            samples = [{"cls": p.cls, "x": features(p, ctx).tolist(), "ms": k.seconds * 1e3, "shapes": p.shapes,
                        "variant": p.variant} for p, k in zip(plans, prof.kernels)]
            m = {"arch": arch, "ms": statistics.median(ts), "kernel_sum_ms": sum(s["ms"] for s in samples),
                 "samples": samples}
            per_t[t].append(m)
            say(f"      {t} thread(s): {m['ms']:.3f} ms ({len(samples)} kernels, build {tc:.0f} s)")
    if compile_only:
        say("calibration libraries compiled (or found cached); nothing measured")
        return {}
    out = {}
    for t, models in per_t.items():
        res = fit_calibration(models)
        where = f"device via {' '.join(runner)}" if runner is not None else cpu_model()
        data = {"version": VERSION, "target": tgt.name, "target_key": tkey, "cpu": where, "threads": t,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "runs": runs,
                "profile_runs": profile_runs, "llc_bytes": llc, "models": models, **res}
        p = save_calibration(data, tkey, t)
        out[t] = p
        band = f"±{res['band_pct']:.1f} %" if res["band_pct"] is not None else "no band"
        say(f"{t} thread(s): {len(models)} models, {sum(len(m['samples']) for m in models)} kernel samples, "
            f"{len(res['fit']['classes'])} kernel classes; leave-one-out band {band} -> {p}")
    return out


def refit(target: str = "host", threads: Sequence[int] = (1,),
          progress: Optional[Callable[[str], None]] = None) -> dict:
    """Refits stored calibrations from their measured samples (no measuring): {threads: path}."""
    import json

    from ..codegen.targets import get_target
    from ..errors import CalibrationError
    from .model import calibration_path, load_calibration
    from .plan import plan_arch, target_key_cached

    say = progress or (lambda s: None)
    tgt = get_target(target)
    tkey = target_key_cached(tgt.name)
    out = {}
    for t in threads:
        path = calibration_path(tkey, t)
        try:
            data = json.loads(path.read_text())
            models = data["models"]
        except (OSError, ValueError, KeyError, TypeError):
            load_calibration(tkey, tgt.name, t)          # the clear error when there is none, or it is unusable
            raise CalibrationError(f"cannot refit {path}: it holds no measured models",
                                   hint=f"remake it with: lpfc calibrate --target {target} --threads {t}") from None
        llc = int(data.get("llc_bytes") or llc_bytes())
        for m in models:        # features as this lpfc computes them (they may have grown since the measuring)
            if isinstance(m.get("arch"), dict):
                plans = plan_arch(dict(m["arch"], vocab=m["arch"].get("vocab", 30522)), tgt.name)
                if len(plans) == len(m["samples"]):
                    ctx = model_context(plans, llc)
                    for s, p in zip(m["samples"], plans):
                        s["x"] = features(p, ctx).tolist()
        data.update(fit_calibration(models), version=VERSION, llc_bytes=llc)
        out[t] = save_calibration(data, tkey, t)
        say(f"{t} thread(s): refitted {len(models)} models; band ±{data['band_pct']:.1f} % -> {out[t]}")
    return out


def _arch_text(a: dict) -> str:
    return (f"layers {a['layers']} hidden {a['hidden']} heads {a['heads']} ffn {a['ffn']} seq {a['seq']} "
            f"batch {a.get('batch', 1)}")


__all__ = ["CALIBRATION_ARCHS", "calibrate", "cpu_model", "fit_calibration", "refit"]
