"""The model code generator: kernels + memory plan + weights -> the C++ of one model library.

Given a graph-IR function after the pass pipeline, its static memory plan and
one :class:`~lpfc.codegen.kernel_source.KernelSource` per kernel op, this
module writes

* ``model.cc``: the runtime contract (``lpfc_model_desc.h``): the descriptor
  (inputs, outputs, arena and weight tensors), the weights embedded with
  ``LPFC_INCBIN``, and ``run``, which calls the kernels in program order with
  pointers into the caller's buffers, the arena and the weights;
* ``kernels_N.cc``: the kernels themselves, deduplicated on their code (BERT's
  twelve layers share one function per kernel shape), split into a few files
  so that the C++ compiler builds them in parallel; each exposes its kernels
  to ``model.cc`` through a hidden trampoline;
* ``weights.bin``: every constant a kernel reads, after the kernel's packing
  (``KernelSource.packed``), each 64-byte aligned;
* the C header for host programs (:func:`header_text`).

Model strings (tensor names, the model name) reach the generated code only as
escaped C string literals (:func:`c_string`); identifiers are generated.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..errors import UnsupportedError
from ..ir.attributes import constant_array
from ..ir.core import Function, Operation, Value
from ..ir.types import DType, TensorType
from .kernel_source import KernelSource, headers_and_helpers
from .memory_plan import ARENA_ALIGNMENT, FunctionMemoryPlan, align_up

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"

#: lpfc dtypes -> the runtime's ``lpfc_dtype`` enumerators (ONNX TensorProto numbers).
DTYPE_ENUM = {
    DType.f32: ("LPFC_DTYPE_FLOAT", 1), DType.u8: ("LPFC_DTYPE_UINT8", 2), DType.i8: ("LPFC_DTYPE_INT8", 3),
    DType.u16: ("LPFC_DTYPE_UINT16", 4), DType.i16: ("LPFC_DTYPE_INT16", 5), DType.i32: ("LPFC_DTYPE_INT32", 6),
    DType.i64: ("LPFC_DTYPE_INT64", 7), DType.bool: ("LPFC_DTYPE_BOOL", 9), DType.f16: ("LPFC_DTYPE_FLOAT16", 10),
    DType.f64: ("LPFC_DTYPE_DOUBLE", 11), DType.u32: ("LPFC_DTYPE_UINT32", 12), DType.u64: ("LPFC_DTYPE_UINT64", 13),
}

#: Characters that may appear in a path given to the assembler's ``.incbin "..."`` unescaped.
_SAFE_PATH = re.compile(r"[A-Za-z0-9_./+-]+")


# -- escaping --------------------------------------------------------------------------------

def c_string(text: str) -> str:
    """``text`` as a C/C++ string literal that means exactly its UTF-8 bytes.

    Printable ASCII stays as it is except ``\\``, ``"`` and ``?`` (no trigraphs in C99);
    everything else (newlines, ``*/`` is harmless inside a literal, non-ASCII bytes) becomes a
    three-digit octal escape, which cannot swallow a following digit the way ``\\x`` can.
    A NUL byte would silently shorten the name, so it is refused.
    """
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    if b"\0" in data:
        raise UnsupportedError(f"the name {text!r} contains a NUL character, which a C string cannot hold",
                               hint="rename the tensor in the ONNX model")
    out = ['"']
    for b in data:
        ch = chr(b)
        if ch in '\\"?':
            out.append("\\" + ch)
        elif 0x20 <= b < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\{b:03o}")
    out.append('"')
    return "".join(out)


def c_comment(text: str, limit: int = 80) -> str:
    """``text`` made safe inside a ``/* ... */`` comment on one line (for readers only)."""
    s = "".join(c if 0x20 <= ord(c) < 0x7F else "?" for c in str(text))
    s = s.replace("*/", "*?").replace("/*", "?*").replace("\\", "?")
    return s if len(s) <= limit else s[:limit - 3] + "..."


def c_identifier(text: str, fallback: str = "model") -> str:
    """A C identifier derived from ``text``: ``[A-Za-z0-9_]`` only, not starting with a digit."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", text).strip("_")
    s = re.sub(r"_+", "_", s)
    if not s:
        s = fallback
    if s[0].isdigit():
        s = "m_" + s
    return s


# -- weights ----------------------------------------------------------------------------------

