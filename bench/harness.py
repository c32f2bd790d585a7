"""The benchmark run: prepare each model's artifacts, check every runtime's outputs, time in rounds.

A *cell* is (model, sequence length, threads, runtime). For each (model, sequence length):

1. prepare: the zoo export(s) at that length, the feeds (.npz), onnxruntime's outputs as the
   reference, the MatMul/Gemm FLOP count, and each runtime's artifact (the lpfc libraries with and
   without fusion, the .tflite conversion, the TVM library), all cached under
   $LPFC_CACHE_DIR/bench keyed by what they were made from;
2. check: each runtime runs once in a fresh process and its outputs are compared with the
   reference; a runtime that cannot be set up, fails to convert or gives wrong outputs is
   recorded as such and not timed;
3. time: ``rounds`` rounds; in each, every runtime at every thread count runs in a fresh process
   in turn (interleaved, so that other work on the machine hits all alike): warm-up, then its share
   of the timed runs. A runtime whose single run is so slow that the runs would not fit the
   per-cell budget gets one process with as many runs as fit (at least ``min_runs``, 3 by default).

Every process's result is a JSON file in the results folder (raw/ and check/), written as soon as
it is known, so an interrupted run resumes where it stopped; --force redoes them.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

from . import peers
from .peers import NotAvailable

ROOT = Path(__file__).resolve().parents[1]
RESULT_PREFIX = "BENCH-RESULT "


@dataclasses.dataclass(frozen=True)
class Runtime:
    name: str
    label: str
    module: str  # bench.runners.<module>
    venv: Optional[str] = None  # a peer venv (bench.peers), None: lpfc's interpreter
    variant: str = "dynamo20"  # the zoo export it starts from
    args: tuple = ()
    needs: Optional[str] = None  # a module lpfc's interpreter must import
    # Timed at one thread only, and why (the report shows it for the other thread counts).
    one_thread: Optional[str] = None
    # At most this many fresh processes per cell, and why (a runtime whose start-up costs minutes).
    max_rounds: Optional[int] = None
    max_rounds_why: str = ""


RUNTIMES = {r.name: r for r in [
    Runtime("lpfc", "lpfc", "lpfc"),
    Runtime("lpfc-nofusion", "lpfc --no-fusion", "lpfc"),
    Runtime("ort", "onnxruntime", "ort", needs="onnxruntime"),
    Runtime("torch", "torch eager", "pytorch", args=("--mode", "eager"), needs="torch"),
    Runtime("torch-compile", "torch.compile", "pytorch", args=("--mode", "compile"), needs="torch", max_rounds=1,
            max_rounds_why="every fresh process traces and compiles the model again (1-2 min each)"),
    # onnx2tf converts the dynamo exports with eager attention (SDPA's export trips it up).
    Runtime("tflite", "LiteRT+XNNPACK", "tflite", venv="tflite", variant="dynamo20-eager"),
    Runtime("tvm", "TVM (untuned)", "tvm", venv="tvm",
            one_thread="TVM's default pipeline builds single-threaded loops (MiniLM 1,611 ms at 1 thread, 1,587 at 2)"),
]}
DEFAULT_RUNTIMES = tuple(RUNTIMES)
DEFAULT_MODELS = ("minilm", "distilbert", "bert-base", "mobilebert", "gpt2")
SWEEP_MODELS = ("bert-base", "minilm")
SWEEP_SEQS = (32, 64, 128, 256, 512)


@dataclasses.dataclass
class Config:
    models: list
    runtimes: list
    threads: list
    seq: int = 128
    sweep_models: list = dataclasses.field(default_factory=list)
    sweep_seqs: list = dataclasses.field(default_factory=list)
    runs: int = 20
    warmup: int = 3
    rounds: int = 4
    budget_s: float = 120.0
    tol: float = 1e-3
    out: Path = Path("results")
    force: bool = False
    reprepare: bool = False
    timeout_s: float = 3600.0
    omp_wait_policy: Optional[str] = None
    dry: bool = False  # prepare and check only
    sweep_runtimes: Optional[list] = None  # None: the same as runtimes
    min_runs: int = 3  # the fewest timed runs of a slow cell
    prepare_timeout_s: float = 1800.0  # a conversion or peer build that takes longer fails (and is cached so)

    def runtimes_for(self, model: str, seq: int) -> list:
        """The runtimes of one (model, seq): all of them in the main table, sweep_runtimes in the sweep."""
        if (model in self.models and seq == self.seq) or self.sweep_runtimes is None:
            return list(self.runtimes)
        return [r for r in self.runtimes if r in self.sweep_runtimes]

    def groups(self) -> list:
        """(model, seq) pairs in run order: the main table, then the sweep."""
        out = [(m, self.seq) for m in self.models]
        for m in self.sweep_models:
            out += [(m, s) for s in self.sweep_seqs if (m, s) not in out]
        return out


class Transient(RuntimeError):
    """A preparation that cannot be done now (e.g. too little free memory); never cached, tried again next run."""


def mem_available_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("inf")


# onnx2tf's peak memory is ~30x the ONNX file (BERT-base: 0.44 GB -> 12.7 GB, MiniLM: 0.09 GB -> 3 GB)
TFLITE_MEM_FACTOR = 30


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str) + "\n")
    os.replace(tmp, path)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _short(text: str, n: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."


# --------------------------------------------------------------------------- preparation

def _lpfc_source_digest() -> str:
    """What an lpfc library depends on besides the model: lpfc's sources, the C runtime, the tuning db."""
    h = hashlib.sha256()
    files = sorted(p for p in (ROOT / "lpfc").rglob("*")
                   if p.is_file() and p.suffix in (".py", ".j2", ".c", ".h", ".hpp", ".cc"))
    for p in files:
        h.update(str(p.relative_to(ROOT)).encode())
        h.update(p.read_bytes())
    db = Path(os.environ.get("LPFC_CACHE_DIR", Path.home() / ".cache" / "lpfc")) / "tuning.json"
    if db.is_file():
        h.update(db.read_bytes())
    return h.hexdigest()[:16]


