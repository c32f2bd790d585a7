"""Imports every pass module so that each registers itself."""
from . import cse, dce, fold_constants  # noqa: F401
