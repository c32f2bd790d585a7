"""Mutations of ONNX protos for the importer fuzzer.

Each mutation takes a ModelProto (mutated in place) and a ``random.Random`` and
breaks one thing an attacker or a broken exporter could: nodes dropped,
duplicated, reordered or rewired; attributes retyped, moved to another field,
given boundary values or a tensor with bogus external data; dims and dtypes
changed; initializers truncated or pointed at hostile external files; opsets
changed.  ``mutate_bytes`` works on the serialized file (truncation, flips).
"""
from __future__ import annotations

import random

import onnx
from onnx import AttributeProto as A
from onnx import TensorProto

INTS = [0, 1, -1, 2, 3, 7, 8, 9, 12, -2, 2**31 - 1, 2**31, 2**32, 2**40, 2**62, 2**63 - 1, -(2**63), 16000]
FLOATS = [0.0, -0.0, 1.5, -1.0, 1e-30, 1e30, float("inf"), float("-inf"), float("nan"), 2.0**40]
LOCATIONS = ["weights.bin", "big.bin", "../secret.bin", "link.bin", "pipe", "/etc/passwd", "weights.bin\0x",
             "", ".", "sub/../weights.bin", "sub/../../secret.bin", "a" * 300, "\\weights.bin", "nonexistent.bin",
             ".ssh/id_rsa"]
DTYPES = list(range(0, 24))
OPS = ["Relu", "Add", "MatMul", "Reshape", "Transpose", "Constant", "ConstantOfShape", "Expand", "Tile", "Range",
       "Split", "Slice", "Gather", "Concat", "Cast", "OneHot", "EyeLike", "Softmax", "Pad", "Squeeze", "Unsqueeze",
       "LayerNormalization", "ReduceSum", "Where", "HannWindow", "CumSum", "Hardmax", "Flatten", "Trilu", "If",
       "NoSuchOp", "DepthToSpace", "GroupNormalization", "Shape", "Identity"]


def _pick(rng, seq):
    return seq[rng.randrange(len(seq))] if len(seq) else None


def _all_names(m):
    g = m.graph
    names = [i.name for i in g.input] + [t.name for t in g.initializer]
    for n in g.node:
        names += list(n.input) + list(n.output)
    return [n for n in names if n] or ["x"]


def _tensors(m):
    out = list(m.graph.initializer)
    for n in m.graph.node:
        out += [a.t for a in n.attribute if a.HasField("t")]
    return out


def drop_node(m, rng):
    if m.graph.node:
        del m.graph.node[rng.randrange(len(m.graph.node))]


def duplicate_node(m, rng):
    if m.graph.node:
        n = _pick(rng, m.graph.node)
        m.graph.node.insert(rng.randrange(len(m.graph.node) + 1), n)


def swap_nodes(m, rng):
    nodes = m.graph.node
    if len(nodes) > 1:
        i, j = rng.randrange(len(nodes)), rng.randrange(len(nodes))
        a, b = onnx.NodeProto(), onnx.NodeProto()
        a.CopyFrom(nodes[i]), b.CopyFrom(nodes[j])
        nodes[i].CopyFrom(b), nodes[j].CopyFrom(a)


def rewire(m, rng):
    n = _pick(rng, m.graph.node)
    if n is None:
        return
    names = _all_names(m)
    choice = rng.randrange(4)
    if choice == 0 and n.input:
        n.input[rng.randrange(len(n.input))] = _pick(rng, names + [""])
    elif choice == 1 and n.output:
        n.output[rng.randrange(len(n.output))] = _pick(rng, names + [""])
    elif choice == 2:
        n.input.append(_pick(rng, names))
    else:
        n.output.append(_pick(rng, names + ["extra_out"]))


def change_op(m, rng):
    n = _pick(rng, m.graph.node)
    if n is not None:
        n.op_type = _pick(rng, OPS)
        if rng.random() < 0.1:
            n.domain = _pick(rng, ["com.microsoft", "ai.onnx", "ai.onnx.ml"])


def retype_attribute(m, rng):
    """Change an attribute's declared type, keeping (or moving) its payload: the type confusion of issue #12."""
    n = _pick(rng, m.graph.node)
    if n is None or not n.attribute:
        return
    a = _pick(rng, n.attribute)
    a.type = _pick(rng, [A.FLOAT, A.INT, A.STRING, A.TENSOR, A.FLOATS, A.INTS, A.STRINGS, A.TENSORS, A.GRAPH,
                         A.SPARSE_TENSOR, A.UNDEFINED])   # (an enum outside the list cannot be set)
    if rng.random() < 0.3:
        a.ref_attr_name = "r"


