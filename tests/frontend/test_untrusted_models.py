"""Untrusted model files (issue #12, items 1, 6, 7): each bad input is ONE clear lpfc error, found before
anything is read or allocated.  See docs/untrusted-models.md ("Untrusted models" in docs/reliability.md)."""
import tracemalloc

import numpy as np
import onnx
import pytest
from onnx import AttributeProto, TensorProto, helper, numpy_helper

import lpfc
from lpfc.errors import InvalidModelError, LimitError, LpfcError, ModelLoadError, ShapeError
from lpfc.frontend import limits

from .onnx_builders import make, mlp, save, vi

SECRET = b"-----BEGIN OPENSSH PRIVATE KEY----- not for the model -----"


def _external(t: onnx.TensorProto, location: str, **extra) -> onnx.TensorProto:
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), *extra.items()):
        e = t.external_data.add()
        e.key, e.value = k, str(v)
    return t


def _secret_constant(attr_type) -> onnx.ModelProto:
    """A Constant whose `value` is declared ``attr_type`` but carries a tensor with external data."""
    t = _external(onnx.TensorProto(name="leak", data_type=TensorProto.UINT8, dims=[len(SECRET)]),
                  ".ssh/id_rsa", offset=0, length=len(SECRET))
    a = AttributeProto(name="value", type=attr_type)
    a.t.CopyFrom(t)
    node = helper.make_node("Constant", [], ["y"], name="sneaky")
    node.attribute.append(a)
    return make([node], [], [vi("y", [len(SECRET)], TensorProto.UINT8)])


# -- 1. attributes are read by their declared type only; external data only next to the model ----------
@pytest.mark.parametrize("attr_type", [AttributeProto.FLOAT, AttributeProto.INTS, AttributeProto.STRING])
def test_constant_attribute_not_typed_tensor_never_reads_its_tensor(tmp_path, monkeypatch, attr_type):
    # The secret lies both next to the model and in the working directory: neither may be read.
    for d in (tmp_path / "model", tmp_path / "cwd"):
        (d / ".ssh").mkdir(parents=True)
        (d / ".ssh" / "id_rsa").write_bytes(SECRET)
    monkeypatch.chdir(tmp_path / "cwd")
    path = save(_secret_constant(attr_type), tmp_path / "model" / "m.onnx")
    with pytest.raises(InvalidModelError) as e:
        lpfc.import_onnx(path)
    assert "sneaky" in str(e.value) and "'value'" in str(e.value)


def test_constant_reads_value_by_declared_type_even_without_validation():
    """The Constant converter itself reads only the declared type's field (defence in depth)."""
    from lpfc.frontend.onnx import Converter
    m = _secret_constant(AttributeProto.FLOAT)
    with pytest.raises(InvalidModelError, match="declared FLOAT, not TENSOR"):
        Converter(m).build()


def test_tensor_typed_constant_with_external_data_reads_only_inside_model_dir(tmp_path, monkeypatch):
    (tmp_path / "cwd" / ".ssh").mkdir(parents=True)
    (tmp_path / "cwd" / ".ssh" / "id_rsa").write_bytes(SECRET)
    (tmp_path / "model").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    path = save(_secret_constant(AttributeProto.TENSOR), tmp_path / "model" / "m.onnx")
    with pytest.raises(ModelLoadError, match="leak.*missing next to the model"):
        lpfc.import_onnx(path)


def test_nul_byte_in_external_location_is_a_clear_error(tmp_path):
    t = _external(numpy_helper.from_array(np.zeros((4, 3), np.float32), "W"), "weights.bin\0.txt", length=48)
    t.ClearField("raw_data")
    (tmp_path / "weights.bin").write_bytes(bytes(48))
    m = make([helper.make_node("MatMul", ["x", "W"], ["y"])], [vi("x", [2, 4])], [vi("y", [2, 3])], [t])
    with pytest.raises(ModelLoadError, match="'W'.*NUL"):
        lpfc.import_onnx(save(m, tmp_path / "m.onnx"))


def test_attribute_with_a_second_payload_is_refused():
    node = helper.make_node("LeakyRelu", ["x"], ["y"], name="lr", alpha=0.2)
    node.attribute[0].ints.extend([1, 2])
    with pytest.raises(InvalidModelError, match="lr.*'alpha' is declared FLOAT but also carries.*'ints'"):
        lpfc.import_onnx(make([node], [vi("x", [2])], [vi("y", [2])]))


