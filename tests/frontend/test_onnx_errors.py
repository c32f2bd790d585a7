"""Bad input gets one clear lpfc error naming what and where: never a traceback, never a wrong model."""
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import lpfc
from lpfc.errors import LpfcError, ModelLoadError, ShapeError, UnsupportedError

from .onnx_builders import make, mlp, mlp_reference, save, vi


def test_missing_file(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        lpfc.import_onnx(tmp_path / "nope.onnx")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.onnx"
    p.write_bytes(b"")
    with pytest.raises(ModelLoadError, match="empty"):
        lpfc.import_onnx(p)


@pytest.mark.parametrize("payload", [b"\x00\x01garbage\xff" * 10, b"GIF89a" + bytes(range(256)), b"{\"not\": \"onnx\"}"])
def test_not_onnx(tmp_path, payload):
    p = tmp_path / "bad.onnx"
    p.write_bytes(payload)
    with pytest.raises(ModelLoadError):
        lpfc.import_onnx(p)


def test_truncated_file(tmp_path):
    data = mlp().SerializeToString()
    p = tmp_path / "cut.onnx"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(LpfcError):
        lpfc.import_onnx(p)


def test_random_corruption_never_crashes(tmp_path):
    """Byte-level mutations of a valid model: each either imports or raises an LpfcError."""
    data = bytearray(mlp().SerializeToString())
    rng = np.random.default_rng(1234)
    outcomes = {"ok": 0, "error": 0}
    for _ in range(int(os.environ.get("LPFC_FUZZ_ITERATIONS", 300))):
        mutated = bytearray(data)
        for pos in rng.integers(0, len(data), size=rng.integers(1, 4)):
            mutated[pos] = int(rng.integers(0, 256))
        try:
            p = tmp_path / "m.onnx"
            p.write_bytes(bytes(mutated))
            m = lpfc.import_onnx(p)
            outcomes["ok"] += 1
        except LpfcError:
            outcomes["error"] += 1
            continue
        # A model that imports must also run (or refuse its inputs) cleanly.
        f = m.main
        feeds = {n: np.zeros(a.type.shape, a.type.dtype.numpy) for n, a in zip(f.input_names, f.args)}
        try:
            lpfc.interpret(m, feeds)
        except LpfcError:
            pass
    assert outcomes["error"] > 0


def test_unsupported_op_names_node_and_op():
    m = make([helper.make_node("FancyConv", ["x"], ["y"], name="layer3/fancy")], [vi("x", [2])], [vi("y", [2])])
    with pytest.raises(UnsupportedError) as e:
        lpfc.import_onnx(m)
    assert "FancyConv" in str(e.value) and "layer3/fancy" in str(e.value) and "lpfc ops" in str(e.value)


def test_foreign_domain():
    node = helper.make_node("FusedMatMul", ["x", "x"], ["y"], name="ms", domain="com.microsoft")
    m = make([node], [vi("x", [2, 2])], [vi("y", [2, 2])])
    m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    with pytest.raises(UnsupportedError, match="com.microsoft"):
        lpfc.import_onnx(m)


@pytest.mark.parametrize("opset", [1, 6, onnx.defs.onnx_opset_version() + 1])
def test_unsupported_opset(opset):
    m = make([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [2])], [vi("y", [2])], opset=opset)
    newest = onnx.defs.onnx_opset_version()
    with pytest.raises(UnsupportedError, match=f"opset {opset}; lpfc supports opsets 7-{newest}"):
        lpfc.import_onnx(m)


