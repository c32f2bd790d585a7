"""lpfc.cost.onnx_fast: the estimate's ONNX import maps big weights instead of copying them, and changes nothing."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from lpfc.cost.onnx_fast import STRIP_BYTES, load_module_mapped, strip_weights
from lpfc.errors import LpfcError
from lpfc.frontend.load import load_module


def _model(path, w_dtype=np.float32, big=64):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((big, big)).astype(w_dtype)          # 16 KiB: mapped
    b = rng.standard_normal((big,)).astype(np.float32)            # 256 B: parsed as usual
    shape = np.array([1, big], dtype=np.int64)
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"]), helper.make_node("Add", ["y", "b"], ["z"]),
         helper.make_node("Reshape", ["z", "shape"], ["out"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, big])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, big])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"), numpy_helper.from_array(shape, "shape")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(m, path)
    return w


def _constants(module):
    return {op.result_names[0] if getattr(op, "result_names", None) else i: op.attributes["value"].array
            for i, op in enumerate(module.functions[0].body.ops) if op.name == "graph.constant"}


def test_mapped_import_equals_the_ordinary_import(tmp_path):
    p = tmp_path / "m.onnx"
    w = _model(p)
    data = p.read_bytes()
    stripped, cut = strip_weights(memoryview(data))
    assert len(cut) == 1 and cut[0][1] == w.shape and cut[0][4] == w.nbytes >= STRIP_BYTES   # only the big weight is cut
    assert len(stripped) < len(data) - w.nbytes + 64
    fast, ordinary = load_module_mapped(str(p)), load_module(str(p))
    a, b = [v for v in _constants(fast).values()], [v for v in _constants(ordinary).values()]
    assert len(a) == len(b) and all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(a, b))
    assert any(x.shape == w.shape and np.array_equal(x, w) and not x.flags.writeable for x in a)   # a view


def test_non_plain_dtypes_are_not_mapped(tmp_path):
    p = tmp_path / "m.onnx"
    _model(p)
    m = onnx.load(str(p))
    m.graph.initializer[0].data_type = TensorProto.BFLOAT16       # to_array decodes it: never a raw view
    m.graph.initializer[0].raw_data = m.graph.initializer[0].raw_data[: 64 * 64 * 2]
    _, cut = strip_weights(memoryview(m.SerializeToString()))
    assert cut == []


@pytest.mark.parametrize("damage", ["truncate", "garbage", "group"])
def test_what_the_scan_does_not_expect_takes_the_ordinary_path(tmp_path, damage):
    p = tmp_path / "m.onnx"
    _model(p)
    data = p.read_bytes()
    if damage == "truncate":
        data = data[: len(data) - 100]          # the graph's length now runs past the file
    elif damage == "garbage":
        data = bytes(range(256)) * 8
    else:
        data = bytes([0x0B]) + data              # field 1, wire type 3 (a group)
    assert strip_weights(memoryview(data)) is None
    p.write_bytes(data)
    assert load_module_mapped(str(p)) is None
    with pytest.raises(LpfcError):               # and the ordinary path reports the damage
        load_module(str(p))


def test_estimate_of_an_onnx_file_uses_the_mapped_import(tmp_path, monkeypatch):
    import warnings

    import lpfc
    import lpfc.cost.onnx_fast as F

    monkeypatch.setenv("LPFC_CACHE_DIR", str(tmp_path / "cache"))
    p = tmp_path / "m.onnx"
    _model(p)
    calls = []
    real = F.load_module_mapped
    monkeypatch.setattr(F, "load_module_mapped", lambda *a, **k: calls.append(a) or real(*a, **k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = lpfc.estimate_latency(str(p))
        monkeypatch.setattr(F, "load_module_mapped", lambda *a, **k: None)
        ordinary = lpfc.estimate_latency(str(p))
    assert calls and [k.shapes for k in fast.kernels] == [k.shapes for k in ordinary.kernels]
    assert fast.ms == ordinary.ms


def test_external_data_and_empty_files_keep_the_ordinary_rules(tmp_path):
    from lpfc.errors import ModelLoadError

    p = tmp_path / "m.onnx"
    _model(p)
    m = onnx.load(str(p))
    ext = tmp_path / "ext"
    ext.mkdir()
    onnx.save(m, str(ext / "m.onnx"), save_as_external_data=True, location="w.bin", size_threshold=1024)
    fast, ordinary = load_module_mapped(str(ext / "m.onnx")), load_module(str(ext / "m.onnx"))
    a, b = list(_constants(fast).values()), list(_constants(ordinary).values())
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
    for t in m.graph.initializer:       # an external location outside the model's directory: refused, unread
        if t.name == "w":
            t.ClearField("raw_data")
            t.data_location = TensorProto.EXTERNAL
            t.external_data.add(key="location", value="../secret.bin")
    (tmp_path / "secret.bin").write_bytes(b"\0" * 64 * 64 * 4)
    (ext / "bad.onnx").write_bytes(m.SerializeToString())
    with pytest.raises(ModelLoadError, match="outside"):
        load_module_mapped(str(ext / "bad.onnx"))
    (tmp_path / "empty.onnx").write_bytes(b"")
    assert load_module_mapped(str(tmp_path / "empty.onnx")) is None
