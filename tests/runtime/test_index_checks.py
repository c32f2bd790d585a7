"""Indices out of range at run time (issue #12, item 3): token ids >= the vocabulary (or < -size) into the
fused embedding kernel, and standalone Gather / GatherElements / GatherND / ScatterElements / ScatterND,
must fail the run with LPFC_ERR_EXECUTION naming the op and the index -- never NaN rows or a clamped index
with a success status.  Valid indices (negative ones too) still give the interpreter's answer."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import lpfc
from lpfc.errors import InputError

V, N, S = 50, 24, 6
rng = np.random.default_rng(0)
TABLE = rng.standard_normal((V, N)).astype(np.float32)
POS = rng.standard_normal((S, N)).astype(np.float32)
DATA = rng.standard_normal((5, 7)).astype(np.float32)


def _save(path, nodes, inputs, outputs, inits):
    g = helper.make_graph(nodes, "idx", inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(m)
    onnx.save(m, str(path))
    return path


def _embedding(path):
    """word embedding + position embedding + LayerNorm: the fused embedding block (cpp-rowwise)."""
    nodes = [helper.make_node("Gather", ["table", "ids"], ["we"], name="word_gather"),
             helper.make_node("Add", ["we", "pos"], ["sum"]),
             helper.make_node("LayerNormalization", ["sum", "g", "b"], ["y"], axis=-1, epsilon=1e-5)]
    inits = [numpy_helper.from_array(TABLE, "table"), numpy_helper.from_array(POS, "pos"),
             numpy_helper.from_array(np.ones(N, np.float32), "g"), numpy_helper.from_array(np.zeros(N, np.float32), "b")]
    return _save(path, nodes, [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, S])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, S, N])], inits)


def _standalone(path):
    """Gather on both axes, GatherElements, GatherND, ScatterElements, ScatterND: the generic emitter."""
    f, i64 = TensorProto.FLOAT, TensorProto.INT64
    nodes = [helper.make_node("Gather", ["data", "i0"], ["g0"], axis=0, name="gather_rows"),
             helper.make_node("Gather", ["data", "i1"], ["g1"], axis=1, name="gather_cols"),
             helper.make_node("GatherElements", ["data", "ie"], ["ge"], axis=1, name="gather_el"),
             helper.make_node("GatherND", ["data", "ind"], ["gn"], name="gather_nd"),
             helper.make_node("ScatterElements", ["x", "se", "upd"], ["sc"], axis=0, name="scatter_el"),
             helper.make_node("ScatterND", ["x", "snd", "updnd"], ["sn"], name="scatter_nd")]
    ins = [helper.make_tensor_value_info("i0", i64, [3]), helper.make_tensor_value_info("i1", i64, [2]),
           helper.make_tensor_value_info("ie", i64, [5, 2]), helper.make_tensor_value_info("ind", i64, [3, 2]),
           helper.make_tensor_value_info("x", f, [4, 3]), helper.make_tensor_value_info("se", i64, [2, 3]),
           helper.make_tensor_value_info("snd", i64, [2, 1])]
    outs = [helper.make_tensor_value_info("g0", f, [3, 7]), helper.make_tensor_value_info("g1", f, [5, 2]),
            helper.make_tensor_value_info("ge", f, [5, 2]), helper.make_tensor_value_info("gn", f, [3]),
            helper.make_tensor_value_info("sc", f, [4, 3]), helper.make_tensor_value_info("sn", f, [4, 3])]
    inits = [numpy_helper.from_array(DATA, "data"),
             numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3) + 100, "upd"),
             numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3) - 100, "updnd")]
    return _save(path, nodes, ins, outs, inits)


def _good_standalone():
    return {"i0": np.array([0, 4, -1]), "i1": np.array([6, -7]), "ie": np.tile(np.array([0, -1]), (5, 1)),
            "ind": np.array([[0, 0], [4, 6], [-1, -2]]), "x": np.zeros((4, 3), np.float32),
            "se": np.array([[0, 3, -1], [1, 2, -4]]), "snd": np.array([[3], [-4]])}


@pytest.fixture(scope="module")
def libs(tmp_path_factory):
    d = tmp_path_factory.mktemp("idx")
    emb = lpfc.compile(_embedding(d / "emb.onnx"), d / "libemb.so")
    std = lpfc.compile(_standalone(d / "std.onnx"), d / "libstd.so")
    return {"emb": (d / "emb.onnx", emb), "std": (d / "std.onnx", std)}


def _reference(model, feeds):
    ort = pytest.importorskip("onnxruntime")
    s = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in s.get_outputs()], s.run(None, feeds)))


def test_the_kernels_are_the_ones_meant(libs):
    """the embedding is the fused row-wise kernel, the standalone ops the generic emitter's"""
    ids = {"ids": np.zeros((1, S), np.int64)}
    kernels = lpfc.load(libs["emb"][1].library).profile(ids, runs=1).kernels
    assert [(k.emitter, k.kind) for k in kernels] == [("cpp-rowwise", "embedding")]
    kernels = lpfc.load(libs["std"][1].library).profile(_good_standalone(), runs=1).kernels
    assert kernels and all(k.emitter == "generic" for k in kernels)