def _file_key(path: Path) -> dict:
    st = path.stat()
    return {"file": str(path), "mtime": st.st_mtime, "size": st.st_size}


class Prepared:
    """One (model, seq): the export paths, feeds, reference outputs, FLOPs, and each runtime's artifact."""

    def __init__(self, cfg: Config, model: str, seq: int):
        self.cfg, self.model, self.seq = cfg, model, seq
        self.cache = peers.cache_root()
        self.tag = f"{model}-s{seq}"
        self.onnx: dict = {}
        self.artifacts: dict = {}  # runtime -> path or NotAvailable-ish error string
        self.notes: dict = {}

    # -- shared inputs
    def prepare_common(self) -> None:
        import numpy as np

        from lpfc.testing import zoo

        from .flops import matmul_flops

        self.onnx["dynamo20"] = zoo.export(self.model, "dynamo20", seq_len=self.seq)
        d = self.cache / "inputs"
        d.mkdir(parents=True, exist_ok=True)
        self.feeds = d / f"{self.tag}.feeds.npz"
        self.ref = d / f"{self.tag}.ref.npz"
        meta_path = d / f"{self.tag}.json"
        key = _file_key(self.onnx["dynamo20"])
        meta = _read_json(meta_path)
        if meta is None or meta.get("key") != key or not self.feeds.is_file() or not self.ref.is_file() \
                or self.cfg.reprepare:
            feeds = zoo.sample_inputs(self.model, seq_len=self.seq)
            np.savez(self.feeds, **feeds)
            ref = zoo.reference_outputs(self.onnx["dynamo20"], feeds)
            np.savez(self.ref, **{f"out{i}": v for i, v in enumerate(ref.values())})
            meta = {"key": key, "flop": matmul_flops(self.onnx["dynamo20"]), "outputs": list(ref),
                    "inputs": list(feeds)}
            _write_json(meta_path, meta)
        self.flop = meta["flop"]
        self.input_names = self._graph_inputs(self.onnx["dynamo20"])

    @staticmethod
    def _graph_inputs(path: Path) -> list:
        import onnx

        m = onnx.load(str(path), load_external_data=False)
        inits = {i.name for i in m.graph.initializer}
        return [i.name for i in m.graph.input if i.name not in inits]

    # -- per runtime
    def artifact(self, rt: Runtime):
        """The artifact path for ``rt``; raises NotAvailable (not set up) or RuntimeError (preparation failed)."""
        if rt.name in self.artifacts:
            a = self.artifacts[rt.name]
            if isinstance(a, Exception):
                raise a
            return a
        try:
            a = self._make(rt)
        except Exception as e:
            self.artifacts[rt.name] = e
            raise
        self.artifacts[rt.name] = a
        return a

    def _onnx(self, variant: str) -> Path:
        if variant not in self.onnx:
            from lpfc.testing import zoo

            self.onnx[variant] = zoo.export(self.model, variant, seq_len=self.seq)
        return self.onnx[variant]

    def _make(self, rt: Runtime) -> Path:
        if rt.needs:
            err = peers.main_python_has(rt.needs)
            if err:
                raise NotAvailable(f"{rt.needs} does not import in {sys.executable}: {err} "
                                   f"(pip install -e '.[test]')")
        if rt.venv:
            peers.venv_python(rt.venv)  # raises NotAvailable
        if rt.name in ("lpfc", "lpfc-nofusion"):
            return self._lpfc(fusion=rt.name == "lpfc")
        if rt.name == "tflite":
            return self._tflite(rt)
        if rt.name == "tvm":
            return self._tvm(rt)
        return self._onnx(rt.variant)  # ort, torch (the torch runner rebuilds the model)

    def _cached(self, out: Path, key: dict, make, what: str) -> Path:
        """Reuse ``out`` when its sidecar records ``key``; a recorded failure is reused too (--reprepare retries)."""
        side = out.with_name(out.name + ".json")
        meta = _read_json(side)
        if meta is not None and meta.get("key") == key and not self.cfg.reprepare:
            if meta.get("error"):
                raise RuntimeError(meta["error"])
            if out.exists():
                self.notes[what] = meta
                return out
        log(f"{self.tag}: {what} ...")
        t0 = time.perf_counter()
        try:
            info = make()
        except Transient:
            raise
        except Exception as e:
            msg = _short(f"{e}", 400)
            _write_json(side, {"key": key, "error": msg, "seconds": time.perf_counter() - t0})
            log(f"{self.tag}: {what} FAILED: {msg}")
            raise RuntimeError(msg) from None
        meta = {"key": key, "seconds": round(time.perf_counter() - t0, 1), **(info or {})}
        _write_json(side, meta)
        self.notes[what] = meta
        log(f"{self.tag}: {what} done in {meta['seconds']:.1f} s")
        return out

    def _lpfc(self, fusion: bool) -> Path:
        import lpfc

        src = self._onnx("dynamo20")
        d = self.cache / "lpfc"
        d.mkdir(parents=True, exist_ok=True)
        out = d / f"lib{self.tag.replace('-', '_')}{'' if fusion else '_nofusion'}.so"
        key = {**_file_key(src), "fusion": fusion, "lpfc": _lpfc_source_digest()}

        def make():
            r = lpfc.compile(src, out, fusion=fusion)
            return {"kernels": r.kernels, "stages": r.stage_seconds, "arena": r.arena_bytes}

        return self._cached(out, key, make, f"lpfc compile{'' if fusion else ' --no-fusion'}")

    def _peer_json(self, venv: str, argv: list, timeout: float) -> dict:
        py = peers.venv_python(venv)
        # its own session, so that a timeout ends the converter's children too (onnx2tf runs as one)
        p = subprocess.Popen([str(py), *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                             env=_env(1, self.cfg), start_new_session=True)
        try:
            stdout, stderr = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            raise RuntimeError(f"timed out after {timeout:.0f} s (--prepare-timeout-s)") from None
        lines = [l for l in stdout.strip().splitlines() if l.startswith("{")]
        info = json.loads(lines[-1]) if lines else {}
        if p.returncode != 0 or "error" in info:
            err = info.get("error") or ((stderr.strip() or stdout.strip()).splitlines() or ["?"])[-1]
            raise RuntimeError(f"{err}")
        return info

    def _tflite(self, rt: Runtime) -> Path:
        src = self._onnx(rt.variant)
        d = self.cache / "tflite"
        d.mkdir(parents=True, exist_ok=True)
        out = d / f"{self.model}-{rt.variant}-s{self.seq}.tflite"
        key = {**_file_key(src), "packages": peers.PEER_VENVS["tflite"]}
        work = d / f"work-{self.tag}"

        def make():
            need = TFLITE_MEM_FACTOR * src.stat().st_size / 2**30
            have = mem_available_gb()
            if have < need:  # an out-of-memory kill could take another process on the machine with it
                raise Transient(f"onnx2tf needs ~{need:.1f} GB of memory for this model, {have:.1f} GB is available "
                                f"now; not converted (the next run tries again)")
            return self._peer_json("tflite", ["-m", "bench.runners.tflite_convert", str(src), str(out), str(work)],
                                   self.cfg.prepare_timeout_s)

        return self._cached(out, key, make, "onnx2tf conversion")

    def _tvm(self, rt: Runtime) -> Path:
        src = self._onnx(rt.variant)
        d = self.cache / "tvm"
        d.mkdir(parents=True, exist_ok=True)
        out = d / f"{self.model}-{rt.variant}-s{self.seq}.so"
        key = {**_file_key(src), "packages": peers.PEER_VENVS["tvm"]}
        return self._cached(out, key, lambda: self._peer_json(
            "tvm", ["-m", "bench.runners.tvm_build", str(src), str(out)], self.cfg.prepare_timeout_s), "TVM build")


# --------------------------------------------------------------------------- running one process

def _env(threads: int, cfg: Config) -> dict:
    """The environment every runner gets: thread counts for every library, lpfc on the path, offline."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TVM_NUM_THREADS"):
        env[var] = str(threads)
    if cfg.omp_wait_policy:
        env["OMP_WAIT_POLICY"] = cfg.omp_wait_policy
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # torch.compile's caches outlive /tmp clean-ups, so later processes reuse the first one's kernels
    env.setdefault("TORCHINDUCTOR_CACHE_DIR", str(peers.cache_root() / "torchinductor"))
    return env


def run_process(prep: Prepared, rt: Runtime, threads: int, runs: int, warmup: int, budget_s: float,
                save_outputs: Optional[Path] = None) -> dict:
    """One fresh runner process; returns its result dict (``error`` set when it failed)."""
    art = prep.artifact(rt)
    py = str(peers.venv_python(rt.venv)) if rt.venv else sys.executable
    cmd = [py, "-m", f"bench.runners.{rt.module}", "--artifact", str(art), "--inputs", str(prep.feeds),
           "--threads", str(threads), "--runs", str(runs), "--warmup", str(warmup), "--budget-s", str(budget_s),
           "--model", prep.model, "--seq", str(prep.seq), *rt.args]
    if rt.module == "tvm":
        cmd += ["--input-names", ",".join(prep.input_names)]
    if rt.module == "pytorch":
        cmd += ["--variant", rt.variant]
    if save_outputs is not None:
        cmd += ["--save-outputs", str(save_outputs)]
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=_env(threads, prep.cfg),
                           timeout=prep.cfg.timeout_s)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {prep.cfg.timeout_s:.0f} s"}
    lines = [l[len(RESULT_PREFIX):] for l in r.stdout.splitlines() if l.startswith(RESULT_PREFIX)]
    res = json.loads(lines[-1]) if lines else {}
    if r.returncode != 0 and "error" not in res:
        tail = (r.stderr.strip() or r.stdout.strip()).splitlines()
        res["error"] = f"exited {r.returncode}: " + (tail[-1] if tail else "no output")
    if "error" in res:
        res["stderr_tail"] = r.stderr.strip().splitlines()[-20:]
    res["wall_s"] = round(time.perf_counter() - t0, 2)
    res["load_avg"] = os.getloadavg()[0]
    return res


def compare_outputs(ref_path: Path, got_path: Path) -> float:
    """Max abs diff over the reference's outputs, scaled by max(1, |ref|max); outputs are matched by shape."""
    import numpy as np

    with np.load(ref_path) as f:
        ref = [f[k] for k in sorted(f.files, key=lambda k: int(k[3:]))]
    with np.load(got_path) as f:
        got = [f[k] for k in sorted(f.files, key=lambda k: int(k[3:]))]
    worst = 0.0
    for r in ref:
        cands = [g for g in got if g.shape == r.shape] or [g.reshape(r.shape) for g in got if g.size == r.size]
        if not cands:
            raise ValueError(f"no output of shape {r.shape} (got {[g.shape for g in got]})")
        scale = max(1.0, float(np.abs(r).max()))
        worst = max(worst, min(float(np.abs(g.astype(np.float64) - r).max()) / scale for g in cands))
    return worst


# --------------------------------------------------------------------------- the run

def _cell_name(model: str, seq: int, threads: Optional[int], runtime: str) -> str:
    return f"{model}-s{seq}" + (f"-t{threads}" if threads is not None else "") + f"-{runtime}"


def check(prep: Prepared, rt: Runtime, out: Path, force: bool) -> dict:
    """One run at 1 thread whose outputs are compared with the reference; cached in out/check/."""
    path = out / "check" / f"{_cell_name(prep.model, prep.seq, None, rt.name)}.json"
    res = None if force else _read_json(path)
    if res is not None and res.get("status") != "unavailable":  # set-up problems are looked at again
        return res
    try:
        got = out / "check" / f"{_cell_name(prep.model, prep.seq, None, rt.name)}.npz"
        got.parent.mkdir(parents=True, exist_ok=True)
        r = run_process(prep, rt, 1, 1, 1, 0.0, save_outputs=got)  # a first run, then one steady run
        if "error" in r:
            res = {"status": "failed", "error": _short(r["error"]), "detail": r}
        else:
            diff = compare_outputs(prep.ref, got)
            got.unlink(missing_ok=True)
            ok = diff <= prep.cfg.tol
            res = {"status": "ok" if ok else "wrong", "max_diff": diff, "first_run_ms": r["first_run_ms"],
                   "run_ms": r["times_ms"][0] if r.get("times_ms") else r["first_run_ms"],
                   "version": r.get("version"), "wall_s": r["wall_s"]}
    except NotAvailable as e:
        res = {"status": "unavailable", "error": _short(str(e))}
    except Transient as e:
        res = {"status": "unavailable", "error": _short(str(e))}
    except RuntimeError as e:
        res = {"status": "prepare_failed", "error": _short(str(e))}
    except subprocess.TimeoutExpired as e:
        res = {"status": "prepare_failed", "error": f"timed out: {e}"}
    res.update(model=prep.model, seq=prep.seq, runtime=rt.name, notes=prep.notes.get(
        {"lpfc": "lpfc compile", "lpfc-nofusion": "lpfc compile --no-fusion", "tflite": "onnx2tf conversion",
         "tvm": "TVM build"}.get(rt.name, ""), None))
    _write_json(path, res)
    return res


def plan_cell(cfg: Config, chk: dict, max_rounds: Optional[int] = None) -> tuple:
    """(rounds, [timed runs of each round], warm-up, budget per process) for a cell whose check's steady run took
    chk['run_ms']; ``max_rounds`` caps the processes (the runtime's own limit)."""
    per_run_s = chk.get("run_ms", chk.get("first_run_ms", 0.0)) / 1e3
    rounds = max(1, min(cfg.rounds, cfg.runs, max_rounds or cfg.rounds))
    if cfg.budget_s and per_run_s * (cfg.runs + cfg.warmup * rounds) > cfg.budget_s:
        # too slow for the full count: one process, one warm-up, as many runs as the budget allows
        runs = max(cfg.min_runs, min(cfg.runs, int(cfg.budget_s / max(per_run_s, 1e-9)) - 1))
        return 1, [runs], 1, cfg.budget_s
    per_round = [cfg.runs // rounds + (1 if r < cfg.runs % rounds else 0) for r in range(rounds)]  # sums to runs
    return rounds, per_round, cfg.warmup, (cfg.budget_s / rounds if cfg.budget_s else 0.0)


def run(cfg: Config) -> Path:
    """The whole benchmark; returns the results folder."""
    from . import peak, report

    out = cfg.out
    out.mkdir(parents=True, exist_ok=True)
    meta_path = out / "run.json"
    meta = _read_json(meta_path) or {}
    meta.setdefault("started", time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    meta.setdefault("commands", [])
    meta["commands"].append(" ".join(["python -m bench", *sys.argv[1:]]))
    meta["config"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(cfg).items()}
    _write_json(meta_path, meta)

    peak_path = out / "peak.json"
    if not cfg.dry and (cfg.force or not peak_path.is_file()):
        log("measuring the machine's peak (FMA probe, SGEMM)")
        _write_json(peak_path, peak.measure(tuple(cfg.threads)))
    if peak_path.is_file():
        log(peak.describe(_read_json(peak_path)).replace("\n", "\n    "))

    for model, seq in cfg.groups():
        prep = Prepared(cfg, model, seq)
        runtimes = [RUNTIMES[r] for r in cfg.runtimes_for(model, seq)]
        try:
            prep.prepare_common()
        except Exception as e:
            log(f"{model} seq {seq}: cannot prepare the model: {e}")
            _write_json(out / "check" / f"{model}-s{seq}-model.json", {"error": _short(str(e))})
            continue
        _write_json(out / "models" / f"{model}-s{seq}.json", {"model": model, "seq": seq, "flop": prep.flop})
        checks = {}
        for rt in runtimes:
            checks[rt.name] = c = check(prep, rt, out, cfg.force)
            what = {"ok": f"ok (max diff {c.get('max_diff', 0):.1e}, first run {c.get('first_run_ms', 0):.1f} ms, "
                          f"then {c.get('run_ms', 0):.1f} ms)",
                    "wrong": f"WRONG OUTPUTS (max diff {c.get('max_diff', 0):.2e})"}.get(
                c["status"], f"{c['status']}: {c.get('error')}")
            log(f"{model} seq {seq} {rt.name}: {what}")
        if cfg.dry:
            continue
        plans = {name: plan_cell(cfg, c, RUNTIMES[name].max_rounds) for name, c in checks.items() if c["status"] == "ok"}
        max_rounds = max((p[0] for p in plans.values()), default=0)
        for rnd in range(max_rounds):
            for threads in cfg.threads:
                for rt in runtimes:
                    if rt.name not in plans or rnd >= plans[rt.name][0] or (rt.one_thread and threads > 1):
                        continue
                    rounds, per_round, warmup, budget = plans[rt.name]
                    runs = per_round[rnd]
                    path = out / "raw" / f"{_cell_name(model, seq, threads, rt.name)}-r{rnd}.json"
                    done = _read_json(path) if path.is_file() and not cfg.force else None
                    if done is not None and "error" not in done:  # a failed process is tried again
                        continue
                    res = run_process(prep, rt, threads, runs, warmup, budget)
                    res.update(model=model, seq=seq, threads=threads, runtime=rt.name, round=rnd, rounds=rounds)
                    _write_json(path, res)
                    if "error" in res:
                        log(f"{model} seq {seq} t{threads} {rt.name} round {rnd + 1}/{rounds}: FAILED {res['error']}")
                    else:
                        t = sorted(res["times_ms"])
                        log(f"{model} seq {seq} t{threads} {rt.name} round {rnd + 1}/{rounds}: "
                            f"median {t[len(t) // 2]:.2f} ms over {len(t)} runs")
        report.write(out)  # after every model, so a partial run has its tables
    if not cfg.dry:
        # Once more at the end: a probe that lost its core to other work reads low, never high.
        log("measuring the machine's peak again")
        p0, p1 = _read_json(peak_path), peak.measure(tuple(cfg.threads))
        for key in ("peak_gflops", "fma_gflops", "best_sgemm_gflops"):
            for t, v in (p1.get(key) or {}).items():
                if v and (not p0.get(key, {}).get(t) or v > p0[key][t]):
                    p0.setdefault(key, {})[t] = v
        p0.setdefault("remeasured", []).append(p1)
        _write_json(peak_path, p0)
    meta["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    _write_json(meta_path, meta)
    return report.write(out)

