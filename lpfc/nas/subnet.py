"""Sub-networks of a trained BERT that inherit its weights (HAT / AutoTinyBERT style weight sharing).

``extract_subnetwork(model, arch, importance)`` cuts a ``transformers`` ``BertModel`` or
``BertForQuestionAnswering`` down to the architecture dict of the latency oracle
(``{"layers", "hidden", "heads", "ffn", "seq", "batch", "vocab"}`` plus the optional ``"head_dim"``,
see ``lpfc/cost/arch.py``) and returns a new model of the same class; the original is not touched.

What is kept (``plan_subnetwork`` decides, ``apply_plan`` cuts; a :class:`Plan` names every index):

- **layers**: ``layers="even"`` (default) keeps ``n`` of the ``L`` layers evenly spaced and always the
  last one (index ``ceil((k+1)·L/n) - 1``: 6 -> 3 keeps 1, 3, 5), because the task head was trained
  on the last layer's output; ``"first"`` keeps layers 0..n-1 (what a super-network trained
  HAT-style would use); a list of indices keeps exactly those.
- **heads** of each kept layer: the ``heads[i]`` most important ones; **FFN neurons**: the ``ffn[i]``
  most important; **hidden dimensions**: the ``hidden`` most important, cut consistently everywhere
  (embeddings, every LayerNorm, every projection's input or output, the pooler, the QA head). Kept
  indices stay in their original order, so nothing is permuted.
- **head_dim** never changes: a pruned layer keeps the model's per-head width (MiniLM: 32), so its
  attention width is ``heads[i] · head_dim`` and not ``hidden``. An arch without ``"head_dim"`` means
  the model's; one naming another width is an error.

Importance (``importance_scores``, computed once and reused by a whole search):
with data, Michel et al. 2019 ("Are Sixteen Heads Really Better than One?"): a mask variable ξ = 1 on
every head's output, on every FFN neuron and on every hidden dimension (after each LayerNorm), and the
importance of a unit is ``sum over batches |∂loss/∂ξ|`` (first-order Taylor estimate of the loss
change when the unit is removed). The loss is the model's own (``outputs.loss``, e.g. the QA span loss
when the batches carry ``start_positions``/``end_positions``) or ``loss_fn(outputs, batch)``.
Without data: weight magnitudes (a head: the L2 norm of its query/key/value rows and output columns;
a neuron: ‖input row‖·‖output column‖; a hidden dimension: the L2 norm of every weight reading or
writing it). Ranking is within a layer, so per-layer normalisation does not matter.

Non-uniform layers: ``transformers`` 5 has no per-layer head or FFN sizes (``prune_heads`` and
``head_mask`` are gone), so the sub-network is a model of the same class whose per-layer ``Linear``
modules simply have other sizes; each ``BertSelfAttention`` gets ``num_attention_heads``,
``attention_head_size``, ``all_head_size`` and ``scaling`` set for its layer (its forward reshapes
with ``-1`` heads of ``attention_head_size``, so it runs unchanged, and so does ``torch.onnx.export``).
The config says ``num_hidden_layers`` and ``hidden_size``; ``num_attention_heads`` and
``intermediate_size`` are the per-layer maxima, and ``config.lpfc_subnet = {"heads": [...], "ffn":
[...], "head_dim": d}`` holds the per-layer truth. ``save_subnetwork``/``load_subnetwork`` round-trip
such a model through a directory (``from_pretrained`` alone cannot rebuild non-uniform layers).
``config.lpfc_source = {"layers": [...], "hidden": [...]}`` names the source model's layer and hidden
dimension each kept one came from, so that a later distillation can pair hidden states without the plan.
``arch_of(model, seq)`` reads any of these models back into the oracle's architecture dict.
"""
from __future__ import annotations

import contextlib
import copy
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional, Sequence, Union

import numpy as np

from ..errors import ArchitectureError

ARCH_KEYS = ("layers", "hidden", "heads", "ffn", "seq", "batch", "vocab", "head_dim")


