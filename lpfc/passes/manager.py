"""Passes, pass options, and textual pass pipelines.

A pass is a dataclass with a kebab-case ``name`` (its file and class names agree:
``lp_fusion`` / ``LPFusion`` / ``lp-fusion``), its options as typed fields and a
``run(module)`` method.  Which passes exist is one ordered table,
:data:`lpfc.passes.registry.PASSES` (no registration by import side effect).
Pipelines are written as in mlir-opt; an option's key is its field name in
kebab-case (field ``max_block_ops``, key ``max-block-ops``)::

    canonicalize,cse,lp-fusion{max-block-ops=64 algebra=true}
"""
from __future__ import annotations

import dataclasses
import re
import sys
import time
import typing
from dataclasses import dataclass, field
from typing import Callable, ClassVar, Optional, TextIO

from ..errors import LpfcError, PipelineError
from ..ir.core import Module
from .registry import get_all_passes

# The pipeline `lpfc compile` and `--pipeline default` use.
DEFAULT_PIPELINE = "canonicalize,fold-constants,cse,dce,lp-fusion,dce"


@dataclass(frozen=True)
class Option:
    """One pass option as pipelines and ``lpfc opt --list-passes`` see it (read from the pass's field)."""
    type: type
    default: object
    help: str = ""


def option(default, help: str = ""):
    """Declare a pass option: a dataclass field with a default and a help line."""
    return field(default=default, metadata={"help": help})


def pass_options(cls) -> dict[str, Option]:
    """``cls``'s options by pipeline key (field names in kebab-case), in field order."""
    hints = typing.get_type_hints(cls)
    return {f.name.replace("_", "-"): Option(hints[f.name], f.default, f.metadata.get("help", ""))
            for f in dataclasses.fields(cls)}


class _Options:
    """``Pass.options`` (on the class and on instances): :func:`pass_options` of the class."""

    def __get__(self, obj, cls) -> dict[str, Option]:
        return pass_options(cls)


def _no_option(cls, key: str) -> PipelineError:
    opts = cls.options
    return PipelineError(f"pass {cls.name!r} has no option {key!r}"
                         + (f"; its options are {', '.join(sorted(opts))}" if opts else "; it takes no options"))


@dataclass
class Pass:
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    options = _Options()  # not annotated: a descriptor, not a dataclass field

    @classmethod
    def from_options(cls, values: dict[str, object]) -> "Pass":
        """The pass with options given by pipeline key (``{"max-elements": 12}``)."""
        for key in values:
            if key not in cls.options:
                raise _no_option(cls, key)
        return cls(**{k.replace("-", "_"): v for k, v in values.items()})

    def option(self, key: str):
        """An option's value by pipeline key."""
        if key not in self.options:
            raise _no_option(type(self), key)
        return getattr(self, key.replace("-", "_"))

    def run(self, module: Module) -> None:
        raise NotImplementedError

    def __str__(self) -> str:
        changed = {k: self.option(k) for k, o in self.options.items() if self.option(k) != o.default}
        if not changed:
            return self.name
        return self.name + "{" + " ".join(f"{k}={_format_value(v)}" for k, v in changed.items()) + "}"


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
        registry = get_all_passes()
        passes = []
        for item in _split_top_level(text.strip()):
            m = re.fullmatch(r"\s*([A-Za-z0-9\-_]+)\s*(?:\{(.*)\})?\s*", item, re.S)
            if not m:
                raise PipelineError(f"cannot parse pipeline element {item!r} (expected name or name{{key=value}})")
            name, opts = m.group(1), m.group(2)
            if name == "default" and opts is None:
                passes.extend(Pipeline.parse(DEFAULT_PIPELINE).passes)
                continue
            load = registry.get(name)
            if load is None:
                raise PipelineError(f"unknown pass {name!r}; known passes: {', '.join(sorted(registry))}")
            cls = load()
            values = {}
            for kv in re.split(r"[\s,]+", opts.strip()) if opts and opts.strip() else []:
                key, sep, val = kv.partition("=")
                if not sep:
                    raise PipelineError(f"option {kv!r} of pass {name!r} is not key=value")
                opt = cls.options.get(key)
                if opt is None:
                    raise _no_option(cls, key)
                values[key] = _parse_value(val, opt, name, key)
            passes.append(cls.from_options(values))
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
