"""``lpfc nas``: compiler-aware architecture search (CANAO, issue #15; docs/nas.md).

    import lpfc
    result = lpfc.nas.search(latency_ms=8, target="host", threads=2, trials=200, evaluator="retrieval",
                             out="runs/nas1")
    result.best.arch, result.best.accuracy, result.measured_ms

A controller (an LSTM policy, REINFORCE) proposes BERT architectures from a search space, an evaluator
scores their accuracy cheaply (weights inherited from a trained super-network), lpfc's latency oracle
prices them, and a MnasNet reward feeds both back. torch is imported only when a search runs.
"""
from .reward import Reward
from .search import NasResult, Trial, search
from .space import SearchSpace

__all__ = ["NasResult", "Reward", "SearchSpace", "Trial", "search"]
