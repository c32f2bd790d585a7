"""Per-kernel profiles: Session.profile, lpfc_model_profile and `lpfc run lib.so --profile`."""
import numpy as np
import pytest

import lpfc
from lpfc.testing import zoo


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    d = tmp_path_factory.mktemp("profile")
    return lpfc.compile(zoo.export("tiny-bert", "dynamo20"), d / "libtb.so")


def test_profile_has_one_row_per_kernel_call(tiny_bert):
    sess = lpfc.load(tiny_bert.library, threads=1)
    feeds = zoo.sample_inputs("tiny-bert")
    want = sess.run(feeds)
    p = sess.profile(feeds, runs=3)
    assert len(p.kernels) == tiny_bert.kernels
    assert [k.index for k in p.kernels] == list(range(tiny_bert.kernels))
    assert p.runs == 3 and all(len(k.samples) == 3 for k in p.kernels)
    assert all(k.seconds > 0 for k in p.kernels)
    assert {k.kind for k in p.kernels} == set(tiny_bert.kinds)
    assert {k.emitter for k in p.kernels} <= {"cpp-gemm", "cpp-attention", "cpp-rowwise", "generic"}
    # the kernels' times make up the run: never more than the whole (Python-timed) run
    assert 0 < p.kernel_seconds <= p.total_seconds
    gemms = [k for k in p.kernels if k.emitter == "cpp-gemm"]
    assert gemms and all(k.flop > 0 and k.gflops > 0 for k in gemms)
    table = p.table()
    assert table.count("\n") >= len(p.kernels) + 3 and "GFLOP/s" in table
    # profiling computes the same outputs as a plain run
    out, _ = sess._run(feeds, profile=True)
    for name in want:
        np.testing.assert_array_equal(out[name], want[name])


def test_profile_two_threads_and_bad_runs(tiny_bert):
    sess = lpfc.load(tiny_bert.library, threads=2)
    p = sess.profile(zoo.sample_inputs("tiny-bert"), runs=1, warmup=0)
    assert p.threads == 2 and len(p.kernels) == tiny_bert.kernels
    with pytest.raises(lpfc.errors.InputError, match="runs"):
        sess.profile(zoo.sample_inputs("tiny-bert"), runs=0)


def test_cli_profile(tiny_bert, capsys):
    from lpfc.cli import main

    assert main(["run", str(tiny_bert.library), "--profile", "--runs", "2", "--threads", "1", "-q"]) == 0
    out = capsys.readouterr().out
    rows = [ln for ln in out.splitlines() if ln[:5].strip().isdigit()]
    assert len(rows) == tiny_bert.kernels
    assert "by kind:" in out and "median of 2 run(s)" in out
