"""The ``qa-distill`` evaluator: SQuAD v1.1 F1 of a weight-inherited, briefly distilled sub-network.

    from lpfc.nas.evaluators.qa_distill import evaluate, run
    evaluate({"layers": 4, "hidden": 384, "heads": 8, "ffn": 1024, "seq": 384})   # F1, 0..100

1. **Teacher**: the QA app's fine-tuned MiniLM (``python -m examples.qa train`` / ``make qa``): the newest
   finished run under ``$LPFC_CACHE_DIR/qa`` (a run directory with ``done.json`` and ``model/``; runs on a
   ``--train-limit`` subset are skipped), or ``teacher_dir=`` (an HF model directory).
2. **Inheritance**: ``lpfc.nas.subnet.extract_subnetwork`` with gradient importances (Michel et al. 2019,
   the QA span loss on the first ``importance_batches`` distillation batches); layers evenly spaced, the last
   one kept.
3. **Distillation**: ``steps`` AdamW steps (batch ``batch_size``, peak LR ``lr``, 10% linear warm-up, linear
   decay; word embeddings frozen, as in the QA recipe) on SQuAD v1.1 *training* windows (a seeded sample,
   384-token windows, dynamic padding); the loss is the KL divergence between the teacher's and the
   student's start and end distributions at temperature ``temperature`` (times T², Hinton et al.), plus
   ``hidden_mse`` × the MSE between each student layer's output and its source layer's output in the teacher
   restricted to the kept hidden dimensions (off by default: it needs the teacher's forward at every step).
4. **Score**: F1 (official SQuAD v1.1 metric, in percent) on a fixed subset of ``questions`` dev questions
   (a permutation with a fixed seed, so the subsets of different sizes are nested and every call, whatever
   its ``seed``, sees the same questions), 384-token windows with stride 128, n-best 20, answers ≤ 30 tokens.

Every candidate of a search sees the same distillation batches and the same questions. Cached under
``$LPFC_CACHE_DIR/nas/qa-distill/<teacher key>/`` (the key hashes the teacher's path and weights file):
the importances, the training batches with the teacher's logits on them (the KD targets: no teacher forward
at run time) and the teacher's logits on the dev subset; in a process, the teacher, tokenizer and data are
kept between calls.

Wall time per call at the defaults (40 steps of 8 windows, 200 questions, ``threads=2``), measured
2026-12-07 with ``bench/nas_qa_distill.py`` on the idle 2-core AMD EPYC (Zen 4, distilling under bf16) with
the QA app's 105-minute teacher: 12 s (3 layers, hidden 256) to 35 s (6 layers, half the heads and FFN) after
the caches are warm; the first calls of a process fill the caches (32 s in all, once per teacher). On the
busy development VM (load 10-15) the same calls took 223-1291 s. docs/nas-weights.md has the tables.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ...errors import NasError

STEPS = 40
QUESTIONS = 200
BATCH = 8
LR = 1e-4
TEMPERATURE = 2.0
IMPORTANCE_BATCHES = 8
EVAL_BATCH = 16
DEV_SEED = 20261207      # the fixed dev subset: never the call's seed
DRY_RUN = dict(steps=2, questions=8)
CACHE_VERSION = 2        # bump when the cached data's recipe changes (the key of every cache file)


# ---------------------------------------------------------------------------------------------------- files

def cache_root() -> Path:
    return Path(os.environ.get("LPFC_CACHE_DIR") or Path.home() / ".cache" / "lpfc")


def find_teacher(root: Optional[Path] = None) -> Path:
    """The ``model/`` of the newest finished QA fine-tuning run (done.json's mtime); NasError if none."""
    qa = Path(root) if root is not None else cache_root() / "qa"
    runs = []
    for done in qa.glob("*/done.json") if qa.is_dir() else []:
        model = done.parent / "model"
        if not (model / "config.json").exists():
            continue
        try:
            settings = json.loads(done.read_text()).get("settings", {})
        except (OSError, ValueError):
            continue
        if settings.get("train_limit"):
            continue  # a test run on a few questions, not a teacher
        runs.append((done.stat().st_mtime, model))
    if not runs:
        raise NasError(f"the qa-distill evaluator needs the QA app's fine-tuned MiniLM, and {qa} holds no finished "
                       "run", hint="run `make qa` (or `python -m examples.qa train`), or pass teacher_dir=")
    return max(runs)[1]


def _teacher_key(model_dir: Path) -> str:
    files = sorted(p for p in model_dir.iterdir() if p.suffix in (".safetensors", ".bin"))
    stamp = [f"v{CACHE_VERSION}", str(model_dir.resolve())]
    stamp += [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files]
    return hashlib.sha1("|".join(stamp).encode()).hexdigest()[:12]


def _atomic_save(obj, path: Path) -> None:
    import torch
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)  # parallel workers may write the same file: whole files only


