"""Seed models of the importer fuzzer: small hand-built models covering the importer's paths, the small
model files the onnx wheel ships for its backend tests, and the tiny zoo models when they are exported."""
from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


def _vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def _model(nodes, inputs, outputs, inits=(), opset=OPSET):
    g = helper.make_graph(nodes, "seed", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def hand_built() -> list[tuple[str, onnx.ModelProto]]:
    rng = np.random.default_rng(0)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    seeds = []
    seeds.append(("mlp", _model(
        [helper.make_node("MatMul", ["x", "W"], ["h"], name="mm"), helper.make_node("Add", ["h", "b"], ["hb"]),
         helper.make_node("Relu", ["hb"], ["y"])],
        [_vi("x", [2, 4])], [_vi("y", [2, 3])], [_init("W", f(4, 3)), _init("b", f(3))])))
    seeds.append(("attention", _model(
        [helper.make_node("MatMul", ["x", "Wq"], ["q"]), helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 2, 1]),
         helper.make_node("MatMul", ["q", "xt"], ["s"]), helper.make_node("Softmax", ["s"], ["p"], axis=-1),
         helper.make_node("MatMul", ["p", "x"], ["o"]),
         helper.make_node("LayerNormalization", ["o", "g", "bb"], ["y"], axis=-1, epsilon=1e-5)],
        [_vi("x", [1, 4, 8])], [_vi("y", [1, 4, 8])], [_init("Wq", f(8, 8)), _init("g", f(8)), _init("bb", f(8))])))
    seeds.append(("shapes", _model(
        [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Gather", ["s", "i0"], ["d0"], axis=0),
         helper.make_node("Unsqueeze", ["d0", "ax"], ["d0u"]),
         helper.make_node("Concat", ["d0u", "m1"], ["shape"], axis=0),
         helper.make_node("Reshape", ["x", "shape"], ["r"]),
         helper.make_node("Slice", ["r", "st", "en", "ax1"], ["sl"]),
         helper.make_node("Split", ["sl"], ["a", "b"], axis=1),
         helper.make_node("Mul", ["a", "b"], ["y"])],
        [_vi("x", [2, 3, 4])], [_vi("y", [2, 4])],
        [_init("i0", np.array(0, np.int64)), _init("ax", np.array([0], np.int64)),
         _init("m1", np.array([-1], np.int64)), _init("st", np.array([0], np.int64)),
         _init("en", np.array([8], np.int64)), _init("ax1", np.array([1], np.int64))])))
    seeds.append(("constants", _model(
        [helper.make_node("Constant", [], ["c"], value=_init("cv", f(2, 3))),
         helper.make_node("Constant", [], ["ci"], value_ints=[2, 3]),
         helper.make_node("Constant", [], ["cf"], value_float=0.5),
         helper.make_node("ConstantOfShape", ["ci"], ["z"], value=_init("zv", np.array([1.0], np.float32))),
         helper.make_node("Range", ["r0", "r1", "r2"], ["rg"]),
         helper.make_node("Cast", ["rg"], ["rgf"], to=TensorProto.FLOAT),
         helper.make_node("Expand", ["rgf", "ci"], ["e"]),
         helper.make_node("Add", ["c", "z"], ["cz"]), helper.make_node("Mul", ["cz", "cf"], ["czf"]),
         helper.make_node("Add", ["czf", "e"], ["t"]), helper.make_node("Tile", ["t", "reps"], ["tt"]),
         helper.make_node("Add", ["x", "tt"], ["y"])],
        [_vi("x", [2, 6])], [_vi("y", [2, 6])],
        [_init("r0", np.array(0, np.int64)), _init("r1", np.array(3, np.int64)), _init("r2", np.array(1, np.int64)),
         _init("reps", np.array([1, 2], np.int64))])))
    seeds.append(("misc_ops", _model(
        [helper.make_node("Cast", ["ids"], ["ids64"], to=TensorProto.INT64),
         helper.make_node("Gather", ["E", "ids64"], ["emb"], axis=0),
         helper.make_node("ReduceMean", ["emb", "ax"], ["m"], keepdims=1),
         helper.make_node("Sub", ["emb", "m"], ["d"]), helper.make_node("Gelu", ["d"], ["g"]),
         helper.make_node("Pad", ["g", "pads"], ["p"], mode="constant"),
         helper.make_node("Where", ["mask", "p", "p"], ["w"]),
         helper.make_node("Clip", ["w", "lo", "hi"], ["c"]),
         helper.make_node("OneHot", ["ids64", "depth", "vals"], ["oh"], axis=-1),
         helper.make_node("ReduceSum", ["oh", "ax"], ["ohs"], keepdims=0),
         helper.make_node("Trilu", ["c"], ["y"], upper=1),
         helper.make_node("LeakyRelu", ["ohs"], ["y2"], alpha=0.1)],
        [_vi("ids", [1, 4], TensorProto.INT32), _vi("mask", [1, 4, 6], TensorProto.BOOL)],
        [_vi("y", [1, 4, 6]), _vi("y2", [1, 4])],
        [_init("E", f(10, 4)), _init("pads", np.array([0, 0, 1, 0, 0, 1], np.int64)),
         _init("lo", np.array(-1, np.float32)), _init("hi", np.array(1, np.float32)),
         _init("depth", np.array(10, np.int64)), _init("vals", np.array([0, 1], np.float32)),
         _init("ax", np.array([-1], np.int64))], opset=20)))
    # External data next to the model (the harness writes weights.bin with this content).
    w = onnx.TensorProto(name="Wext", data_type=TensorProto.FLOAT, dims=[4, 3])
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "weights.bin"), ("offset", "0"), ("length", "48")):
        e = w.external_data.add()
        e.key, e.value = k, v
    seeds.append(("external", _model([helper.make_node("MatMul", ["x", "Wext"], ["y"])],
                                     [_vi("x", [2, 4])], [_vi("y", [2, 3])], [w])))
    return seeds