# -- 2. invalid ONNX is refused, as onnx's checker and onnxruntime refuse it ------------------------------
def test_two_nodes_defining_one_tensor():
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="first"), helper.make_node("Neg", ["x"], ["y"], name="second")]
    with pytest.raises(InvalidModelError, match="second.*'y' is already defined by node 'first'"):
        lpfc.import_onnx(make(nodes, [vi("x", [2])], [vi("y", [2])]))


def test_node_redefining_a_graph_input():
    nodes = [helper.make_node("Relu", ["x"], ["x"], name="shadow"), helper.make_node("Neg", ["x"], ["y"])]
    with pytest.raises(InvalidModelError, match="shadow.*'x' redefines the graph input"):
        lpfc.import_onnx(make(nodes, [vi("x", [2])], [vi("y", [2])]))


def test_node_redefining_an_initializer():
    w = numpy_helper.from_array(np.ones(2, np.float32), "w")
    nodes = [helper.make_node("Relu", ["x"], ["w"], name="shadow"), helper.make_node("Add", ["x", "w"], ["y"])]
    with pytest.raises(InvalidModelError, match="shadow.*'w' redefines the initializer"):
        lpfc.import_onnx(make(nodes, [vi("x", [2])], [vi("y", [2])], [w]))


def test_transpose_perm_as_floats_is_not_truncated():
    node = helper.make_node("Transpose", ["x"], ["y"], name="tp")
    node.attribute.append(helper.make_attribute("perm", [1.5, 0.0]))
    assert node.attribute[0].type == AttributeProto.FLOATS
    with pytest.raises(InvalidModelError, match="tp.*'perm' is declared FLOATS.*INTS"):
        lpfc.import_onnx(make([node], [vi("x", [2, 3])], [vi("y", [3, 2])]))