class WeightsBlob:
    """Constants laid out in one file, each at a 64-byte aligned offset; identical bytes stored once."""

    def __init__(self):
        self.arrays: list[np.ndarray] = []
        self.offsets: list[int] = []
        self.size = 0
        self._by_hash: dict[tuple, int] = {}

    def add(self, array: np.ndarray) -> int:
        a = np.ascontiguousarray(array)
        if a.dtype == np.bool_:
            a = a.view(np.uint8)
        data = memoryview(a).cast("B") if a.size else b""
        key = (a.dtype.str, a.nbytes, hashlib.blake2b(data, digest_size=16).digest())
        hit = self._by_hash.get(key)
        if hit is not None:
            return hit
        off = align_up(self.size, ARENA_ALIGNMENT)
        self.arrays.append(a)
        self.offsets.append(off)
        self.size = off + a.nbytes
        self._by_hash[key] = off
        return off

    def write(self, path: Path) -> None:
        with open(path, "wb") as f:
            pos = 0
            for a, off in zip(self.arrays, self.offsets):
                if off > pos:
                    f.write(b"\0" * (off - pos))
                f.write(memoryview(a).cast("B") if a.size else b"")
                pos = off + a.nbytes
            if pos == 0:
                f.write(b"\0")  # .incbin of an empty file is fine, but keep one byte for a stable symbol


# -- the generated model ---------------------------------------------------------------------

@dataclass
class TensorEntry:
    name: str            # the model's name (escaped when emitted)
    type: TensorType
    storage: str         # LPFC_STORAGE_*
    offset: int = 0
    weight_offset: Optional[int] = None


@dataclass
class GeneratedModel:
    sources: list[Path]                 # model.cc and kernels_*.cc
    weights_path: Path
    weights_bytes: int
    unique_kernels: int                 # after deduplication
    kernel_calls: int
    inputs: list[TensorEntry]
    outputs: list[TensorEntry]
    arena_bytes: int
    kinds: dict = field(default_factory=dict)


def kernel_kind(op: Operation) -> str:
    if op.name == "graph.fused":
        return str(op.attributes.get("kind", "fused"))
    return op.name.split(".", 1)[-1]


def kernel_flop(op: Operation) -> int:
    """2·M·N·K summed over the matmuls / gemms a kernel op computes (what GFLOP/s in profiles counts)."""
    total = 0
    stack = [op]
    while stack:
        o = stack.pop()
        for r in o.regions:
            stack.extend(r.block.ops)
        if o.name in ("graph.matmul", "graph.gemm") and o.operands and o.results:
            a = o.operands[0].type.shape
            if not a:
                continue
            k = a[0] if o.name == "graph.gemm" and o.attributes.get("trans_a", False) else a[-1]
            total += 2 * int(np.prod(o.results[0].type.shape, dtype=np.int64)) * int(k)
    return total


#: graph ops whose operand is an index tensor (checked at run time by the kernels that load it)
INDEX_OPS = {"graph.gather": "Gather", "graph.gather_elements": "GatherElements", "graph.gather_nd": "GatherND",
             "graph.scatter_elements": "ScatterElements", "graph.scatter_nd": "ScatterND"}


def index_sites(op: Operation, i: int) -> str:
    """What a kernel's index-fault message names: its index-taking ops by ONNX node (and the kernel call)."""
    sites, stack = [], [op]
    while stack:
        o = stack.pop(0)
        for r in o.regions:
            stack.extend(r.block.ops)
        if o.name in INDEX_OPS:
            loc = o.location
            what = (loc.op_type if loc and loc.op_type else INDEX_OPS[o.name])
            sites.append(f"{what} node {loc.name!r}" if loc and loc.name else what)
    sites = list(dict.fromkeys(sites)) or ["an index-taking op"]
    text = " or ".join(sites[:4]) + (f" (or {len(sites) - 4} more)" if len(sites) > 4 else "")
    return f"{text} (kernel #{i}, {kernel_kind(op)})"


def _shape_text(op: Operation) -> str:
    def one(vs):
        return ",".join("x".join(str(d) for d in v.type.shape) or "scalar" for v in vs)
    return f"{one(op.operands)}->{one(op.results)}"


def profile_line(i: int, op: Operation, ks: KernelSource) -> str:
    """One kernel call's line in the library's profile table (tab-separated, printable ASCII):
    name, emitter, kind, shapes, flop, variant."""
    def clean(t):
        return "".join(c if 0x20 <= ord(c) < 0x7F else "?" for c in str(t)).replace("\t", " ")[:200]
    name = op.attributes.get("name", "") or f"k{i}"
    return "\t".join(clean(x) for x in (name, ks.emitter or "?", kernel_kind(op), _shape_text(op),
                                         kernel_flop(op), ks.variant or "-"))


def _dtype_enum(t: TensorType, what: str) -> str:
    try:
        return DTYPE_ENUM[t.dtype][0]
    except KeyError:
        raise UnsupportedError(f"{what} has dtype {t.dtype}, which the C runtime does not know") from None


def _normalise_symbol(code: str, symbol: str) -> str:
    return re.sub(rf"\b{re.escape(symbol)}\b", "@KERNEL@", code)


def _render(template: str, **ctx) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, autoescape=False)
    return env.get_template(template).render(**ctx)


