import random

import pytest

from lpfc.errors import NasError
from lpfc.nas import SearchSpace
from lpfc.nas.space import parse_choices
from lpfc.cost.arch import normalize


def test_default_space_is_minilm_subnetworks():
    s = SearchSpace().validate()
    assert s.layers == (1, 2, 3, 4, 5, 6) and max(s.hidden) == 384 and max(s.heads) == 12 and s.head_dim == 32
    assert max(s.ffn) == 1536 and s.seq == 384
    big = s.largest()
    assert big["layers"] == 6 and big["hidden"] == 384 and big["heads"] == [12] * 6 and big["ffn"] == [1536] * 6


def test_samples_are_in_the_space_and_valid_for_the_oracle():
    s = SearchSpace()
    rng = random.Random(3)
    seen = set()
    for _ in range(200):
        a = s.sample(rng)
        assert s.contains(a)
        normalize(a)                       # the oracle accepts it (raises ArchitectureError otherwise)
        assert len(a["heads"]) == len(a["ffn"]) == a["layers"]
        seen.add(a["layers"])
    assert seen == set(s.layers)


def test_without_head_dim_heads_must_divide_hidden():
    s = SearchSpace(hidden=(96, 128), heads=(1, 2, 3, 4), head_dim=None).validate()
    assert s.allowed("heads", 128) == [True, True, False, True]
    rng = random.Random(0)
    for _ in range(100):
        a = s.sample(rng)
        assert all(a["hidden"] % h == 0 for h in a["heads"]) and "head_dim" not in a


def test_contains_rejects_outsiders():
    s = SearchSpace()
    a = s.smallest()
    assert s.contains(a)
    assert not s.contains(dict(a, hidden=100))
    assert not s.contains(dict(a, layers=2))            # heads/ffn lists are one long
    assert not s.contains(dict(a, ffn=[100]))


@pytest.mark.parametrize("kw, what", [(dict(layers=()), "'layers' has no choices"),
                                      (dict(ffn=[]), "'ffn' has no choices"),
                                      (dict(hidden=(100,), heads=(3,), head_dim=None), "hidden 100"),
                                      (dict(heads=(0, 2)), "positive"),
                                      (dict(seq=0), "'seq'")])
def test_empty_or_bad_spaces_are_one_clear_error(kw, what):
    with pytest.raises(NasError, match=what):
        SearchSpace(**kw).validate()


def test_size_counts_architectures():
    s = SearchSpace(layers=(1, 2), hidden=(64,), heads=(1, 2), ffn=(128,), head_dim=32)
    assert s.size() == 2 + 4


def test_parse_choices():
    assert parse_choices("1-6", "x") == (1, 2, 3, 4, 5, 6)
    assert parse_choices("128-512:128", "x") == (128, 256, 384, 512)
    assert parse_choices("2,4, 8", "x") == (2, 4, 8)
    for bad in ("a-b", "6-1", "1-6:0", "3:2"):
        with pytest.raises(NasError):
            parse_choices(bad, "--layers")


def test_round_trip_through_a_dict():
    s = SearchSpace(layers=(2, 3), seq=64)
    assert SearchSpace.from_dict(s.to_dict()) == s
    with pytest.raises(NasError, match="unknown search-space key 'depth'"):
        SearchSpace.from_dict({"depth": 3})
