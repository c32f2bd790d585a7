"""The QA model (MiniLM + span head, seq 384) under LiteRT+XNNPACK: its export, onnx2tf conversion and a worker.

Used by bench/qa_latency.py. Three steps, each cached beside the trained weights in ``DIR/build/``:

1. **export** (lpfc's venv): the span model again, with torch's dynamo exporter and transformers'
   *eager* attention (``qa-384-dynamo-eager.onnx``). The app's own export (legacy exporter,
   opset 14, SDPA attention) does not convert: onnx2tf 1.28.8 stops at the attention mask's
   ``Expand`` ("Output tensors of a Functional model must be the output of a TensorFlow Layer ...
   Found: [1 1 384 384]"). The eager-attention dynamo export is the spelling the benchmark
   harness converts for its zoo models too (bench/harness.py, ``dynamo20-eager``).
2. **convert** (the harness's tflite peer venv, ``python -m bench setup-peers --peers tflite``):
   ``bench.runners.tflite_convert`` runs ``onnx2tf -i ... -n -coion`` and keeps the fp32 .tflite.
3. **run**: :class:`Worker`, a ``bench.runners.tflite_worker`` process that loads the .tflite once
   and answers timing requests, so LiteRT can be interleaved round by round with lpfc and
   onnxruntime, which run inside this process.

The converted model's logits are compared with onnxruntime's on the app's ONNX before any timing
(:func:`check`); a conversion that gives wrong logits is never timed.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from . import peers

ROOT = Path(__file__).resolve().parents[1]
TOL = 1e-3  # max |diff| / max(1, max |ref|), the benchmark harness's default (bench/harness.py Config.tol)


def _key(path: Path) -> list:
    st = path.stat()
    return [str(path), st.st_size, st.st_mtime_ns]


def eager_onnx(model_dir: Path) -> Path:
    """The span model exported with the dynamo exporter and eager attention (cached by the weights' stamp)."""
    from examples.qa.build import _weights_key, export_onnx
    from lpfc.nas.squad import MAX_LEN

    out = model_dir / "build" / "qa-384-dynamo-eager.onnx"
    stamp = out.with_name(out.name + ".json")
    key = _weights_key(model_dir, MAX_LEN)
    if out.is_file() and stamp.is_file() and json.loads(stamp.read_text()) == key:
        return out
    export_onnx(model_dir, out, dynamo=True, attn_implementation="eager")
    stamp.write_text(json.dumps(key))
    return out


def convert(onnx_path: Path, timeout_s: float = 1800.0) -> Path:
    """``onnx_path`` converted to an fp32 .tflite with onnx2tf (cached; a recorded failure raises again)."""
    py = peers.venv_python("tflite")  # NotAvailable when the venv is missing
    out = onnx_path.with_suffix(".tflite")
    side = out.with_name(out.name + ".json")
    key = {"onnx": _key(onnx_path), "packages": peers.PEER_VENVS["tflite"]}
    try:
        meta = json.loads(side.read_text())
    except (OSError, ValueError):
        meta = None
    if meta is not None and meta.get("key") == key:
        if meta.get("error"):
            raise RuntimeError(f"onnx2tf failed before (delete {side} to retry): {meta['error']}")
        if out.is_file():
            return out
    work = Path(tempfile.mkdtemp(prefix="qa-onnx2tf-", dir=out.parent))
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    r = subprocess.run([str(py), "-m", "bench.runners.tflite_convert", str(onnx_path), str(out), str(work)],
                       check=False, capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout_s)
    lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
    info = json.loads(lines[-1]) if lines else {"error": (r.stderr.strip().splitlines() or ["?"])[-1]}
    side.write_text(json.dumps({"key": key, **info}, indent=1) + "\n")
    if r.returncode != 0 or "error" in info:
        raise RuntimeError(f"onnx2tf failed: {info.get('error')}")
    return out


class Worker:
    """A LiteRT+XNNPACK process at ``threads`` threads holding ``tflite`` and the feeds in ``feeds_npz``."""

    def __init__(self, tflite: Path, feeds_npz: Path, threads: int):
        py = peers.venv_python("tflite")
        env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
        self.err = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed by close())  TF's start-up chatter; quoted when the worker dies
        self.p = subprocess.Popen([str(py), "-m", "bench.runners.tflite_worker", str(tflite), str(feeds_npz),
                                   str(threads)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.err, text=True, cwd=ROOT, env=env)
        self.info = self._read()

    def _read(self) -> dict:
        line = self.p.stdout.readline()
        if not line:
            code = self.p.wait()
            self.err.seek(0)
            tail = " | ".join(self.err.read().strip().splitlines()[-3:])
            raise RuntimeError(f"the LiteRT worker exited ({code}) without answering: {tail}")
        msg = json.loads(line)
        if "error" in msg:
            raise RuntimeError(f"LiteRT worker: {msg['error']}")
        return msg

    def _ask(self, req: dict) -> dict:
        self.p.stdin.write(json.dumps(req) + "\n")
        self.p.stdin.flush()
        return self._read()

    def outputs(self) -> dict:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "out.npz"
            self._ask({"cmd": "outputs", "save": str(path)})
            with np.load(path) as f:
                return {k: f[k] for k in f.files}

    def time(self, runs: int, warmup: int = 1) -> list:
        return self._ask({"cmd": "time", "runs": runs, "warmup": warmup})["times_ms"]

    def close(self) -> None:
        if self.p.poll() is None:
            try:
                self.p.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.p.stdin.flush()
                self.p.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait()
        self.err.close()


def check(got: dict, ref: dict, tol: float = TOL) -> dict:
    """Compares LiteRT's outputs with onnxruntime's ``ref`` (name -> array, start_logits/end_logits).

    onnx2tf keeps the ONNX output names (-coion), so outputs are matched by name, falling back to
    their order. Returns {"ok", "max_abs_diff", "scaled_diff", "same_argmax"}.
    """
    names = list(ref)
    keys = list(got)
    worst = scaled = 0.0
    same = True
    for i, name in enumerate(names):
        k = next((k for k in keys if k.split(":")[0].endswith(name)), keys[i] if i < len(keys) else None)
        if k is None:
            raise ValueError(f"LiteRT gave no output for {name!r} (it gave {keys})")
        g, r = np.asarray(got[k], np.float64).reshape(ref[name].shape), ref[name].astype(np.float64)
        d = float(np.abs(g - r).max())
        worst = max(worst, d)
        scaled = max(scaled, d / max(1.0, float(np.abs(r).max())))
        same = same and int(g.argmax()) == int(r.argmax())
    return {"ok": scaled <= tol, "max_abs_diff": worst, "scaled_diff": scaled, "same_argmax": same}
