"""The per-kernel cost model and its calibration file.

A kernel's time is a non-negative combination of its features, fitted per *class* (emitter and block
kind, e.g. ``cpp-gemm/gemm_layer_norm``) by non-negative least squares on measured per-kernel times:

    ms = c0 · 1  +  c1 · GFLOP(tile-padded)  +  c2 · GFLOP  +  c3 · MB moved  +  c4 · M elements
         + c5 · MB of weights from DRAM

``1`` is the call's fixed cost (thread wake-up, packing set-up); padded GFLOP is what the register
tile actually computes (M and N rounded up to MR×NR: the edge tiles' waste); MB moved is the
operands and results; elements are what the kernel's non-matmul ops produce (softmax, LayerNorm,
GELU, gathers); MB of weights from DRAM is a GEMM's weight operand when the whole model's GEMM weights
exceed the last-level cache (``model_context``): a run then streams every layer's weights from memory,
where a model that fits finds them in the cache from its previous run. Coefficients are non-negative, so no kernel gets a negative time and a larger kernel
of a class never gets a smaller one. A class with fewer than MIN_CLASS_SAMPLES samples gets the fit over
all kernels scaled to its own median level; a class never seen in calibration gets the fit over all kernels.

The calibration is plain JSON in ``$LPFC_CACHE_DIR/latency/``, one file per target key (target,
architecture, processor, ISA features) and thread count; never a pickle.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..errors import CalibrationError

FEATURES = ("calls", "padded_gflop", "gflop", "mbytes", "melements", "dram_mbytes")
VERSION = 2
MIN_CLASS_SAMPLES = 6     # below this a class gets the all-kernel fit scaled to its own level


def weight_bytes(k) -> int:
    """A GEMM kernel's weight operand (its first 2-D operand after the activations, K×N floats) in bytes;
    0 for other kernels."""
    if not k.kind.startswith("gemm"):
        return 0
    for op in k.shapes.split("->")[0].split(",")[1:]:
        dims = op.split("x")
        if len(dims) == 2 and all(d.isdigit() for d in dims):
            return 4 * int(dims[0]) * int(dims[1])
    return 0


def llc_bytes() -> int:
    """This machine's last-level cache (sysfs), else 32 MiB."""
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    best = 0
    try:
        for d in base.glob("index*"):
            t = (d / "size").read_text().strip()
            n = int(t[:-1]) * {"K": 1 << 10, "M": 1 << 20}.get(t[-1], 1) if t[-1] in "KM" else int(t)
            best = max(best, n)
    except (OSError, ValueError, IndexError):
        best = 0
    return best or 32 << 20


def model_context(plans, llc: int) -> dict:
    """What a kernel's cost depends on beyond itself: whether the model's GEMM weights exceed the LLC."""
    return {"dram": sum(weight_bytes(p) for p in plans) > llc}


def features(k, ctx: Optional[dict] = None) -> np.ndarray:
    dram = weight_bytes(k) / 1e6 if ctx and ctx.get("dram") else 0.0
    return np.array([1.0, k.padded_flop / 1e9, k.flop / 1e9, k.bytes / 1e6, k.elements / 1e6, dram])


def fit_class(X: np.ndarray, y: np.ndarray) -> list:
    """NNLS coefficients; rows weighted by 1/sqrt(y) so small kernels are not ignored beside large ones."""
    from scipy.optimize import nnls

    w = 1.0 / np.sqrt(np.maximum(y, 1e-4))
    scale = np.maximum(np.abs(X).max(axis=0), 1e-12)        # column scaling: a well-conditioned NNLS
    coef, _ = nnls(X * w[:, None] / scale, y * w)
    return list(map(float, coef / scale))