WEIGHTS_BIN = np.arange(1024, dtype=np.float32).tobytes()   # the harness's weights.bin


def backend_files(max_bytes: int = 20_000, limit: int = 1000) -> list[tuple[str, onnx.ModelProto]]:
    """The small model files shipped with onnx's backend tests (the ``limit`` smallest), at opset >= 13."""
    root = Path(onnx.__file__).parent / "backend" / "test" / "data"
    out = []
    files = sorted((p.stat().st_size, str(p)) for p in root.glob("*/*/model.onnx"))
    for size, p in files[:limit]:
        p = Path(p)
        if size <= max_bytes:
            try:
                m = onnx.load(str(p), load_external_data=False)
                if any(i.domain in ("", "ai.onnx") and i.version < 13 for i in m.opset_import):
                    # Most ship at old opsets that lpfc refuses outright: convert them so mutations reach further.
                    from onnx import version_converter
                    m = version_converter.convert_version(m, OPSET)
                out.append((f"{p.parent.parent.name}/{p.parent.name}", m))
            except Exception:
                continue
    return out


def backend_node_cases(limit: int = 400) -> list[tuple[str, onnx.ModelProto]]:
    """ONNX backend node-test models whose ops lpfc imports (collecting them takes ~10 s: long runs only)."""
    import warnings
    from lpfc.frontend.onnx_ops import SUPPORTED_OPS
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        from onnx.backend.test.case.node import collect_testcases
        cases = list(collect_testcases(None))
    ops = set(SUPPORTED_OPS)
    sel = [c for c in cases if c.model is not None and all(n.op_type in ops for n in c.model.graph.node)]
    step = max(1, len(sel) // limit)
    return [(c.name, c.model) for c in sel[::step]]


def zoo_models(names=("tiny-bert-dynamo20", "tiny-gpt2-dynamo20", "tiny-bert-ts14")) -> list[tuple[str, onnx.ModelProto]]:
    """The tiny zoo exports, when the zoo cache holds them (never exported here)."""
    from lpfc.testing.zoo import cache_dir
    out = []
    for n in names:
        p = cache_dir() / f"{n}.onnx"
        if p.is_file() and not os.path.exists(str(p) + ".data"):
            out.append((f"zoo/{n}", onnx.load(str(p), load_external_data=False)))
    return out


@functools.lru_cache(maxsize=2)
def all_seeds(long: bool = False) -> tuple:
    """The suite's seeds (quick to build); ``long`` adds every backend file and the node-test models."""
    if long:
        return tuple(hand_built() + backend_files() + zoo_models() + backend_node_cases())
    return tuple(hand_built() + backend_files(limit=30) + zoo_models(("tiny-bert-dynamo20",)))