def test_dynamic_shape_needs_input_shapes():
    m = make([helper.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", ["batch", 4])], [vi("y", ["batch", 4])])
    with pytest.raises(ShapeError) as e:
        lpfc.import_onnx(m)
    assert "'x'" in str(e.value) and "batch" in str(e.value) and "--input-shape" in str(e.value)
    mod = lpfc.import_onnx(m, input_shapes={"x": [3, 4]})
    assert mod.main.args[0].type.shape == (3, 4)
    with pytest.raises(ShapeError, match="does not match"):
        lpfc.import_onnx(m, input_shapes={"x": [3, 5]})
    with pytest.raises(ShapeError, match="not a model input"):
        lpfc.import_onnx(m, input_shapes={"z": [3, 4]})


def test_inconsistent_shapes_name_node():
    m = make([helper.make_node("Add", ["a", "b"], ["y"], name="bad_add")], [vi("a", [2, 3]), vi("b", [4])],
             [vi("y", [2, 3])])
    with pytest.raises(ShapeError) as e:
        lpfc.import_onnx(m)
    assert "bad_add" in str(e.value) and "Add" in str(e.value) and "broadcast" in str(e.value)


def test_runtime_shape_is_rejected():
    nodes = [helper.make_node("Reshape", ["x", "s"], ["y"], name="dyn_reshape")]
    m = make(nodes, [vi("x", [2, 3]), vi("s", [2], TensorProto.INT64)], [vi("y", [3, 2])])
    with pytest.raises(ShapeError, match="dyn_reshape.*computed at run time"):
        lpfc.import_onnx(m)


def test_undefined_input():
    m = make([helper.make_node("Relu", ["ghost"], ["y"], name="r")], [vi("x", [2])], [vi("y", [2])])
    with pytest.raises(ShapeError, match="'ghost' is not defined"):
        lpfc.import_onnx(m)


def test_unsupported_dtype():
    m = make([helper.make_node("Identity", ["x"], ["y"])], [vi("x", [2], TensorProto.STRING)],
             [vi("y", [2], TensorProto.STRING)])
    with pytest.raises(UnsupportedError, match="STRING"):
        lpfc.import_onnx(m)


def test_control_flow_is_unsupported():
    then = helper.make_graph([helper.make_node("Identity", ["x"], ["t"])], "then", [], [vi("t", [2])])
    node = helper.make_node("If", ["c"], ["y"], name="branch", then_branch=then, else_branch=then)
    m = make([node], [vi("c", [], TensorProto.BOOL), vi("x", [2])], [vi("y", [2])])
    with pytest.raises(UnsupportedError, match="branch.*control flow"):
        lpfc.import_onnx(m)


# -- external data -------------------------------------------------------------------------
def _external_model(tmp_path, location, offset=0, length=None):
    w = np.arange(12, dtype=np.float32).reshape(4, 3)
    (tmp_path / "weights.bin").write_bytes(w.tobytes())
    t = onnx.TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[4, 3])
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", str(offset)), ("length", str(length or 48))):
        e = t.external_data.add()
        e.key, e.value = k, v
    m = make([helper.make_node("MatMul", ["x", "W"], ["y"])], [vi("x", [2, 4])], [vi("y", [2, 3])], [t])
    return save(m, tmp_path / "model.onnx"), w


def test_external_data_is_read(tmp_path):
    path, w = _external_model(tmp_path, "weights.bin")
    x = np.ones((2, 4), np.float32)
    out = lpfc.interpret(lpfc.import_onnx(path), {"x": x})
    np.testing.assert_allclose(out["y"], x @ w)


@pytest.mark.parametrize("location", ["../weights.bin", "/etc/passwd", "sub/../../weights.bin"])
def test_external_data_outside_model_dir_is_refused(tmp_path, location):
    d = tmp_path / "model"
    d.mkdir()
    path, _ = _external_model(d, location)
    (tmp_path / "weights.bin").write_bytes(bytes(48))
    with pytest.raises(ModelLoadError, match="W.*(outside|relative)"):
        lpfc.import_onnx(path)


def test_external_data_symlink_escape_is_refused(tmp_path):
    d = tmp_path / "model"
    d.mkdir()
    (tmp_path / "secret.bin").write_bytes(bytes(48))
    os.symlink(tmp_path / "secret.bin", d / "link.bin")
    path, _ = _external_model(d, "link.bin")
    with pytest.raises(ModelLoadError, match="outside"):
        lpfc.import_onnx(path)


def test_external_data_range_checked(tmp_path):
    path, _ = _external_model(tmp_path, "weights.bin", offset=40, length=48)
    with pytest.raises(ModelLoadError, match="outside 'weights.bin'"):
        lpfc.import_onnx(path)


def test_external_data_missing_file(tmp_path):
    path, _ = _external_model(tmp_path, "weights.bin")
    (tmp_path / "weights.bin").unlink()
    with pytest.raises(ModelLoadError, match="missing"):
        lpfc.import_onnx(path)


# -- hostile names -------------------------------------------------------------------------
HOSTILE = ["*/ system(\"rm -rf /\"); /*", 'say "hi"', "two\nlines", "#include <evil.h>", "\\u0000 back\\slash"]


def test_hostile_names_survive_import_print_and_run(tmp_path):
    names = tuple(HOSTILE[:3])
    m = mlp(node_names=names, input_name=HOSTILE[3], output_name=HOSTILE[4])
    mod = lpfc.import_onnx(save(m, tmp_path / "hostile.onnx"))
    text = lpfc.print_module(mod)
    mod2 = lpfc.parse_module(text)
    lpfc.verify(mod2)
    assert lpfc.print_module(mod2) == text
    assert [op.location.name for op in mod2.main.ops if op.name != "graph.constant"][:3] == list(names)
    assert mod2.main.input_names == [HOSTILE[3]] and mod2.main.output_names == [HOSTILE[4]]
    for line in text.splitlines():
        assert not line.startswith("#include")
    x = np.random.default_rng(2).standard_normal((2, 4)).astype(np.float32)
    out = lpfc.interpret(mod2, {HOSTILE[3]: x})
    np.testing.assert_allclose(out[HOSTILE[4]], mlp_reference(x), rtol=1e-5, atol=1e-6)


def test_hostile_node_names_in_errors_are_quoted():
    node = helper.make_node("NoSuchOp", ["x"], ["y"], name="a\nb */")
    with pytest.raises(UnsupportedError) as e:
        lpfc.import_onnx(make([node], [vi("x", [2])], [vi("y", [2])]))
    assert "'a\\nb */'" in str(e.value)
