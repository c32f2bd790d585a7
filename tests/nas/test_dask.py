"""A small search through ``lpfc nas --dask ADDRESS`` on a Dask LocalCluster (in-process: cheap)."""
import json

import pytest

pytest.importorskip("torch")
distributed = pytest.importorskip("distributed")

from lpfc.cli import main  # noqa: E402

SPACE = ["--layers", "1-2", "--hidden", "64,128", "--heads", "1,2", "--ffn", "128,256", "--seq", "32"]


def test_search_on_a_dask_local_cluster(tmp_path, capsys):
    log = tmp_path / "calls.log"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            rc = main(["nas", "--latency-ms", "1000", "--trials", "4", "--workers", "2", "--evaluator",
                       "tests.nas.evalcount:evaluate", "--evaluator-opt", f"log={log}", "--out", str(tmp_path / "o"),
                       "--dask", cluster.scheduler_address, "--no-export", *SPACE])
            # the cluster's own record: every candidate went through a Dask task
            done = [k for k in client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.transition_log))]
    err = capsys.readouterr().err
    assert rc == 0, err
    assert f"on Dask {cluster.scheduler_address}" in err
    trials = [json.loads(x) for x in (tmp_path / "o" / "trials.jsonl").read_text().splitlines()]
    assert len(trials) == 4
    assert len(log.read_text().splitlines()) == sum(not t["cached"] for t in trials)
    assert any("evaluate_task" in str(entry[0]) for entry in done)
