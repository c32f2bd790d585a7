"""Fine-tune MiniLM (all-MiniLM-L6-v2) with a span head on SQuAD v1.1 train, on the CPU, time-boxed.

    python -m examples.qa train [--minutes 105] [--threads 2] [--batch-size 16] [--lr 1e-4] [--bf16 auto|on|off]

The recipe is chosen for F1 per CPU-minute; on an idle 2-core machine with bfloat16 matrix products its
default 105 minutes are about one epoch of SQuAD v1.1 (16 windows/s):
- dynamic padding with length bucketing: examples are taken in seeded chunks, their windows sorted by
  length and batched with neighbours, so a batch is padded to its own longest window (~200 tokens on
  average instead of 384);
- bfloat16 autocast of the matrix products where the CPU has bf16 dot products (AVX512-BF16, AMX): 1.5x
  faster steps, weights and optimizer in fp32 (``--bf16 auto``, the default; ``on``/``off`` to force);
- a small batch (16) and many optimizer steps, peak LR 1e-4 with a linear warm-up over the first 5% of
  the budget and a linear decay to zero at its end; the schedule runs on *training time* (the box is a
  number of minutes, so the step count is not known in advance);
- the word-embedding matrix (11.7 M of the 22.7 M parameters) is frozen: it is the slowest part of
  the AdamW update and the least useful to move in under one epoch; dropout is off for the same reason
  (every window is seen at most once, there is nothing to over-fit yet);
- windows that do not contain their answer are skipped (SQuAD v1.1: ~3% of the windows).

The run lives in ``$LPFC_CACHE_DIR/qa/<run name>/`` (never committed): ``ckpt.pt`` (resumable: model,
optimizer, data position, RNG, training time so far, written every ``--save-every`` minutes and at the
end), ``model/`` (the fine-tuned model, what ``build`` exports), ``snap-NNmin/`` snapshots for the F1
against training-time curve, and ``log.jsonl``. A finished run with the same settings is reused; an
interrupted one resumes where its last checkpoint left it.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from lpfc.nas.squad import MAX_LEN, STRIDE, cpu_has_bf16, load_squad, squad_dir, train_features  # noqa: E402

from .paths import cache_dir, load_tokenizer, minilm_dir  # noqa: E402

CHUNK = 512  # examples tokenized (and length-bucketed) at a time


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--minutes", type=float, default=105.0, help="training-time budget (default 105)")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many optimizer steps (0: no limit)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-4, help="peak learning rate")
    ap.add_argument("--warmup", type=float, default=0.05, help="warm-up share of the budget")
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--bf16", type=_bf16_choice, default="auto",
                    help="bfloat16 autocast for the matrix products, fp32 weights and optimizer: auto (default: "
                         "where the CPU has AVX512-BF16 or AMX, ~1.5x faster steps there), on, off")
    ap.add_argument("--max-len", type=int, default=MAX_LEN)
    ap.add_argument("--stride", type=int, default=STRIDE)
    ap.add_argument("--snapshots", default="5,10,20", help="minutes at which to keep a copy of the model")
    ap.add_argument("--save-every", type=float, default=3.0, help="minutes between resumable checkpoints")
    ap.add_argument("--train-file", default=None, help="default: SQuAD v1.1 train")
    ap.add_argument("--train-limit", type=int, default=0, help="use only the first N questions (tests)")
    ap.add_argument("--init", default=None, help="model directory to start from (default: all-MiniLM-L6-v2; "
                                                  "a NAS sub-network saved by lpfc.nas.subnet.save_subnetwork too)")
    ap.add_argument("--teacher", default=None,
                    help="a fine-tuned QA model directory to distil from: the loss becomes (1 - a) x the span loss "
                         "+ a x T^2 x KL(teacher || student) of the start and end distributions")
    ap.add_argument("--kd-alpha", type=float, default=0.5, help="a, the distillation share (with --teacher)")
    ap.add_argument("--temperature", type=float, default=2.0, help="T (with --teacher)")
    ap.add_argument("--hidden-mse", type=float, default=0.0,
                    help="b (with --teacher): add b x the MSE between each student layer's output and its source "
                         "layer's in the teacher (TinyBERT/CoFi layer distillation; the pairing comes from the "
                         "student's config.lpfc_source, or is the identity where the shapes match)")
    ap.add_argument("--run-dir", default=None, help="default: $LPFC_CACHE_DIR/qa/<run name>")
    ap.add_argument("--no-progress", action="store_true")


def _bf16_choice(text: str) -> bool:
    if text not in ("auto", "on", "off"):
        raise argparse.ArgumentTypeError(f"expected auto, on or off, not {text!r}")
    return cpu_has_bf16() if text == "auto" else text == "on"


def run_name(args) -> str:
    return (f"minilm-b{args.batch_size}-lr{args.lr:g}-w{args.warmup:g}-d{args.dropout:g}-s{args.seed}"
            f"-{args.minutes:g}min" + (f"-{args.max_steps}steps" if args.max_steps else "")
            + (f"-n{args.train_limit}" if args.train_limit else "") + ("-bf16" if args.bf16 else "")
            + (f"-kd{args.kd_alpha:g}-t{args.temperature:g}" if args.teacher else "")
            + (f"-h{args.hidden_mse:g}" if args.teacher and args.hidden_mse else ""))


def run_dir(args) -> Path:
    return Path(args.run_dir) if args.run_dir else cache_dir() / run_name(args)


def _settings(args) -> dict:
    keys = ("minutes", "max_steps", "batch_size", "lr", "warmup", "dropout", "seed", "max_len", "stride",
            "train_file", "train_limit", "init")
    settings = {k: getattr(args, k) for k in keys}
    if args.bf16:  # only when set, so that the runs cached before the option still match their settings
        settings["bf16"] = True
    if args.teacher:
        settings.update(teacher=str(args.teacher), kd_alpha=args.kd_alpha, temperature=args.temperature)
        if args.hidden_mse:   # only when set, so that the distillations cached before the option still match
            settings["hidden_mse"] = args.hidden_mse
    return settings


def layer_pairing(student, teacher):
    """(teacher layer of each student layer, teacher hidden dimensions the student kept) for --hidden-mse: from
    the student's ``config.lpfc_source`` (written when lpfc.nas cut it), else the identity where the student has
    the teacher's layer count and hidden size; anything else cannot be paired and is an error."""
    import torch
    s_cfg, t_cfg = student.config, teacher.config
    src = getattr(s_cfg, "lpfc_source", None)
    if src:
        layers, hidden = list(src["layers"]), list(src["hidden"])
    elif (s_cfg.num_hidden_layers, s_cfg.hidden_size) == (t_cfg.num_hidden_layers, t_cfg.hidden_size):
        layers, hidden = list(range(t_cfg.num_hidden_layers)), list(range(t_cfg.hidden_size))
    else:
        raise SystemExit(f"--hidden-mse: the student ({s_cfg.num_hidden_layers} layers x {s_cfg.hidden_size}) does "
                         f"not say which teacher layers and dimensions it came from (no lpfc_source in its config) "
                         f"and differs from the teacher ({t_cfg.num_hidden_layers} x {t_cfg.hidden_size})")
    if (len(layers), len(hidden)) != (s_cfg.num_hidden_layers, s_cfg.hidden_size) or \
            max(layers) >= t_cfg.num_hidden_layers or max(hidden) >= t_cfg.hidden_size:
        raise SystemExit(f"--hidden-mse: the student's lpfc_source ({len(layers)} layers, {len(hidden)} dimensions) "
                         f"does not fit the student ({s_cfg.num_hidden_layers} x {s_cfg.hidden_size}) and the "
                         f"teacher ({t_cfg.num_hidden_layers} x {t_cfg.hidden_size})")
    return layers, torch.as_tensor(hidden)