def write_kernel_files(kernels: list, out_dir: Path, chunks: int) -> list:
    """Writes the C++ kernels into ``kernels_<i>.cc``, spread over at most ``chunks`` translation units of
    about equal size (the C++ compiler is the slow part of a build; the files compile in parallel), each
    file keeping the kernels' order.  Returns the paths."""
    if not kernels:
        return []
    headers, helpers = headers_and_helpers(kernels)
    files: list = [[] for _ in range(max(1, min(chunks, len(kernels))))]
    sizes = [0] * len(files)
    for ks in sorted(kernels, key=lambda k: -len(k.code)):
        i = sizes.index(min(sizes))
        files[i].append(ks)
        sizes[i] += len(ks.code)
    paths = []
    for i, group in enumerate(files):
        group.sort(key=kernels.index)
        p = out_dir / f"kernels_{i}.cc"
        p.write_text(_render("model_kernels.cc.j2", kernels=group, headers=headers, helpers=helpers, file_index=i))
        paths.append(p)
    return paths


# -- what both generators share (this one and ocl_model.generate_ocl_model) -------------------

def check_build_dir(out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    if not _SAFE_PATH.fullmatch(str(out_dir.resolve())):
        raise UnsupportedError(f"build directory {str(out_dir)!r} has characters the assembler's .incbin cannot take",
                               hint="set TMPDIR to a plain path")
    return out_dir


class ModelTensors:
    """The weights blob and the descriptor's tensor table: the arena tensors (one per alias class, for
    validation and debugging) first, then each weight as a kernel call first reads it.  A weight is stored
    once (its alias root); a packed copy (``KernelSource.packed``) is stored per call, identical bytes once."""

    def __init__(self, plan: FunctionMemoryPlan):
        self.storage = plan.storage
        self.weights = WeightsBlob()
        self.tensors: list[TensorEntry] = []
        self._offset: dict[Value, int] = {}        # unpacked constants (alias roots) -> blob offset
        for b, buf in enumerate(plan.buffers):
            ttype = next((v.type for v, st in self.storage.items() if st.kind == "arena" and st.buffer == b), None)
            if buf.size and ttype is not None:
                self.tensors.append(TensorEntry(buf.name or f"t{b}", ttype, "LPFC_STORAGE_ARENA",
                                                offset=plan.arena.offsets[b]))

    def weight_offset(self, v: Value, pack=None) -> int:
        """The blob offset of constant ``v`` (through its alias root), or of ``pack`` applied to it."""
        root = self.storage[v].op.results[0]
        if pack is not None:
            return self.weights.add(np.asarray(pack(constant_array(root.op.attributes["value"]).reshape(v.type.shape))))
        off = self._offset.get(root)
        if off is None:
            off = self._offset[root] = self.weights.add(constant_array(root.op.attributes["value"]))
            self.tensors.append(TensorEntry(root.name_hint or f"weight{len(self._offset)}", root.type,
                                            "LPFC_STORAGE_WEIGHT", weight_offset=off))
        return off


def caller_entries(fn: Function) -> tuple[list, list]:
    """The model's inputs and outputs (checked: the runtime knows their dtypes)."""
    def entry(name: str, t: TensorType, what: str) -> TensorEntry:
        _dtype_enum(t, what)
        return TensorEntry(name, t, "LPFC_STORAGE_CALLER")

    return ([entry(n, a.type, f"input {n!r}") for n, a in zip(fn.input_names, fn.args)],
            [entry(n, v.type, f"output {n!r}") for n, v in zip(fn.output_names, fn.outputs)])


def descriptor_rows(entries) -> list:
    """TensorEntries as the rows of the descriptor's tensor tables (the templates' ``table``)."""
    return [dict(name=c_string(e.name), dtype=_dtype_enum(e.type, f"tensor {e.name!r}"), rank=len(e.type.shape),
                 dims=list(e.type.shape), size=e.type.nbytes, storage=e.storage, offset=e.offset,
                 data=f"lpfc_weights + {e.weight_offset}" if e.weight_offset is not None else "nullptr")
            for e in entries]


def dedup_key(ks: KernelSource) -> str:
    """Kernels with equal keys are one function (or one set of device kernels): the code with the symbol
    normalised (for device kernels also inside SYMBOL_suffix names), the helpers, headers and launches."""
    if ks.is_device:
        code = re.sub(rf"\b{re.escape(ks.symbol)}(?![0-9])", "@KERNEL@", ks.code)
        return code + "\0" + "\0".join(ks.helpers) + "\0" + "\0".join(ks.headers) + "\0" + repr(ks.launches)
    return _normalise_symbol(ks.code, ks.symbol) + "\0" + "\0".join(ks.helpers) + "\0" + "\0".join(ks.headers)


def generate_model(fn: Function, plan: FunctionMemoryPlan, kernels: Sequence[tuple[Operation, KernelSource]],
                   out_dir: Path, model_name: str, *, chunks: int = 2) -> GeneratedModel:
    """Writes model.cc, kernels_*.cc and weights.bin into ``out_dir``. model.cc embeds the weights with
    ``.incbin "weights.bin"`` (found through ``-I out_dir``) unless ``LPFC_WEIGHTS_FILE`` names the file:
    lpfc's own build passes the absolute path, which must be assembler-safe."""
    out_dir = check_build_dir(out_dir)
    storage = plan.storage
    model_tensors = ModelTensors(plan)

    def ptr(v: Value, pack=None) -> str:
        st = storage[v]
        if st.kind == "input":
            return f"args->inputs[{st.index}]"
        if st.kind == "output":
            return f"args->outputs[{st.index}]"
        if st.kind == "arena":
            return f"A + {st.offset}"
        return f"W + {model_tensors.weight_offset(v, pack)}"

    # Kernels: deduplicate on code with the symbol normalised.
    unique: dict[str, KernelSource] = {}
    kinds: dict[str, int] = {}
    calls = []
    profile_lines = []
    for op, ks in kernels:
        profile_lines.append(profile_line(len(profile_lines), op, ks))
        first = unique.setdefault(dedup_key(ks), ks)
        kinds[kernel_kind(op)] = kinds.get(kernel_kind(op), 0) + 1
        ins = [ptr(v, ks.packed.get(i)) for i, v in enumerate(op.operands)]
        outs = [ptr(v) for v in op.results]
        calls.append(dict(symbol=first.symbol, ins=ins, outs=outs, kind=kernel_kind(op),
                          checks=c_string(index_sites(op, len(calls))) if first.index_checks else None,
                          label=c_comment(f"{op.attributes.get('name', '')} {kernel_kind(op)}".strip()),
                          node=c_comment(op.location.name if op.location else "")))

    copies = []
    for j, v in plan.output_copies:
        copies.append(dict(dst=f"args->outputs[{j}]", src=ptr(v), nbytes=v.type.nbytes))

    inputs, outputs = caller_entries(fn)
    weights = model_tensors.weights
    uniq = list(unique.values())
    weights_path = out_dir / "weights.bin"
    weights_blob_size = weights.size
    sources = write_kernel_files(uniq, out_dir, chunks)
    model_cc = _render("model.cc.j2", model_name=c_string(model_name), model_comment=c_comment(model_name),
                       weights_file=weights_path.name, inputs=descriptor_rows(inputs),
                       outputs=descriptor_rows(outputs), tensors=descriptor_rows(model_tensors.tensors), arena_bytes=plan.arena_bytes, calls=calls, copies=copies,
                       kernel_symbols=[k.symbol for k in uniq], has_weights=True,
                       profile_info=c_string("".join(line + "\n" for line in profile_lines)))
    (out_dir / "model.cc").write_text(model_cc)
    sources.insert(0, out_dir / "model.cc")
    weights.write(weights_path)
    return GeneratedModel(sources, weights_path, weights_blob_size, len(uniq), len(calls), inputs, outputs,
                          plan.arena_bytes, kinds)


# -- the C header for host programs ----------------------------------------------------------

def header_text(gen: GeneratedModel, prefix: str, library_name: str, model_file: str) -> str:
    """The generated header: the model's inputs and outputs as macros, plus the runtime's C API."""
    from .toolchain import runtime_include_dir

    prefix = c_identifier(prefix).upper()

    def rows(entries):
        out = []
        for e in entries:
            out.append(dict(name=c_string(e.name), dtype=DTYPE_ENUM[e.type.dtype][0], rank=len(e.type.shape),
                            dims=", ".join(str(d) for d in e.type.shape) or "0", size=e.type.nbytes,
                            elements=int(np.prod(e.type.shape, dtype=np.int64)),
                            desc=f"{e.type.dtype.numpy.name} [{', '.join(str(d) for d in e.type.shape)}]"))
        return out

    runtime_h = (runtime_include_dir() / "lpfc_runtime.h").read_text()
    return _render("model.h.j2", prefix=prefix, guard=f"LPFC_GENERATED_{prefix}_H", inputs=rows(gen.inputs),
                   outputs=rows(gen.outputs), arena_bytes=gen.arena_bytes, weights_bytes=gen.weights_bytes,
                   library=c_comment(library_name), model_file=c_comment(model_file), runtime_h=runtime_h)


__all__ = ["DTYPE_ENUM", "INDEX_OPS", "index_sites", "GeneratedModel", "WeightsBlob", "c_comment", "c_identifier", "c_string",
           "generate_model", "header_text", "kernel_flop", "kernel_kind", "profile_line"]