# ---------------------------------------------------------------------------------------------------- data

def _pad(rows, value=0):
    n = max(len(r) for r in rows)
    out = np.full((len(rows), n), value, np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def _batch(feats):
    """Model inputs of (ids, type ids, start, end) features, padded to the longest."""
    import torch
    ids = _pad([f[0] for f in feats])
    return dict(input_ids=torch.from_numpy(ids), token_type_ids=torch.from_numpy(_pad([f[1] for f in feats])),
                attention_mask=torch.from_numpy((_pad([np.ones(len(f[0])) for f in feats])).astype(np.int64)),
                start_positions=torch.tensor([f[2] for f in feats]), end_positions=torch.tensor([f[3] for f in feats]))


def _inputs(batch: dict) -> dict:
    return {k: batch[k] for k in ("input_ids", "token_type_ids", "attention_mask")}


def train_batches(tok, n_batches: int, batch_size: int, seed: int, squad_dir: Path):
    """``n_batches`` batches of SQuAD v1.1 training windows: a seeded sample of questions, taken in chunks of
    8 batches' worth whose windows are sorted by length (less padding) and whose batches are shuffled.

    Prefix-stable: the first k batches are the same whatever ``n_batches`` is, so calls with other step
    counts distill on the same data and share the importances.
    """
    from ..squad import load_squad, train_features
    examples = load_squad(squad_dir / "train-v1.1.json")
    order = np.random.default_rng([seed, 15]).permutation(len(examples))
    size = 8 * batch_size
    batches = []
    for c in range(0, len(order), size):
        if len(batches) >= n_batches:
            break
        feats = sorted(train_features(tok, [examples[i] for i in order[c:c + size]]), key=lambda f: len(f[0]))
        group = [feats[i:i + batch_size] for i in range(0, len(feats) - batch_size + 1, batch_size)]
        rng = np.random.default_rng([seed, 16, c])
        batches += [group[i] for i in rng.permutation(len(group))]
    return [_batch(b) for b in batches[:n_batches]]


def dev_subset(tok, questions: int, squad_dir: Path):
    """(examples, windows) of the fixed dev subset: the first ``questions`` of a fixed permutation."""
    from ..squad import encode, load_squad
    examples = load_squad(squad_dir / "dev-v1.1.json")
    if questions > len(examples):
        raise NasError(f"questions={questions} but SQuAD v1.1 dev has {len(examples)}")
    pick = np.random.default_rng(DEV_SEED).permutation(len(examples))[:questions]
    examples = [examples[i] for i in sorted(pick)]
    enc = encode(tok, [e.question for e in examples], [e.context for e in examples])
    return examples, enc


# ---------------------------------------------------------------------------------------------------- model runs

def window_logits(model, enc, batch: int = EVAL_BATCH) -> list:
    """(start, end) logits of every window of ``enc`` (numpy, unpadded), batched by length."""
    import torch
    n = len(enc["input_ids"])
    order = sorted(range(n), key=lambda w: len(enc["input_ids"][w]))
    out = [None] * n
    model.eval()
    with torch.no_grad():
        for b in range(0, n, batch):
            ws = order[b:b + batch]
            ids = _pad([enc["input_ids"][w] for w in ws])
            tt = _pad([enc["token_type_ids"][w] for w in ws])
            mask = _pad([np.ones(len(enc["input_ids"][w])) for w in ws]).astype(np.int64)
            o = model(input_ids=torch.from_numpy(ids), token_type_ids=torch.from_numpy(tt),
                      attention_mask=torch.from_numpy(mask))
            for i, w in enumerate(ws):
                m = len(enc["input_ids"][w])
                out[w] = (o.start_logits[i, :m].numpy().copy(), o.end_logits[i, :m].numpy().copy())
    return out


def score(logits, examples, enc) -> dict:
    """Official EM/F1 (percent) of the best span of each question."""
    from ..squad import best_spans, evaluate
    per_q: dict = {}
    for w, q in enumerate(enc["overflow_to_sample_mapping"]):
        per_q.setdefault(q, []).append(w)
    preds = {}
    for q, ws in per_q.items():
        spans = best_spans([logits[w][0] for w in ws], [logits[w][1] for w in ws],
                           [enc["offset_mapping"][w] for w in ws], examples[q].context, top=1)
        preds[examples[q].qid] = spans[0].text if spans else ""
    return evaluate({e.qid: e.answers for e in examples}, preds)


def kd_loss(start, end, t_start, t_end, mask, temperature: float):
    """KL(teacher || student) of the start and end distributions over the window's real tokens, × T²."""
    import torch.nn.functional as F
    neg = (1 - mask).bool()
    T = temperature
    loss = 0.0
    for s, t in ((start, t_start), (end, t_end)):
        s = (s / T).masked_fill(neg, -1e4)
        t = (t / T).masked_fill(neg, -1e4)
        loss = loss + F.kl_div(F.log_softmax(s, -1), F.log_softmax(t, -1), log_target=True, reduction="batchmean")
    return loss / 2 * T * T


def hidden_loss(student_states, teacher_states, layers, hidden, mask):
    """The mean over the student's layers of the MSE between each layer's output and its source layer's output
    in the teacher (``layers[j]``: the teacher layer student layer j came from), on the teacher's ``hidden``
    dimensions (a LongTensor: the ones the student kept, so no projection is needed) and the real tokens."""
    m = mask.unsqueeze(-1).float()
    total = 0.0
    for j, src in enumerate(layers):
        s = student_states[j + 1].float()
        t = teacher_states[src + 1].float().index_select(-1, hidden)
        total = total + (((s - t) ** 2) * m).sum() / (m.sum() * s.shape[-1])
    return total / len(layers)


def mean_kd(model, batches, targets, temperature: float) -> float:
    import torch
    model.eval()
    total = 0.0
    with torch.no_grad():
        for b, (ts, te) in zip(batches, targets):
            o = model(**_inputs(b))
            total += float(kd_loss(o.start_logits, o.end_logits, ts, te, b["attention_mask"], temperature))
    return total / max(len(batches), 1)


def distill(student, batches, targets, steps: int, *, lr: float = LR, temperature: float = TEMPERATURE,
            hidden_mse: float = 0.0, teacher=None, plan=None, log=None, bf16: bool = False) -> list:
    """``steps`` AdamW steps of logit KD (and optional hidden-state MSE); returns the per-step losses.

    ``bf16``: the student's forward under torch's bfloat16 autocast (weights and optimizer stay fp32)."""
    import torch
    if steps <= 0:
        return []
    emb = student.bert.embeddings.word_embeddings.weight
    emb.requires_grad_(False)
    params = [p for p in student.parameters() if p.requires_grad]
    decay = [p for n, p in student.named_parameters() if p.requires_grad and "bias" not in n and "LayerNorm" not in n]
    rest = [p for n, p in student.named_parameters() if p.requires_grad and ("bias" in n or "LayerNorm" in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}], lr=lr)
    warm = max(1, round(0.1 * steps))
    hid = torch.as_tensor(plan.hidden) if plan is not None else None
    losses = []
    student.train()
    for step in range(steps):
        frac = step / steps
        f = (step + 1) / warm if step < warm else max(0.0, (1 - frac) / (1 - warm / steps))
        for g in opt.param_groups:
            g["lr"] = lr * f
        k = step % len(batches)
        b, (ts, te) = batches[k], targets[k]
        want_h = hidden_mse > 0 and teacher is not None and plan is not None
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            o = student(**_inputs(b), output_hidden_states=want_h)
        loss = kd_loss(o.start_logits.float(), o.end_logits.float(), ts, te, b["attention_mask"], temperature)
        if want_h:
            with torch.no_grad():
                th = teacher(**_inputs(b), output_hidden_states=True).hidden_states
            loss = loss + hidden_mse * hidden_loss(o.hidden_states, th, plan.layers, hid, b["attention_mask"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        if log:
            log(step, losses[-1])
    emb.requires_grad_(True)
    student.eval()
    return losses


# ---------------------------------------------------------------------------------------------------- the context

@dataclass
class _Context:
    teacher_dir: Path
    teacher: object
    tok: object
    cache: Path
    loaded: dict = field(default_factory=dict)


_CONTEXTS: dict = {}


def _context(teacher_dir) -> _Context:
    from ..squad import squad_dir
    model_dir = Path(teacher_dir) if teacher_dir is not None else find_teacher()
    if not (model_dir / "config.json").exists():
        raise NasError(f"teacher_dir {model_dir} is not a model directory (no config.json)",
                       hint="give the model/ directory of a QA fine-tuning run")
    sq = squad_dir()
    for name in ("train-v1.1.json", "dev-v1.1.json"):
        if not (sq / name).exists():
            raise NasError(f"SQuAD v1.1 is not in {sq} ({name} is missing)", hint="set LPFC_SQUAD_DIR")
    key = str(model_dir.resolve())
    if key not in _CONTEXTS:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import transformers
        from transformers import AutoTokenizer
        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        teacher = transformers.BertForQuestionAnswering.from_pretrained(str(model_dir), local_files_only=True).eval()
        tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        cache = cache_root() / "nas" / "qa-distill" / _teacher_key(model_dir)
        _CONTEXTS[key] = _Context(model_dir, teacher, tok, cache)
    ctx = _CONTEXTS[key]
    ctx.loaded.setdefault("squad", sq)
    return ctx


def _train_data(ctx: _Context, n_batches: int, batch_size: int, seed: int):
    """(batches, teacher targets) — cached on disk and in the process."""
    import torch
    key = f"train-s{seed}-b{batch_size}-n{n_batches}"
    if key in ctx.loaded:
        return ctx.loaded[key]
    path = ctx.cache / f"{key}.pt"
    if path.exists():
        data = torch.load(path, weights_only=False)
    else:
        batches = train_batches(ctx.tok, n_batches, batch_size, seed, ctx.loaded["squad"])
        targets = []
        with torch.no_grad():
            for b in batches:
                o = ctx.teacher(**_inputs(b))
                targets.append((o.start_logits.clone(), o.end_logits.clone()))
        data = (batches, targets)
        _atomic_save(data, path)
    ctx.loaded[key] = data
    return data


def _dev_data(ctx: _Context, questions: int):
    """(examples, windows, teacher logits per window) of the fixed dev subset."""
    import torch
    key = f"dev-q{questions}"
    if key in ctx.loaded:
        return ctx.loaded[key]
    examples, enc = dev_subset(ctx.tok, questions, ctx.loaded["squad"])
    path = ctx.cache / f"{key}.pt"
    if path.exists():
        logits = torch.load(path, weights_only=False)
    else:
        logits = window_logits(ctx.teacher, enc)
        _atomic_save(logits, path)
    ctx.loaded[key] = (examples, enc, logits)
    return ctx.loaded[key]


def _importance(ctx: _Context, batches, n: int, seed: int, batch_size: int):
    from ..subnet import Importance, importance_scores
    key = f"importance-s{seed}-b{batch_size}-n{n}"
    if key in ctx.loaded:
        return ctx.loaded[key]
    path = ctx.cache / f"{key}.npz"
    if path.exists():
        imp = Importance.load(path)
    else:
        imp = importance_scores(ctx.teacher, batches[:n])
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        imp.save(tmp)
        os.replace(tmp, path)
    ctx.loaded[key] = imp
    return imp


# ---------------------------------------------------------------------------------------------------- the evaluator

@dataclass
class Result:
    f1: float
    exact_match: float
    teacher_f1: float
    f1_before: Optional[float]   # the inherited sub-network before distillation (run(score_before=True))
    kd_before: float      # mean KD loss on the first two distillation batches, before and after
    kd_after: float
    losses: list
    seconds: dict
    arch: dict
    steps: int
    questions: int

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def run(arch, *, teacher_dir=None, steps: int = STEPS, questions: int = QUESTIONS, seed: int = 0,
        threads: Optional[int] = None, batch_size: int = BATCH, lr: float = LR, temperature: float = TEMPERATURE,
        hidden_mse: float = 0.0, importance_batches: int = IMPORTANCE_BATCHES, layers="even",
        dry_run: bool = False, return_model: bool = False, score_before: bool = False, log=None, bf16="auto"):
    """Everything ``evaluate`` measures (a :class:`Result`; with ``return_model``, also the student).

    ``bf16``: distil under bfloat16 autocast — "auto" (where the CPU has native bf16 dot products), True/"on",
    False/"off"; the score is always computed in fp32."""
    import torch
    from ..subnet import apply_plan, plan_subnetwork

    if dry_run:
        steps, questions = min(steps, DRY_RUN["steps"]), min(questions, DRY_RUN["questions"])
    for name, v in (("steps", steps), ("questions", questions), ("batch_size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < (0 if name == "steps" else 1):
            raise NasError(f"qa-distill: {name} must be a {'non-negative' if name == 'steps' else 'positive'} "
                           f"integer, got {v!r}")
    use_bf16 = _bf16(bf16)
    if threads:
        torch.set_num_threads(int(threads))
    t0, c0 = time.perf_counter(), time.process_time()
    ctx = _context(teacher_dir)
    n_batches = max(steps, importance_batches, 2)
    batches, targets = _train_data(ctx, n_batches, batch_size, seed)
    examples, enc, teacher_logits = _dev_data(ctx, questions)
    imp = _importance(ctx, batches, importance_batches, seed, batch_size)
    t1 = time.perf_counter()
    torch.manual_seed(seed)
    plan = plan_subnetwork(ctx.teacher, arch, imp, layers=layers)
    student = apply_plan(ctx.teacher, plan)
    t2 = time.perf_counter()
    probe, probe_t = batches[:2], targets[:2]
    kd_before = mean_kd(student, probe, probe_t, temperature)
    f1_before = round(score(window_logits(student, enc), examples, enc)["f1"], 4) if score_before else None
    losses = distill(student, batches[:steps], targets[:steps], steps, lr=lr, temperature=temperature,
                     hidden_mse=hidden_mse, teacher=ctx.teacher, plan=plan, log=log, bf16=use_bf16)
    kd_after = mean_kd(student, probe, probe_t, temperature) if steps else kd_before
    t3 = time.perf_counter()
    scores = score(window_logits(student, enc), examples, enc)
    teacher_f1 = score(teacher_logits, examples, enc)["f1"]
    t4 = time.perf_counter()
    seconds = {"setup": round(t1 - t0, 2), "extract": round(t2 - t1, 2), "distill": round(t3 - t2, 2),
               "eval": round(t4 - t3, 2), "total": round(t4 - t0, 2),
               "cpu": round(time.process_time() - c0, 2)}   # CPU seconds of all threads: the load-free cost
    res = Result(round(scores["f1"], 4), round(scores["exact_match"], 4), round(teacher_f1, 4), f1_before,
                 kd_before, kd_after,
                 losses, seconds, dict(arch), int(steps), int(questions))
    return (res, student) if return_model else res


def evaluate(arch, *, teacher_dir=None, steps: int = STEPS, questions: int = QUESTIONS, seed: int = 0,
             threads: Optional[int] = None, dry_run: bool = False, **opts) -> float:
    """SQuAD v1.1 dev F1 (0..100) of ``arch``'s inherited, distilled sub-network (see the module docstring)."""
    return run(arch, teacher_dir=teacher_dir, steps=steps, questions=questions, seed=seed, threads=threads,
               dry_run=dry_run, **_known(opts)).f1


def export_model(arch, *, teacher_dir=None, steps: int = STEPS, seed: int = 0, threads: Optional[int] = None,
                 dry_run: bool = False, **opts):
    """The distilled student itself (a BertForQuestionAnswering), what the search's best.onnx carries."""
    _, model = run(arch, teacher_dir=teacher_dir, steps=steps, questions=opts.pop("questions", DRY_RUN["questions"]),
                   seed=seed, threads=threads, dry_run=dry_run, return_model=True, **_known(opts))
    return model.eval()


def _bf16(value) -> bool:
    """The ``bf16`` option ("auto", "on"/"off", a bool) as a bool; anything else is a NasError."""
    from ..squad import cpu_has_bf16
    text = str(value).lower()
    if text == "auto":
        return cpu_has_bf16()
    if text in ("true", "on", "1", "yes"):
        return True
    if text in ("false", "off", "0", "no"):
        return False
    raise NasError(f"qa-distill: bf16 must be auto, on or off, got {value!r}")


def _known(opts: dict) -> dict:
    """The options of ``run`` among ``opts`` (a search passes every evaluator the same option dict)."""
    keys = ("batch_size", "lr", "temperature", "hidden_mse", "importance_batches", "layers", "bf16")
    return {k: opts[k] for k in keys if k in opts}


__all__ = ["Result", "distill", "evaluate", "export_model", "find_teacher", "hidden_loss", "kd_loss", "run",
           "score", "window_logits"]