def load_teacher(args, model):
    """(teacher model, --hidden-mse's layer pairing) for a distillation run, (None, None) without --teacher."""
    if not args.teacher:
        if args.hidden_mse:
            raise SystemExit("--hidden-mse distils hidden states from a teacher: give --teacher too")
        return None, None
    if not 0.0 <= args.kd_alpha <= 1.0 or args.temperature <= 0 or args.hidden_mse < 0:
        raise SystemExit(f"--kd-alpha must be within [0, 1], --temperature positive and --hidden-mse >= 0, not "
                         f"{args.kd_alpha:g}, {args.temperature:g} and {args.hidden_mse:g}")
    from .model import load_qa_model
    teacher = load_qa_model(args.teacher).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher, (layer_pairing(model, teacher) if args.hidden_mse else None)


def lr_factor(frac: float, warmup: float) -> float:
    """Linear warm-up over ``warmup`` of the budget, then linear decay to 0 at its end."""
    if frac < warmup:
        return max(frac / warmup, 0.01)
    return max(0.0, (1.0 - frac) / max(1.0 - warmup, 1e-9))


def collate(batch):
    """Pad a list of (ids, type_ids, start, end) to the longest window in it (dynamic padding)."""
    import torch
    n = max(len(b[0]) for b in batch)
    ids = np.zeros((len(batch), n), np.int64)
    tt = np.zeros_like(ids)
    mask = np.zeros_like(ids)
    for i, (a, t, _, _) in enumerate(batch):
        ids[i, :len(a)] = a
        tt[i, :len(t)] = t
        mask[i, :len(a)] = 1
    return dict(input_ids=torch.from_numpy(ids), token_type_ids=torch.from_numpy(tt),
                attention_mask=torch.from_numpy(mask),
                start_positions=torch.tensor([b[2] for b in batch]),
                end_positions=torch.tensor([b[3] for b in batch]))


