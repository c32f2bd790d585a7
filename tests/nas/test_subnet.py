"""Sub-networks that inherit a BERT's weights: exactness against masked forwards of the original, shapes,
importance, files, ONNX export through lpfc, and one clear error for impossible architectures."""
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from lpfc.errors import ArchitectureError  # noqa: E402
from lpfc.nas.subnet import (Importance, arch_of, extract_subnetwork, importance_scores,  # noqa: E402
                             load_subnetwork, magnitude_importance, masked, plan_subnetwork, save_subnetwork)

# 3 layers, hidden 48, 4 heads of 12, FFN 64, a 60-token vocabulary
CFG = dict(hidden_size=48, num_hidden_layers=3, num_attention_heads=4, intermediate_size=64, vocab_size=60,
           max_position_embeddings=32, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
FULL = dict(layers=3, hidden=48, heads=4, ffn=64)


def tiny(cls_name="BertForQuestionAnswering", seed=0):
    torch.manual_seed(seed)
    model = getattr(transformers, cls_name)(transformers.BertConfig(**CFG)).eval()
    with torch.no_grad():
        for p in model.parameters():      # not the init's zero biases / unit LayerNorms: every weight matters
            p.normal_(0, 0.2)
    return model


def feeds(batch=2, seq=10, seed=1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, CFG["vocab_size"], (batch, seq), generator=g)
    mask = torch.ones_like(ids)
    mask[-1, seq - 3:] = 0                       # padding in one row
    tt = torch.zeros_like(ids)
    tt[:, seq // 2:] = 1
    return dict(input_ids=ids, attention_mask=mask, token_type_ids=tt)


def outputs(model, f):
    with torch.no_grad():
        o = model(**f)
    if hasattr(o, "start_logits"):
        return [o.start_logits, o.end_logits]
    return [o.last_hidden_state, o.pooler_output]


def masks_of(plan, g_heads=4, g_ffn=64, layers=3):
    """Head and FFN masks of the original that zero exactly what ``plan`` drops."""
    hm = [torch.zeros(g_heads) for _ in range(layers)]
    fm = [torch.zeros(g_ffn) for _ in range(layers)]
    for j, src in enumerate(plan.layers):
        hm[src][plan.heads[j]] = 1
        fm[src][plan.ffn[j]] = 1
    return hm, fm


@pytest.mark.parametrize("cls_name", ["BertForQuestionAnswering", "BertModel"])
def test_the_full_architecture_is_the_model_itself(cls_name):
    model = tiny(cls_name)
    sub = extract_subnetwork(model, FULL)
    assert type(sub) is type(model) and sub is not model
    f = feeds()
    for a, b in zip(outputs(model, f), outputs(sub, f)):
        assert torch.equal(a, b)
    assert arch_of(sub, seq=10) == dict(layers=3, hidden=48, heads=[4] * 3, ffn=[64] * 3, seq=10, batch=1, vocab=60)


@pytest.mark.parametrize("cls_name", ["BertForQuestionAnswering", "BertModel"])
@pytest.mark.parametrize("arch, skip", [
    (dict(FULL, heads=[2, 3, 1]), ()),                                   # heads only
    (dict(FULL, ffn=[16, 40, 64]), ()),                                  # FFN neurons only
    (dict(FULL, layers=2, heads=[3, 2], ffn=[24, 50]), (0,)),            # layers 1, 2 kept ("even")
], ids=["heads", "ffn", "layers+heads+ffn"])
def test_pruning_equals_a_masked_forward_of_the_original(cls_name, arch, skip):
    model = tiny(cls_name)
    imp = importance_scores(model, None)
    plan = plan_subnetwork(model, arch, imp)
    assert plan.layers == [i for i in range(3) if i not in skip]
    sub = extract_subnetwork(model, arch, imp)
    hm, fm = masks_of(plan)
    f = feeds()
    with masked(model, heads=hm, ffn=fm, skip_layers=skip):
        want = outputs(model, f)
    got = outputs(sub, f)
    for a, b in zip(want, got):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5)
    # and the pruning really changed the function (the test could fail)
    assert not torch.allclose(outputs(model, f)[0], got[0], atol=1e-3)


def test_shapes_follow_the_arch_everywhere():
    model = tiny()
    arch = dict(layers=2, hidden=20, heads=[1, 3], ffn=[8, 30])
    sub = extract_subnetwork(model, arch)
    sd = sub.state_dict()
    assert sd["bert.embeddings.word_embeddings.weight"].shape == (60, 20)
    assert sd["bert.embeddings.position_embeddings.weight"].shape == (32, 20)
    assert sd["bert.embeddings.LayerNorm.weight"].shape == (20,)
    assert sd["bert.encoder.layer.0.attention.self.query.weight"].shape == (12, 20)   # 1 head of 12
    assert sd["bert.encoder.layer.1.attention.self.value.weight"].shape == (36, 20)   # 3 heads of 12
    assert sd["bert.encoder.layer.1.attention.output.dense.weight"].shape == (20, 36)
    assert sd["bert.encoder.layer.0.intermediate.dense.weight"].shape == (8, 20)
    assert sd["bert.encoder.layer.1.output.dense.weight"].shape == (20, 30)
    assert sd["bert.encoder.layer.1.output.LayerNorm.bias"].shape == (20,)
    assert sd["qa_outputs.weight"].shape == (2, 20)
    assert "bert.encoder.layer.2.output.dense.weight" not in sd
    assert sub.config.num_hidden_layers == 2 and sub.config.hidden_size == 20
    assert sub.config.lpfc_subnet == {"heads": [1, 3], "ffn": [8, 30], "head_dim": 12}
    assert outputs(sub, feeds())[0].shape == (2, 10)
    # heads x head_dim != hidden, so the oracle's dict names the head width
    assert arch_of(sub, seq=16) == dict(arch, heads=[1, 3], ffn=[8, 30], seq=16, batch=1, vocab=60, head_dim=12)
    # the model's hidden dimensions that are kept are its most important ones
    imp = magnitude_importance(model)
    kept = plan_subnetwork(model, arch, imp).hidden
    assert min(imp.hidden[kept]) >= max(np.delete(imp.hidden, kept))


def test_the_original_is_not_touched():
    model = tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    extract_subnetwork(model, dict(layers=1, hidden=16, heads=1, ffn=4))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.config.hidden_size == 48 and not hasattr(model.config, "lpfc_subnet")


def _dead_units(model):
    """Zero head 2 of layer 0 (its value rows: its output is 0) and FFN neuron 5 of layer 1 (its output column)."""
    with torch.no_grad():
        model.bert.encoder.layer[0].attention.self.value.weight[24:36] = 0
        model.bert.encoder.layer[0].attention.self.value.bias[24:36] = 0
        model.bert.encoder.layer[1].output.dense.weight[:, 5] = 0


def qa_batches(n=2):
    out = []
    for k in range(n):
        f = feeds(seed=10 + k)
        f["start_positions"] = torch.tensor([6, 7])
        f["end_positions"] = torch.tensor([7, 9])
        out.append(f)
    return out


def test_gradient_importance_finds_dead_heads_and_neurons():
    model = tiny()
    _dead_units(model)
    imp = importance_scores(model, qa_batches())
    assert imp.source == "gradient"
    assert imp.heads[0][2] == 0 and imp.heads[0].min() == 0 and (np.delete(imp.heads[0], 2) > 0).all()
    assert imp.ffn[1][5] == 0 and (np.delete(imp.ffn[1], 5) > 0).all()
    assert imp.hidden.shape == (48,) and (imp.hidden > 0).all()
    plan = plan_subnetwork(model, dict(FULL, heads=3, ffn=63), imp)
    assert 2 not in plan.heads[0] and 5 not in plan.ffn[1]
    # the model is left as it was: no grads, same mode, parameters still trainable
    assert all(p.grad is None and p.requires_grad for p in model.parameters()) and not model.training


def test_gradient_importance_of_a_bare_encoder_needs_a_loss():
    model = tiny("BertModel")
    batches = [feeds()]
    with pytest.raises(ArchitectureError, match="loss_fn"):
        importance_scores(model, batches)
    imp = importance_scores(model, batches, loss_fn=lambda o, b: o.pooler_output.pow(2).sum())
    assert imp.heads[0].shape == (4,) and imp.ffn[2].shape == (64,)


def test_magnitude_importance_finds_dead_heads():
    model = tiny()
    with torch.no_grad():
        sa = model.bert.encoder.layer[2].attention
        for lin in (sa.self.query, sa.self.key, sa.self.value):
            lin.weight[12:24] = 0
        sa.output.dense.weight[:, 12:24] = 0
    imp = magnitude_importance(model)
    assert imp.heads[2][1] == 0 and imp.heads[2].argmin() == 1
    assert plan_subnetwork(model, dict(FULL, heads=3), imp).heads[2] == [0, 2, 3]


def test_importance_and_subnetworks_survive_files(tmp_path):
    model = tiny()
    imp = importance_scores(model, qa_batches(1))
    imp.save(tmp_path / "imp.npz")
    back = Importance.load(tmp_path / "imp.npz")
    assert back.source == "gradient" and all(np.array_equal(a, b) for a, b in zip(back.heads, imp.heads))
    assert np.array_equal(back.hidden, imp.hidden)
    sub = extract_subnetwork(model, dict(layers=2, hidden=40, heads=[2, 4], ffn=[10, 64]), imp)
    save_subnetwork(sub, tmp_path / "sub")
    again = load_subnetwork(tmp_path / "sub")
    f = feeds()
    for a, b in zip(outputs(sub, f), outputs(again, f)):
        assert torch.equal(a, b)
    assert arch_of(again, 10) == arch_of(sub, 10)
    assert again.config.lpfc_source == sub.config.lpfc_source


def test_a_subnetwork_names_the_layers_and_dimensions_it_came_from():
    """config.lpfc_source pairs each kept layer and hidden dimension with the source model's (what a later
    hidden-state distillation needs), composed through a cut of a cut."""
    model = tiny()
    imp = magnitude_importance(model)
    arch = dict(layers=2, hidden=40, heads=[2, 4], ffn=[10, 64])
    plan = plan_subnetwork(model, arch, imp)
    sub = extract_subnetwork(model, arch, imp)
    assert sub.config.lpfc_source == {"layers": plan.layers, "hidden": plan.hidden}
    assert plan.layers == [1, 2] and len(plan.hidden) == 40
    inner = dict(layers=1, hidden=30, heads=[1], ffn=[5])
    inner_plan = plan_subnetwork(sub, inner, magnitude_importance(sub))
    subsub = extract_subnetwork(sub, inner, magnitude_importance(sub))
    assert subsub.config.lpfc_source == {"layers": [plan.layers[i] for i in inner_plan.layers],
                                         "hidden": [plan.hidden[i] for i in inner_plan.hidden]}
    assert not hasattr(model.config, "lpfc_source")


@pytest.mark.parametrize("arch, words", [
    (dict(FULL, heads=5), "'heads'[0] is 5 but the model's layer 0 has only 4 heads"),
    (dict(FULL, heads=[4, 4, 6]), "'heads'[2] is 6"),
    (dict(FULL, hidden=64), "'hidden' is 64 but the model's hidden size is 48"),
    (dict(FULL, layers=4), "'layers' is 4 but the model has only 3 layers"),
    (dict(FULL, ffn=[64, 65, 64]), "'ffn'[1] is 65"),
    (dict(FULL, ffn=[64, 64]), "'ffn' has 2 entries but 'layers' is 3"),
    (dict(FULL, head_dim=16), "'head_dim' is 16 but the model's heads are 12 wide"),
    (dict(FULL, vocab=30522), "'vocab' is 30522"),
    (dict(FULL, seq=64), "'seq' is 64 but the model has only 32 positions"),
    (dict(FULL, colour=1), "unknown key 'colour'"),
    (dict(FULL, heads=0), "'heads' must be positive"),
    (dict(FULL, layers=2.0), "'layers' must be a positive integer"),
    ({k: v for k, v in FULL.items() if k != "ffn"}, "lacks 'ffn'"),
])
def test_impossible_architectures_get_one_clear_error(arch, words):
    with pytest.raises(ArchitectureError) as e:
        extract_subnetwork(tiny(), arch)
    assert words in str(e.value)


def test_other_models_and_layer_choices_are_refused():
    with pytest.raises(ArchitectureError, match="BertForMaskedLM"):
        extract_subnetwork(tiny("BertForMaskedLM"), FULL)
    with pytest.raises(ArchitectureError, match="'even', 'first'"):
        plan_subnetwork(tiny(), FULL, layers="random")
    with pytest.raises(ArchitectureError, match="ascending distinct"):
        plan_subnetwork(tiny(), dict(FULL, layers=2), layers=[2, 0])
    assert plan_subnetwork(tiny(), dict(FULL, layers=2), layers="first").layers == [0, 1]
    assert plan_subnetwork(tiny(), dict(FULL, layers=1)).layers == [2]


def export(model, path, seq=10):
    class Span(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            o = self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return o.start_logits, o.end_logits

    f = feeds(batch=1, seq=seq)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(Span().eval(), (f["input_ids"], f["attention_mask"], f["token_type_ids"]), str(path),
                          input_names=list(f), output_names=["start_logits", "end_logits"], opset_version=14,
                          dynamo=False)
    return {k: v.numpy() for k, v in f.items()}


def test_a_non_uniform_subnetwork_exports_and_lpfc_imports_it(tmp_path):
    pytest.importorskip("onnx")
    import lpfc
    sub = extract_subnetwork(tiny(), dict(layers=2, hidden=40, heads=[1, 3], ffn=[10, 50]))
    f = export(sub, tmp_path / "sub.onnx")
    module = lpfc.import_onnx(str(tmp_path / "sub.onnx"))
    got = lpfc.interpret(module, f)
    want = outputs(sub, {k: torch.from_numpy(v) for k, v in f.items()})
    np.testing.assert_allclose(got["start_logits"], want[0].numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got["end_logits"], want[1].numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_a_non_uniform_subnetwork_compiles_with_lpfc(tmp_path):
    pytest.importorskip("onnx")
    import lpfc
    sub = extract_subnetwork(tiny(), dict(layers=2, hidden=40, heads=[1, 3], ffn=[10, 50]))
    f = export(sub, tmp_path / "sub.onnx")
    lpfc.compile(tmp_path / "sub.onnx", tmp_path / "libsub.so")
    got = lpfc.load(tmp_path / "libsub.so", threads=1).run(f)
    want = outputs(sub, {k: torch.from_numpy(v) for k, v in f.items()})
    np.testing.assert_allclose(got["start_logits"], want[0].numpy(), rtol=1e-4, atol=1e-4)


def test_the_oracle_builds_the_same_encoder_from_arch_of():
    """arch_of + the sub-network's weights, through lpfc.cost.arch's builder, compute what torch computes:
    the oracle prices exactly the model the search would ship (heads x head_dim wide attention included)."""
    from lpfc.cost import arch as oracle_arch
    import lpfc
    sub = extract_subnetwork(tiny("BertModel"), dict(layers=2, hidden=40, heads=[1, 3], ffn=[10, 50]))
    state = {k: v.numpy() for k, v in sub.state_dict().items() if v.dtype == torch.float32}
    module = oracle_arch.build_encoder(arch_of(sub, seq=10), weights=state)
    f = feeds(batch=1)
    got = lpfc.interpret(module, {k: v.numpy() for k, v in f.items()})
    want = outputs(sub, f)
    np.testing.assert_allclose(got["last_hidden_state"], want[0].numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got["pooler_output"], want[1].numpy(), rtol=1e-4, atol=1e-4)
