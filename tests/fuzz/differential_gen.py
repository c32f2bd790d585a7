"""Random small ONNX graphs of the ops lpfc supports, for the differential fuzzer (test_differential.py).

``random_subgraph(rng, k)`` builds one graph of a few ops (element-wise with broadcasting, Softmax,
LayerNormalization, MatMul/Gemm with constant weights, Transpose, Reshape, reductions, Gather, Concat,
Slice, Where) on 1-2 float inputs of small random shapes -- last axes around the SIMD widths (1, 3, 8,
17, 33, ...) so that vector tails and tiles' edges are hit.  ``batch_model(subgraphs)`` puts many of
them side by side into one model (one compile for all: compiles are the slow part); every subgraph
keeps its own inputs and outputs (prefixed ``g<k>_``), so a wrong answer names its subgraph, whose
``describe()`` is the recipe to reproduce it.  Values are kept bounded (Exp only after Tanh, weights
scaled by 1/sqrt(K), divisors |y| + 1) so that comparisons are about the code, not overflow.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 18
LAST_DIMS = (1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 31, 33, 40, 64)

#: the tolerance every output is held to, relative to the output's own scale (max |value|, at least 1)
RTOL, ATOL = 2e-3, 2e-4


@dataclass
class Subgraph:
    k: int
    inputs: list = field(default_factory=list)      # (name, shape)
    nodes: list = field(default_factory=list)
    inits: list = field(default_factory=list)
    outputs: list = field(default_factory=list)     # (name, shape)
    ops: list = field(default_factory=list)         # op types in order (the recipe)
    seed: int = 0

    def describe(self) -> str:
        ins = ", ".join(f"{n}{list(s)}" for n, s in self.inputs)
        return f"subgraph g{self.k} (seed {self.seed}): inputs {ins}; ops {' -> '.join(self.ops)}"


class _Builder:
    def __init__(self, rng: np.random.Generator, k: int):
        self.rng = rng
        self.g = Subgraph(k)
        self.n = 0
        self.pool: list = []                 # (name, shape) of float tensors

    def name(self, what="t"):
        self.n += 1
        return f"g{self.g.k}_{what}{self.n}"

    def const(self, array, what="c"):
        n = self.name(what)
        self.g.inits.append(numpy_helper.from_array(np.asarray(array), n))
        return n

    def node(self, op, ins, shape, pool=True, **attrs):
        out = self.name(op.lower()[:6])
        self.g.nodes.append(helper.make_node(op, ins, [out], **attrs))
        self.g.ops.append(op)
        if pool:
            self.pool.append((out, tuple(shape)))
        return out, (tuple(shape) if shape is not None else None)

    def pick(self):
        # prefer recent values: deeper chains (fusion candidates)
        i = len(self.pool) - 1 - min(int(self.rng.exponential(1.5)), len(self.pool) - 1)
        return self.pool[i]

    def operand_like(self, shape):
        """A second operand for a binary op: a same-shape value, or a constant broadcast (row, column, scalar)."""
        r = self.rng.random()
        same = [p for p in self.pool if p[1] == shape]
        if r < 0.4 and same:
            return same[int(self.rng.integers(len(same)))][0]
        if r < 0.65:
            return self.const(self.rng.standard_normal(shape[-1:]).astype(np.float32))
        if r < 0.8 and len(shape) >= 2:
            s = list(shape)
            s[-1] = 1
            return self.const(self.rng.standard_normal(s).astype(np.float32))
        return self.const(np.array(self.rng.standard_normal(), np.float32))

    def step(self):
        x, shape = self.pick()
        rank, last = len(shape), shape[-1]
        rng = self.rng
        op = rng.choice(["unary", "unary", "binary", "binary", "softmax", "layernorm", "matmul", "transpose",
                         "reshape", "reduce", "gather", "concat", "slice", "where", "gemm"])
        if op == "unary":
            u = rng.choice(["Relu", "Abs", "Neg", "Tanh", "Sigmoid", "Erf", "Exp", "Sqrt"])
            if u == "Exp":
                x, _ = self.node("Tanh", [x], shape)
            if u == "Sqrt":
                x, _ = self.node("Abs", [x], shape)
            return self.node(u, [x], shape)
        if op == "binary":
            b = rng.choice(["Add", "Sub", "Mul", "Max", "Min", "Div"])
            y = self.operand_like(shape)
            if b == "Div":                   # |y| + 1: no division by (nearly) zero
                ya, _ = self.node("Abs", [y], None, pool=False)
                y, _ = self.node("Add", [ya, self.const(np.array(1.0, np.float32))], None, pool=False)
            return self.node(b, [x, y], shape)
        if op == "softmax":
            return self.node("Softmax", [x], shape, axis=-1)
        if op == "layernorm":
            g = self.const((rng.standard_normal(last) * 0.5 + 1).astype(np.float32))
            b = self.const(rng.standard_normal(last).astype(np.float32))
            return self.node("LayerNormalization", [x, g, b], shape, axis=-1, epsilon=1e-5)
        if op == "matmul":
            n = int(rng.choice(LAST_DIMS))
            w = self.const((rng.standard_normal((last, n)) / np.sqrt(last)).astype(np.float32))
            return self.node("MatMul", [x, w], shape[:-1] + (n,))
        if op == "gemm" and rank == 2:
            n = int(rng.choice(LAST_DIMS))
            w = self.const((rng.standard_normal((n, last)) / np.sqrt(last)).astype(np.float32))
            c = self.const(rng.standard_normal(n).astype(np.float32))
            return self.node("Gemm", [x, w, c], (shape[0], n), transB=1, alpha=float(rng.choice([1.0, 0.5])))
        if op == "transpose" and rank >= 2:
            perm = [int(p) for p in rng.permutation(rank)]
            return self.node("Transpose", [x], tuple(shape[p] for p in perm), perm=perm)
        if op == "reshape" and rank >= 2:
            new = (int(np.prod(shape[:-1])), last) if rng.random() < 0.5 else (int(np.prod(shape)),)
            return self.node("Reshape", [x, self.const(np.array(new, np.int64))], new)
        if op == "reduce":
            r = rng.choice(["ReduceSum", "ReduceMean", "ReduceMax"])
            return self.node(r, [x, self.const(np.array([-1], np.int64))], shape[:-1] + (1,), keepdims=1)
        if op == "gather":
            idx = rng.integers(-shape[0], shape[0], size=int(rng.integers(1, 5))).astype(np.int64)
            return self.node("Gather", [x, self.const(idx)], (len(idx),) + shape[1:], axis=0)
        if op == "concat":
            same = [p for p in self.pool if p[1][:-1] == shape[:-1]]
            y, ys = same[int(rng.integers(len(same)))]
            return self.node("Concat", [x, y], shape[:-1] + (last + ys[-1],), axis=-1)
        if op == "slice" and last >= 2:
            a = int(rng.integers(0, last - 1))
            e = int(rng.integers(a + 1, last + 1))
            return self.node("Slice", [x, self.const(np.array([a], np.int64)), self.const(np.array([e], np.int64)),
                                       self.const(np.array([-1], np.int64))], shape[:-1] + (e - a,))
        if op == "where":
            y = self.operand_like(shape)
            c, _ = self.node("Greater", [x, self.const(np.array(0.0, np.float32))], None, pool=False)
            return self.node("Where", [c, x, y], shape)
        return self.node("Relu", [x], shape)


def random_subgraph(rng: np.random.Generator, k: int, seed: int = 0, max_ops: int = 6) -> Subgraph:
    b = _Builder(rng, k)
    b.g.seed = seed
    rank = int(rng.integers(1, 4))
    shape = tuple(int(rng.integers(1, 5)) for _ in range(rank - 1)) + (int(rng.choice(LAST_DIMS)),)
    for i in range(int(rng.integers(1, 3))):
        n = f"g{k}_in{i}"
        b.g.inputs.append((n, shape))
        b.pool.append((n, shape))
    for _ in range(int(rng.integers(1, max_ops + 1))):
        b.step()
    outs = [b.pool[-1]]
    if len(b.pool) > 3 and rng.random() < 0.5:          # an intermediate too (multi-output kernels)
        mid = b.pool[len(b.pool) // 2]
        if mid[0] not in [n for n, _ in b.g.inputs] and mid != outs[0]:
            outs.append(mid)
    b.g.outputs = outs
    return b.g


def batch_model(subgraphs: list, path) -> None:
    f = TensorProto.FLOAT
    nodes, inits, ins, outs = [], [], [], []
    for g in subgraphs:
        nodes += g.nodes
        inits += g.inits
        ins += [helper.make_tensor_value_info(n, f, list(s)) for n, s in g.inputs]
        outs += [helper.make_tensor_value_info(n, f, list(s)) for n, s in g.outputs]
    graph = helper.make_graph(nodes, "fuzz", ins, outs, inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, str(path))


def feeds_for(subgraphs: list, rng: np.random.Generator) -> dict:
    return {n: rng.standard_normal(s).astype(np.float32) for g in subgraphs for n, s in g.inputs}


def close(got: np.ndarray, want: np.ndarray) -> bool:
    if got.shape != want.shape:
        return False
    finite = np.isfinite(want)
    if not np.array_equal(finite, np.isfinite(got)):
        return False
    if not finite.all() and not np.array_equal(got[~finite], want[~finite], equal_nan=True):
        return False
    if not finite.any():
        return True
    scale = max(1.0, float(np.abs(want[finite]).max()))
    return bool(np.allclose(got[finite], want[finite], rtol=RTOL, atol=ATOL * scale))
