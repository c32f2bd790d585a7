"""Coverage-guided fuzzer of lpfc's ONNX importer.

Property: for any file, ``lpfc.import_onnx(path)`` either returns a module or
raises an :class:`~lpfc.errors.LpfcError` -- never another exception, never a
hang (per-input timeout), never a memory blow-up (a cap on the process's data
segment while fuzzing), and an imported module never holds the bytes of a file
outside the model's directory (a secret planted next to it).

Inputs are mutated ONNX protos (:mod:`tests.fuzz.mutations`) of the seeds in
:mod:`tests.fuzz.seeds`.  Guidance: lines of ``lpfc/`` executed are traced
(``sys.settrace``) as AFL-style edges; an input that reaches a new edge joins
the corpus and is mutated further.

Longer run (figures in docs/reliability.md)::

    LPFC_FUZZ_EXAMPLES=40000 nice -n 10 python -m tests.fuzz.import_fuzz [--seed 1] [--minutes 20]

It prints the figures as JSON and exits 1 if anything was found.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import signal
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

import lpfc
from lpfc.errors import LpfcError

from .mutations import mutate, mutate_bytes
from .seeds import WEIGHTS_BIN, all_seeds

SECRET = b"LPFC-FUZZ-SECRET-0123456789abcdef"          # must never appear in an imported module
LPFC_DIR = str(Path(lpfc.__file__).resolve().parent)
TIMEOUT_S = float(os.environ.get("LPFC_FUZZ_TIMEOUT", 10))


class InputTimeout(BaseException):
    """One input ran over the per-input timeout (a BaseException: no ``except Exception`` may swallow it)."""


@dataclass
class Stats:
    tried: int = 0
    imported: int = 0
    lpfc_errors: dict = field(default_factory=dict)      # class name -> count
    wrapped_internal: dict = field(default_factory=dict)  # "cannot import this node (X" -> count
    findings: list = field(default_factory=list)         # (kind, detail, input file)
    corpus: int = 0
    edges: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"inputs_tried": self.tried, "imported": self.imported, "lpfc_errors": self.lpfc_errors,
                "wrapped_internal_errors": self.wrapped_internal, "findings": len(self.findings),
                "finding_details": [f[:2] for f in self.findings[:50]], "corpus": self.corpus,
                "edges": self.edges, "seconds": round(self.seconds, 1)}


class Sandbox:
    """A model directory with the files hostile external data points at, and a secret outside it."""

    def __init__(self, root: Path):
        self.root = root
        self.dir = root / "model"
        self.dir.mkdir(parents=True, exist_ok=True)
        (root / "secret.bin").write_bytes(SECRET * 8)
        (self.dir / "weights.bin").write_bytes(WEIGHTS_BIN)
        with open(self.dir / "big.bin", "wb") as fh:
            fh.truncate(3 * 2**30)                      # sparse: reading it would be the bug
        (self.dir / "sub").mkdir(exist_ok=True)
        with contextlib.suppress(OSError):
            os.symlink(root / "secret.bin", self.dir / "link.bin")
        with contextlib.suppress(OSError, AttributeError):
            os.mkfifo(self.dir / "pipe")                # opening it for reading would block: a hang
        self.path = self.dir / "model.onnx"


@contextlib.contextmanager
def memory_cap(extra_bytes: int = 3 * 2**30):
    """Cap the data segment at its current size + ``extra_bytes`` (so a bomb is a MemoryError, not a swap storm)."""
    try:
        with open("/proc/self/status") as fh:
            vmdata = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmData:"))
        old = resource.getrlimit(resource.RLIMIT_DATA)
        resource.setrlimit(resource.RLIMIT_DATA, (vmdata + extra_bytes, old[1]))
    except (OSError, ValueError, StopIteration):
        yield
        return
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, old)


@contextlib.contextmanager
def time_limit(seconds: float):
    if threading.current_thread() is not threading.main_thread():
        yield                       # signals reach the main thread only; no timeout elsewhere
        return

    def on_alarm(signum, frame):
        raise InputTimeout()
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class Coverage:
    """AFL-style edge coverage of lpfc's own lines (sys.settrace)."""

    def __init__(self):
        self.edges: set = set()
        self.new = 0
        self.prev = 0

    def _local(self, frame, event, arg):
        if event == "line":
            cur = hash((frame.f_code.co_filename, frame.f_lineno)) & 0xFFFFFFFF
            e = cur ^ (self.prev >> 1)
            self.prev = cur
            if e not in self.edges:
                self.edges.add(e)
                self.new += 1
        return self._local

    def _global(self, frame, event, arg):
        if frame.f_code.co_filename.startswith(LPFC_DIR):
            return self._local
        return None

    @contextlib.contextmanager
    def tracing(self):
        self.new = 0
        sys.settrace(self._global)
        try:
            yield
        finally:
            sys.settrace(None)


