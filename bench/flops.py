"""FLOP counts from an ONNX graph: 2*M*N*K for every MatMul and Gemm, batch dimensions included.

The same count as PyTorch's FLOP counter and shared/PEERS.md: attention's two batched matmuls
count, everything else (softmax, LayerNorm, GELU, adds, the embedding gathers) does not. Shapes
come from onnx's shape inference on the static-shape zoo exports.
"""
from __future__ import annotations

import math
from pathlib import Path


def matmul_flops(path: str | Path) -> int:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    model = onnx.shape_inference.infer_shapes(model)
    g = model.graph
    shapes: dict[str, list] = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        dims = vi.type.tensor_type.shape.dim
        shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    for init in g.initializer:
        shapes[init.name] = list(init.dims)
    for node in g.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    shapes[node.output[0]] = list(a.t.dims)
    total = 0
    for node in g.node:
        if node.op_type not in ("MatMul", "Gemm"):
            continue
        a, b = shapes.get(node.input[0]), shapes.get(node.input[1])
        out = shapes.get(node.output[0])
        if a is None or b is None or None in a or None in b:
            raise ValueError(f"{Path(path).name}: no static shape for the inputs of {node.op_type} {node.name!r}")
        if node.op_type == "Gemm":
            attrs = {x.name: x.i for x in node.attribute}
            m, k = (a[1], a[0]) if attrs.get("transA") else (a[0], a[1])
            n = b[0] if attrs.get("transB") else b[1]
            total += 2 * m * n * k
            continue
        if len(a) == 1:
            a = [1] + a
        if len(b) == 1:
            b = b + [1]
        m, k, n = a[-2], a[-1], b[-1]
        if out is not None and None not in out and len(out) >= 2:
            batch = math.prod(out[:-2])
        else:
            batch = math.prod(max(x, y) for x, y in zip(([1] * 8 + a[:-2])[-8:], ([1] * 8 + b[:-2])[-8:]))
        total += 2 * batch * m * n * k
    return total