# ---------------------------------------------------------------------------------------------------- geometry

def _bert(model):
    """The BertModel inside ``model`` (itself, or ``.bert`` of a task model); ArchitectureError otherwise."""
    name = type(model).__name__
    if name == "BertModel":
        return model
    if name == "BertForQuestionAnswering":
        return model.bert
    raise ArchitectureError(f"sub-networks are cut from a transformers BertModel or BertForQuestionAnswering, "
                            f"not a {name}")


def _layers(model):
    return list(_bert(model).encoder.layer)


@dataclass
class Geometry:
    """The sizes of a (possibly already cut) BERT, read from its modules."""
    layers: int
    hidden: int
    heads: list
    ffn: list
    head_dim: int
    vocab: int
    max_seq: int


def geometry(model) -> Geometry:
    bert = _bert(model)
    heads, ffn, dims = [], [], set()
    for layer in bert.encoder.layer:
        sa = layer.attention.self
        d = int(sa.attention_head_size)
        dims.add(d)
        heads.append(int(sa.query.out_features) // d)
        ffn.append(int(layer.intermediate.dense.out_features))
    emb = bert.embeddings
    if len(dims) > 1:
        raise ArchitectureError(f"the model's layers have different head widths {sorted(dims)}; lpfc's "
                                "architecture dict has one head_dim")
    return Geometry(len(heads), int(emb.word_embeddings.embedding_dim), heads, ffn,
                    dims.pop() if dims else 0, int(emb.word_embeddings.num_embeddings),
                    int(emb.position_embeddings.num_embeddings))


def arch_of(model, seq: int, batch: int = 1) -> dict:
    """The oracle's architecture dict of ``model`` at sequence length ``seq``.

    ``heads``/``ffn`` are per-layer lists; ``head_dim`` is present only where it differs from
    ``hidden // heads`` (a pruned layer), so an unpruned model's dict is the plain one.
    """
    g = geometry(model)
    out = {"layers": g.layers, "hidden": g.hidden, "heads": list(g.heads), "ffn": list(g.ffn),
           "seq": int(seq), "batch": int(batch), "vocab": g.vocab}
    if any(h * g.head_dim != g.hidden for h in g.heads):
        out["head_dim"] = g.head_dim
    return out


# ---------------------------------------------------------------------------------------------------- the arch

def _positive(key: str, v, where: str = "") -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise ArchitectureError(f"{key!r}{where} must be a positive integer, got {v!r}")
    if v <= 0:
        raise ArchitectureError(f"{key!r}{where} must be positive, got {v}")
    return int(v)


def _normalize(arch: Mapping, g: Geometry) -> dict:
    """The arch with per-layer lists, checked against what can be cut from a model of geometry ``g``."""
    if not isinstance(arch, Mapping):
        raise ArchitectureError(f"an architecture is a dict with keys {', '.join(ARCH_KEYS)}; "
                                f"got {type(arch).__name__}")
    unknown = [k for k in arch if k not in ARCH_KEYS]
    if unknown:
        raise ArchitectureError(f"unknown key {unknown[0]!r} in the architecture dict",
                                hint=f"the keys are {', '.join(ARCH_KEYS)}")
    for k in ("layers", "hidden", "heads", "ffn"):
        if k not in arch:
            raise ArchitectureError(f"the architecture dict lacks {k!r}")
    a = {k: _positive(k, arch[k]) for k in ("layers", "hidden")}
    n = a["layers"]
    for k in ("heads", "ffn"):
        v = arch[k]
        if isinstance(v, (list, tuple)):
            if len(v) != n:
                raise ArchitectureError(f"{k!r} has {len(v)} entries but 'layers' is {n}",
                                        hint="give one entry per layer, or a single number for all")
            a[k] = [_positive(k, x, f"[{i}]") for i, x in enumerate(v)]
        else:
            a[k] = [_positive(k, v)] * n
    if n > g.layers:
        raise ArchitectureError(f"'layers' is {n} but the model has only {g.layers} layers")
    if a["hidden"] > g.hidden:
        raise ArchitectureError(f"'hidden' is {a['hidden']} but the model's hidden size is {g.hidden}",
                                hint="a sub-network can only be narrower")
    if "head_dim" in arch and _positive("head_dim", arch["head_dim"]) != g.head_dim:
        raise ArchitectureError(f"'head_dim' is {arch['head_dim']} but the model's heads are {g.head_dim} wide",
                                hint="pruning keeps whole heads; leave 'head_dim' out or give the model's")
    if "vocab" in arch and _positive("vocab", arch["vocab"]) != g.vocab:
        raise ArchitectureError(f"'vocab' is {arch['vocab']} but the model's vocabulary has {g.vocab} tokens")
    if "seq" in arch and _positive("seq", arch["seq"]) > g.max_seq:
        raise ArchitectureError(f"'seq' is {arch['seq']} but the model has only {g.max_seq} positions")
    if "batch" in arch:
        _positive("batch", arch["batch"])
    return a


# ---------------------------------------------------------------------------------------------------- importance

@dataclass
class Importance:
    """Per-unit importance of a model: ``heads[l]`` [n_heads], ``ffn[l]`` [ffn], ``hidden`` [hidden]."""
    heads: list
    ffn: list
    hidden: np.ndarray
    source: str  # "gradient" (Michel et al. 2019) or "magnitude"

    def save(self, path) -> None:
        arrays = {f"heads{i}": h for i, h in enumerate(self.heads)}
        arrays.update({f"ffn{i}": f for i, f in enumerate(self.ffn)})
        np.savez(path, hidden=self.hidden, source=np.array(self.source), n=np.array(len(self.heads)), **arrays)

    @classmethod
    def load(cls, path) -> "Importance":
        z = np.load(path)
        n = int(z["n"])
        return cls([z[f"heads{i}"] for i in range(n)], [z[f"ffn{i}"] for i in range(n)], z["hidden"],
                   str(z["source"]))


@contextlib.contextmanager
def masked(model, heads: Optional[Sequence] = None, ffn: Optional[Sequence] = None, hidden=None,
           skip_layers: Iterable[int] = ()):
    """Run ``model`` with multiplicative masks: ``heads[l]`` on each head's attention output (what the
    old ``head_mask`` did), ``ffn[l]`` on each FFN neuron after the activation, ``hidden`` on the
    residual stream after every LayerNorm; layers in ``skip_layers`` pass their input through.

    Masks are torch tensors or anything ``torch.as_tensor`` takes; ``None`` entries mean all ones.
    """
    import torch

    handles = []
    layers = _layers(model)

    def mul_heads(m):
        def hook(mod, args, out):
            ctx = out[0]
            d = mod.attention_head_size
            shaped = ctx.reshape(*ctx.shape[:-1], -1, d) * m.to(ctx.dtype)[:, None]
            return (shaped.reshape(ctx.shape),) + tuple(out[1:])
        return hook

    def mul_last(m):
        return lambda mod, args, out: out * m.to(out.dtype)

    try:
        for i, layer in enumerate(layers):
            if heads is not None and heads[i] is not None:
                handles.append(layer.attention.self.register_forward_hook(mul_heads(torch.as_tensor(heads[i]))))
            if ffn is not None and ffn[i] is not None:
                handles.append(layer.intermediate.register_forward_hook(mul_last(torch.as_tensor(ffn[i]))))
            if i in set(skip_layers):
                handles.append(layer.register_forward_hook(lambda mod, args, out: args[0]))
        if hidden is not None:
            hm = torch.as_tensor(hidden)
            for mod in _bert(model).modules():
                if isinstance(mod, torch.nn.LayerNorm):
                    handles.append(mod.register_forward_hook(mul_last(hm)))
        yield model
    finally:
        for h in handles:
            h.remove()


def _default_loss(outputs, batch):
    loss = getattr(outputs, "loss", None)
    if loss is not None:
        return loss
    raise ArchitectureError("the batches give the model no loss: give a QA model start_positions/end_positions, "
                            "or pass loss_fn(outputs, batch)")


def importance_scores(model, batches: Optional[Iterable[Mapping]] = None,
                      loss_fn: Optional[Callable] = None) -> Importance:
    """Importance of every head, FFN neuron and hidden dimension of ``model`` (see the module docstring).

    ``batches``: model keyword dicts of torch tensors (``input_ids``, ``attention_mask``,
    ``token_type_ids`` and, for the QA span loss, ``start_positions``/``end_positions``). ``None``:
    weight magnitudes. The model's weights and mode are left as they were.
    """
    if batches is None:
        return magnitude_importance(model)
    import torch

    g = geometry(model)
    loss_fn = loss_fn or _default_loss
    hm = [torch.ones(h, requires_grad=True) for h in g.heads]
    fm = [torch.ones(f, requires_grad=True) for f in g.ffn]
    dm = torch.ones(g.hidden, requires_grad=True)
    acc_h = [torch.zeros(h) for h in g.heads]
    acc_f = [torch.zeros(f) for f in g.ffn]
    acc_d = torch.zeros(g.hidden)
    was_training = model.training
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()  # no dropout: the gradient of the deterministic model
    for p, _ in flags:
        p.requires_grad_(False)  # gradients w.r.t. the masks only
    n = 0
    try:
        with masked(model, heads=hm, ffn=fm, hidden=dm):
            for batch in batches:
                loss = loss_fn(model(**batch), batch)
                grads = torch.autograd.grad(loss, hm + fm + [dm])
                for i in range(g.layers):
                    acc_h[i] += grads[i].abs()
                    acc_f[i] += grads[g.layers + i].abs()
                acc_d += grads[-1].abs()
                n += 1
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        model.train(was_training)
    if n == 0:
        raise ArchitectureError("importance_scores got an empty list of batches")
    return Importance([a.numpy() / n for a in acc_h], [a.numpy() / n for a in acc_f], acc_d.numpy() / n,
                      "gradient")


def magnitude_importance(model) -> Importance:
    """The data-free fallback: L2 norms of the weights that belong to each unit."""
    import torch

    g = geometry(model)
    bert = _bert(model)
    d = g.head_dim
    heads, ffn = [], []
    hid = torch.zeros(g.hidden, dtype=torch.float64)

    def col2(w):   # squared norm of each input column
        return torch.linalg.vector_norm(w.detach(), dim=0).double() ** 2

    def row2(w):   # squared norm of each output row
        return torch.linalg.vector_norm(w.detach(), dim=1).double() ** 2

    emb = bert.embeddings
    for e in (emb.word_embeddings, emb.position_embeddings, emb.token_type_embeddings):
        hid += col2(e.weight)
    for layer in bert.encoder.layer:
        sa, ao = layer.attention.self, layer.attention.output
        per = sum(row2(lin.weight) for lin in (sa.query, sa.key, sa.value)) + col2(ao.dense.weight)
        heads.append(per.reshape(-1, d).sum(1).sqrt().numpy())
        wi, wo = layer.intermediate.dense.weight, layer.output.dense.weight
        ffn.append((row2(wi).sqrt() * col2(wo).sqrt()).numpy())
        for lin in (sa.query, sa.key, sa.value, layer.intermediate.dense):
            hid += col2(lin.weight)
        for lin in (ao.dense, layer.output.dense):
            hid += row2(lin.weight)
    for mod in bert.modules():
        if isinstance(mod, torch.nn.LayerNorm):
            hid += mod.weight.detach().double() ** 2
    return Importance(heads, ffn, hid.sqrt().numpy(), "magnitude")


# ---------------------------------------------------------------------------------------------------- planning

@dataclass
class Plan:
    """Which units of the model a sub-network keeps (indices into the model, ascending)."""
    layers: list
    heads: list      # per kept layer: head indices
    ffn: list        # per kept layer: neuron indices
    hidden: list     # hidden dimensions
    head_dim: int

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def _pick_layers(n: int, total: int, how: Union[str, Sequence[int]]) -> list:
    if isinstance(how, str):
        if how == "even":
            return [math.ceil((k + 1) * total / n) - 1 for k in range(n)]
        if how == "first":
            return list(range(n))
        raise ArchitectureError(f"layers={how!r}: choose 'even', 'first' or a list of layer indices")
    idx = [int(i) for i in how]
    if len(idx) != n or sorted(set(idx)) != idx or not all(0 <= i < total for i in idx):
        raise ArchitectureError(f"layers={list(how)!r} must be {n} ascending distinct indices below {total}")
    return idx


def _top(scores, k: int) -> list:
    """Indices of the ``k`` largest scores, ascending (ties: the lower index wins, so plans are stable)."""
    s = np.asarray(scores, np.float64)
    order = np.lexsort((np.arange(len(s)), -s))
    return sorted(int(i) for i in order[:k])


def plan_subnetwork(model, arch: Mapping, importance: Optional[Importance] = None,
                    layers: Union[str, Sequence[int]] = "even") -> Plan:
    """The units ``extract_subnetwork`` keeps for ``arch``; ArchitectureError names an impossible key."""
    g = geometry(model)
    a = _normalize(arch, g)
    imp = importance if importance is not None else magnitude_importance(model)
    if len(imp.heads) != g.layers or len(imp.hidden) != g.hidden:
        raise ArchitectureError("the importance scores belong to another model (layer or hidden count differs)")
    keep = _pick_layers(a["layers"], g.layers, layers)
    heads, ffn = [], []
    for i, src in enumerate(keep):
        if a["heads"][i] > g.heads[src]:
            raise ArchitectureError(f"'heads'[{i}] is {a['heads'][i]} but the model's layer {src} has only "
                                    f"{g.heads[src]} heads")
        if a["ffn"][i] > g.ffn[src]:
            raise ArchitectureError(f"'ffn'[{i}] is {a['ffn'][i]} but the model's layer {src} has only "
                                    f"{g.ffn[src]} FFN neurons")
        heads.append(_top(imp.heads[src], a["heads"][i]))
        ffn.append(_top(imp.ffn[src], a["ffn"][i]))
    return Plan(keep, heads, ffn, _top(imp.hidden, a["hidden"]), g.head_dim)


# ---------------------------------------------------------------------------------------------------- cutting

def _skeleton(cls, config, hidden: int, heads: Sequence[int], ffn: Sequence[int], head_dim: int,
              pooler: bool = True):
    """A ``cls`` model with the given per-layer sizes (its weights are whatever the init gives)."""
    from torch import nn

    cfg = copy.deepcopy(config)
    cfg.num_hidden_layers = len(heads)
    cfg.hidden_size = hidden
    cfg.num_attention_heads = 1          # HF checks hidden % heads at construction; the real sizes follow
    cfg.intermediate_size = 1
    new = cls(cfg, add_pooling_layer=pooler) if cls.__name__ == "BertModel" else cls(cfg)
    for layer, h, f in zip(_bert(new).encoder.layer, heads, ffn):
        sa = layer.attention.self
        w = h * head_dim
        sa.query, sa.key, sa.value = (nn.Linear(hidden, w) for _ in range(3))
        sa.num_attention_heads, sa.attention_head_size, sa.all_head_size = h, head_dim, w
        sa.scaling = head_dim ** -0.5
        layer.attention.output.dense = nn.Linear(w, hidden)
        layer.intermediate.dense = nn.Linear(hidden, f)
        layer.output.dense = nn.Linear(f, hidden)
    cfg = new.config
    cfg.num_attention_heads = max(heads)
    cfg.intermediate_size = max(ffn)
    cfg.lpfc_subnet = {"heads": [int(x) for x in heads], "ffn": [int(x) for x in ffn], "head_dim": int(head_dim)}
    return new


def _class_of(cfg):
    import transformers
    arch = (getattr(cfg, "architectures", None) or ["BertModel"])[0]
    if arch not in ("BertModel", "BertForQuestionAnswering"):
        raise ArchitectureError(f"a saved sub-network of class {arch} cannot be loaded")
    return getattr(transformers, arch)


class _Index:
    """Kept indices of one axis; ``full`` when they are all of them in order (then nothing is copied)."""

    def __init__(self, idx):
        import torch
        self.t = torch.as_tensor(list(idx), dtype=torch.long)
        self.n = len(self.t)

    def full(self, size: int) -> bool:
        import torch
        return self.n == size and bool((self.t == torch.arange(size)).all())


def _cut(t, rows: Optional[_Index] = None, cols: Optional[_Index] = None):
    if rows is not None and not rows.full(t.shape[0]):
        t = t.index_select(0, rows.t)
    if cols is not None and not cols.full(t.shape[1]):
        t = t.index_select(1, cols.t)
    return t


def _slice_state(state: Mapping, plan: Plan, prefix: str) -> dict:
    """The sub-network's state dict: every tensor of ``state`` cut to the kept units (``load_state_dict``
    copies them, so uncut tensors are passed as they are)."""
    hid = _Index(plan.hidden)
    d = plan.head_dim
    out = {}
    for name, t in state.items():
        if not name.startswith(prefix) and not name.startswith("qa_outputs."):
            raise ArchitectureError(f"cannot cut parameter {name!r}: only BERT encoders with a QA head are supported")
        key = name[len(prefix):] if name.startswith(prefix) else name
        parts = key.split(".")
        if key.startswith("embeddings.") and key.endswith("_embeddings.weight"):
            out[name] = _cut(t, None, hid)
        elif key.startswith("embeddings.LayerNorm."):
            out[name] = _cut(t, hid)
        elif key.startswith("encoder.layer."):
            src = int(parts[2])
            if src not in plan.layers:
                continue
            j_new = plan.layers.index(src)
            rest = ".".join(parts[3:])
            heads = _Index([h * d + k for h in plan.heads[j_new] for k in range(d)])
            ffn = _Index(plan.ffn[j_new])
            new_name = name.replace(f"encoder.layer.{src}.", f"encoder.layer.{j_new}.", 1)
            if rest.startswith("attention.self."):        # query/key/value: rows = heads, cols = hidden
                out[new_name] = _cut(t, heads, hid) if rest.endswith("weight") else _cut(t, heads)
            elif rest.startswith("attention.output.dense."):
                out[new_name] = _cut(t, hid, heads) if rest.endswith("weight") else _cut(t, hid)
            elif rest.startswith("intermediate.dense."):
                out[new_name] = _cut(t, ffn, hid) if rest.endswith("weight") else _cut(t, ffn)
            elif rest.startswith("output.dense."):
                out[new_name] = _cut(t, hid, ffn) if rest.endswith("weight") else _cut(t, hid)
            elif "LayerNorm." in rest:
                out[new_name] = _cut(t, hid)
            else:
                raise ArchitectureError(f"cannot cut parameter {name!r} (not a BERT encoder layer weight)")
        elif key.startswith("pooler.dense."):
            out[name] = _cut(t, hid, hid) if key.endswith("weight") else _cut(t, hid)
        elif key.startswith("qa_outputs."):
            out[name] = _cut(t, None, hid) if key.endswith("weight") else t
        else:
            raise ArchitectureError(f"cannot cut parameter {name!r}")
    return out


def apply_plan(model, plan: Plan):
    """A new model of ``model``'s class holding exactly the units ``plan`` keeps (``model`` untouched)."""
    import torch

    prefix = "" if type(model).__name__ == "BertModel" else "bert."
    with torch.no_grad():
        state = {k: v for k, v in model.state_dict().items()
                 if not k.endswith("position_ids") and not k.endswith("token_type_ids")}
        sliced = _slice_state(state, plan, prefix)
    new = _skeleton(type(model), model.config, len(plan.hidden), [len(h) for h in plan.heads],
                    [len(f) for f in plan.ffn], plan.head_dim, pooler=_bert(model).pooler is not None)
    missing, unexpected = new.load_state_dict(sliced, strict=False)
    missing = [m for m in missing if not m.endswith(("position_ids", "token_type_ids"))]
    if missing or unexpected:
        raise ArchitectureError(f"the cut weights do not fit the sub-network: missing {missing[:3]}, "
                                f"unexpected {unexpected[:3]}")
    # Which teacher layer and hidden dimension each kept unit came from, composed through a parent cut: what a
    # later distillation needs to pair the student's hidden states with the teacher's (examples.qa train
    # --hidden-mse); save_pretrained writes it into config.json with the rest of the config.
    parent = getattr(model.config, "lpfc_source", None) or {}
    up_l, up_h = parent.get("layers"), parent.get("hidden")
    new.config.lpfc_source = {
        "layers": [int(up_l[i]) if up_l else int(i) for i in plan.layers],
        "hidden": [int(up_h[i]) if up_h else int(i) for i in plan.hidden]}
    new.train(model.training)
    return new


def extract_subnetwork(model, arch: Mapping, importance: Optional[Importance] = None,
                       layers: Union[str, Sequence[int]] = "even"):
    """The sub-network of ``model`` with architecture ``arch``, weights inherited (see the module docstring).

    ``importance``: from ``importance_scores`` (gradient-based with data); ``None``: weight magnitudes.
    """
    return apply_plan(model, plan_subnetwork(model, arch, importance, layers))


# ---------------------------------------------------------------------------------------------------- files

def save_subnetwork(model, directory) -> Path:
    """``save_pretrained`` plus what rebuilds non-uniform layers (``config.lpfc_subnet``)."""
    directory = Path(directory)
    g = geometry(model)
    model.config.lpfc_subnet = {"heads": g.heads, "ffn": g.ffn, "head_dim": g.head_dim}
    model.save_pretrained(directory)
    return directory


def load_subnetwork(directory):
    """The model ``save_subnetwork`` wrote (a plain HF directory without ``lpfc_subnet`` loads as usual)."""
    import transformers
    from safetensors.torch import load_file

    directory = Path(directory)
    cfg_path = directory / "config.json"
    if not cfg_path.exists():
        raise ArchitectureError(f"{directory} holds no config.json")
    cfg = transformers.AutoConfig.from_pretrained(str(directory), local_files_only=True)
    sub = getattr(cfg, "lpfc_subnet", None)
    cls = _class_of(cfg)
    if not sub:
        return cls.from_pretrained(str(directory), local_files_only=True)
    files = sorted(directory.glob("*.safetensors"))
    if not files:
        raise ArchitectureError(f"{directory} holds no .safetensors weights")
    state = {}
    for f in files:
        state.update(load_file(str(f)))
    pooler = any(k.startswith(("pooler.", "bert.pooler.")) for k in state)
    new = _skeleton(cls, cfg, cfg.hidden_size, sub["heads"], sub["ffn"], sub["head_dim"], pooler=pooler)
    missing, unexpected = new.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith(("position_ids", "token_type_ids"))]
    if missing or unexpected:
        raise ArchitectureError(f"the weights in {directory} do not fit its lpfc_subnet config: missing "
                                f"{missing[:3]}, unexpected {unexpected[:3]}")
    return new.eval()


__all__ = ["ARCH_KEYS", "Geometry", "Importance", "Plan", "apply_plan", "arch_of", "extract_subnetwork",
           "geometry", "importance_scores", "load_subnetwork", "magnitude_importance", "masked",
           "plan_subnetwork", "save_subnetwork"]
