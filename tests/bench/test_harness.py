"""The benchmark harness in a tiny smoke configuration (tiny-bert, lpfc + onnxruntime, 3 runs).

No timing assertions: this checks that the pipeline runs end to end and that its outputs (CSV
columns, Markdown tables, "not available" rows for a peer that is not set up) are well formed.
"""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench import harness, report
from bench.flops import matmul_flops
from lpfc.testing import zoo

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.zoo
def test_smoke_run_writes_csv_markdown_and_not_available_rows(tmp_path):
    zoo.export("tiny-bert", "dynamo20")
    out = tmp_path / "results"
    env = dict(os.environ, LPFC_BENCH_VENVS=str(tmp_path / "no-venvs"),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "bench", "--models", "tiny-bert", "--runtimes", "lpfc,ort,tflite,tvm",
           "--threads", "1", "--runs", "3", "--rounds", "1", "--warmup", "1", "--out", str(out)]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]

    with (out / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == report.CSV_COLUMNS
    by_rt = {row["runtime"]: row for row in rows}
    assert set(by_rt) == {"lpfc", "ort", "tflite", "tvm"}
    for rt in ("lpfc", "ort"):
        row = by_rt[rt]
        assert row["status"] == "ok", row
        assert int(row["n"]) == 3 and float(row["median_ms"]) > 0
        assert float(row["min_ms"]) <= float(row["median_ms"]) <= float(row["max_ms"])
        assert abs(float(row["gflop"]) - 0.025) < 1e-3
        assert float(row["gflops"]) > 0 and row["pct_peak"] != ""
    assert float(by_rt["lpfc"]["x_lpfc"]) == 1.0
    for rt in ("tflite", "tvm"):
        assert by_rt[rt]["status"].startswith("not available: no " + rt + " venv"), by_rt[rt]
        assert by_rt[rt]["median_ms"] == ""

    md = (out / "results.md").read_text()
    assert "| model (GFLOP) | threads | lpfc | onnxruntime | LiteRT+XNNPACK | TVM (untuned) |" in md
    assert "| tiny-bert (0.03) | 1 |" in md
    assert "not available: no tflite venv" in md
    assert "python -m bench --models tiny-bert" in md
    assert json.loads((out / "peak.json").read_text())["peak_gflops"]["1"] > 0

    # a rerun resumes: nothing is timed again
    before = {p.name: p.stat().st_mtime for p in (out / "raw").glob("*.json")}
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert {p.name: p.stat().st_mtime for p in (out / "raw").glob("*.json")} == before


@pytest.mark.zoo
def test_flop_count_is_2mnk_over_every_matmul():
    # tiny-bert: hidden 64, 2 layers, FFN 128, 4 heads, seq 128, plus the pooler
    layer = 2 * 128 * 64 * 64 * 4 + 2 * 2 * 128 * 64 * 128 + 2 * 2 * 4 * 128 * 128 * 16
    assert matmul_flops(zoo.export("tiny-bert", "dynamo20")) == 2 * layer + 2 * 64 * 64


def test_compare_outputs_matches_by_shape_and_scales(tmp_path):
    ref = {"out0": np.ones((1, 4, 8), np.float32) * 10, "out1": np.zeros((1, 8), np.float32)}
    np.savez(tmp_path / "ref.npz", **ref)
    # reordered outputs (as a converter may give them) with a small error on the first
    np.savez(tmp_path / "got.npz", out0=np.zeros((1, 8), np.float32), out1=ref["out0"] + 0.05)
    assert harness.compare_outputs(tmp_path / "ref.npz", tmp_path / "got.npz") == pytest.approx(0.005, rel=1e-4)
    np.savez(tmp_path / "bad.npz", out0=np.zeros((3,), np.float32))
    with pytest.raises(ValueError, match="no output of shape"):
        harness.compare_outputs(tmp_path / "ref.npz", tmp_path / "bad.npz")


def test_slow_runtime_gets_one_process_within_the_budget():
    cfg = harness.Config(models=[], runtimes=[], threads=[1], runs=20, rounds=4, warmup=3, budget_s=60)
    assert harness.plan_cell(cfg, {"first_run_ms": 9000.0, "run_ms": 10.0}) == (4, [5, 5, 5, 5], 3, 15.0)
    cfg.runs = 5
    assert harness.plan_cell(cfg, {"run_ms": 10.0})[:2] == (4, [2, 1, 1, 1])
    cfg.runs = 20
    rounds, runs, warmup, budget = harness.plan_cell(cfg, {"run_ms": 20_000.0})
    assert (rounds, runs, warmup, budget) == (1, [cfg.min_runs], 1, 60)


def test_report_marks_wrong_outputs_and_failed_conversions(tmp_path):
    out = tmp_path
    cfg = {"models": ["m"], "runtimes": ["lpfc", "tflite", "tvm"], "threads": [1], "seq": 128, "runs": 2,
           "warmup": 1}
    (out / "run.json").write_text(json.dumps({"config": cfg, "commands": ["python -m bench"]}))
    (out / "peak.json").write_text(json.dumps({"peak_gflops": {"1": 100.0}}))
    (out / "models").mkdir()
    (out / "models" / "m-s128.json").write_text(json.dumps({"flop": 2e9}))
    (out / "check").mkdir()
    (out / "check" / "m-s128-lpfc.json").write_text(json.dumps({"status": "ok", "max_diff": 0.0}))
    (out / "check" / "m-s128-tflite.json").write_text(json.dumps({"status": "wrong", "max_diff": 0.5}))
    (out / "check" / "m-s128-tvm.json").write_text(json.dumps({"status": "prepare_failed", "error": "boom"}))
    (out / "raw").mkdir()
    (out / "raw" / "m-s128-t1-lpfc-r0.json").write_text(json.dumps(
        {"model": "m", "seq": 128, "threads": 1, "runtime": "lpfc", "times_ms": [10.0, 30.0, 20.0]}))
    rows, _, _ = report.collect(out)
    by = {r["runtime"]: r for r in rows}
    assert by["lpfc"]["median_ms"] == 20.0 and by["lpfc"]["gflops"] == pytest.approx(100.0)
    assert by["lpfc"]["pct_peak"] == pytest.approx(100.0)
    assert by["tflite"]["status"] == "wrong outputs (max diff 5.00e-01)" and "median_ms" not in by["tflite"]
    assert by["tvm"]["status"] == "build failed: boom"
    report.write(out)
    assert "wrong outputs (max diff 5.00e-01)" in (out / "results.md").read_text()


def test_runtime_limits_rounds_and_threads(tmp_path):
    """torch.compile gets one process per cell (each would compile again); TVM's single-threaded default
    build is timed at one thread and its other rows say why, never a blank."""
    cfg = harness.Config(models=[], runtimes=[], threads=[1, 2], runs=20, rounds=4, warmup=3, budget_s=0)
    tc = harness.RUNTIMES["torch-compile"]
    assert harness.plan_cell(cfg, {"run_ms": 10.0}, tc.max_rounds)[:2] == (1, [20])
    assert harness.plan_cell(cfg, {"run_ms": 10.0})[:2] == (4, [5, 5, 5, 5])
    out = tmp_path
    conf = {"models": ["m"], "runtimes": ["lpfc", "tvm", "torch-compile"], "threads": [1, 2], "seq": 128,
            "runs": 2, "warmup": 1, "rounds": 4}
    (out / "run.json").write_text(json.dumps({"config": conf, "commands": ["python -m bench"]}))
    (out / "check").mkdir()
    (out / "raw").mkdir()
    for rt in ("lpfc", "tvm", "torch-compile"):
        (out / "check" / f"m-s128-{rt}.json").write_text(json.dumps({"status": "ok", "max_diff": 0.0}))
        (out / "raw" / f"m-s128-t1-{rt}-r0.json").write_text(json.dumps(
            {"model": "m", "seq": 128, "threads": 1, "runtime": rt, "times_ms": [10.0, 12.0]}))
    rows, _, _ = report.collect(out)
    by = {(r["runtime"], r["threads"]): r for r in rows}
    assert by[("tvm", 1)]["median_ms"] == 11.0
    assert by[("tvm", 2)]["status"].startswith("not timed at 2 threads: TVM's default pipeline")
    assert by[("torch-compile", 1)]["note"].startswith("1 process(es): every fresh process traces")
    assert by[("torch-compile", 2)]["status"] == "not run"
    report.write(out)
    summary = (out / "results.md").read_text().split("## All cells")[0]
    assert "| m (–) | 2 | not run | not timed at 2 threads | not run |" in summary


def test_onnx2tf_error_names_the_cause_not_the_consequence():
    from bench.runners.tflite_convert import first_error

    log = ("\x1b[31mERROR:\x1b[0m The trace log is below.\n  File \"x.py\", line 1\n"
           "ValueError: Exception encountered when calling layer \"tf.math.add_8\" (type TFOpLambda).\n\n"
           "Dimensions must be equal, but are 12 and 128\n"
           "\x1b[31mERROR:\x1b[0m onnx_op_name: node_add_4\n"
           "FileNotFoundError: [Errno 2] No such file or directory: 'x_float32.tflite'\n")
    assert first_error(log) == ('ValueError: Exception encountered when calling layer "tf.math.add_8" '
                                '(type TFOpLambda). Dimensions must be equal, but are 12 and 128 (ONNX node node_add_4)')
