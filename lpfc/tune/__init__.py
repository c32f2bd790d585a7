"""Auto-tuning of kernel schedule variants, and the tuning database (see docs/poly.md)."""
from .database import TuningDatabase, TuningWarning, default_path, kernel_signature, target_key
from .tuner import TuneResult, choose_variant, select_variant, tune_kernel

__all__ = ["TuneResult", "choose_variant", "TuningDatabase", "TuningWarning", "default_path", "kernel_signature", "select_variant", "target_key",
           "tune_kernel"]
