import pytest

from lpfc.errors import NasError
from lpfc.nas import Reward


def test_soft_reward_is_mnasnet():
    r = Reward(10.0)
    assert r(0.8, 10.0) == pytest.approx(0.8)
    assert r(0.8, 20.0) == pytest.approx(0.8 * 2 ** -0.07)
    assert r(0.8, 5.0) == pytest.approx(0.8 * 0.5 ** -0.07)       # faster than the target: a small bonus
    assert r(0.8, 20.0) < r(0.8, 10.0) < r(0.8, 5.0)


def test_hard_constraint():
    r = Reward(10.0, hard=True)
    assert r(0.8, 5.0) == pytest.approx(0.8)                         # no bonus under the target
    assert r(0.8, 10.0) == pytest.approx(0.8)
    assert r(0.8, 20.0) == pytest.approx(0.4)                        # acc x target / lat over it
    assert r(0.9, 20.0) < r(0.5, 9.0)


def test_hard_weight_steepens_the_miss():
    r = Reward(10.0, hard=True, hard_weight=-4.0)
    assert r(0.8, 9.0) == pytest.approx(0.8)
    assert r(0.8, 11.0) == pytest.approx(0.8 * 1.1 ** -4)           # a 10 % miss costs a third
    # the case that motivates it: 4x the accuracy at 1.7x the target no longer out-earns a model within it
    assert Reward(10.0, hard=True)(0.8, 17.0) > 0.2 > Reward(10.0, hard=True, hard_weight=-4.0)(0.8, 17.0)
    assert "^-4" in r.describe()


def test_weight_changes_the_trade_off():
    assert Reward(10.0, weight=-0.5)(0.8, 20.0) < Reward(10.0)(0.8, 20.0)


@pytest.mark.parametrize("kw", [dict(target_ms=0), dict(target_ms=-1), dict(target_ms=float("nan")),
                                dict(target_ms=5, weight=0.1), dict(target_ms=5, hard=True, hard_weight=1.0),
                                dict(target_ms=5, hard_weight=float("nan"))])
def test_bad_rewards(kw):
    with pytest.raises(NasError):
        Reward(**kw)