def attribute_value(m, rng):
    n = _pick(rng, m.graph.node)
    if n is None:
        return
    if not n.attribute or rng.random() < 0.3:
        name = _pick(rng, ["axis", "perm", "to", "value", "axes", "num_outputs", "alpha", "epsilon", "k", "dtype",
                           "keepdims", "mode", "value_ints", "value_float", "blocksize", "num_groups", "start", "end"])
        kind = rng.randrange(4)
        val = [_pick(rng, INTS), _pick(rng, FLOATS), [_pick(rng, INTS) for _ in range(rng.randint(1, 5))],
               "DCR"][kind]
        n.attribute.append(onnx.helper.make_attribute(name, val))
        return
    a = _pick(rng, n.attribute)
    if a.type == A.INT:
        a.i = _pick(rng, INTS)
    elif a.type == A.FLOAT:
        a.f = _pick(rng, FLOATS)
    elif a.type == A.INTS:
        del a.ints[:]
        a.ints.extend(_pick(rng, INTS) for _ in range(rng.randrange(10)))
    elif a.type == A.FLOATS:
        del a.floats[:]
        a.floats.extend(_pick(rng, FLOATS) for _ in range(rng.randrange(5)))
    elif a.type == A.STRING:
        a.s = _pick(rng, [b"", b"tanh", b"LEFT", b"reflect", b"wrap", b"\xff\xfe", b"x" * 1000])
    elif a.type == A.TENSOR:
        _mutate_tensor(a.t, rng)


def stray_tensor(m, rng):
    """Give a non-TENSOR attribute a tensor with external data (item 1 of issue #12)."""
    n = _pick(rng, m.graph.node)
    if n is None:
        return
    a = _pick(rng, n.attribute) if n.attribute else n.attribute.add()
    if not a.name:
        a.name, a.type = "value", A.FLOAT
    t = a.t
    t.name, t.data_type = "stray", TensorProto.UINT8
    del t.dims[:]
    t.dims.append(_pick(rng, [8, 48, 16]))
    _external(t, rng)


def _external(t, rng):
    t.data_location = TensorProto.EXTERNAL
    t.ClearField("raw_data")
    del t.external_data[:]
    for key in ("location", "offset", "length"):
        if rng.random() < 0.8:
            e = t.external_data.add()
            e.key = key
            e.value = (_pick(rng, LOCATIONS) if key == "location"
                       else _pick(rng, ["0", "4", "-1", "48", "100000000000", "x", "", str(2**64), "12.5"]))


def _mutate_tensor(t, rng):
    k = rng.randrange(6)
    if k == 0:
        del t.dims[:]
        t.dims.extend(_pick(rng, INTS[:12]) for _ in range(rng.randrange(4)))
    elif k == 1:
        t.data_type = _pick(rng, DTYPES)
    elif k == 2 and t.raw_data:
        t.raw_data = t.raw_data[: rng.randrange(len(t.raw_data) + 1)]
    elif k == 3:
        _external(t, rng)
    elif k == 4:
        t.dims.append(_pick(rng, INTS))
    else:
        t.float_data.extend([1.0] * rng.randrange(4))


def initializer(m, rng):
    ts = _tensors(m)
    if ts:
        _mutate_tensor(_pick(rng, ts), rng)


def graph_io(m, rng):
    vis = list(m.graph.input) + list(m.graph.output)
    vi = _pick(rng, vis)
    if vi is None:
        return
    tt = vi.type.tensor_type
    k = rng.randrange(6)
    if k == 0 and tt.shape.dim:
        tt.shape.dim[rng.randrange(len(tt.shape.dim))].dim_value = _pick(rng, INTS[:12] + [2**40, 0])
    elif k == 1:
        for _ in range(rng.randrange(1, 12)):
            tt.shape.dim.add().dim_value = 1
    elif k == 2 and tt.shape.dim:
        tt.shape.dim[rng.randrange(len(tt.shape.dim))].dim_param = "batch"
    elif k == 3:
        tt.elem_type = _pick(rng, DTYPES)
    elif k == 4:
        tt.ClearField("shape")
    else:
        vi.name = _pick(rng, _all_names(m))


def add_input_shadow(m, rng):
    """Declare an initializer (or a node output) as a graph input too, maybe with another type."""
    names = [t.name for t in m.graph.initializer] + [o for n in m.graph.node for o in n.output]
    name = _pick(rng, names)
    if name:
        vi = onnx.helper.make_tensor_value_info(name, _pick(rng, [1, 7, 6]), [_pick(rng, [1, 2, 3, 4])])
        m.graph.input.append(vi)


def opset(m, rng):
    for imp in m.opset_import:
        if imp.domain in ("", "ai.onnx"):
            imp.version = _pick(rng, [1, 12, 13, 17, 18, 20, 21, 22, 2**40])
            return


MUTATIONS = [drop_node, duplicate_node, swap_nodes, rewire, change_op, retype_attribute, attribute_value,
             stray_tensor, initializer, graph_io, add_input_shadow, opset]


def mutate(m: onnx.ModelProto, rng: random.Random, n: int = 0) -> onnx.ModelProto:
    """A mutated copy of ``m`` (``n`` mutations, default 1-3)."""
    out = onnx.ModelProto()
    out.CopyFrom(m)
    for _ in range(n or rng.randint(1, 3)):
        _pick(rng, MUTATIONS)(out, rng)
    return out


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """Byte-level damage to a serialized model: truncation, flips, a spliced chunk."""
    b = bytearray(data)
    k = rng.randrange(3)
    if k == 0 and b:
        return bytes(b[: rng.randrange(len(b))])
    if k == 1 and b:
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b)
    if b:
        i, j = sorted(rng.randrange(len(b)) for _ in range(2))
        b[i:i] = b[j:j + rng.randrange(1, 64)]
    return bytes(b)
