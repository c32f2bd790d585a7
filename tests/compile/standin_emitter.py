"""A test-only stand-in kernel emitter for small f32 MLPs (matmul, add, relu, and graph.fused blocks
of those), registered behind every real emitter, so the model generator can be tested on its own."""
from __future__ import annotations

import numpy as np

from lpfc.codegen.kernel_source import KernelSource, register_emitter

_OPS = ("graph.matmul", "graph.add", "graph.relu", "graph.mul", "graph.sub")


def _inner_ops(op):
    if op.name == "graph.fused":
        return [o for o in op.regions[0].block.ops if o.name != "graph.yield"]
    return [op]


class StandinEmitter:
    name = "test-standin"

    def accepts(self, op, target):
        ops = _inner_ops(op)
        return all(o.name in _OPS + ("graph.reshape",) for o in ops) and all(
            r.type.dtype.value == "f32" for o in ops for r in o.results)

    def variants(self, op, target):
        return [{}]

    def emit(self, op, target, symbol, choice=None):
        lines = [f"static void {symbol}(const void *const *in, void *const *out, int num_threads) {{",
                 "    (void)num_threads;"]
        names = {}
        if op.name == "graph.fused":
            block = op.regions[0].block
            for i, a in enumerate(block.args):
                names[a] = f"((const float *)in[{i}])"
            yielded = {v: j for j, v in enumerate(block.terminator.operands)}
            body = [o for o in block.ops if o.name != "graph.yield"]
        else:
            for i, a in enumerate(op.operands):
                names[a] = f"((const float *)in[{i}])"
            yielded = {r: j for j, r in enumerate(op.results)}
            body = [op]
        tmp = 0
        for o in body:
            r = o.results[0]
            n = int(np.prod(r.type.shape))
            if r in yielded:
                dst = f"((float *)out[{yielded[r]}])"
            else:
                dst = f"t{tmp}"
                tmp += 1
                lines.append(f"    static float {dst}[{max(n, 1)}];")
            if o.name == "graph.reshape":
                src = names[o.operands[0]]
                lines.append(f"    for (int i = 0; i < {n}; ++i) {dst}[i] = {src}[i];")
            elif o.name == "graph.matmul":
                a, b = o.operands
                m, k = a.type.shape[-2], a.type.shape[-1]
                nn = b.type.shape[-1]
                lines.append(f"    for (int i = 0; i < {m}; ++i) for (int j = 0; j < {nn}; ++j) {{ float s = 0;"
                             f" for (int p = 0; p < {k}; ++p) s += {names[a]}[i * {k} + p] * {names[b]}[p * {nn} + j];"
                             f" {dst}[i * {nn} + j] = s; }}")
            elif o.name == "graph.relu":
                src = names[o.operands[0]]
                lines.append(f"    for (int i = 0; i < {n}; ++i) {dst}[i] = {src}[i] > 0 ? {src}[i] : 0.0f;")
            else:
                a, b = o.operands
                na, nb = max(1, int(np.prod(a.type.shape))), max(1, int(np.prod(b.type.shape)))
                sym = {"graph.add": "+", "graph.mul": "*", "graph.sub": "-"}[o.name]
                lines.append(f"    for (int i = 0; i < {n}; ++i) {dst}[i] = {names[a]}[i % {na}] {sym} "
                             f"{names[b]}[i % {nb}];")
            names[r] = dst
        for r, j in yielded.items():
            if r not in [o.results[0] for o in body]:  # a block argument yielded as is
                lines.append(f"    for (int i = 0; i < {max(1, int(np.prod(r.type.shape)))}; ++i) "
                             f"((float *)out[{j}])[i] = {names[r]}[i];")
        lines.append("}")
        return KernelSource(symbol, "\n".join(lines))


_REGISTERED = False


def register():
    global _REGISTERED
    if not _REGISTERED:
        register_emitter(StandinEmitter(), 5000)
        _REGISTERED = True
