"""The architecture-dict builder: validation, and equivalence with real BertModel exports."""
import numpy as np
import pytest

import lpfc
from lpfc.cost.arch import build_encoder, normalize
from lpfc.errors import ArchitectureError
from lpfc.passes import Pipeline
from lpfc.passes.lp_fusion.blocks import kernels

from .bert_export import export_bert

BASE = dict(layers=2, hidden=32, heads=4, ffn=64, seq=8, batch=1, vocab=50)


def kernel_list(module):
    from lpfc.codegen.model_gen import _shape_text, kernel_kind

    Pipeline.parse("default").run(module)
    return [(kernel_kind(op), _shape_text(op)) for op in kernels(module.main)]


@pytest.mark.parametrize("arch", [BASE, dict(layers=1, hidden=24, heads=3, ffn=40, seq=5, batch=2, vocab=30),
                                  dict(layers=3, hidden=16, heads=2, ffn=48, seq=12, batch=1, vocab=20)],
                         ids=["2x32", "1x24-b2", "3x16"])
def test_same_kernels_and_outputs_as_a_bertmodel_export(arch):
    path, state = export_bert(arch)
    exported = lpfc.import_onnx(str(path))
    built = build_encoder(arch, weights=state)
    assert kernel_list(built) == kernel_list(exported)
    rng = np.random.default_rng(1)
    shape = (arch["batch"], arch["seq"])
    mask = np.ones(shape, np.int64)
    mask[0, -1] = 0
    feeds = {"input_ids": rng.integers(0, arch["vocab"], shape), "attention_mask": mask,
             "token_type_ids": rng.integers(0, 2, shape)}
    want, got = lpfc.interpret(exported, feeds), lpfc.interpret(built, feeds)
    assert set(got) == set(want) == {"last_hidden_state", "pooler_output"}
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-4, atol=1e-4, err_msg=name)


def test_head_dim_describes_a_model_with_pruned_heads():
    """A model whose heads were pruned (BertModel.prune_heads: attention narrower than hidden) is the
    architecture with per-layer heads and the original head_dim: same kernels, same outputs."""
    path, state = export_bert(BASE, prune={0: [1], 1: [0, 2]})
    arch = dict(BASE, heads=[3, 2], head_dim=BASE["hidden"] // BASE["heads"])
    exported, built = lpfc.import_onnx(str(path)), build_encoder(arch, weights=state)
    assert kernel_list(built) == kernel_list(exported)
    shape = (1, BASE["seq"])
    feeds = {"input_ids": np.arange(BASE["seq"]).reshape(shape) % BASE["vocab"],
             "attention_mask": np.ones(shape, np.int64), "token_type_ids": np.zeros(shape, np.int64)}
    want, got = lpfc.interpret(exported, feeds), lpfc.interpret(built, feeds)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-4, atol=1e-4, err_msg=name)
    # without head_dim the same heads would be hidden // heads wide: another model
    assert kernel_list(build_encoder(dict(BASE, heads=[4, 2]))) != kernel_list(built)


def test_per_layer_lists_give_per_layer_shapes():
    arch = dict(BASE, layers=2, heads=[2, 8], ffn=[40, 72])
    ks = kernel_list(build_encoder(arch))
    assert ("gemm", "1x8x32,32x40,40->1x8x40") in ks and ("gemm", "1x8x32,32x72,72->1x8x72") in ks
    assert normalize(arch)["heads"] == [2, 8]


def test_defaults_and_scalars_become_lists():
    a = normalize(dict(layers=3, hidden=64, heads=4, ffn=128, seq=16))
    assert a["batch"] == 1 and a["vocab"] == 30522 and a["heads"] == [4, 4, 4] and a["ffn"] == [128] * 3


@pytest.mark.parametrize("bad, key", [
    (dict(BASE, colour=3), "'colour'"),
    (dict(BASE, heads=5), "'heads'"),
    (dict(BASE, heads=[4, 3]), "'heads'[1]"),
    (dict(BASE, head_dim=0), "'head_dim'"),
    (dict(BASE, hidden=-32), "'hidden'"),
    (dict(BASE, seq=0), "'seq'"),
    (dict(BASE, ffn=[64]), "'ffn'"),
    (dict(BASE, layers=2.5), "'layers'"),
    ({k: v for k, v in BASE.items() if k != "hidden"}, "'hidden'"),
])
def test_bad_dicts_get_one_clear_error_naming_the_key(bad, key):
    with pytest.raises(ArchitectureError) as e:
        normalize(bad)
    assert key in str(e.value)
