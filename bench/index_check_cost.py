"""What the run-time index checks cost (issue #12): kernels with and without them, same process, interleaved.

Not a test.  Two kernels that load indices, each built twice into one library and timed alternately
(median of --repeat calls, after warm-up, one thread):

* MiniLM's fused embedding kernel (cpp-rowwise: three gathers, adds, LayerNorm; 128 tokens x 384) --
  ``checked`` is what lpfc emits (a bad index is recorded in the fault slot, the run fails),
  ``unchecked`` the same code with the range test removed (a wild read on a bad id: what no release
  should do; it is the floor any check is measured against);
* a standalone Gather of 128 rows of a [30522, 384] table (the generic emitter) -- ``checked`` as
  emitted (lpfc_check_index: compare + never-taken branch), ``clamped`` the previous code (the index
  clamped into range with a success status), ``unchecked`` no test at all.

Then the whole MiniLM through lpfc.compile + lpfc.load (profile, --threads) to put the embedding
kernel's time next to the inference's.

    .venv/bin/python bench/index_check_cost.py [--repeat 2000] [--no-model]
"""
from __future__ import annotations

import argparse
import ctypes
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lpfc.codegen.kernel_source import headers_and_helpers  # noqa: E402
from lpfc.codegen.targets import get_target  # noqa: E402
from lpfc.codegen.toolchain import compile_shared  # noqa: E402
from lpfc.ir.constants import constant_value  # noqa: E402

CLAMP = ("static inline int64_t lpfc_wrap_clamp(int64_t i, int64_t n) "
         "{ if (i < 0) i += n; return i < 0 ? 0 : (i >= n ? n - 1 : i); }")


def unchecked_rowwise(code: str) -> str:
    """The embedding kernel without its range test (the block `if (g < 0 || g >= V) { ... }`)."""
    out, skip = [], 0
    for line in code.split("\n"):
        if not skip and re.match(r"\s*if \(g\d+ < 0 \|\| g\d+ >= \d+\) \{", line):
            skip = 1
            continue
        if skip:
            skip += line.count("{") - line.count("}")
            continue
        out.append(line)
    return "\n".join(out)


def build(variants: dict, d: Path):
    """{name: KernelSource-like (code, symbol, headers, helpers)} -> ctypes lib with call_<name>(in, out, nt)."""
    headers, helpers = headers_and_helpers(variants.values())
    src = [f"#include {h}" for h in headers] + ['#include "lpfc_model_desc.h"'] + helpers + [CLAMP]
    for name, ks in variants.items():
        src.append(ks.code)
        fault_arg = ", fault" if "int64_t *fault" in ks.code else ""
        src.append(f'extern "C" __attribute__((visibility("default"))) void call_{name}(const void *const *in, '
                   f'void *const *out, int nt, int64_t *fault) {{ (void)fault; {ks.symbol}(in, out, nt{fault_arg}); }}')
    p = d / "kernels.cc"
    p.write_text("\n".join(src) + "\n")
    return ctypes.CDLL(str(compile_shared(get_target("host"), [p], d / "libk.so", with_runtime=False)))


def time_variants(lib, names, ins, outs, repeat):
    in_p = (ctypes.c_void_p * len(ins))(*[a.ctypes.data for a in ins])
    out_p = (ctypes.c_void_p * len(outs))(*[a.ctypes.data for a in outs])
    fault = (ctypes.c_int64 * 3)()
    fns = {n: getattr(lib, f"call_{n}") for n in names}
    for f in fns.values():
        for _ in range(50):
            f(in_p, out_p, ctypes.c_int(1), fault)
    times = {n: [] for n in names}
    for _ in range(repeat):                 # interleaved: drifts of a shared machine hit both alike
        for n, f in fns.items():
            t0 = time.perf_counter_ns()
            f(in_p, out_p, ctypes.c_int(1), fault)
            times[n].append(time.perf_counter_ns() - t0)
    assert fault[0] == 0
    return {n: statistics.median(t) / 1e3 for n, t in times.items()}


class _KS:
    def __init__(self, ks, code, symbol=None):
        self.code, self.symbol, self.headers, self.helpers = code, symbol or ks.symbol, ks.headers, ks.helpers


def embedding_kernel(repeat):
    import lpfc
    import lpfc.passes
    from lpfc.codegen.cpp_rowwise import emit_rowwise
    from lpfc.testing import zoo
    path = zoo.model_path("minilm", "dynamo20")
    if not Path(path).exists():
        print(f"(MiniLM not exported at {path}: skipped)")
        return None
    m = lpfc.import_onnx(path)
    lpfc.passes.Pipeline.parse("default").run(m)
    op = next(o for o in m.main.ops if o.name == "graph.fused" and o.attributes.get("kind") == "embedding")
    ks = emit_rowwise(op, get_target("host"), "emb_checked")
    plain = unchecked_rowwise(ks.code).replace("emb_checked", "emb_unchecked").replace(", int64_t *fault = nullptr)", ")")
    assert plain != ks.code
    rng = np.random.default_rng(0)
    ins = []
    for i, v in enumerate(op.operands):
        c = constant_value(op.operands[i], through_reshapes=True)
        if c is not None:
            ins.append(np.require(c, requirements="C"))
        elif v.type.dtype.value == "f32":
            ins.append(rng.standard_normal(v.type.shape).astype(np.float32))
        else:
            ins.append(rng.integers(0, 2, v.type.shape).astype(v.type.dtype.numpy))
    outs = [np.empty(r.type.shape, np.float32) for r in op.results]
    with tempfile.TemporaryDirectory() as d:
        lib = build({"checked": ks, "unchecked": _KS(ks, plain, "emb_unchecked")}, Path(d))
        return time_variants(lib, ["checked", "unchecked"], ins, outs, repeat)


