"""What the OpenCL emitters share: launches, the kernel-argument convention, f32 expressions, the base class.

A device kernel (``KernelSource.launches`` non-empty) is OpenCL C 1.2.  Every tensor argument is
passed as two kernel parameters, a ``__global uchar *`` buffer and a ``uint`` byte offset (the
runtime's ``lpfc_ocl_launch``: the device arena or the weights buffer, ``lpfc/c_runtime/opencl``), in the
order the launch lists them; the kernel turns them into typed pointers with :func:`param` and
:func:`bind`.  Sizes are compile-time constants printed into the code, so kernels of identical
shapes are identical and the model generator keeps one copy.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from ..ir.types import DType
from .kernel_source import StructuralEmitter

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class OclLaunch:
    """One ``clEnqueueNDRangeKernel``: kernel ``SYMBOL + suffix`` on ``args`` (("in", i) / ("out", j))."""
    suffix: str
    args: tuple
    global_size: tuple
    local_size: Optional[tuple] = None


@functools.lru_cache(maxsize=None)
def _jinja_env():
    import jinja2
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)), undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, autoescape=False)


def render(template: str, **kw) -> str:
    return _jinja_env().get_template(template).render(**kw)


@functools.lru_cache(maxsize=None)
def preamble() -> str:
    """The helpers every program starts with (``templates/ocl_common.cl.j2``)."""
    return render("ocl_common.cl.j2")


def param(name: str) -> str:
    """The two kernel parameters of tensor ``name``."""
    return f"__global uchar *{name}_buf, uint {name}_off"


def bind(name: str, ctype: str = "float", const: bool = True) -> str:
    """``ctype *name`` from its two parameters."""
    q = "const " if const else ""
    return f"__global {q}{ctype} *{name} = (__global {q}{ctype} *)({name}_buf + {name}_off);"


def f32_literal(v: float) -> str:
    import numpy as np
    v = float(v)
    if math.isnan(v):
        return "NAN"
    if math.isinf(v):
        return "INFINITY" if v > 0 else "(-INFINITY)"
    text = str(np.float32(v))
    if "e" not in text and "." not in text and "inf" not in text:
        text += ".0"
    return f"{text}f" if text[0] != "-" else f"({text}f)"


_UNARY = {"exp": "exp", "log": "log", "sqrt": "sqrt", "tanh": "tanh", "sin": "sin", "cos": "cos", "erf": "erf",
          "floor": "floor", "ceil": "ceil", "round": "rint", "abs": "fabs", "sigmoid": "lpfc_sigmoid",
          "relu": "lpfc_relu", "identity": "", "neg": "-", "reciprocal": "1.0f / "}


def ocl_expr(op, args: Sequence[str]) -> Optional[str]:
    """An OpenCL C f32 expression for element-wise ``op`` applied to f32 ``args``, or None if not covered."""
    n = op.name[len("graph."):] if op.name.startswith("graph.") else op.name
    if any(v.type.dtype != DType.f32 for v in [*op.operands, *op.results]):
        return None
    a = [f"({x})" for x in args]
    if n in ("add", "sub", "mul", "div") and len(a) == 2:
        return f"({a[0]} {dict(add='+', sub='-', mul='*', div='/')[n]} {a[1]})"
    if n in ("max", "min") and len(a) == 2:
        return f"lpfc_{n}({args[0]}, {args[1]})"
    if n == "pow" and len(a) == 2:
        return f"pow({args[0]}, {args[1]})"
    if n in _UNARY and len(a) == 1:
        f = _UNARY[n]
        return f"({f}{a[0]})" if f in ("", "-", "1.0f / ") else f"{f}({args[0]})"
    if n == "gelu" and len(a) == 1:
        mode = op.attributes.get("approximate", "none")
        return {"none": f"lpfc_gelu({args[0]})", "tanh": f"lpfc_gelu_tanh({args[0]})"}.get(mode)
    if n == "leaky_relu" and len(a) == 1:
        return f"lpfc_leaky_relu({args[0]}, {f32_literal(op.attributes.get('alpha', 0.01))})"
    if n == "clip" and len(a) == 1:
        lo, hi = op.attributes.get("min"), op.attributes.get("max")
        e = args[0]
        if lo is not None:
            e = f"lpfc_max({e}, {f32_literal(lo)})"
        if hi is not None:
            e = f"lpfc_min({e}, {f32_literal(hi)})"
        return e
    return None


class OclEmitter(StructuralEmitter):
    """Base of the OpenCL emitters: accepts only the opencl target, and only what ``analyse`` recognises
    (and :meth:`supported` allows); everything else falls to the next emitter (the generic one runs it
    on the host between device kernels).  Variants are picked by the tuning database or the default
    (``measurable = False``: ``--tune`` does not time OpenCL kernels yet)."""

    opencl = True
    measurable = False


__all__ = ["OclEmitter", "OclLaunch", "bind", "f32_literal", "ocl_expr", "param", "preamble", "render"]