@pytest.mark.parametrize("shape,dtype,what", [([3], TensorProto.FLOAT, "shape"), ([2], TensorProto.INT64, "element type")])
def test_initializer_that_is_also_an_input_must_match(shape, dtype, what):
    w = numpy_helper.from_array(np.ones(2, np.float32), "w")
    m = make([helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", [2]), vi("w", shape, dtype)], [vi("y", [2])], [w])
    with pytest.raises(InvalidModelError, match=f"initializer 'w' is also a graph input, declared with {what}"):
        lpfc.import_onnx(m)


def test_unknown_and_missing_required_attributes():
    node = helper.make_node("Relu", ["x"], ["y"], name="r", alpha=1.0)
    with pytest.raises(InvalidModelError, match="'alpha' is not an attribute of ONNX Relu"):
        lpfc.import_onnx(make([node], [vi("x", [2])], [vi("y", [2])]))
    node = helper.make_node("Cast", ["x"], ["y"], name="c")
    with pytest.raises(InvalidModelError, match="c.*required attribute 'to' is missing"):
        lpfc.import_onnx(make([node], [vi("x", [2])], [vi("y", [2])]))


# -- 3. sizes checked before allocating, against lpfc/frontend/limits.py ------------------------------------
def _peak_mib(fn) -> float:
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak / 2**20


def test_constant_of_shape_bomb_is_refused_before_allocating(tmp_path):
    shape = numpy_helper.from_array(np.array([16000, 16000], np.int64), "s")
    node = helper.make_node("ConstantOfShape", ["s"], ["y"], name="bomb")
    path = save(make([node], [], [vi("y", [16000, 16000])], [shape]), tmp_path / "bomb.onnx")
    assert path.stat().st_size < 200

    def imp():
        with pytest.raises(LimitError, match="bomb.*ConstantOfShape result.*268435456"):
            lpfc.import_onnx(path)
    assert _peak_mib(imp) < 64


@pytest.mark.parametrize("dims,match", [([2, 0], "dimension 1 of size 0"), ([2**40], "2\\^31-1"),
                                        ([1] * 12, "rank 12.*at most rank 8")])
def test_graph_input_sizes_refused_at_import(dims, match):
    m = make([helper.make_node("Relu", ["x"], ["y"])], [vi("x", dims)], [vi("y", dims)])
    with pytest.raises(LimitError, match=match):
        lpfc.import_onnx(m)


def test_zero_dims_allowed_for_the_interpreter():
    m = make([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [2, 0])], [vi("y", [2, 0])])
    out = lpfc.interpret(lpfc.import_onnx(m, allow_zero_dims=True), {"x": np.zeros((2, 0), np.float32)})
    assert out["y"].shape == (2, 0)


def test_intermediate_beyond_element_limit():
    shape = numpy_helper.from_array(np.array([2**20, 2**20], np.int64), "s")
    m = make([helper.make_node("Expand", ["x", "s"], ["y"], name="big")], [vi("x", [1])], [vi("y", [2**20, 2**20])],
             [shape])
    with pytest.raises(LimitError, match="big.*2\\^31-1"):
        lpfc.import_onnx(m)


@pytest.mark.parametrize("node,inits", [
    (helper.make_node("Range", ["a", "b", "c"], ["y"], name="rng"),
     [np.array(0, np.int64), np.array(10**12, np.int64), np.array(1, np.int64)]),
    (helper.make_node("OneHot", ["a", "b", "c"], ["y"], name="oh"),
     [np.array([1], np.int64), np.array(2**40, np.int64), np.array([0, 1], np.float32)]),
])
def test_computed_constants_are_bounded(node, inits):
    ts = [numpy_helper.from_array(v, n) for v, n in zip(inits, "abc")]
    m = make([node], [], [vi("y", None)], ts)

    def imp():
        with pytest.raises(LimitError, match=node.name):
            lpfc.import_onnx(m)
    assert _peak_mib(imp) < 64


def test_split_num_outputs_must_match():
    node = helper.make_node("Split", ["x"], ["a", "b"], name="sp", axis=0, num_outputs=2**40)
    m = make([node], [vi("x", [4])], [vi("a", [2]), vi("b", [2])], opset=18)
    with pytest.raises(ShapeError, match="sp.*num_outputs"):
        lpfc.import_onnx(m)


def test_sparse_external_file_is_refused_without_reading(tmp_path):
    big = tmp_path / "weights.bin"
    with open(big, "wb") as fh:
        fh.truncate(1536 * 2**20)        # 1.5 GB, sparse: costs nothing unless read
    t = _external(onnx.TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[4, 3]), "weights.bin")
    m = make([helper.make_node("MatMul", ["x", "W"], ["y"])], [vi("x", [2, 4])], [vi("y", [2, 3])], [t])
    path = save(m, tmp_path / "m.onnx")

    def imp():
        with pytest.raises(ModelLoadError, match="'W'.*1610612736 bytes.*need 48"):
            lpfc.import_onnx(path)
    assert _peak_mib(imp) < 64


def test_external_length_must_match_dims(tmp_path):
    (tmp_path / "weights.bin").write_bytes(bytes(100))
    t = _external(onnx.TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[4, 3]), "weights.bin", length=40)
    m = make([helper.make_node("MatMul", ["x", "W"], ["y"])], [vi("x", [2, 4])], [vi("y", [2, 3])], [t])
    with pytest.raises(ModelLoadError, match="'W'.*40 bytes.*need 48"):
        lpfc.import_onnx(save(m, tmp_path / "m.onnx"))


def test_external_tensor_beyond_constant_limit_is_refused_before_reading(tmp_path):
    (tmp_path / "w.bin").write_bytes(bytes(16))
    t = _external(onnx.TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[2**30, 2]), "w.bin")
    m = make([helper.make_node("Relu", ["W"], ["y"])], [], [vi("y", [2**30, 2])], [t])
    with pytest.raises(LimitError, match="'W'"):
        lpfc.import_onnx(save(m, tmp_path / "m.onnx"))


def test_model_file_over_protobuf_limit_is_refused_without_reading(tmp_path):
    p = tmp_path / "huge.onnx"
    with open(p, "wb") as fh:
        fh.truncate(limits.MAX_MODEL_FILE_BYTES)
    with pytest.raises(LimitError, match="2 GiB"):
        lpfc.import_onnx(p)


@pytest.mark.parametrize("shape,match", [(None, "list of integers, got None"), ([2.5, 4], "dimension 0 = 2.5"),
                                         ("2x4", "list of integers"), ([True, 4], "not an integer"),
                                         ([-1, 4], "negative")])
