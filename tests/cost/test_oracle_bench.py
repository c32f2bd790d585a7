"""bench/oracle.py's held-out architectures: valid, reproducible, within the NAS space, not calibration models."""
import json
import random

from bench.oracle import SPACES, draw_arch
from lpfc.cost.arch import normalize
from lpfc.cost.calibrate import CALIBRATION_ARCHS


def test_held_out_archs_are_valid_and_in_the_space():
    for name, space in SPACES.items():
        rng = random.Random(13)
        for _ in range(200):
            a = normalize(draw_arch(rng, space))
            assert space["layers"][0] <= a["layers"] <= space["layers"][1]
            assert space["hidden"][0] <= a["hidden"] <= space["hidden"][1]
            assert all(2 <= h <= 12 and a["hidden"] % h == 0 for h in a["heads"])
            assert all(space["ffn"][0] <= f <= space["ffn"][1] for f in a["ffn"])
            assert space["seq"][0] <= a["seq"] <= space["seq"][1]


def test_draws_are_reproducible_and_not_calibration_models():
    a = [draw_arch(random.Random(13), SPACES["small"]) for _ in range(3)]
    b = [draw_arch(random.Random(13), SPACES["small"]) for _ in range(3)]
    assert a == b
    calib = {json.dumps(c, sort_keys=True) for c in CALIBRATION_ARCHS}
    rng = random.Random(13)
    assert not any(json.dumps(draw_arch(rng, SPACES["small"]), sort_keys=True) in calib for _ in range(100))
