"""The LSTM policy: reproducible from its seed, and REINFORCE moves it toward higher reward."""
import pytest

pytest.importorskip("torch")

from lpfc.nas import SearchSpace  # noqa: E402
from lpfc.nas.controller import Controller  # noqa: E402

SPACE = SearchSpace()


def draws(seed, n=6, reward=None):
    c = Controller(SPACE, seed=seed)
    out = []
    for _ in range(n):
        s = c.sample()
        out.append(s.indices)
        c.update([(s, reward(s.arch) if reward else 0.5)])
    return out


def test_same_seed_same_decisions():
    f = (lambda a: a["layers"] / 6)
    assert draws(7, reward=f) == draws(7, reward=f)
    assert draws(7) != draws(8)


def test_decisions_follow_the_layer_count_and_stay_in_the_space():
    c = Controller(SPACE, seed=1)
    for _ in range(30):
        s = c.sample()
        assert len(s.indices) == 2 + 2 * s.arch["layers"]
        assert SPACE.contains(s.arch)


def test_fixed_layers_phase_two():
    c = Controller(SPACE, seed=2)
    for _ in range(10):
        s = c.sample(fixed_layers=4)
        assert s.arch["layers"] == 4 and s.fixed_layers
    c.update([(s, 1.0)])      # no gradient through the given layer count: must not fail


def _learn(lr, steps=40):
    c = Controller(SPACE, seed=0, lr=lr)
    target = SPACE.layers.index(3)
    before = c.layer_probs()[target]
    for _ in range(steps):
        s = c.sample()
        c.update([(s, 1.0 if s.arch["layers"] == 3 else 0.1)])
    return before, c.layer_probs()[target]


def test_reinforce_learns_the_rewarded_layer_count():
    before, after = _learn(lr=0.1)
    assert before < 0.3
    assert after > 0.7, (before, after)
    _, unchanged = _learn(lr=0.0, steps=10)       # the control: no learning, no change
    assert unchanged == pytest.approx(before, abs=1e-6)


def test_reinforce_learns_a_per_layer_choice():
    """Phase 2: reward a wide FFN in layer 0; the policy's FFN distribution there moves to the top."""
    c = Controller(SPACE, seed=0, lr=0.1)
    for _ in range(40):
        s = c.sample(fixed_layers=2)
        c.update([(s, s.arch["ffn"][0] / 1536)])
    s = c.sample(fixed_layers=2)
    p = c.choice_probs(s.indices[:3])                 # layers, hidden, heads[0] -> ffn[0]
    assert sum(p[-3:]) > 0.6, p


def test_a_limit_cuts_the_choices_and_leaves_the_rest():
    c = Controller(SPACE, seed=4)
    limit = (lambda t, kind, idx: None if t < 2 else 1)          # per-layer choices: the two smallest
    draws = [c.sample(limit=limit) for _ in range(20)]
    assert all(max(s.indices[2:]) <= 1 and SPACE.contains(s.arch) for s in draws)
    assert len({s.indices[0] for s in draws}) > 1, "the layer count was limited too"
    free = Controller(SPACE, seed=4)
    assert any(max(free.sample().indices[2:]) > 1 for _ in range(5))