def gather_kernel(repeat):
    import lpfc.passes
    from lpfc.codegen.generic import GENERIC
    from lpfc.ir.parser import parse_module
    V, N, S = 30522, 384, 128
    text = f"""module {{
  func @main(%t: tensor<{V}x{N}xf32>, %i: tensor<{S}xi64>) -> (tensor<{S}x{N}xf32>) attributes {{input_names = ["t", "i"], output_names = ["y"]}} {{
    %y = graph.gather %t, %i {{axis = 0}} : (tensor<{V}x{N}xf32>, tensor<{S}xi64>) -> tensor<{S}x{N}xf32>
    func.return %y : (tensor<{S}x{N}xf32>) -> ()
  }}
}}
"""
    m = parse_module(text)
    op = next(o for o in m.main.ops if o.name == "graph.gather")
    ks = GENERIC.emit(op, get_target("host"), "g_checked")
    assert ks.index_checks
    clamped = ks.code.replace("g_checked", "g_clamped").replace("lpfc_wrap(fault, ", "lpfc_wrap_clamp(")
    clamped = clamped.replace(", int64_t *fault = nullptr)", ")")
    plain = re.sub(r"lpfc_wrap\(fault, (\(int64_t\)[^,]+), \d+\)", r"\1", ks.code).replace("g_checked", "g_unchecked")
    plain = plain.replace(", int64_t *fault = nullptr)", ")")
    rng = np.random.default_rng(0)
    ins = [rng.standard_normal((V, N)).astype(np.float32), rng.integers(0, V, S).astype(np.int64)]  # (unchecked cannot take negatives)
    outs = [np.empty((S, N), np.float32)]
    with tempfile.TemporaryDirectory() as d:
        lib = build({"checked": ks, "clamped": _KS(ks, clamped, "g_clamped"),
                     "unchecked": _KS(ks, plain, "g_unchecked")}, Path(d))
        return time_variants(lib, ["checked", "clamped", "unchecked"], ins, outs, repeat)


def whole_model(threads: int):
    import lpfc
    from lpfc.testing import zoo
    path = zoo.model_path("minilm", "dynamo20")
    if not Path(path).exists():
        return None
    with tempfile.TemporaryDirectory() as d:
        r = lpfc.compile(path, Path(d) / "libminilm.so")
        s = lpfc.load(r.library, threads=threads)
        feeds = {i.name: np.ones(i.shape, i.dtype) for i in s.get_inputs()}
        p = s.profile(feeds, runs=30, warmup=3)
        emb = sum(k.seconds for k in p.kernels if k.kind == "embedding")
        return p.total_seconds * 1e3, emb * 1e3


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-model", action="store_true", help="skip the whole-MiniLM profile (a compile)")
    a = ap.parse_args(argv)
    cpu = subprocess.run("lscpu | grep 'Model name'", shell=True, capture_output=True, text=True).stdout.strip()
    print(f"CPU: {cpu or '?'}; one thread; median of {a.repeat} interleaved calls")
    e = embedding_kernel(a.repeat)
    if e:
        print(f"MiniLM embedding kernel (128 x 384, 3 gathers + LayerNorm): checked {e['checked']:.2f} us, "
              f"unchecked {e['unchecked']:.2f} us ({(e['checked'] / e['unchecked'] - 1) * 100:+.1f}%)")
    g = gather_kernel(a.repeat)
    print(f"generic Gather (128 rows of 30522 x 384): checked {g['checked']:.2f} us, clamped (before) "
          f"{g['clamped']:.2f} us, unchecked {g['unchecked']:.2f} us "
          f"(checked vs clamped {(g['checked'] / g['clamped'] - 1) * 100:+.1f}%, "
          f"vs unchecked {(g['checked'] / g['unchecked'] - 1) * 100:+.1f}%)")
    if not a.no_model:
        w = whole_model(a.threads)
        if w:
            total, emb = w
            print(f"MiniLM whole inference ({a.threads} thread(s), profile median of 30): {total:.2f} ms, of which the "
                  f"embedding kernel {emb * 1e3:.1f} us ({emb / total * 100:.2f}%)")
            if e:
                print(f"=> the embedding check changes a MiniLM inference by about "
                      f"{(e['checked'] - e['unchecked']) / 1e3 / total * 100:+.4f}%")


if __name__ == "__main__":
    main()
