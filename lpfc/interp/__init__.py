"""The numpy reference interpreter: the oracle every pass and target is checked against."""
from .interpreter import check_inputs, evaluate_op, run_function, run_module

__all__ = ["check_inputs", "evaluate_op", "run_function", "run_module"]
