"""Passes, their registry, and textual pass pipelines.

A pass is a class with a kebab-case ``name`` (its file and class names agree:
``lp_fusion.py`` / ``LPFusion`` / ``lp-fusion``), declared ``options`` and a
``run(module)`` method.  Pipelines are written as in mlir-opt::

    canonicalize,cse,lp-fusion{max-block-ops=64 fold-weights=true}
"""
from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, ClassVar, Optional, TextIO

from ..errors import LpfcError, PipelineError
from ..ir.core import Module

PASSES: dict[str, type["Pass"]] = {}

# The pipeline `lpfc compile` and `--pipeline default` use.
DEFAULT_PIPELINE = "canonicalize,fold-constants,cse,dce,lp-fusion,dce"


@dataclass(frozen=True)
class Option:
    type: type
    default: object
    help: str = ""


class Pass:
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    options: ClassVar[dict[str, Option]] = {}

    def __init__(self, **values):
        self.values = {k: o.default for k, o in self.options.items()}
        for k, v in values.items():
            if k not in self.options:
                raise PipelineError(f"pass {self.name!r} has no option {k!r}"
                                    + (f"; its options are {', '.join(sorted(self.options))}" if self.options
                                       else "; it takes no options"))
            self.values[k] = v

    def option(self, key: str):
        return self.values[key]

    def run(self, module: Module) -> None:
        raise NotImplementedError

    def __str__(self) -> str:
        changed = {k: v for k, v in self.values.items() if v != self.options[k].default}
        if not changed:
            return self.name
        return self.name + "{" + " ".join(f"{k}={_format_value(v)}" for k, v in changed.items()) + "}"


def register_pass(cls):
    if not re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", cls.name):
        raise ValueError(f"pass name {cls.name!r} is not kebab-case")
    if cls.name in PASSES:
        raise ValueError(f"pass {cls.name!r} registered twice")
    PASSES[cls.name] = cls
    return cls


def registered_passes() -> dict[str, type[Pass]]:
    from . import registry  # noqa: F401  (imports every pass module)
    return dict(PASSES)


def _format_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _parse_value(text: str, opt: Option, pass_name: str, key: str):
    try:
        if opt.type is bool:
            if text not in ("true", "false", "1", "0"):
                raise ValueError
            return text in ("true", "1")
        return opt.type(text)
    except ValueError:
        raise PipelineError(f"option {key}={text!r} of pass {pass_name!r} is not a valid "
                            f"{opt.type.__name__}") from None


@dataclass
class PassRecord:
    name: str
    seconds: float
    ops_before: int
    ops_after: int


@dataclass
class Pipeline:
    passes: list = field(default_factory=list)

    @staticmethod
    def parse(text: str) -> "Pipeline":
        """Parse ``a,b{k=v k2=v2},c``; ``default`` expands to the default pipeline."""
        registry = registered_passes()
        passes = []
        for item in _split_top_level(text.strip()):
            m = re.fullmatch(r"\s*([A-Za-z0-9\-_]+)\s*(?:\{(.*)\})?\s*", item, re.S)
            if not m:
                raise PipelineError(f"cannot parse pipeline element {item!r} (expected name or name{{key=value}})")
            name, opts = m.group(1), m.group(2)
            if name == "default" and opts is None:
                passes.extend(Pipeline.parse(DEFAULT_PIPELINE).passes)
                continue
            cls = registry.get(name)
            if cls is None:
                raise PipelineError(f"unknown pass {name!r}; known passes: {', '.join(sorted(registry))}")
            values = {}
            for kv in re.split(r"[\s,]+", opts.strip()) if opts and opts.strip() else []:
                key, sep, val = kv.partition("=")
                if not sep:
                    raise PipelineError(f"option {kv!r} of pass {name!r} is not key=value")
                opt = cls.options.get(key)
                if opt is None:
                    raise PipelineError(f"pass {name!r} has no option {key!r}"
                                        + (f"; its options are {', '.join(sorted(cls.options))}" if cls.options
                                           else "; it takes no options"))
                values[key] = _parse_value(val, opt, name, key)
            passes.append(cls(**values))
        return Pipeline(passes)

    def __str__(self) -> str:
        return ",".join(str(p) for p in self.passes)

    def run(self, module: Module, verify_each: bool = False, print_ir_after_all: bool = False,
            timing: bool = False, out: TextIO = sys.stderr,
            progress: Optional[Callable[[str], None]] = None) -> list[PassRecord]:
        """Run every pass in order on ``module`` (in place); returns per-pass records."""
        from ..ir.printer import print_module
        from ..ir.verifier import verify

        records = []
        for p in self.passes:
            if progress:
                progress(p.name)
            before = _count_ops(module)
            t0 = time.perf_counter()
            p.run(module)
            dt = time.perf_counter() - t0
            records.append(PassRecord(str(p), dt, before, _count_ops(module)))
            if verify_each:
                try:
                    verify(module)
                except LpfcError as e:
                    raise PipelineError(f"IR is invalid after pass {p.name!r}: {e}") from None
            if print_ir_after_all:
                print(f"// -----// IR Dump After {p.name} //----- //", file=out)
                out.write(print_module(module, resources="none"))
        if timing:
            print_timing(records, out)
        return records


def print_timing(records: list[PassRecord], out: TextIO = sys.stderr) -> None:
    total = sum(r.seconds for r in records) or 1e-12
    print("===-------------------------------------------------------------===", file=out)
    print("                      Pass execution timing report", file=out)
    print("===-------------------------------------------------------------===", file=out)
    print(f"  {'time (s)':>9} {'%':>6}  {'ops':>13}  pass", file=out)
    for r in records:
        print(f"  {r.seconds:9.4f} {100 * r.seconds / total:5.1f}%  {r.ops_before:5d} -> {r.ops_after:5d}  {r.name}",
              file=out)
    print(f"  {total:9.4f} 100.0%                 total", file=out)


def _count_ops(module: Module) -> int:
    return sum(1 for f in module.functions for _ in f.walk())


def _split_top_level(text: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                raise PipelineError(f"unbalanced '}}' in pipeline {text!r}")
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth:
        raise PipelineError(f"unbalanced '{{' in pipeline {text!r}")
    parts.append("".join(cur))
    if any(not p.strip() for p in parts):
        raise PipelineError(f"empty element in pipeline {text!r}")
    return parts