def chunk_batches(tok, examples, order, chunk: int, batch_size: int, seed: int, max_len: int, stride: int):
    """The batches of one chunk of the seeded example order: windows sorted by length, batches shuffled."""
    idx = order[chunk * CHUNK:(chunk + 1) * CHUNK]
    feats = train_features(tok, [examples[i] for i in idx], max_len, stride)
    feats.sort(key=lambda f: len(f[0]))
    batches = [feats[i:i + batch_size] for i in range(0, len(feats), batch_size)]
    rng = np.random.default_rng([seed, chunk])
    return [batches[i] for i in rng.permutation(len(batches))]


def build_model(init: str | None, dropout: float):
    from .model import load_qa_model
    return load_qa_model(init or minilm_dir(), dropout=dropout)


def train(args) -> Path:
    """Train (or reuse / resume) the run; returns the run directory holding ``model/``."""
    import torch

    from lpfc.nas.evaluators.qa_distill import hidden_loss, kd_loss

    out = run_dir(args)
    settings = _settings(args)
    done = out / "done.json"
    if done.exists() and json.loads(done.read_text()).get("settings") == settings and (out / "model").is_dir():
        print(f"reusing the fine-tuned model in {out}/model (delete {out} to retrain)")
        return out
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    tok = load_tokenizer()
    examples = load_squad(args.train_file or squad_dir() / "train-v1.1.json", args.train_limit or None)
    order = np.random.default_rng(args.seed).permutation(len(examples))
    n_chunks = math.ceil(len(examples) / CHUNK)

    model = build_model(args.init, args.dropout)
    teacher, pairing = load_teacher(args, model)
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    decay = [p for n, p in model.named_parameters() if p.requires_grad and not any(
        k in n for k in ("bias", "LayerNorm"))]
    no_decay = [p for n, p in model.named_parameters() if p.requires_grad and any(
        k in n for k in ("bias", "LayerNorm"))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr)
    state = dict(step=0, elapsed=0.0, chunk=0, batch=0, seen=0, loss_ema=None)
    ckpt = out / "ckpt.pt"
    if ckpt.exists():
        saved = torch.load(ckpt, weights_only=False)
        if saved.get("settings") == settings:
            model.load_state_dict(saved["model"])
            opt.load_state_dict(saved["optim"])
            state.update(saved["state"])
            torch.set_rng_state(saved["rng"])
            print(f"resuming {out} at step {state['step']} ({state['elapsed'] / 60:.1f} min trained)")
        else:
            print(f"ignoring {ckpt}: it was written with other settings")

    budget = args.minutes * 60.0
    snaps = sorted(float(m) * 60 for m in args.snapshots.split(",") if m.strip()) if args.snapshots else []
    snaps = [s for s in snaps if s < budget and not (out / f"snap-{s / 60:02.0f}min").exists()]
    log = open(out / "log.jsonl", "a")

    def save_ckpt():
        tmp = ckpt.with_suffix(".tmp")
        torch.save(dict(model=model.state_dict(), optim=opt.state_dict(), state=state, settings=settings,
                        rng=torch.get_rng_state()), tmp)
        os.replace(tmp, ckpt)  # never a half-written checkpoint

    def save_model(dest: Path):
        tmp = dest.with_name(dest.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        if getattr(model.config, "lpfc_subnet", None):  # per-layer sizes: written so that they load back
            from lpfc.nas.subnet import save_subnetwork
            save_subnetwork(model, tmp)
        else:
            model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / "trained.json").write_text(json.dumps(dict(state, settings=settings), indent=1))
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)

    bar = None
    if not args.no_progress:
        from tqdm import tqdm
        bar = tqdm(total=int(budget), initial=int(min(state["elapsed"], budget)), unit="s", dynamic_ncols=True,
                   desc="train", bar_format="{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} s "
                                            "[{elapsed}<{remaining}] {postfix}")
    model.train()
    last_save = state["elapsed"]
    print(f"training {run_name(args)}: {len(examples)} questions, batch {args.batch_size}, peak lr {args.lr:g}, "
          f"{args.threads} threads, budget {args.minutes:g} min"
          + (f", distilling from {args.teacher}" if teacher is not None else "") + f" -> {out}", flush=True)
    stop = False
    while not stop:
        if state["chunk"] >= n_chunks:  # one epoch done: a new permutation for the next
            state["chunk"] = 0
            order = np.random.default_rng([args.seed, state["step"]]).permutation(len(examples))
        batches = chunk_batches(tok, examples, order, state["chunk"], args.batch_size, args.seed, args.max_len,
                                args.stride)
        while state["batch"] < len(batches):
            t0 = time.perf_counter()
            frac = state["elapsed"] / budget
            if args.max_steps:
                frac = max(frac, state["step"] / args.max_steps)
            for g in opt.param_groups:
                g["lr"] = args.lr * lr_factor(frac, args.warmup)
            batch = collate(batches[state["batch"]])
            want_h = pairing is not None        # --hidden-mse with a teacher: both models return hidden states
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                out_s = model(**batch, output_hidden_states=want_h)
            loss = out_s.loss
            if teacher is not None:
                feeds = {k: batch[k] for k in ("input_ids", "token_type_ids", "attention_mask")}
                with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                    out_t = teacher(**feeds, output_hidden_states=want_h)
                kd = kd_loss(out_s.start_logits.float(), out_s.end_logits.float(), out_t.start_logits.float(),
                             out_t.end_logits.float(), batch["attention_mask"], args.temperature)
                loss = (1.0 - args.kd_alpha) * loss + args.kd_alpha * kd
                if want_h:
                    loss = loss + args.hidden_mse * hidden_loss(out_s.hidden_states, out_t.hidden_states,
                                                                pairing[0], pairing[1], batch["attention_mask"])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            dt = time.perf_counter() - t0
            state["elapsed"] += dt
            state["step"] += 1
            state["batch"] += 1
            state["seen"] += len(batches[state["batch"] - 1])
            lv = loss.item()
            state["loss_ema"] = lv if state["loss_ema"] is None else 0.95 * state["loss_ema"] + 0.05 * lv
            log.write(json.dumps(dict(step=state["step"], elapsed=round(state["elapsed"], 2), loss=round(lv, 4),
                                      lr=opt.param_groups[0]["lr"], tokens=int(batch["input_ids"].numel()))) + "\n")
            if bar is not None:
                bar.n = int(min(state["elapsed"], budget))
                bar.set_postfix_str(f"step {state['step']} loss {state['loss_ema']:.3f} "
                                    f"lr {opt.param_groups[0]['lr']:.2e} {dt:.2f} s/step", refresh=True)
            while snaps and state["elapsed"] >= snaps[0]:
                save_model(out / f"snap-{snaps.pop(0) / 60:02.0f}min")
            stop = state["elapsed"] >= budget or (args.max_steps and state["step"] >= args.max_steps)
            if stop:
                break
            if state["elapsed"] - last_save >= args.save_every * 60:
                log.flush()
                save_ckpt()
                last_save = state["elapsed"]
        if not stop:
            state["chunk"] += 1
            state["batch"] = 0
    if bar is not None:
        bar.close()
    log.close()
    save_ckpt()
    save_model(out / "model")
    done.write_text(json.dumps(dict(settings=settings, state=state), indent=1))
    print(f"trained {state['step']} steps, {state['seen']} windows in {state['elapsed'] / 60:.1f} min "
          f"(loss {state['loss_ema']:.3f}) -> {out}/model")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m examples.qa train", description=__doc__.splitlines()[0])
    add_arguments(ap)
    train(ap.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
