"""The model code generator for the opencl target: model.cc (host glue), kernels.cl, host kernels, weights.

Like :func:`lpfc.codegen.model_gen.generate_model`, plus:

* ``kernels.cl``: the device kernels (``KernelSource.launches``), deduplicated on their code, after
  the shared helpers (``templates/ocl_common.cl.j2``); embedded into the library with ``.incbin`` and
  built by the runtime (``lpfc/c_runtime/opencl/lpfc_opencl.c``) on first use, then cached as a binary;
* the device buffer "D": the arena at offset 0, then one 64-byte aligned slot per model input and
  output.  ``run`` writes the inputs into their slots, enqueues the kernels in program order on one
  in-order queue, and reads the outputs back;
* kernels no OpenCL emitter takes (the generic emitter's C++) run on the host between device kernels:
  consecutive ones share one blocking map of D (zero-copy on PoCL's CPU device; a copy on a GPU).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from ..errors import UnsupportedError
from ..ir.core import Function, Operation, Value
from .kernel_source import KernelSource, headers_and_helpers
from .memory_plan import ARENA_ALIGNMENT, FunctionMemoryPlan, align_up
from .model_gen import (GeneratedModel, ModelTensors, _render, c_comment, c_string, caller_entries, check_build_dir,
                        dedup_key, descriptor_rows, index_sites, kernel_kind, write_kernel_files)
from .ocl_common import preamble

#: bytes of one device fault slot: int flag (+ pad), long index, long axis length, pad
FAULT_SLOT = 32


def generate_ocl_model(fn: Function, plan: FunctionMemoryPlan, kernels: Sequence[tuple[Operation, KernelSource]],
                       out_dir: Path, model_name: str, *, chunks: int = 2) -> GeneratedModel:
    out_dir = check_build_dir(out_dir)
    storage = plan.storage
    model_tensors = ModelTensors(plan)

    # D: the arena, then the input and output slots.
    d_size = align_up(plan.arena_bytes, ARENA_ALIGNMENT)
    in_slot, out_slot = [], []
    for a in fn.args:
        in_slot.append(d_size)
        d_size = align_up(d_size + a.type.nbytes, ARENA_ALIGNMENT)
    for v in fn.outputs:
        out_slot.append(d_size)
        d_size = align_up(d_size + v.type.nbytes, ARENA_ALIGNMENT)
    # then one fault slot per device call that checks indices (int flag, long index, long axis length;
    # FAULT_SLOT bytes each), zeroed at the start of a run and read back with the outputs
    n_checked = sum(1 for _, ks in kernels if ks.is_device and ks.index_checks)
    fault_base = d_size
    d_size = align_up(d_size + FAULT_SLOT * n_checked, ARENA_ALIGNMENT)

    def where(v: Value, pack=None) -> tuple:
        """("D" | "W", byte offset)"""
        st = storage[v]
        if st.kind == "input":
            return "D", in_slot[st.index]
        if st.kind == "output":
            return "D", out_slot[st.index]
        if st.kind == "arena":
            return "D", st.offset
        return "W", model_tensors.weight_offset(v, pack)

    unique: dict = {}
    kinds: dict = {}
    calls = []
    n_faults = 0
    for op, ks in kernels:
        first = unique.setdefault(dedup_key(ks), ks)
        kinds[kernel_kind(op)] = kinds.get(kernel_kind(op), 0) + 1
        locs = {("in", i): where(v, ks.packed.get(i)) for i, v in enumerate(op.operands)}
        locs.update({("out", j): where(v) for j, v in enumerate(op.results)})
        label = c_comment(f"{op.attributes.get('name', '')} {kernel_kind(op)}".strip())
        node = c_comment(op.location.name if op.location else "")
        checks = c_string(index_sites(op, len(calls))) if ks.index_checks else None
        if ks.is_device and ks.index_checks:
            locs[("fault", 0)] = ("D", fault_base + FAULT_SLOT * n_faults)
        if ks.is_device:
            launches = [dict(kernel=first.symbol + ln.suffix, args=[locs[a] for a in ln.args],
                             dims=len(ln.global_size), glob=list(ln.global_size),
                             local=list(ln.local_size) if ln.local_size else None) for ln in ks.launches]
            calls.append(dict(device=True, symbol=first.symbol, launches=launches, label=label, node=node,
                              checks=checks, fault=n_faults if checks else None))
            n_faults += 1 if checks else 0
        else:
            def hp(loc):
                return f"H + {loc[1]}" if loc[0] == "D" else f"W + {loc[1]}"
            calls.append(dict(device=False, symbol=first.symbol, label=label, node=node, checks=checks,
                              index_checks=first.index_checks,
                              ins=[hp(locs[("in", i)]) for i in range(len(op.operands))],
                              outs=[hp(locs[("out", j)]) for j in range(len(op.results))]))
    for i, c in enumerate(calls):       # consecutive host kernels share one map of D
        if not c["device"]:
            c["map"] = i == 0 or calls[i - 1]["device"]
            c["unmap"] = i + 1 == len(calls) or calls[i + 1]["device"]

    # kernels.cl
    device_ks = [k for k in unique.values() if k.is_device]
    host_ks = [k for k in unique.values() if not k.is_device]
    cl_parts = ["// Generated by lpfc: the OpenCL C 1.2 kernels of the model " + c_comment(model_name) + ". Do not edit.",
                preamble()]
    _, cl_helpers = headers_and_helpers(device_ks)
    cl_parts += list(cl_helpers)
    kernel_names, kernel_index = [], {}
    for k in device_ks:
        cl_parts.append(f"// ---- {k.symbol}" + (f" (variant {k.variant})" if k.variant else ""))
        cl_parts.append(k.code)
    cl_text = "\n".join(cl_parts) + "\n"
    lines = cl_text.split("\n")
    kernel_lines = []
    for k in device_ks:
        for ln in k.launches:
            name = k.symbol + ln.suffix
            if name in kernel_index:
                continue
            pat = re.compile(rf"\bvoid\s+{re.escape(name)}\s*\(")
            line = next((i + 1 for i, t in enumerate(lines) if pat.search(t)), None)
            if line is not None and line > 1 and lines[line - 2].startswith("__kernel"):
                line -= 1
            if line is None:
                raise UnsupportedError(f"the OpenCL kernel {name} is launched but not defined")
            kernel_index[name] = len(kernel_names)
            kernel_names.append(name)
            kernel_lines.append(line)
    for c in calls:
        for ln in c.get("launches", ()):
            ln["index"] = kernel_index[ln["kernel"]]
    cl_path = out_dir / "kernels.cl"
    cl_path.write_text(cl_text)

    copies = []
    for j, v in plan.output_copies:
        region, off = where(v)
        copies.append(dict(region=region, src=off, dst=out_slot[j], nbytes=v.type.nbytes))

    inputs, outputs = caller_entries(fn)
    weights = model_tensors.weights

    sources = write_kernel_files(host_ks, out_dir, chunks)
    if max(weights.size, d_size) >= 2 ** 32:     # kernels take uint byte offsets
        raise UnsupportedError(f"the opencl target addresses at most 4 GiB of weights and of arena "
                               f"({weights.size} and {d_size} bytes here)", hint="use --target host")
    weights_path = out_dir / "weights.bin"
    model_cc = _render("model_ocl.cc.j2", model_name=c_string(model_name), model_comment=c_comment(model_name),
                       weights_file=weights_path.name, cl_file=cl_path.name,
                       inputs=descriptor_rows(inputs), outputs=descriptor_rows(outputs),
                       tensors=descriptor_rows(model_tensors.tensors),
                       arena_bytes=plan.arena_bytes, calls=calls, copies=copies,
                       host_symbols=[k.symbol for k in host_ks], kernel_names=kernel_names,
                       kernel_lines=kernel_lines, weights_bytes=weights.size, device_bytes=d_size,
                       fault_base=fault_base, fault_count=n_checked, fault_slot=FAULT_SLOT,
                       in_slots=[dict(off=o, nbytes=a.type.nbytes) for o, a in zip(in_slot, fn.args)],
                       out_slots=[dict(off=o, nbytes=v.type.nbytes) for o, v in zip(out_slot, fn.outputs)])
    (out_dir / "model.cc").write_text(model_cc)
    sources.insert(0, out_dir / "model.cc")
    weights.write(weights_path)
    gen = GeneratedModel(sources, weights_path, weights.size, len(unique), len(calls), inputs, outputs,
                         plan.arena_bytes, kinds)
    gen.extra_files = [cl_path]
    gen.device_kernels = sum(1 for c in calls if c["device"])
    return gen


__all__ = ["generate_ocl_model"]
