"""The search loop with cheap evaluators: results, resume, impossible requests, errors (no model, no data)."""
import json
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("torch")

from lpfc.errors import NasError  # noqa: E402
from lpfc.nas import SearchSpace, search  # noqa: E402
from lpfc.nas.latency import LatencyModel, arch_flops  # noqa: E402

COUNT = "tests.nas.evalcount:evaluate"


def run(space, out=None, trials=6, workers=2, **kw):
    kw.setdefault("latency_ms", 1000.0)
    with ThreadPoolExecutor(workers) as ex:
        return search(space=space, out=out, trials=trials, workers=workers, evaluator=kw.pop("evaluator", "synthetic"),
                      executor=ex, export=False, progress=False, **kw)


def test_a_search_records_every_trial(tiny_space, tmp_path):
    res = run(tiny_space, tmp_path / "s", trials=6, phase1_fraction=0.34)   # 2 trials: one batch
    lines = [json.loads(x) for x in (tmp_path / "s" / "trials.jsonl").read_text().splitlines()]
    assert len(lines) == len(res.trials) == 6
    for d, t in zip(lines, res.trials):
        assert d["arch"] == t.arch and tiny_space.contains(t.arch)
        assert {"arch", "accuracy", "latency_ms", "reward"} <= set(d)
        assert d["reward"] == pytest.approx(d["accuracy"] * (d["latency_ms"] / 1000.0) ** -0.07)
    assert [t.phase for t in res.trials] == [1, 1, 2, 2, 2, 2]
    assert len({t.arch["layers"] for t in res.trials if t.phase == 2}) == 1
    best = json.loads((tmp_path / "s" / "best.json").read_text())
    assert best["arch"] == res.best.arch and best["meets_target"]
    assert (tmp_path / "s" / "pareto.png").stat().st_size > 1000
    front = res.pareto()
    assert front and all(a.latency_ms <= b.latency_ms and a.accuracy < b.accuracy for a, b in zip(front, front[1:]))


def test_same_seed_same_search(tiny_space):
    a = [t.arch for t in run(tiny_space, trials=6).trials]
    b = [t.arch for t in run(tiny_space, trials=6).trials]
    assert a == b


def test_best_meets_the_target_when_a_trial_does(tiny_space):
    res = run(tiny_space, trials=8)
    target = sorted(t.latency_ms for t in res.trials)[2]        # only a few trials are within it
    res = run(tiny_space, trials=8, latency_ms=target)
    assert res.meets_target and res.best.latency_ms <= target
    assert res.best.accuracy == max(t.accuracy for t in res.trials if t.latency_ms <= target)


