"""The latency oracle (docs/cost.md): lpfc predicts how fast it will run a model, from the exact kernels it
will emit and a per-kernel cost model calibrated on this machine.

    lpfc.estimate_latency("bert.onnx")                                          # an ONNX path
    lpfc.estimate_latency({"layers": 4, "hidden": 512, "heads": 8, "ffn": 2048, "seq": 128})  # a dict

Sits above codegen: it plans with the frontend, passes and emitters, and measures with lpfc.compile and
lpfc.runtime.session.
"""
from .analytic import UncalibratedWarning
from .arch import build_encoder, normalize
from .estimate import KernelEstimate, LatencyEstimate, estimate_latency

__all__ = ["KernelEstimate", "LatencyEstimate", "build_encoder", "estimate_latency", "normalize", "UncalibratedWarning"]