def check_one(data: bytes, box: Sandbox, timeout_s: float = TIMEOUT_S):
    """Import ``data`` as a model file; returns ("ok"|"lpfc"|"internal", detail) or ("finding:<kind>", detail)."""
    box.path.write_bytes(data)
    try:
        with time_limit(timeout_s):
            module = lpfc.import_onnx(box.path)
    except InputTimeout:
        return "finding:hang", f"import ran over {timeout_s} s"
    except LpfcError as e:
        cause = e.__cause__
        if isinstance(cause, MemoryError):
            return "finding:memory", f"{type(e).__name__}: {e}"[:300]
        if cause is not None and not isinstance(cause, LpfcError):
            return "internal", f"{type(cause).__name__} in {_where(cause)}"
        return "lpfc", type(e).__name__
    except RecursionError as e:
        return "finding:crash", f"RecursionError: {str(e)[:200]}"
    except Exception as e:  # the bug this fuzzer hunts
        return "finding:crash", f"{type(e).__name__}: {str(e)[:200]} at {_where(e)}"
    for op in module.main.ops:
        if op.name == "graph.constant":
            arr = op.attributes["value"].array
            if SECRET[:16] in np.ascontiguousarray(arr).tobytes():
                return "finding:leak", "an imported constant holds the secret from outside the model directory"
    return "ok", ""


def _where(e: BaseException) -> str:
    tb = traceback.extract_tb(e.__traceback__)
    frames = [f for f in tb if f.filename.startswith(LPFC_DIR)] or tb
    f = frames[-1] if frames else None
    return f"{Path(f.filename).name}:{f.lineno}" if f else "?"


def record(stats: Stats, outcome: str, detail: str, data: bytes, save_dir: Path | None) -> None:
    stats.tried += 1
    if outcome == "ok":
        stats.imported += 1
    elif outcome == "lpfc":
        stats.lpfc_errors[detail] = stats.lpfc_errors.get(detail, 0) + 1
    elif outcome == "internal":
        stats.wrapped_internal[detail] = stats.wrapped_internal.get(detail, 0) + 1
    else:
        saved = ""
        if save_dir is not None:
            save_dir.mkdir(parents=True, exist_ok=True)
            saved = str(save_dir / f"finding-{len(stats.findings)}.onnx")
            Path(saved).write_bytes(data)
        stats.findings.append((outcome, detail, saved))


def fuzz(examples: int, seed: int = 0, seconds: float = 1e9, long: bool = False, save_dir: Path | None = None,
         log=None) -> Stats:
    """The coverage-guided loop: at most ``examples`` inputs or ``seconds`` of wall time."""
    rng = random.Random(seed)
    seeds = all_seeds(long=long)
    corpus = [m.SerializeToString() for _, m in seeds]
    cov, stats = Coverage(), Stats()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lpfc-fuzz-") as tmp, memory_cap():
        box = Sandbox(Path(tmp))
        for data in list(corpus):          # the seeds themselves, to learn their coverage
            with cov.tracing():
                outcome, detail = check_one(data, box)
            record(stats, outcome, detail, data, save_dir)
        while stats.tried < examples and time.monotonic() - start < seconds:
            # Favour recent corpus entries (the ones that found new edges).
            parent = corpus[-1 - min(int(rng.expovariate(0.05)), len(corpus) - 1)]
            child = None
            if rng.random() < 0.85:
                m = onnx.ModelProto()
                with contextlib.suppress(Exception):
                    m.ParseFromString(parent)
                    child = mutate(m, rng).SerializeToString()
            if child is None or rng.random() < 0.1:
                child = mutate_bytes(child or parent, rng)
            with cov.tracing():
                outcome, detail = check_one(child, box)
            record(stats, outcome, detail, child, save_dir)
            if cov.new and len(child) < 4 * 2**20:
                corpus.append(child)
            if log and stats.tried % 1000 == 0:
                log(f"{stats.tried} inputs, {len(cov.edges)} edges, corpus {len(corpus)}, "
                    f"{len(stats.findings)} findings, {time.monotonic() - start:.0f} s")
    stats.corpus, stats.edges, stats.seconds = len(corpus), len(cov.edges), time.monotonic() - start
    return stats


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=int(os.environ.get("LPFC_FUZZ_EXAMPLES", 40000)))
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=1)
    cache = Path(os.environ.get("LPFC_CACHE_DIR") or Path.home() / ".cache" / "lpfc")
    ap.add_argument("--save", type=Path, default=cache / "fuzz-findings",
                    help="where inputs that failed are written (default $LPFC_CACHE_DIR/fuzz-findings)")
    args = ap.parse_args(argv)
    stats = fuzz(args.examples, args.seed, args.minutes * 60, long=True, save_dir=args.save,
                 log=lambda s: print(s, file=sys.stderr, flush=True))
    print(json.dumps(stats.as_dict(), indent=1))
    return 1 if stats.findings else 0


if __name__ == "__main__":
    sys.exit(main())
