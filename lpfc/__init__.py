"""lpfc: an optimizing compiler for transformer models on phones.

Public API::

    import lpfc
    module = lpfc.import_onnx("bert.onnx")            # graph IR
    print(lpfc.print_module(module))                   # textual IR
    outs = lpfc.interpret(module, {"input_ids": ids})  # numpy reference interpreter
    lpfc.compile("bert.onnx", "libbert.so")            # a self-contained native library (+ libbert.h)
    sess = lpfc.load("libbert.so", threads=2)          # like onnxruntime.InferenceSession
    outs = sess.run({"input_ids": ids, ...})
"""
from .errors import (InputError, LpfcError, ModelLoadError, ParseError, ShapeError, UnsupportedError,
                     VerificationError)
from .frontend.onnx import import_onnx
from .interp import run_function
from .ir import Module, parse_module, print_module
from .ir.verifier import verify

__version__ = "0.1.0"

from .compiler import CompileResult, compile  # noqa: E402  (shadows the builtin inside this package only)
from .runtime.session import Session, load  # noqa: E402


def interpret(module: Module, feeds, function=None) -> dict:
    """Run a module's function (default: the first) with the numpy reference interpreter.

    ``feeds`` maps input names to arrays; returns outputs keyed by output name.
    """
    return run_function(module.function(function), feeds)


__all__ = ["CompileResult", "Session", "compile", "load",
           "InputError", "LpfcError", "ModelLoadError", "Module", "ParseError", "ShapeError", "UnsupportedError",
           "VerificationError", "import_onnx", "interpret", "parse_module", "print_module", "verify",
           "__version__"]

from .errors import InvalidModelError, LimitError  # noqa: E402  (untrusted models, docs/untrusted-models.md)

__all__ += ["InvalidModelError", "LimitError"]

from .cost import LatencyEstimate, estimate_latency  # noqa: E402  (the latency oracle, docs/cost.md)

__all__ += ["LatencyEstimate", "estimate_latency"]

from . import nas  # noqa: E402  (lpfc.nas.search: compiler-aware architecture search, docs/nas.md)

__all__ += ["nas"]
