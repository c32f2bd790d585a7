"""Shared fixtures: the zoo cache location and helpers to build small functions."""
import os

import pytest

# Never reach for a model hub: the zoo loads real weights from site-packages only.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def tmp_model_dir(tmp_path):
    return tmp_path
