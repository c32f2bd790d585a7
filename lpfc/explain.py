"""The fusion report behind ``lpfc explain``: what LP-Fusion did to a model.

:func:`explain` imports a model, runs a pipeline (the default one unless told
otherwise) and reports: ONNX nodes, graph ops after the clean-up passes (the
pipeline up to ``lp-fusion``), fused kernels, the computation count before
(the imported graph) and after (the whole pipeline), and every kernel with its
kind, name, the ops it holds (with the ONNX nodes they came from) and the
shapes it reads and writes.  :func:`to_text`, :func:`to_json` and
:func:`to_dot` render the report.  Model strings (node and tensor names) are
data: JSON escapes them, the text form prints them as JSON string literals,
and the DOT form escapes them for Graphviz's quoted strings.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Union

from .errors import LpfcError
from .ir.core import Function, Module, Operation, Value
from .ir.printer import quote
from .progress import Progress, as_progress

NOT_OPS = ("graph.constant", "func.return")


@dataclass
class KernelInfo:
    name: str
    kind: str
    ops: list          # [{"op": "graph.matmul", "node": "/layer.0/MatMul", "op_type": "MatMul"}, ...]
    inputs: list       # ["1x128x384xf32", ...]
    outputs: list
    computations: int
    fused: bool = True


@dataclass
class Report:
    model: str
    pipeline: str
    onnx_nodes: Optional[int]
    graph_ops: int
    kernels: int
    computations_before: int
    computations_after: int
    blocks: list = field(default_factory=list)
    module: Optional[Module] = None

    def as_dict(self) -> dict:
        return {
            "model": self.model,
            "pipeline": self.pipeline,
            "onnx_nodes": self.onnx_nodes,
            "graph_ops": self.graph_ops,
            "kernels": self.kernels,
            "computations_before": self.computations_before,
            "computations_after": self.computations_after,
            "kinds": kind_counts(self.blocks),
            "blocks": [{"name": b.name, "kind": b.kind, "fused": b.fused, "ops": b.ops, "inputs": b.inputs,
                        "outputs": b.outputs, "computations": b.computations} for b in self.blocks],
        }


def kind_counts(blocks) -> dict:
    counts: dict = {}
    for b in blocks:
        counts[b.kind] = counts.get(b.kind, 0) + 1
    return dict(sorted(counts.items()))


def count_onnx_nodes(graph) -> int:
    """Nodes of an ONNX graph, those in subgraphs (If/Loop bodies) included."""
    import onnx

    n = 0
    for node in graph.node:
        n += 1
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                n += count_onnx_nodes(a.g)
            elif a.type == onnx.AttributeProto.GRAPHS:
                n += sum(count_onnx_nodes(g) for g in a.graphs)
    return n


def graph_op_count(fn: Function) -> int:
    return sum(1 for op in fn.body.ops if op.name not in NOT_OPS)


def _type_text(v: Value) -> str:
    t = v.type
    return "x".join(str(d) for d in t.shape) + ("x" if t.shape else "") + t.dtype.value


def _op_entry(op: Operation) -> dict:
    return {"op": op.name, "node": op.location.name, "op_type": op.location.op_type}


def kernel_infos(fn: Function) -> list[KernelInfo]:
    from .passes.lp_fusion.computation_count import block_computations, op_computations
    from .passes.lp_fusion.blocks import kernels

    out = []
    for op in kernels(fn):
        if op.name == "graph.fused":
            inner = [o for o in op.regions[0].block.ops if o.name != "graph.yield"]
            out.append(KernelInfo(str(op.attributes.get("name", "")), str(op.attributes.get("kind", "")),
                                  [_op_entry(o) for o in inner], [_type_text(v) for v in op.operands],
                                  [_type_text(r) for r in op.results], block_computations(op.regions[0].block.ops)))
        else:
            out.append(KernelInfo(op.name.split(".", 1)[-1], "op", [_op_entry(op)],
                                  [_type_text(v) for v in op.operands], [_type_text(r) for r in op.results],
                                  op_computations(op), fused=False))
    return out


def split_pipeline(text: str):
    """(clean-up passes, the rest): the pipeline before its first lp-fusion, and from it on."""
    from .passes import Pipeline

    pipeline = Pipeline.parse(text)
    at = next((i for i, p in enumerate(pipeline.passes) if p.name == "lp-fusion"), len(pipeline.passes))
    return Pipeline(pipeline.passes[:at]), Pipeline(pipeline.passes[at:]), pipeline


def explain(path: str, pipeline: str = "default", input_shapes=None,
            progress: Union[Progress, Callable[[str], object], None] = None) -> Report:
    """Import ``path`` (.onnx or .mlir), run ``pipeline`` and report on the fused graph.

    ``progress``: a :class:`lpfc.progress.Progress` or a callable ``progress(what)`` (lpfc/progress.py)."""
    from .frontend.load import IR_SUFFIXES, load_module
    from .frontend.onnx import import_onnx
    from .frontend.onnx_loader import load_model
    from .passes.lp_fusion.computation_count import computations

    step = as_progress(progress).step
    cleanup, fusion, whole = split_pipeline(pipeline)
    onnx_nodes = None
    if Path(path).suffix in IR_SUFFIXES:
        module = load_module(path, input_shapes)
    else:
        with step(f"importing {Path(path).name}"):
            proto = load_model(path)
            onnx_nodes = count_onnx_nodes(proto.graph)
            module = import_onnx(proto, input_shapes=input_shapes)
    before = computations(module)
    with step(f"running pipeline {whole}"):
        cleanup.run(module)
        graph_ops = sum(graph_op_count(f) for f in module.functions)
        fusion.run(module)
    blocks = [b for f in module.functions for b in kernel_infos(f)]
    return Report(model=Path(path).name, pipeline=str(whole), onnx_nodes=onnx_nodes, graph_ops=graph_ops,
                  kernels=len(blocks), computations_before=before, computations_after=computations(module),
                  blocks=blocks, module=module)


# -- text ------------------------------------------------------------------------------------------------
def _change(before: int, after: int) -> str:
    if not before:
        return ""
    return f" ({100.0 * (after - before) / before:+.1f}%)"


def to_text(r: Report, max_ops: Optional[int] = None) -> str:
    lines = [f"lpfc fusion report for {quote(r.model)}",
             f"  pipeline              {r.pipeline}",
             f"  ONNX nodes            {r.onnx_nodes if r.onnx_nodes is not None else '-'}",
             f"  graph ops (cleaned)   {r.graph_ops}",
             f"  kernels               {r.kernels}"
             + ("  (" + ", ".join(f"{k} {n}" for k, n in kind_counts(r.blocks).items()) + ")" if r.blocks else ""),
             f"  computations before   {r.computations_before:,}",
             f"  computations after    {r.computations_after:,}{_change(r.computations_before, r.computations_after)}",
             ""]
    for b in r.blocks:
        lines.append(f"{b.name}  {b.kind}  {len(b.ops)} op{'s' if len(b.ops) != 1 else ''}  "
                     f"({', '.join(b.inputs)}) -> ({', '.join(b.outputs)})  {b.computations:,} computations")
        shown = b.ops if max_ops is None else b.ops[:max_ops]
        for o in shown:
            where = quote(o["node"]) + (f" ({o['op_type']})" if o["op_type"] else "") if o["node"] else "-"
            lines.append(f"    {o['op']:<22} {where}")
        if len(shown) < len(b.ops):
            lines.append(f"    ... {len(b.ops) - len(shown)} more")
    return "\n".join(lines) + "\n"


def to_json(r: Report) -> str:
    return json.dumps(r.as_dict(), indent=2) + "\n"


# -- Graphviz --------------------------------------------------------------------------------------------
def dot_escape(s: str) -> str:
    """``s`` as the inside of a Graphviz double-quoted string, shown literally.

    Backslashes, quotes and line breaks are escaped (Graphviz would read ``\\N``,
    ``\\G``, ``\\l``, ... as its own escapes); other control characters show as
    ``\\xNN``.  Nothing in the result can end the string or the graph.
    """
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F or ch in "\u2028\u2029":
            out.append(f"\\\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


_KIND_COLOURS = {"attention": "#f4c7c3", "gemm": "#c6dbef", "gemm_layer_norm": "#9ecae1", "embedding": "#c7e9c0",
                 "layer_norm": "#fdd0a2", "elementwise": "#efedf5", "reduction": "#fee391", "softmax": "#fcbba1",
                 "copy": "#f0f0f0", "op": "#ffffff"}


def to_dot(r: Report, max_label_ops: int = 6) -> str:
    """The fused graph as Graphviz DOT: one box per kernel, edges labelled with tensor shapes."""
    if r.module is None:
        raise LpfcError("the report has no module to draw")
    lines = ["digraph lpfc {", "  rankdir=TB;", '  node [shape=box, style="rounded,filled", fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontsize=9];',
             f'  label="{dot_escape(r.model)}: {r.kernels} kernels, {r.computations_after:,} computations";']
    ids: dict[int, str] = {}
    counter = [0]

    def new_id(prefix: str) -> str:
        counter[0] += 1
        return f"{prefix}{counter[0]}"

    for f in r.module.functions:
        for name, a in zip(f.input_names, f.args):
            nid = new_id("in")
            ids[id(a)] = nid
            lines.append(f'  {nid} [shape=ellipse, fillcolor="#ffffff", label="{dot_escape(name)}\\n'
                         f'{dot_escape(_type_text(a))}"];')
        for op in f.body.ops:
            if op.name in NOT_OPS:
                continue
            nid = new_id("n")
            for res in op.results:
                ids[id(res)] = nid
            if op.name == "graph.fused":
                inner = [o for o in op.regions[0].block.ops if o.name != "graph.yield"]
                kind = str(op.attributes.get("kind", ""))
                head = f"{op.attributes.get('name', '')}: {kind}"
                body = [o.name.split(".", 1)[-1] for o in inner[:max_label_ops]]
                if len(inner) > max_label_ops:
                    body.append(f"... {len(inner) - max_label_ops} more")
                tip = "; ".join(f"{o.name} {o.location.name}" for o in inner)
                colour = _KIND_COLOURS.get(kind, "#ffffff")
            else:
                head, body, tip, colour = op.name.split(".", 1)[-1], [], op.location.name, "#ffffff"
            label = "\\n".join(dot_escape(x) for x in [head] + body)
            lines.append(f'  {nid} [label="{label}", tooltip="{dot_escape(tip)}", fillcolor="{colour}"];')
            for v in dict.fromkeys(op.operands):
                src = ids.get(id(v))
                if src is not None:
                    lines.append(f'  {src} -> {nid} [label="{dot_escape(_type_text(v))}"];')
        ret = f.return_op
        if ret is not None:
            for name, v in zip(f.output_names, ret.operands):
                nid = new_id("out")
                lines.append(f'  {nid} [shape=ellipse, fillcolor="#ffffff", label="{dot_escape(name)}"];')
                src = ids.get(id(v))
                if src is not None:
                    lines.append(f'  {src} -> {nid} [label="{dot_escape(_type_text(v))}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def require_dot() -> str:
    """The path of Graphviz's ``dot`` program; a clear error when it is not installed."""
    exe = shutil.which("dot")
    if exe is None:
        raise LpfcError("--svg needs Graphviz's `dot` program, which is not installed",
                        hint="install it (Debian: apt-get install graphviz) or write DOT with --dot FILE")
    return exe


def write_svg(dot_text: str, path: str) -> None:
    """Render DOT to SVG with Graphviz's ``dot`` program."""
    exe = require_dot()
    proc = subprocess.run([exe, "-Tsvg", "-o", str(path)], input=dot_text, text=True, capture_output=True)
    if proc.returncode != 0:
        raise LpfcError(f"dot failed to render {str(path)!r}: {proc.stderr.strip()[:500]}")
