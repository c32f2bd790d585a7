"""What a search leaves in ``--out``: best.json, pareto.png, best.onnx and libbest.so (docs/nas.md).

- ``pareto.png``: accuracy against latency of every trial, the Pareto front marked, the target drawn.
- ``best.json``: the chosen architecture, its accuracy, predicted latency, reward, and -- once built --
  the measured latency of libbest.so beside the oracle's prediction.
- ``best.onnx``: the chosen architecture with inherited weights (the evaluator's ``export_model`` if it
  has one, else the all-MiniLM-L6-v2 sub-network via ``lpfc.nas.subnet.extract_subnetwork``), exported
  by torch.onnx (TorchScript exporter, static shapes [batch, seq]).
- ``libbest.so``: ``lpfc.compile`` of best.onnx for the target; on the host it is loaded (``lpfc.load``)
  and timed: the median of 20 runs after 3 warm-up runs, with the search's thread count.
"""
from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

from ..errors import LpfcError, NasError

TIMED_RUNS = 20


def write_outputs(res, *, export: bool = True, progress=lambda s: None, executor=None, time_it: bool = True) -> None:
    """best.json, pareto.png, then (``export``) best.onnx -- exported in a worker of ``executor`` when given,
    where the evaluator's base model is already loaded -- and libbest.so, compiled here and (``time_it``)
    timed; a caller with a live executor times it with :func:`time_best` once the executor is gone."""
    out: Path = res.out
    _write_best(res)
    res.files["best.json"] = out / "best.json"
    try:
        draw_pareto(res.trials, res.best, res.settings["latency_ms"], out / "pareto.png",
                    title=f"lpfc nas: {len(res.trials)} trials, {res.settings['evaluator']}, "
                          f"{res.settings['latency_model']} latency")
        res.files["pareto.png"] = out / "pareto.png"
    except ImportError:
        res.export_note = "pareto.png skipped: matplotlib is not installed (pip install matplotlib)"
    if export:
        t0 = time.perf_counter()
        progress(f"exporting the best architecture to {out / 'best.onnx'}")
        args = (res.best.arch, res.settings["evaluator_spec"], res.settings["evaluator_opts"])
        try:
            data = executor.submit(export_onnx_bytes, *args).result() if executor else export_onnx_bytes(*args)
            onnx_path = out / "best.onnx"
            tmp = onnx_path.with_name(onnx_path.name + ".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, onnx_path)
        except ImportError as e:
            res.export_note = f"best.onnx and libbest.so skipped: {e}"
            progress(res.export_note)
        else:
            res.files["best.onnx"] = onnx_path
            progress(f"compiling {out / 'libbest.so'} for {res.settings['target']} "
                     f"(export {time.perf_counter() - t0:.1f} s)")
            t1 = time.perf_counter()
            lib = compile_best(onnx_path, out / "libbest.so", res.settings["target"])
            res.files["libbest.so"] = lib
            progress(f"compiled libbest.so in {time.perf_counter() - t1:.1f} s")
            if time_it:
                time_best(res, progress)
            _write_best(res)


def time_best(res, progress=lambda s: None) -> None:
    """libbest.so's measured latency into ``res`` and best.json (host targets; others get a note). The search
    calls it after its executor has shut down: timed while the pool's worker was still alive, just back from
    the export, the figure read 20-35 % above a fresh process's; timed after, it does not (docs/nas.md)."""
    lib = res.files.get("libbest.so")
    if lib is None:
        return
    if res.settings["target"] == "host":
        progress(f"timing libbest.so ({TIMED_RUNS} runs, {res.settings['threads']} thread(s))")
        res.measured_ms = measure(lib, res.settings["threads"])
    else:
        res.export_note = (f"libbest.so is built for {res.settings['target']}: not measured here "
                           f"(the oracle predicts {res.oracle_ms:.3f} ms)")
    _write_best(res)


def _write_best(res) -> None:
    b = res.best
    d = {"arch": b.arch, "accuracy": b.accuracy, "latency_ms": b.latency_ms, "reward": b.reward, "trial": b.trial,
         "meets_target": res.meets_target, "latency_model": res.settings["latency_model"],
         "latency_target_ms": res.settings["latency_ms"], "target": res.settings["target"],
         "threads": res.settings["threads"], "oracle_ms": res.oracle_ms, "measured_ms": res.measured_ms,
         "measured_runs": TIMED_RUNS if res.measured_ms is not None else None,
         "measured_meets_target": (None if res.measured_ms is None
                                   else res.measured_ms <= res.settings["latency_ms"]),   # meets_target: predicted
         "evaluator": res.settings["evaluator"], "trials": len(res.trials),
         "pareto": [{"trial": t.trial, "accuracy": t.accuracy, "latency_ms": t.latency_ms}
                    for t in res.pareto()]}
    if res.export_note:
        d["note"] = res.export_note
    tmp = res.out / "best.json.tmp"
    tmp.write_text(json.dumps(d, indent=1) + "\n")
    os.replace(tmp, res.out / "best.json")


def draw_pareto(trials, best, target_ms: float, path: Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .search import pareto_front

    front = pareto_front(trials)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    p1 = [t for t in trials if t.phase == 1]
    p2 = [t for t in trials if t.phase == 2]
    ax.scatter([t.latency_ms for t in p1], [t.accuracy for t in p1], s=14, c="tab:blue", alpha=0.5,
               label="trials, phase 1")
    if p2:
        ax.scatter([t.latency_ms for t in p2], [t.accuracy for t in p2], s=14, c="tab:green", alpha=0.5,
                   label="trials, phase 2 (layers fixed)")
    ax.step([t.latency_ms for t in front], [t.accuracy for t in front], where="post", c="tab:red", lw=1)
    ax.scatter([t.latency_ms for t in front], [t.accuracy for t in front], s=36, facecolors="none",
               edgecolors="tab:red", label="Pareto front")
    ax.axvline(target_ms, c="gray", ls="--", lw=1, label=f"target {target_ms:g} ms")
    if best is not None:
        ax.scatter([best.latency_ms], [best.accuracy], marker="*", s=180, c="gold", edgecolors="k", zorder=5,
                   label=f"best (trial {best.trial})")
    ax.set_xlabel("predicted latency (ms)")
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def export_model(arch: dict, evaluator: str, opts: dict):
    """The torch model best.onnx carries: the evaluator's ``export_model`` or the MiniLM sub-network."""
    from .evaluators import export_hook

    hook = export_hook(evaluator)
    if hook is not None:
        return hook(dict(arch), **dict(opts))
    from .evaluators.retrieval import export_model as minilm_subnetwork
    return minilm_subnetwork(dict(arch))


def export_onnx_bytes(arch: dict, evaluator: str, opts: dict) -> bytes:
    """best.onnx's bytes (run in a worker: the bytes travel back, so a remote Dask worker works too)."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        return export_onnx(arch, evaluator, opts, Path(d) / "best.onnx").read_bytes()


def export_onnx(arch: dict, evaluator: str, opts: dict, dest: Path) -> Path:
    import torch

    model = export_model(arch, evaluator, opts).eval()

    class Plain(torch.nn.Module):   # tensors out (the exporter does not take the HF output objects)
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            o = self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            if hasattr(o, "start_logits"):
                return o.start_logits, o.end_logits
            if getattr(o, "pooler_output", None) is not None:
                return o.last_hidden_state, o.pooler_output
            return o.last_hidden_state

    ids = torch.ones(arch.get("batch", 1), arch["seq"], dtype=torch.int64)
    qa = hasattr(model, "qa_outputs")
    names = ["start_logits", "end_logits"] if qa else (
        ["last_hidden_state", "pooler_output"] if getattr(model, "pooler", None) is not None
        else ["last_hidden_state"])
    tmp = dest.with_name(dest.name + ".tmp")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")       # tracer and deprecation notices; lpfc.compile checks the graph
        torch.onnx.export(Plain(model), (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(tmp),
                          input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=names,
                          opset_version=14, dynamo=False)
    os.replace(tmp, dest)
    return dest


def compile_best(onnx_path: Path, lib: Path, target: str) -> Path:
    from ..compiler import compile as lpfc_compile

    try:
        lpfc_compile(str(onnx_path), str(lib), target=target)
    except LpfcError as e:
        raise NasError(f"lpfc.compile of the best architecture ({onnx_path}) failed: {e}") from None
    return lib


def measure(lib: Path, threads: int, runs: int = TIMED_RUNS) -> float:
    """Median ms of ``runs`` runs after 3 warm-up runs (the oracle's ``mode="measure"`` inputs: integer
    inputs 1, i.e. every position unmasked)."""
    import numpy as np

    from ..cost.measure import time_session
    from ..runtime.session import load

    with load(str(lib), threads=threads) as sess:       # the oracle's own way of timing a library
        return float(np.median(time_session(sess, runs=runs, warmup=3)))


__all__ = ["compile_best", "draw_pareto", "export_onnx", "export_onnx_bytes", "measure", "time_best",
           "write_outputs"]