def fit(samples: Sequence[dict]) -> dict:
    """samples: [{"cls", "x": [features], "ms"}] -> {"classes": {cls: coef}, "all": coef, "counts": {...}}."""
    by: dict = {}
    for s in samples:
        by.setdefault(s["cls"], []).append(s)
    classes, counts = {}, {}
    X = np.array([s["x"] for s in samples], dtype=float)
    y = np.array([s["ms"] for s in samples], dtype=float)
    every = fit_class(X, y) if len(samples) else [0.0] * len(FEATURES)
    for cls, ss in sorted(by.items()):
        Xc = np.array([s["x"] for s in ss], dtype=float)
        yc = np.array([s["ms"] for s in ss], dtype=float)
        counts[cls] = len(ss)
        if len(ss) >= MIN_CLASS_SAMPLES:
            classes[cls] = fit_class(Xc, yc)
        else:   # too few to fit five coefficients: the all-kernel fit, scaled to this class's level
            pred = Xc @ np.asarray(every)
            ratio = float(np.median(yc / np.maximum(pred, 1e-9))) if len(ss) else 1.0
            classes[cls] = [c * ratio for c in every]
    return {"classes": classes, "all": every, "counts": counts}


def predict_ms(coefs: dict, k, ctx: Optional[dict] = None) -> tuple:
    """(ms, fallback?) for one kernel plan."""
    c = coefs["classes"].get(k.cls)
    fallback = c is None
    c = coefs["all"] if fallback else c
    # features(k) · c, in plain Python (six terms: numpy's array set-up would cost more than the sum)
    ms = (c[0] + c[1] * (k.padded_flop / 1e9) + c[2] * (k.flop / 1e9) + c[3] * (k.bytes / 1e6)
          + c[4] * (k.elements / 1e6))
    if c[5] and ctx and ctx.get("dram"):
        ms += c[5] * weight_bytes(k) / 1e6
    return float(ms), fallback


# -- the calibration file ----------------------------------------------------------------------------

def cache_root() -> Path:
    return Path(os.environ.get("LPFC_CACHE_DIR") or Path.home() / ".cache" / "lpfc")


def calibration_path(tkey: str, threads: int) -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", tkey.split(":")[0] + "-" + tkey.split(":")[2] if tkey.count(":") >= 2
                  else tkey)[:80]
    digest = hashlib.sha256(tkey.encode()).hexdigest()[:12]
    return cache_root() / "latency" / f"{slug}-{digest}-t{threads}.json"


def save_calibration(data: dict, tkey: str, threads: int) -> Path:
    p = calibration_path(tkey, threads)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, p)
    return p


_LOADED: dict = {}


def load_calibration(tkey: str, target: str, threads: int) -> dict:
    p = calibration_path(tkey, threads)
    try:
        stamp = p.stat().st_mtime_ns
    except OSError:
        raise CalibrationError(
            f"no latency calibration for target {target!r} with {threads} thread(s) on this machine ({tkey})",
            hint=f"make one with: lpfc calibrate --target {target} --threads {threads}") from None
    hit = _LOADED.get(p)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    try:
        data = json.loads(p.read_text())
        if data.get("version") != VERSION or data.get("target_key") != tkey:
            raise ValueError("made by another lpfc version or for another target")
        if any(len(c) != len(FEATURES) for c in [data["fit"]["all"], *data["fit"]["classes"].values()]):
            raise ValueError(f"its coefficients are not the {len(FEATURES)} of this lpfc's features")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CalibrationError(f"cannot use the latency calibration {p}: {e}",
                               hint=f"remake it with: lpfc calibrate --target {target} --threads {threads}") from None
    data["_path"] = str(p)
    _LOADED[p] = (stamp, data)
    return data


def band_from_errors(rel_errors: Sequence[float], q: float = 90.0) -> Optional[float]:
    """The ±% band: the q-th percentile of the absolute relative errors, in percent."""
    if not len(rel_errors):
        return None
    return float(np.percentile(np.abs(np.asarray(rel_errors, dtype=float)), q) * 100.0)


__all__ = ["FEATURES", "band_from_errors", "calibration_path", "features", "fit", "llc_bytes", "load_calibration",
           "model_context", "predict_ms", "save_calibration", "weight_bytes"]
