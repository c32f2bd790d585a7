"""The tuning database: which schedule variant won for a kernel on a target.

A JSON file, by default ``$LPFC_CACHE_DIR/tuning.json`` or else
``~/.cache/lpfc/tuning.json``::

    {"version": 1,
     "entries": {
       "<target key>": {                      # e.g. "host:x86_64:avx,avx2,fma,sse4.2"
         "<kernel signature>": {              # sha256 of the kernel op's IR, names/locations stripped
           "emitter": "generic",
           "choice": {"variant": "hoist"},    # what emitter.emit(..., choice=) takes
           "timings": {"recompute": 1.2e-05, "hoist": 9.1e-06},   # median seconds per variant
           "op": "graph.fused", "kind": "elementwise", "when": "2026-11-21T07:10:00Z"}}}}

Kernels identical up to their buffers (BERT's 12 layers) have one signature,
so they are tuned once.  Writes are atomic (temp file + rename); a missing or
unreadable file is an empty database.

The file is input like any other (hand-edited, copied between machines, written by
another lpfc version), so entries are checked when read: an entry with an unknown
key, a missing or wrongly typed field (:func:`entry_problem`), or — checked by the
tuner, which knows the kernel — a ``choice`` that is not one of its emitter's
variants for that kernel (``kc_max: 0``, ``-4``, ``"big"``) is ignored with a
:class:`TuningWarning` naming the file and the entry; the kernel then gets what it
would get without the entry. A bad entry never breaks a compile.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Optional

from ..codegen.signature import canonical_text, kernel_signature  # noqa: F401  (re-exported: moved down)

VERSION = 1


def default_path() -> Path:
    root = os.environ.get("LPFC_CACHE_DIR")
    base = Path(root) if root else Path.home() / ".cache" / "lpfc"
    return base / "tuning.json"


def target_key(target) -> str:
    """The target's name, architecture, the processor its timings were taken for, and the ISA features its
    compiler enables. The processor matters as much as the features: cortex-a77 and cortex-a78 (or two x86
    generations with the same AVX2) share every feature flag but not the best tile or work split."""
    from ..codegen.targets import ARM64_DEFAULT_CPU
    from ..codegen.toolchain import resolve_target
    t = resolve_target(target, sources_only=True)   # a name (a public call) or a bare Target; else as resolved
    try:
        if not t.toolchain.has_compiler:
            raise LookupError("no compiler")
        feats = ",".join(sorted(t.toolchain.features()))
    except Exception:                       # no toolchain here: the flags still tell targets apart
        feats = " ".join(t.cpu_flags)
    cpu = t.cpu or (ARM64_DEFAULT_CPU if t.arch == "aarch64" else f"native={_host_cpu_model()}")
    return f"{t.name}:{t.arch}:{cpu}:{feats}"


def _host_cpu_model() -> str:
    """The host processor's model name (-march=native tunes for it), or 'unknown'."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "CPU part")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


class TuningWarning(UserWarning):
    """A tuning-database entry (or the whole file) was ignored because it is malformed."""


#: The fields an entry may have; "emitter" and "choice" are required.
ENTRY_FIELDS = {"emitter": str, "choice": dict, "timings": dict, "op": str, "kind": str, "when": str}
_JSON_SCALARS = (str, int, float, bool, type(None))


def _json_value_ok(v, depth=0) -> bool:
    if isinstance(v, _JSON_SCALARS):
        return not (isinstance(v, float) and v != v)
    if isinstance(v, list) and depth < 4:
        return all(_json_value_ok(x, depth + 1) for x in v)
    return False


def entry_problem(entry) -> Optional[str]:
    """Why ``entry`` cannot be used (its shape only; the tuner checks the choice against the kernel), or None."""
    if not isinstance(entry, dict):
        return f"an entry must be an object, not {type(entry).__name__}"
    unknown = sorted(set(entry) - set(ENTRY_FIELDS), key=str)
    if unknown:
        return f"unknown key(s) {', '.join(map(repr, unknown))}"
    for key in ("emitter", "choice"):
        if key not in entry:
            return f"no {key!r}"
    for key, typ in ENTRY_FIELDS.items():
        if key in entry and not isinstance(entry[key], typ):
            return f"{key!r} must be a {'string' if typ is str else 'object'}, not {entry[key]!r}"
    for k, v in entry["choice"].items():
        if not isinstance(k, str) or not _json_value_ok(v):
            return f"'choice' has a bad value {k!r}: {v!r}"
    for k, v in entry.get("timings", {}).items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < float("inf"):
            return f"'timings' {k!r} must be a number of seconds >= 0, not {v!r}"
    return None


class TuningDatabase:
    def __init__(self, path=None):
        self.path = Path(path) if path is not None else default_path()
        self._data: Optional[dict] = None
        self._warned: set = set()

    def warn(self, where: str, problem: str) -> None:
        """One TuningWarning per bad entry (per database object): what is ignored and why."""
        if (where, problem) not in self._warned:
            self._warned.add((where, problem))
            warnings.warn(f"tuning database {str(self.path)!r}: {where}: {problem}; ignored", TuningWarning,
                          stacklevel=3)

    def _load(self) -> dict:
        if self._data is None:
            try:
                data = json.loads(self.path.read_text())
                if not isinstance(data, dict) or data.get("version") != VERSION:
                    raise ValueError("other version")
            except (OSError, ValueError, UnicodeDecodeError):
                data = {"version": VERSION, "entries": {}}
            if not isinstance(data.get("entries"), dict):
                self.warn("'entries'", f"must be an object, not {data.get('entries')!r}")
                data = {"version": VERSION, "entries": {}}
            self._data = data
        return self._data

    def lookup(self, signature: str, target: str) -> Optional[dict]:
        """The entry for ``signature`` on ``target``, or None (also, with a TuningWarning, for a malformed one)."""
        per_target = self._load()["entries"].get(target)
        if per_target is None:
            return None
        if not isinstance(per_target, dict):
            self.warn(f"target {target!r}", f"its entries must be an object, not {per_target!r}")
            return None
        entry = per_target.get(signature)
        if entry is None:
            return None
        problem = entry_problem(entry)
        if problem is not None:
            self.warn(f"entry {signature} for {target!r}", problem)
            return None
        return entry

    def store(self, signature: str, target: str, entry: dict) -> None:
        # re-read first so concurrent compiles lose as little as possible
        self._data = None
        data = self._load()
        entry = dict(entry)
        if not isinstance(data["entries"].get(target, {}), dict):
            data["entries"][target] = {}        # a malformed target (warned about on read) is replaced
        entry.setdefault("when", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        data["entries"].setdefault(target, {})[signature] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tuning-", suffix=".json", dir=self.path.parent)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, self.path)

    def __len__(self) -> int:
        return sum(len(v) for v in self._load()["entries"].values())
