"""A test evaluator: the synthetic score, and one line per call appended to ``log`` (to count evaluations)."""
import json

from lpfc.nas.evaluators.synthetic import evaluate as synthetic


def evaluate(arch, *, log=None, **opts):
    if log:
        with open(log, "a") as f:
            f.write(json.dumps(arch, sort_keys=True) + "\n")
    return synthetic(arch, **opts)


def failing(arch, **opts):
    raise RuntimeError("this evaluator always fails")


def pid(arch, **opts):
    """The worker's process id as the score (to see where candidates ran)."""
    import os

    return float(os.getpid())
