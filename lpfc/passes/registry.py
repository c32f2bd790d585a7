"""Imports every pass module so that each registers itself."""
from . import canonicalize, cse, dce, fold_constants, lp_fusion  # noqa: F401
