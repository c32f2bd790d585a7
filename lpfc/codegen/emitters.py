"""Imports every kernel emitter module so that each registers itself (see kernel_source.py)."""
