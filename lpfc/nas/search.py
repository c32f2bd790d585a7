"""The search loop (CANAO, paper §2): the controller proposes, an evaluator scores accuracy, the compiler's
oracle prices latency, the reward goes back to the controller.

    result = lpfc.nas.search(latency_ms=8, target="host", threads=2, trials=200, evaluator="qa-distill",
                             out="runs/nas1")

Each batch (``workers`` candidates) is drawn from the controller, priced by the latency model here, scored
by the evaluator on the executor (concurrently), then the controller takes one REINFORCE step on the batch
in the order it was drawn -- so a search is reproducible from its seed whatever order the workers finish in.

``out/trials.jsonl`` gets one line per candidate after each batch. A killed search resumes from it: the
complete batches are replayed into the controller (draws checked against the file, updates with the
recorded rewards, nothing evaluated again), so the resumed search continues exactly as the uninterrupted
one would have. ``out/search.json`` holds the settings; a directory holding another search is refused.

Constrained draws (``constrained``, on by default with the hard reward): each per-layer decision (heads,
FFN) is drawn only among the choices with which the architecture can still meet the target -- the
oracle's price of the draw so far, that choice, and the smallest sizes for the decisions still to come
(a binary search over the ascending choices: ~4 prices a decision, each 5-50 ms, against 10-30 s an
evaluation). HAT and AutoTinyBERT filter their candidates by the latency constraint the same way. Phase 1
judges a layer count by the sub-networks drawn for it: unconstrained, 79 % of the 6-layer draws in
MiniLM's space are over a third of its latency, and none of the 200 6-layer hidden-384 draws tried fitted
(every layer must have few heads and FFN neurons), so a search judged 6 layers -- and hidden 384 -- by
over-target draws (docs/nas.md, "Results"). The layer count and hidden size are not limited: a choice
that cannot fit even at the smallest sizes is charged by the hard reward, and the controller learns it.
The REINFORCE step takes the log-probability under the uncut policy. A resume prices the limits again
(the oracle is deterministic for one calibration; a recalibrated machine makes the replay stop with an
error naming the trial).
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping, Optional

from ..errors import NasError
from .latency import LatencyModel
from .reward import DEFAULT_WEIGHT, HARD_WEIGHT, Reward
from .space import SearchSpace

DRY_RUN_TRIALS = 4


@dataclass
class Trial:
    trial: int                 # 0-based, in the order the controller drew them
    batch: int
    phase: int                 # 1: the layer count is a decision; 2: it is fixed
    arch: dict
    accuracy: float
    latency_ms: float          # the latency model's figure (oracle or FLOP proxy)
    reward: float
    seconds: float = 0.0       # the evaluator's wall time (0 when cached)
    cached: bool = False       # the same architecture was evaluated before in this search
    indices: list = field(default_factory=list)   # the controller's choice indices (for the replay)
    batch_size: int = 1

    def line(self) -> str:
        return json.dumps(asdict(self), sort_keys=False)


@dataclass
class NasResult:
    trials: list
    best: Optional[Trial]
    meets_target: bool          # the best trial's predicted latency is within the target
    settings: dict
    out: Optional[Path] = None
    files: dict = field(default_factory=dict)     # name -> path of what was written
    oracle_ms: Optional[float] = None             # the oracle's estimate of the best (also with --latency-model flops)
    measured_ms: Optional[float] = None           # libbest.so, timed (host only)
    export_note: str = ""
    seconds: float = 0.0

    def pareto(self) -> list:
        return pareto_front(self.trials)

    def summary(self) -> str:
        if self.best is None:
            return "no trials"
        b = self.best
        lines = [f"best: trial {b.trial}, accuracy {b.accuracy:.4f}, predicted latency {b.latency_ms:.3f} ms "
                 f"({self.settings['latency_model']}), target {self.settings['latency_ms']:g} ms"
                 + ("" if self.meets_target else " -- NOT MET by any trial"),
                 f"      arch {json.dumps(b.arch)}"]
        if self.oracle_ms is not None and self.settings["latency_model"] != "oracle":
            lines.append(f"      oracle estimate of the best: {self.oracle_ms:.3f} ms")
        if self.measured_ms is not None:
            lines.append(f"libbest.so: measured {self.measured_ms:.3f} ms (median) vs predicted "
                         f"{self.oracle_ms:.3f} ms by the oracle (target {self.settings['target']}, "
                         f"{self.settings['threads']} thread(s))")
        if self.export_note:
            lines.append(self.export_note)
        for name, p in self.files.items():
            lines.append(f"wrote {p}")
        return "\n".join(lines)


def pareto_front(trials) -> list:
    """The trials no other trial beats on both latency (lower) and accuracy (higher), by latency."""
    seen, front, best_acc = set(), [], -math.inf
    for t in sorted(trials, key=lambda t: (t.latency_ms, -t.accuracy)):
        key = json.dumps(t.arch, sort_keys=True)
        if t.accuracy > best_acc and key not in seen:
            front.append(t)
            best_acc = t.accuracy
        seen.add(key)
    return front


def choose_best(trials, target_ms: float) -> tuple:
    """(best trial, meets target): the most accurate trial within the target (the faster on a tie); when
    none is within it, the one with the highest reward."""
    ok = [t for t in trials if t.latency_ms <= target_ms]
    if ok:
        return max(ok, key=lambda t: (t.accuracy, -t.latency_ms, -t.trial)), True
    if not trials:
        return None, False
    return max(trials, key=lambda t: (t.reward, -t.trial)), False


def _say(progress, text: str) -> None:
    if progress is True:
        print(f"[nas] {text}", file=sys.stderr, flush=True)
    elif callable(progress):
        progress(text)


def _fmt_s(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"


def check_request(space: SearchSpace, latency: LatencyModel, target_ms: float) -> tuple:
    """NasError when the target is below every layer count's smallest architecture; else (fastest arch, its ms).

    The oracle need not be monotone in the sizes (fusion and the emitters' choices depend on the shapes;
    one-layer models once lost the fused attention kernel), so the smallest architecture of every layer
    count is priced."""
    best = None
    for n in space.layers:
        a = space.smallest(n)
        ms = latency(a)
        if best is None or ms < best[1]:
            best = (a, ms)
    if best[1] > target_ms:
        raise NasError(f"the latency target {target_ms:g} ms is below the fastest architecture of the search space: "
                       f"{best[1]:.3f} ms ({latency.describe()}) for {json.dumps(best[0])}",
                       hint="raise --latency-ms, add threads, or search smaller sizes or a shorter --seq")
    return best


def read_trials(path: Path) -> list:
    """The trials of a trials.jsonl; a last line cut short by a kill is dropped (and reported by the caller)."""
    out = []
    lines = path.read_text().splitlines()
    for i, text in enumerate(lines):
        if not text.strip():
            continue
        try:
            d = json.loads(text)
            out.append(Trial(**d))
        except (ValueError, TypeError):
            if i == len(lines) - 1:
                break            # cut short while it was written
            raise NasError(f"{path}: line {i + 1} is not a trial record; move the file away to start afresh")
    return out


def _settings_key(settings: Mapping) -> dict:
    """The settings that must match for a resume (the trial budget and the executor may change)."""
    # a key added since a search.json was written counts as its default (hard_weight: 2026-12-07)
    # constrained: added 2026-12-07 (evening); a search from before drew without the latency limit
    return {k: v for k, v in {"hard_weight": HARD_WEIGHT, "constrained": False, **settings}.items()
            if k not in ("trials", "dask", "dry_run")}


def search(*, latency_ms: float, target: str = "host", threads: int = 1, trials: int = 200,
           evaluator: str = "qa-distill", evaluator_opts: Optional[Mapping] = None, out=None,
           space: Optional[SearchSpace] = None, seed: int = 0, latency_model: str = "oracle",
           hard_constraint: bool = False, reward_weight: float = DEFAULT_WEIGHT, hard_weight: float = HARD_WEIGHT,
           workers: int = 1,
           dask: Optional[str] = None, executor=None, dry_run: bool = False, phase1_fraction: float = 0.3,
           controller_lr: float = 3.5e-3, entropy_weight: float = 1e-2, export: bool = True,
           constrained: Optional[bool] = None, progress=True) -> NasResult:
    """Run (or resume) an architecture search; returns a :class:`NasResult` (docs/nas.md).

    ``constrained``: draw the per-layer sizes only among the choices that can still meet the target (module
    docstring); None means on with ``hard_constraint``, off with the soft reward.

    ``progress``: True prints progress on stderr, a callable receives each line, False is silent."""
    from .evaluators import resolve, spec_of

    t_start = time.perf_counter()
    space = (space or SearchSpace()).validate()
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise NasError(f"trials must be a positive integer, got {trials!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise NasError(f"workers must be a positive integer, got {workers!r}")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise NasError(f"threads must be a positive integer, got {threads!r}")
    if not 0.0 <= phase1_fraction <= 1.0:
        raise NasError(f"phase1_fraction must be within [0, 1], got {phase1_fraction!r}")
    constrained_asked = constrained
    constrained = bool(hard_constraint) if constrained is None else constrained
    if not isinstance(constrained, bool):
        raise NasError(f"constrained must be True, False or None, got {constrained!r}")
    if dry_run:
        trials = min(trials, DRY_RUN_TRIALS)
    reward = Reward(float(latency_ms), reward_weight, hard_constraint, hard_weight)
    spec = spec_of(evaluator)
    resolve(evaluator)                       # an unknown evaluator fails here, before anything runs
    opts = dict(evaluator_opts or {})
    if dry_run:
        opts.setdefault("dry_run", True)
    from ..codegen.targets import get_target
    from ..errors import LpfcError
    try:
        get_target(target)
    except LpfcError as e:
        raise NasError(f"unknown target {target!r}: {e}") from None
    lat = LatencyModel(latency_model, target=target, threads=threads,
                       reference=space.largest() if latency_model == "flops" else None)
    fastest, fastest_ms = check_request(space, lat, reward.target_ms)
    settings = {"latency_ms": float(latency_ms), "target": target, "threads": threads, "trials": trials,
                "evaluator": evaluator, "evaluator_spec": spec, "evaluator_opts": opts, "space": space.to_dict(),
                "seed": seed, "latency_model": latency_model, "hard_constraint": hard_constraint,
                "reward_weight": reward_weight, "hard_weight": hard_weight, "workers": workers, "phase1_fraction": phase1_fraction,
                "controller_lr": controller_lr, "entropy_weight": entropy_weight, "constrained": constrained, "dask": dask,
                "dry_run": dry_run}
    try:
        json.dumps(settings)                 # the evaluator options go to search.json
    except (TypeError, ValueError) as e:
        raise NasError(f"the evaluator options must be JSON values (numbers, strings, lists, dicts): {e}") from None

    out_dir = Path(out) if out is not None else None
    done: list = []
    if out_dir is not None:
        if out_dir.exists() and not out_dir.is_dir():
            raise NasError(f"--out {str(out_dir)!r} exists and is not a directory")
        out_dir.mkdir(parents=True, exist_ok=True)
        sfile, tfile = out_dir / "search.json", out_dir / "trials.jsonl"
        if sfile.exists():
            try:
                old = json.loads(sfile.read_text())
            except ValueError:
                raise NasError(f"{sfile} is not JSON; use another --out") from None
            if constrained_asked is None:     # not asked for: the resumed search keeps its own
                settings["constrained"] = constrained = bool(old.get("constrained", False))
            if _settings_key(old) != _settings_key(settings):
                diff = sorted(k for k in set(old) | set(settings) if k in _settings_key(settings) | _settings_key(old)
                              and old.get(k) != settings.get(k))
                raise NasError(f"{out_dir} holds a search with other settings ({', '.join(diff)} differ); "
                               f"resume it with the same settings or use another --out")
        elif tfile.exists():
            raise NasError(f"{tfile} exists without its search.json; move it away or use another --out")
        sfile.write_text(json.dumps(settings, indent=1) + "\n")
        if tfile.exists():
            done = read_trials(tfile)

    from .controller import Controller

    ctl = Controller(space, seed=seed, lr=controller_lr, entropy_weight=entropy_weight)
    _say(progress, f"space: {space.size():.3g} architectures (layers {list(space.layers)}, hidden "
                   f"{list(space.hidden)}, heads {space.heads[0]}-{space.heads[-1]}"
                   + (f" x {space.head_dim}" if space.head_dim else "") + f", ffn {space.ffn[0]}-{space.ffn[-1]}, "
                   f"seq {space.seq}); reward {reward.describe()}")
    _say(progress, f"latency: {lat.describe()}; fastest in the space {fastest_ms:.3f} ms "
                   f"({fastest['layers']} layer(s), hidden {fastest['hidden']})")
    if lat.warning:
        _say(progress, f"warning: {lat.warning}")
    p1_trials = int(round(trials * phase1_fraction))
    limit = latency_limit(space, lat, reward.target_ms) if constrained else None

    # -- replay what a previous run of this search recorded ------------------------------------------------
    cache: dict = {}
    history: list = []
    for t in done:
        cache.setdefault(json.dumps(t.arch, sort_keys=True), (t.accuracy, t.seconds))
    batches: dict = {}
    for t in done:
        batches.setdefault(t.batch, []).append(t)
    fixed_layers = None
    for b in sorted(batches):
        rows = sorted(batches[b], key=lambda t: t.trial)
        if len(rows) != rows[0].batch_size or len(history) + len(rows) > trials:
            break                              # an incomplete batch: its results stay in the cache only
        if rows[0].phase == 2 and fixed_layers is None:
            fixed_layers = _phase2_layers(history)
        for t in rows:
            s = ctl.sample(fixed_layers if t.phase == 2 else None, limit=limit)
            if s.indices != t.indices:
                raise NasError(f"{out_dir / 'trials.jsonl'} does not match this search's controller at trial "
                               f"{t.trial} (written by another lpfc version, or -- with constrained draws -- priced "
                               f"under another calibration?); use another --out")
        from .controller import Sample
        ctl.update([(Sample(t.indices, t.arch, t.phase == 2), t.reward) for t in rows])
        history += rows
    if out_dir is not None and done:
        (out_dir / "trials.jsonl").write_text("".join(t.line() + "\n" for t in history))
        if len(history) < len(done):
            _say(progress, f"resuming: {len(history)} trial(s) replayed; {len(done) - len(history)} from an "
                           f"unfinished batch kept as cached results")
        else:
            _say(progress, f"resuming: {len(history)} trial(s) replayed")

    # -- the loop ----------------------------------------------------------------------------------------
    from .executor import evaluate_task, make_executor

    def best_line():
        b, ok = choose_best(history, reward.target_ms)
        if b is None:
            return "none yet"
        return (f"best acc {b.accuracy:.4f} @ {b.latency_ms:.2f} ms (trial {b.trial}"
                + ("" if ok else ", over target") + ")")

    with make_executor(workers, dask, executor) as (ex, where):
        if len(history) < trials:
            _say(progress, f"evaluator {evaluator} ({spec}) on {where}; {trials - len(history)} trial(s) to go")
            t_loop, n_loop = time.perf_counter(), 0
            while len(history) < trials:
                k = min(workers, trials - len(history))
                phase = 1 if len(history) < p1_trials else 2
                if phase == 2 and fixed_layers is None:
                    fixed_layers = _phase2_layers(history) if history else None
                    if fixed_layers is None:
                        phase = 1
                    else:
                        _say(progress, f"phase 2: layer count fixed at {fixed_layers}; searching the per-layer sizes")
                samples = [ctl.sample(fixed_layers if phase == 2 else None, limit=limit) for _ in range(k)]
                lats = [lat(s.arch) for s in samples]
                futs = []
                for s in samples:
                    key = json.dumps(s.arch, sort_keys=True)
                    futs.append(None if key in cache else ex.submit(evaluate_task, spec, s.arch, opts))
                rows = []
                b = (history[-1].batch + 1) if history else 0
                for i, (s, ms, f) in enumerate(zip(samples, lats, futs)):
                    key = json.dumps(s.arch, sort_keys=True)
                    if f is None:
                        acc, secs, cached = cache[key][0], 0.0, True
                    else:
                        try:
                            acc, secs = f.result()
                        except NasError:
                            raise
                        except Exception as e:
                            raise NasError(f"evaluator {evaluator!r} failed on trial {len(history) + i} "
                                           f"{json.dumps(s.arch)}: {type(e).__name__}: {e}") from e
                        cached = False
                        cache[key] = (acc, secs)
                    rows.append(Trial(len(history) + i, b, phase, s.arch, acc, ms, reward(acc, ms), secs, cached,
                                      list(s.indices), k))
                ctl.update([(s, t.reward) for s, t in zip(samples, rows)])
                history += rows
                if out_dir is not None:
                    with open(out_dir / "trials.jsonl", "a") as fh:
                        fh.write("".join(t.line() + "\n" for t in rows))
                        fh.flush()
                        os.fsync(fh.fileno())
                n_loop += k
                el = time.perf_counter() - t_loop
                eta = el / n_loop * (trials - len(history))
                for t in rows:
                    _say(progress, f"trial {t.trial + 1}/{trials} phase {t.phase}: {t.arch['layers']}x{t.arch['hidden']} "
                                   f"acc {t.accuracy:.4f} lat {t.latency_ms:.2f} ms reward {t.reward:.4f}"
                                   + (" (cached)" if t.cached else f" ({t.seconds:.1f} s)")
                                   + (" -- over the target even at the smallest sizes"
                                      if constrained and t.latency_ms > reward.target_ms else ""))
                _say(progress, f"{len(history)}/{trials} done, {best_line()}; {_fmt_s(el)} elapsed, "
                               f"ETA {_fmt_s(eta)}")

        best, ok = choose_best(history, reward.target_ms)
        res = NasResult(history, best, ok, settings, out_dir)
        if best is not None:
            res.oracle_ms = lat.oracle(best.arch) if lat.kind != "oracle" else best.latency_ms
            if not ok:
                _say(progress, f"warning: no trial met the {reward.target_ms:g} ms target; best.json holds the "
                               f"highest-reward trial")
        if out_dir is not None and best is not None:
            from .outputs import write_outputs
            write_outputs(res, export=export, progress=lambda s: _say(progress, s), executor=ex, time_it=False)
    if out_dir is not None and best is not None:      # timed with the pool gone: nothing else on the cores
        from .outputs import time_best
        time_best(res, progress=lambda s: _say(progress, s))
    res.seconds = time.perf_counter() - t_start
    return res


def latency_limit(space: SearchSpace, lat, target_ms: float):
    """The controller's ``limit`` for a latency target: for a per-layer decision, the largest choice with
    which the architecture, completed with the smallest sizes, is priced within the target (None before the
    per-layer decisions). Assumes the price grows with each size (binary search); where no choice fits, the
    smallest is the limit, and the hard reward charges the result."""
    prices: dict = {}

    def price(idx) -> float:
        key = tuple(idx)
        if key not in prices:
            prices[key] = lat(space.arch_from_indices(idx))
        return prices[key]

    def limit(t, kind, indices):
        if t < 2:
            return None
        n, hidden = space.layers[indices[0]], space.hidden[indices[1]]
        kinds = space.decisions(n)
        least = {k: space.allowed(k, hidden).index(True) for k in ("heads", "ffn")}
        rest = [least[k] for k in kinds[t + 1:]]
        ok = [j for j, a in enumerate(space.allowed(kind, hidden)) if a]
        lo, hi = 0, len(ok) - 1                  # the last allowed choice that fits: ok[lo]
        if price(list(indices) + [ok[0]] + rest) > target_ms:
            return ok[0]
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if price(list(indices) + [ok[mid]] + rest) <= target_ms:
                lo = mid
            else:
                hi = mid - 1
        return ok[lo]

    return limit


def _phase2_layers(history) -> Optional[int]:
    """Phase 1's verdict: the layer count of its highest-reward trial (the earliest on a tie)."""
    p1 = [t for t in history if t.phase == 1]
    if not p1:
        return None
    return max(p1, key=lambda t: (t.reward, -t.trial)).arch["layers"]


__all__ = ["NasResult", "Trial", "check_request", "choose_best", "latency_limit", "pareto_front", "read_trials",
           "search"]