@pytest.mark.parametrize("threads", [1, 2])
def test_embedding_valid_ids(libs, threads):
    model, r = libs["emb"]
    ids = np.array([[0, 1, V - 1, -1, -V, 7]], np.int64)
    got = lpfc.load(r.library, threads=threads).run({"ids": ids})["y"]
    np.testing.assert_allclose(got, _reference(model, {"ids": ids})["y"], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("bad", [V, V + 1000, -V - 1, 2 ** 40, -(2 ** 62)])
def test_embedding_id_out_of_range_fails_the_run(libs, bad):
    _, r = libs["emb"]
    sess = lpfc.load(r.library)
    ids = np.array([[0, 1, bad, 3, 4, 5]], np.int64)
    with pytest.raises(InputError) as e:
        sess.run({"ids": ids})
    msg = str(e.value)
    assert "word_gather" in msg and "Gather" in msg, msg
    assert f"index {bad} is out of range for an axis of length {V}" in msg, msg
    # the session stays usable: a good run afterwards gives the right answer
    ok = np.array([[0, 1, 2, 3, 4, 5]], np.int64)
    np.testing.assert_allclose(sess.run({"ids": ok})["y"], lpfc.load(r.library).run({"ids": ok})["y"])


def test_standalone_valid_indices(libs):
    model, r = libs["std"]
    feeds = _good_standalone()
    got = lpfc.load(r.library).run(feeds)
    want = _reference(model, feeds)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-6, err_msg=k)


@pytest.mark.parametrize("name,value,node,length", [
    ("i0", [0, 5, 1], "gather_rows", 5), ("i0", [0, -6, 1], "gather_rows", 5),
    ("i1", [7, 0], "gather_cols", 7), ("i1", [0, -8], "gather_cols", 7),
    ("ie", "ie", "gather_el", 7), ("ind", [[0, 0], [5, 0], [0, 0]], "gather_nd", 5),
    ("ind", [[0, 0], [0, 9], [0, 0]], "gather_nd", 7),
    ("se", [[0, 4, 0], [0, 0, 0]], "scatter_el", 4), ("snd", [[3], [-5]], "scatter_nd", 4)])
def test_standalone_index_out_of_range_fails_the_run(libs, name, value, node, length):
    _, r = libs["std"]
    feeds = _good_standalone()
    if value == "ie":
        v = feeds["ie"].copy()
        v[3, 1] = 7
        feeds["ie"] = v
        bad = 7
    else:
        feeds[name] = np.array(value, np.int64)
        bad = [x for x in np.ravel(feeds[name]) if not -length <= x < length][0]
    with pytest.raises(InputError) as e:
        lpfc.load(r.library).run(feeds)
    msg = str(e.value)
    assert node in msg, msg
    assert f"index {bad} is out of range for an axis of length {length}" in msg, msg


# -- the opencl target: the embedding on the device, the standalone ops as host kernels ---------------------

@pytest.fixture(scope="module")
def ocl_libs(tmp_path_factory, libs):
    from ..opencl.support import opencl_or_skip

    opencl_or_skip()
    d = tmp_path_factory.mktemp("idx-ocl")
    return {k: (m, lpfc.compile(m, d / f"lib{k}.so", target="opencl")) for k, (m, _) in libs.items()}


@pytest.fixture
def _cl_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LPFC_OPENCL_CACHE_DIR", str(tmp_path / "clcache"))


def test_opencl_embedding_on_the_device(ocl_libs, _cl_cache):
    model, r = ocl_libs["emb"]
    sess = lpfc.load(r.library)
    ids = np.array([[0, 1, V - 1, -1, -V, 7]], np.int64)
    kinds = r.kinds
    assert kinds.get("embedding") == 1, kinds
    np.testing.assert_allclose(sess.run({"ids": ids})["y"], _reference(model, {"ids": ids})["y"], rtol=1e-3, atol=1e-4)
    for bad in (V, -V - 1, 2 ** 40):
        with pytest.raises(InputError) as e:
            sess.run({"ids": np.array([[0, bad, 2, 3, 4, 5]], np.int64)})
        assert "word_gather" in str(e.value) and f"index {bad} is out of range for an axis of length {V}" in str(e.value)
    np.testing.assert_allclose(sess.run({"ids": ids})["y"], _reference(model, {"ids": ids})["y"], rtol=1e-3, atol=1e-4)


def test_opencl_host_kernels_check_indices(ocl_libs, _cl_cache):
    model, r = ocl_libs["std"]
    sess = lpfc.load(r.library)
    feeds = _good_standalone()
    got, want = sess.run(feeds), _reference(model, feeds)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-6, err_msg=k)
    feeds["i1"] = np.array([0, 9], np.int64)
    with pytest.raises(InputError, match="gather_cols.*index 9 is out of range for an axis of length 7"):
        sess.run(feeds)


# -- arm64 (the NEON row-wise kernel and the generic ones), through the test driver under qemu ---------------

@pytest.fixture(scope="module")
def arm_libs(tmp_path_factory, libs):
    from ..arm64_support import arm64_toolchain_or_skip

    arm64_toolchain_or_skip()
    d = tmp_path_factory.mktemp("idx-arm")
    m = libs["emb"][0]        # (the generic kernels' index code is the same C++ on every ISA)
    return {"emb": (m, lpfc.compile(m, d / "libemb.so", target="arm64-linux"))}


def test_arm64_index_checks(arm_libs):
    model, r = arm_libs["emb"]
    sess = lpfc.load(r.library)
    ids = np.array([[0, 1, V - 1, -1, -V, 7]], np.int64)
    np.testing.assert_allclose(sess.run({"ids": ids})["y"], _reference(model, {"ids": ids})["y"], rtol=1e-4, atol=1e-5)
    with pytest.raises(InputError, match=f"word_gather.*index {V} is out of range for an axis of length {V}"):
        sess.run({"ids": np.array([[0, V, 2, 3, 4, 5]], np.int64)})
    with pytest.raises(InputError, match=f"word_gather.*index {-V - 1} is out of range"):
        sess.run({"ids": np.array([[0, 1, 2, 3, 4, -V - 1]], np.int64)})
