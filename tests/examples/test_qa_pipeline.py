"""The whole QA pipeline on a tiny model: train a few steps, export, lpfc.compile, eval, ask.

Plumbing only: a 2-layer hidden-32 model trained for 3 steps answers badly; what is checked is that
every stage runs, that lpfc and onnxruntime agree on it, and that awkward input gets an answer or a
clear message. The accuracy goal is the benchmark's job (docs/qa.md).
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # export + a C++ build of the tiny model: ~20-60 s on 2 busy cores


def test_train_writes_a_reusable_run(tiny_run, capsys):
    assert (tiny_run / "model" / "config.json").exists()
    done = json.loads((tiny_run / "done.json").read_text())
    assert done["state"]["step"] == 3
    steps = [json.loads(line) for line in (tiny_run / "log.jsonl").read_text().splitlines()]
    assert [s["step"] for s in steps] == [1, 2, 3]
    assert all(np.isfinite(s["loss"]) for s in steps)
    # the same settings again: reused, not retrained
    import argparse

    from examples.qa import train as tr
    ap = argparse.ArgumentParser()
    tr.add_arguments(ap)
    args = ap.parse_args(["--init", done["settings"]["init"], "--max-steps", "3", "--train-limit", "48",
                          "--minutes", "5", "--threads", "1", "--run-dir", str(tiny_run), "--snapshots", "",
                          "--no-progress"])
    before = (tiny_run / "model" / "model.safetensors").stat().st_mtime_ns
    tr.train(args)
    assert "reusing" in capsys.readouterr().out
    assert (tiny_run / "model" / "model.safetensors").stat().st_mtime_ns == before


def test_lr_schedule_warms_up_then_decays():
    from examples.qa.train import lr_factor
    assert lr_factor(0.0, 0.1) < 0.05
    assert lr_factor(0.05, 0.1) == pytest.approx(0.5)
    assert lr_factor(0.1, 0.1) == pytest.approx(1.0)
    assert lr_factor(0.55, 0.1) == pytest.approx(0.5)
    assert lr_factor(1.0, 0.1) == 0.0


def test_build_is_cached_and_lpfc_matches_onnxruntime(tiny_build, tiny_run, tokenizer):
    onnx_path, lib = tiny_build
    from examples.qa.build import build
    stamp = lib.stat().st_mtime_ns
    assert build(tiny_run / "model", quiet=True) == (onnx_path, lib)
    assert lib.stat().st_mtime_ns == stamp  # not rebuilt
    from examples.qa.infer import Answerer
    a = Answerer(lib, "lpfc", threads=1, tokenizer=tokenizer)
    b = Answerer(onnx_path, "ort", threads=1, tokenizer=tokenizer)
    enc = tokenizer("Who wrote it?", "It was written by Ada Lovelace in 1843.")
    for x, y in zip(a.logits(enc["input_ids"], enc["token_type_ids"]), b.logits(enc["input_ids"], enc["token_type_ids"])):
        assert x.shape == (384,)
        np.testing.assert_allclose(x, y, atol=1e-3)


def test_a_window_runs_on_the_shortest_bucket_with_the_same_logits(tiny_build, tiny_run, tokenizer):
    from examples.qa.build import build_buckets
    from examples.qa.infer import Answerer
    onnx_paths, libs = build_buckets(tiny_run / "model", (64, 384), quiet=True)
    assert (onnx_paths[-1], libs[-1]) == tiny_build  # the 384 bucket is the one-library build
    assert [p.name for p in libs] == ["libqa64.so", "libqa384.so"]
    one = Answerer(tiny_build[1], "lpfc", threads=1, tokenizer=tokenizer)
    for rt, paths in (("lpfc", libs), ("ort", onnx_paths)):
        two = Answerer(paths, rt, threads=1, tokenizer=tokenizer)
        assert [b[0] for b in two.buckets] == [64, 384] and two.seq_len == 384
        for reps, length in ((5, 64), (30, 384)):  # 5 sentences fit 64 tokens, 30 (~190) do not
            enc = tokenizer("Who wrote it?", " ".join(["Ada Lovelace wrote it."] * reps))
            n = len(enc["input_ids"])
            s2, e2 = two.logits(enc["input_ids"], enc["token_type_ids"])
            s1, e1 = one.logits(enc["input_ids"], enc["token_type_ids"])
            assert s2.shape == (length,) and n <= length
            np.testing.assert_allclose(s2[:n], s1[:n], atol=1e-4)
            np.testing.assert_allclose(e2[:n], e1[:n], atol=1e-4)


def test_bucket_lists_are_checked():
    from examples.qa.build import parse_buckets
    assert parse_buckets("256,128,384,128") == (128, 256, 384)
    for bad in ("128,256", "8,384", "a,384", ""):
        with pytest.raises(SystemExit, match="buckets"):
            parse_buckets(bad)


def test_eval_through_both_runtimes(tiny_build, tiny_run, squad_dir):
    from examples.qa.eval import run_eval
    r = run_eval(tiny_run / "model", limit=6, threads=1, progress=False, buckets=(64, 384))
    assert r["questions"] == 6 and r["windows"] >= 6
    assert set(r["results"]) == {"lpfc", "ort"}
    assert r["f1_diff"] <= 0.1 and r["max_logit_diff"] < 1e-3
    assert all(0.0 <= v["f1"] <= 100.0 and v["missing"] == 0 for v in r["results"].values())


@pytest.fixture(scope="module")
def answerer(tiny_build, tokenizer):
    from examples.qa.infer import Answerer
    return Answerer(tiny_build[1], "lpfc", threads=1, tokenizer=tokenizer)


def test_answers_are_substrings_of_awkward_paragraphs(answerer):
    cases = [
        ("Wer hat München gegründet?", "München wurde 1158 von Heinrich dem Löwen gegründet. 東京は日本の首都です。"),
        ("What? " * 200, "A question longer than the window still gets an answer from this paragraph."),
        ("Where is the needle?", ("hay " * 12_000 + "The needle is in Lisbon. ")[:50_000]),
    ]
    for q, ctx in cases:
        ans = answerer.answer(q, ctx)
        assert ans.best is not None
        assert ctx[ans.best.start:ans.best.end] == ans.best.text and ans.best.text
    assert answerer.answer("Where is the needle?", cases[2][1]).windows > 10
    assert any("cut" in n for n in answerer.answer(cases[1][0], cases[1][1]).notes)


@pytest.mark.parametrize("question, context, words", [
    ("Who?", "", "paragraph is empty"),
    ("Who?", "   \n ", "paragraph is empty"),
    ("", "Some text.", "question is empty"),
    ("Who?", "x" * 300_000, "at most"),
])
def test_unanswerable_input_gets_a_clear_message(answerer, question, context, words):
    from examples.qa.infer import QAError
    with pytest.raises(QAError, match=words):
        answerer.answer(question, context)


def _ask(repo_root, tiny_run, *args):
    env = dict(os.environ, PYTHONPATH=str(repo_root))
    return subprocess.run([sys.executable, "-m", "examples.qa", "ask", "--model", str(tiny_run / "model"),
                           "--threads", "1", *args], cwd=repo_root, env=env, capture_output=True, text=True,
                          timeout=300)


def test_ask_cli_prints_the_answer_first(tiny_build, tiny_run, repo_root, tmp_path):
    ctx = "Super Bowl 50 was won by the Denver Broncos, who beat the Carolina Panthers 24-10."
    f = tmp_path / "para.txt"
    f.write_text(ctx, encoding="utf-8")
    r = _ask(repo_root, tiny_run, "--context", str(f), "--question", "Who won Super Bowl 50?")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    import re
    m = re.fullmatch(r"span (\d+)-(\d+)  score (-?[\d.]+)  p [\d.]+", lines[1])
    assert m, lines[:2]
    assert ctx[int(m[1]):int(m[2])] == lines[0] and lines[0]
    assert "[[" + lines[0] + "]]" in r.stdout  # highlighted in the paragraph (no terminal: brackets)
    r = _ask(repo_root, tiny_run, "--context", str(tmp_path / "missing.txt"), "--question", "Who?")
    assert r.returncode == 2 and "no such paragraph file" in r.stderr and "Traceback" not in r.stderr
    f.write_text("")
    r = _ask(repo_root, tiny_run, "--context", str(f), "--question", "Who?")
    assert r.returncode == 2 and "paragraph is empty" in r.stderr and "Traceback" not in r.stderr


def test_curve_scores_each_model_of_a_run_and_caches_it(tiny_build, tiny_run, squad_dir, capsys):
    from examples.qa.curve import main as curve
    argv = ["--run", str(tiny_run), "--limit", "3", "--runtimes", "ort", "--buckets", "384"]
    assert curve(argv) == 0
    first = capsys.readouterr().out
    row = [line for line in first.splitlines() if line.endswith("| model |")]
    assert len(row) == 1 and row[0].startswith("| 0.")  # 3 steps: well under a minute of training
    cached = tiny_run / "model" / "build" / "eval-3-ort.json"
    assert json.loads(cached.read_text())["buckets"] == [384]
    stamp = cached.stat().st_mtime_ns
    assert curve(argv) == 0 and cached.stat().st_mtime_ns == stamp  # read back, not re-evaluated
    table = [line for line in first.splitlines() if line.startswith("|")]
    assert [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")] == table


def test_the_default_model_is_the_newest_finished_run(tmp_path, monkeypatch):
    from examples.qa.build import default_model_dir
    monkeypatch.setenv("LPFC_CACHE_DIR", str(tmp_path))
    assert default_model_dir().parent.parent == tmp_path / "qa"  # none yet: where the default run will be
    for i, (name, settings) in enumerate((("old", {}), ("new", {}), ("test", {"train_limit": 48}),
                                          ("unfinished", None))):
        (tmp_path / "qa" / name / "model").mkdir(parents=True)
        (tmp_path / "qa" / name / "model" / "config.json").write_text("{}")
        if settings is not None:
            done = tmp_path / "qa" / name / "done.json"
            done.write_text(json.dumps({"settings": settings}))
            os.utime(done, (1000 + i, 1000 + i))
    assert default_model_dir() == tmp_path / "qa" / "new" / "model"


def test_bf16_is_chosen_by_the_cpu_unless_forced(monkeypatch):
    import argparse

    from examples.qa import train as tr
    ap = argparse.ArgumentParser()
    tr.add_arguments(ap)
    for has in (True, False):
        monkeypatch.setattr(tr, "cpu_has_bf16", lambda: has)
        assert ap.parse_args([]).bf16 is has
        assert ap.parse_args(["--bf16", "on"]).bf16 is True and ap.parse_args(["--bf16", "off"]).bf16 is False
        assert tr.run_name(ap.parse_args([])).endswith("-bf16") is has
    with pytest.raises(SystemExit):
        ap.parse_args(["--bf16", "yes"])


def test_a_nas_subnetwork_is_distilled_exported_and_compiled_like_the_full_model(tiny_run, tokenizer, tmp_path):
    """A sub-network with per-layer sizes (what lpfc nas chooses) goes through the app's recipe with --teacher
    (logit distillation from the full model), its export and lpfc.compile, and lpfc matches onnxruntime."""
    import argparse

    from examples.qa import train as tr
    from examples.qa.build import build
    from examples.qa.infer import Answerer
    from examples.qa.model import is_subnetwork, load_qa_model
    from lpfc.nas.subnet import arch_of, extract_subnetwork, save_subnetwork

    full = load_qa_model(tiny_run / "model")
    sub = extract_subnetwork(full, {"layers": 2, "hidden": 32, "heads": [2, 1], "ffn": [64, 16], "seq": 384})
    init = save_subnetwork(sub, tmp_path / "init")
    tokenizer.save_pretrained(init)
    assert is_subnetwork(init) and not is_subnetwork(tiny_run / "model")
    ap = argparse.ArgumentParser()
    tr.add_arguments(ap)
    args = ap.parse_args(["--init", str(init), "--teacher", str(tiny_run / "model"), "--kd-alpha", "0.7",
                          "--max-steps", "2", "--train-limit", "16", "--minutes", "5", "--threads", "1",
                          "--run-dir", str(tmp_path / "run"), "--snapshots", "", "--no-progress"])
    assert tr.run_name(args).endswith("-kd0.7-t2")
    run = tr.train(args)
    assert json.loads((run / "done.json").read_text())["settings"]["teacher"] == str(tiny_run / "model")
    student = load_qa_model(run / "model")
    assert arch_of(student, 384)["heads"] == [2, 1] and arch_of(student, 384)["ffn"] == [64, 16]
    onnx_path, lib = build(run / "model", quiet=True)
    a = Answerer(lib, "lpfc", threads=1, tokenizer=tokenizer)
    b = Answerer(onnx_path, "ort", threads=1, tokenizer=tokenizer)
    enc = tokenizer("Who wrote it?", "It was written by Ada Lovelace in 1843.")
    for x, y in zip(a.logits(enc["input_ids"], enc["token_type_ids"]), b.logits(enc["input_ids"], enc["token_type_ids"])):
        np.testing.assert_allclose(x, y, atol=1e-3)
    with pytest.raises(ValueError, match="sub-network"):
        load_qa_model(run / "model", attn_implementation="eager")


def test_hidden_state_distillation_pairs_the_layers_a_subnetwork_came_from(tiny_run, tokenizer, tmp_path):
    """--hidden-mse adds the layer-by-layer MSE against the teacher's hidden states, paired through the
    student's config.lpfc_source; a student that cannot be paired, or no teacher, is one clear error."""
    import argparse

    import torch

    from examples.qa import train as tr
    from examples.qa.model import load_qa_model
    from lpfc.nas.evaluators.qa_distill import hidden_loss
    from lpfc.nas.subnet import extract_subnetwork, save_subnetwork

    full = load_qa_model(tiny_run / "model")
    sub = extract_subnetwork(full, {"layers": 1, "hidden": 24, "heads": [1], "ffn": [16], "seq": 384})
    init = save_subnetwork(sub, tmp_path / "init")
    tokenizer.save_pretrained(init)
    student = load_qa_model(init)
    layers, hidden = tr.layer_pairing(student, full)
    assert layers == sub.config.lpfc_source["layers"] == [full.config.num_hidden_layers - 1]
    assert hidden.tolist() == sub.config.lpfc_source["hidden"] and len(hidden) == 24
    # the teacher against itself, paired by identity: no loss; the cut student against it: some
    enc = tokenizer(["Who wrote it?"], ["It was written by Ada Lovelace in 1843."], return_tensors="pt")
    with torch.no_grad():
        t = full(**enc, output_hidden_states=True).hidden_states
        s = student(**enc, output_hidden_states=True).hidden_states
    same_l, same_h = tr.layer_pairing(full, full)
    assert float(hidden_loss(t, t, same_l, same_h, enc["attention_mask"])) == 0.0
    assert float(hidden_loss(s, t, layers, hidden, enc["attention_mask"])) > 0.0
    del student.config.lpfc_source      # a student of another shape that does not say where it came from
    with pytest.raises(SystemExit, match="does not say which teacher layers"):
        tr.layer_pairing(student, full)

    ap = argparse.ArgumentParser()
    tr.add_arguments(ap)
    common = ["--init", str(init), "--max-steps", "2", "--train-limit", "16", "--minutes", "5", "--threads", "1",
              "--snapshots", "", "--no-progress"]
    args = ap.parse_args(common + ["--teacher", str(tiny_run / "model"), "--hidden-mse", "2",
                                   "--run-dir", str(tmp_path / "run")])
    assert tr.run_name(args).endswith("-kd0.5-t2-h2")
    run = tr.train(args)
    assert json.loads((run / "done.json").read_text())["settings"]["hidden_mse"] == 2.0
    losses = [json.loads(line)["loss"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert len(losses) == 2 and all(np.isfinite(losses))
    with pytest.raises(SystemExit, match="give --teacher too"):
        tr.train(ap.parse_args(common + ["--hidden-mse", "2", "--run-dir", str(tmp_path / "run2")]))
    with pytest.raises(SystemExit, match="--hidden-mse >= 0"):
        tr.train(ap.parse_args(common + ["--teacher", str(tiny_run / "model"), "--hidden-mse", "-1",
                                         "--run-dir", str(tmp_path / "run3")]))
