"""Small spaces so that the latency oracle plans few kernel shapes (each new one costs ~0.5 s)."""
import pytest

from lpfc.nas import SearchSpace


@pytest.fixture
def tiny_space():
    return SearchSpace(layers=(1, 2), hidden=(64, 128), heads=(1, 2), ffn=(128, 256), head_dim=32, seq=32)