def test_resume_from_a_truncated_trials_file(tiny_space, tmp_path):
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    full = run(tiny_space, tmp_path / "a", trials=8, evaluator=COUNT, evaluator_opts={"log": str(log_a)})
    # a search killed while writing: 3 whole lines (batch 1 is incomplete), then half a line
    (tmp_path / "b").mkdir()
    shutil.copy(tmp_path / "a" / "search.json", tmp_path / "b" / "search.json")
    lines = (tmp_path / "a" / "trials.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "b" / "trials.jsonl").write_text("".join(lines[:3]) + lines[3][:40])
    settings = json.loads((tmp_path / "b" / "search.json").read_text())
    settings["evaluator_opts"]["log"] = str(log_b)
    (tmp_path / "b" / "search.json").write_text(json.dumps(settings))
    resumed = run(tiny_space, tmp_path / "b", trials=8, evaluator=COUNT, evaluator_opts={"log": str(log_b)})
    assert [t.arch for t in resumed.trials] == [t.arch for t in full.trials]
    assert [t.reward for t in resumed.trials] == [t.reward for t in full.trials]
    kept = {json.dumps(t.arch, sort_keys=True) for t in full.trials[:3]}
    again = log_b.read_text().splitlines()
    assert not kept & set(again), "a recorded candidate was evaluated again"
    assert len(again) < len(log_a.read_text().splitlines())
    written = (tmp_path / "b" / "trials.jsonl").read_text().splitlines()
    assert [json.loads(x)["arch"] for x in written] == [t.arch for t in full.trials]


def test_resume_refuses_other_settings(tiny_space, tmp_path):
    run(tiny_space, tmp_path / "s", trials=2)
    with pytest.raises(NasError, match="other settings.*seed"):
        run(tiny_space, tmp_path / "s", trials=2, seed=5)


def test_a_finished_search_can_be_extended(tiny_space, tmp_path):
    four = run(tiny_space, tmp_path / "s", trials=4, phase1_fraction=1.0)
    six = run(tiny_space, tmp_path / "s", trials=6, phase1_fraction=1.0)
    assert [t.arch for t in six.trials[:4]] == [t.arch for t in four.trials]
    assert len((tmp_path / "s" / "trials.jsonl").read_text().splitlines()) == 6


def test_a_search_from_before_hard_weight_resumes(tiny_space, tmp_path):
    four = run(tiny_space, tmp_path / "s", trials=4, phase1_fraction=1.0)
    sfile = tmp_path / "s" / "search.json"
    old = json.loads(sfile.read_text())
    del old["hard_weight"]                       # search.json as lpfc wrote it before 2026-12-07
    sfile.write_text(json.dumps(old))
    six = run(tiny_space, tmp_path / "s", trials=6, phase1_fraction=1.0)
    assert [t.arch for t in six.trials[:4]] == [t.arch for t in four.trials]
    with pytest.raises(NasError, match="other settings.*hard_weight"):
        run(tiny_space, tmp_path / "s", trials=6, phase1_fraction=1.0, hard_weight=-4.0)


def test_target_below_the_fastest_architecture_is_refused_before_any_evaluation(tiny_space, tmp_path):
    log = tmp_path / "calls.log"
    with pytest.raises(NasError, match="below the fastest architecture of the search space"):
        run(tiny_space, trials=2, latency_ms=1e-4, evaluator=COUNT, evaluator_opts={"log": str(log)})
    assert not log.exists()


@pytest.mark.parametrize("kw, match", [
    (dict(evaluator="no-such-evaluator"), "unknown evaluator 'no-such-evaluator'"),
    (dict(evaluator="no_such_module:f"), "cannot import module 'no_such_module'"),
    (dict(evaluator="tests.nas.evalcount:nothing"), "has no function 'nothing'"),
    (dict(latency_ms=0), "positive number of milliseconds"),
    (dict(latency_model="params"), "unknown latency model"),
    (dict(target="nowhere"), "unknown target"),
    (dict(phase1_fraction=2), "phase1_fraction"),
    (dict(evaluator_opts={"x": object()}), "must be JSON values"),
])
def test_bad_requests_are_one_clear_error(tiny_space, kw, match):
    with pytest.raises(NasError, match=match):
        run(tiny_space, trials=2, **kw)


def test_empty_space_is_refused():
    with pytest.raises(NasError, match="empty"):
        run(SearchSpace(layers=()), trials=2)


def test_a_failing_evaluator_names_the_trial(tiny_space):
    with pytest.raises(NasError, match=r"failed on trial 0 .*RuntimeError: this evaluator always fails"):
        run(tiny_space, trials=2, evaluator="tests.nas.evalcount:failing")


def test_flops_proxy_is_scaled_to_the_oracle_at_the_largest_architecture(tiny_space):
    big = tiny_space.largest()
    lm = LatencyModel("flops", reference=big)
    assert lm(big) == pytest.approx(LatencyModel("oracle")(big))
    small = tiny_space.smallest(2)
    assert lm(small) == pytest.approx(lm(big) * arch_flops(small) / arch_flops(big))
    res = run(tiny_space, trials=4, latency_model="flops")
    assert all(t.latency_ms == pytest.approx(lm(t.arch)) for t in res.trials)


def test_arch_flops_counts_head_width():
    a = {"layers": 1, "hidden": 64, "heads": [2], "ffn": [128], "seq": 8, "head_dim": 32}
    b = dict(a, heads=[4])
    s, h, f = 8, 64, 128
    assert arch_flops(a) == 2 * s * h * 64 * 4 + 2 * s * s * 64 * 2 + 2 * s * h * f * 2 + 2 * h * h
    assert arch_flops(b) > arch_flops(a)


def test_hard_constraint_is_recorded(tiny_space):
    res = run(tiny_space, trials=3, hard_constraint=True, latency_ms=2.0)
    for t in res.trials:
        expect = t.accuracy if t.latency_ms <= 2.0 else t.accuracy * 2.0 / t.latency_ms
        assert t.reward == pytest.approx(expect)


def test_the_default_executor_is_a_process_pool(tiny_space):
    import os

    res = search(space=tiny_space, trials=2, workers=1, latency_ms=1000.0, evaluator="tests.nas.evalcount:pid",
                 export=False, progress=False)
    pids = {t.accuracy for t in res.trials if not t.cached}
    assert pids and float(os.getpid()) not in pids


def _a_tight_target(space):
    """A target only a few of a soft search's draws meet (the oracle's figures on this machine)."""
    return sorted(t.latency_ms for t in run(space, trials=8).trials)[2]


def test_hard_searches_draw_within_the_target(tiny_space, tmp_path):
    target = _a_tight_target(tiny_space)
    res = run(tiny_space, trials=8, latency_ms=target, hard_constraint=True)
    assert res.settings["constrained"] is True
    oracle = LatencyModel("oracle")
    for t in res.trials:     # over the target only where even the smallest sizes are
        smallest = tiny_space.smallest(t.arch["layers"])
        smallest["hidden"] = t.arch["hidden"]
        assert t.latency_ms <= target or oracle(smallest) > target, f"trial {t.trial} {t.arch} is over the target"
    soft = run(tiny_space, trials=8, latency_ms=target)          # the soft reward draws from the whole space
    assert soft.settings["constrained"] is False
    assert any(t.latency_ms > target for t in soft.trials)


def test_the_latency_limit_is_the_largest_fitting_choice(tiny_space):
    from lpfc.nas.search import latency_limit

    oracle = LatencyModel("oracle")
    target = oracle(tiny_space.arch(2, 128, [2, 1], [256, 128]))
    limit = latency_limit(tiny_space, oracle, target)
    L2, H128 = tiny_space.layers.index(2), tiny_space.hidden.index(128)
    assert limit(1, "hidden", [L2]) is None                       # layer count and hidden size: not limited
    top = limit(2, "heads", [L2, H128])                           # layer 0's heads, the rest at their least
    assert tiny_space.heads[top] == 2
    assert limit(3, "ffn", [L2, H128, top]) == tiny_space.ffn.index(256)
    assert limit(4, "heads", [L2, H128, top, 1]) == 0            # layer 0 took it all: layer 1 at its least
    tight = latency_limit(tiny_space, oracle, 1e-6)              # nothing fits: the least choice
    assert tight(2, "heads", [L2, H128]) == 0


def test_constrained_search_resumes_exactly(tiny_space, tmp_path):
    target = _a_tight_target(tiny_space)
    full = run(tiny_space, tmp_path / "a", trials=8, latency_ms=target, hard_constraint=True)
    (tmp_path / "b").mkdir()
    shutil.copy(tmp_path / "a" / "search.json", tmp_path / "b" / "search.json")
    lines = (tmp_path / "a" / "trials.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "b" / "trials.jsonl").write_text("".join(lines[:4]))
    resumed = run(tiny_space, tmp_path / "b", trials=8, latency_ms=target, hard_constraint=True)
    assert [t.arch for t in resumed.trials] == [t.arch for t in full.trials]


def test_a_hard_search_from_before_constrained_draws_resumes_without_them(tiny_space, tmp_path):
    target = _a_tight_target(tiny_space)
    four = run(tiny_space, tmp_path / "s", trials=4, latency_ms=target, hard_constraint=True, constrained=False,
               phase1_fraction=1.0)
    sfile = tmp_path / "s" / "search.json"
    old = json.loads(sfile.read_text())
    del old["constrained"]                       # search.json as lpfc wrote it before constrained draws
    sfile.write_text(json.dumps(old))
    six = run(tiny_space, tmp_path / "s", trials=6, latency_ms=target, hard_constraint=True, phase1_fraction=1.0)
    assert six.settings["constrained"] is False
    assert [t.arch for t in six.trials[:4]] == [t.arch for t in four.trials]
    with pytest.raises(NasError, match="other settings.*constrained"):
        run(tiny_space, tmp_path / "s", trials=6, latency_ms=target, hard_constraint=True, phase1_fraction=1.0,
            constrained=True)


def test_bad_constrained_is_refused(tiny_space):
    with pytest.raises(NasError, match="constrained must be True, False or None"):
        run(tiny_space, trials=2, constrained=1)