def test_input_shapes_option_is_checked(shape, match):
    m = make([helper.make_node("Relu", ["x"], ["y"])], [vi("x", ["b", 4])], [vi("y", ["b", 4])])
    with pytest.raises(LpfcError, match=match):
        lpfc.import_onnx(m, input_shapes={"x": shape})
    assert lpfc.import_onnx(m, input_shapes={"x": np.array([2, 4])}).main.args[0].type.shape == (2, 4)


def test_limits_are_the_documented_ones():
    assert (limits.MAX_RANK, limits.MAX_DIM, limits.MAX_ELEMENTS) == (8, 2**31 - 1, 2**31 - 1)
    assert limits.MAX_CONSTANT_BYTES == 2 * 2**30 and limits.MAX_COMPUTED_BYTES == 256 * 2**20


def test_valid_models_still_import(tmp_path):
    lpfc.import_onnx(save(mlp(), tmp_path / "mlp.onnx"))


def test_external_location_not_utf8_is_a_clear_error(tmp_path):
    """Found by the importer fuzzer: protobuf hands back bytes for a location that is not UTF-8 (was a TypeError)."""
    t = _external(onnx.TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[4, 3]), "weights.bin", length=48)
    m = make([helper.make_node("MatMul", ["x", "W"], ["y"])], [vi("x", [2, 4])], [vi("y", [2, 3])], [t])
    data = m.SerializeToString().replace(b"weights.bin", b"weigh\xffs.bin")
    p = tmp_path / "m.onnx"
    p.write_bytes(data)
    with pytest.raises(ModelLoadError, match="not valid UTF-8"):
        lpfc.import_onnx(p)


def test_constant_tensor_with_wrong_number_of_values():
    """Found by the importer fuzzer: a Constant tensor whose data does not fill its dims (was a wrapped ValueError)."""
    t = helper.make_tensor("v", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0])
    t.float_data.extend([4.0, 5.0, 6.0])
    node = helper.make_node("Constant", [], ["y"], name="cst", value=t)
    with pytest.raises(InvalidModelError, match="cst.*Constant value cannot be decoded"):
        lpfc.import_onnx(make([node], [], [vi("y", [3])]))


@pytest.mark.parametrize("node", [helper.make_node("Split", ["x"], ["a", "b"], name="sp"),
                                  helper.make_node("Gather", ["x", "i"], ["a"], name="ga"),
                                  helper.make_node("Hardmax", ["x"], ["a"], name="hm")])
def test_axis_of_a_scalar(node):
    """Found by the importer fuzzer: Split of a scalar indexed its shape (a wrapped IndexError)."""
    i = numpy_helper.from_array(np.array([0], np.int64), "i")
    m = make([node], [vi("x", [])], [vi(o, None) for o in node.output], [i])
    with pytest.raises(ShapeError, match=f"{node.name}.*rank >= 1, got a scalar"):
        lpfc.import_onnx(m)


@pytest.mark.parametrize("node,match", [
    (helper.make_node("Shape", ["x"], [], name="n"), "n.*0 outputs; ONNX Shape takes 1"),
    (helper.make_node("Concat", [], ["y"], name="n", axis=0), "n.*0 inputs; ONNX Concat takes 1 to any number"),
    (helper.make_node("Relu", ["x", "x"], ["y"], name="n"), "n.*2 inputs; ONNX Relu takes 1"),
])
def test_input_and_output_counts_follow_the_schema(node, match):
    """Found by the importer fuzzer: a node without outputs or inputs was a wrapped IndexError."""
    with pytest.raises(InvalidModelError, match=match):
        lpfc.import_onnx(make([node], [vi("x", [2])], [vi("y", [2])]))


def test_range_bounds_must_be_scalars():
    """Found by the importer fuzzer: a non-scalar Range start was a wrapped ValueError."""
    ts = [numpy_helper.from_array(v, n) for v, n in zip(
        [np.array([0, 1], np.int64), np.array(4, np.int64), np.array(1, np.int64)], "abc")]
    node = helper.make_node("Range", ["a", "b", "c"], ["y"], name="rg")
    with pytest.raises(ShapeError, match="rg.*Range start must be a scalar"):
        lpfc.import_onnx(make([node], [], [vi("y", None)], ts))
