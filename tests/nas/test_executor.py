"""The local process pool's workers end with the search: a killed or interrupted search leaves no orphan
evaluating a candidate on the machine's cores."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from lpfc.nas.executor import make_executor


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:        # a zombie is dead too: /proc says Z until its (new) parent reaps it
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _wait_gone(pid: int, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


SEARCH = textwrap.dedent("""
    import os, sys, time
    from lpfc.nas.executor import make_executor
    with make_executor(1) as (pool, _):
        pid = pool.submit(os.getpid).result()
        pool.submit(time.sleep, 300)          # a candidate in flight
        print(pid, flush=True)
        time.sleep(300)
""")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_search_leaves_no_worker(sig):
    proc = subprocess.Popen([sys.executable, "-c", SEARCH], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(proc.stdout.readline())
        assert _alive(worker)
        proc.send_signal(sig)
        proc.wait(timeout=30)
        assert _wait_gone(worker, 15), f"worker {worker} outlived its search (killed with {sig.name})"
    finally:
        proc.kill()


def test_an_interrupted_search_stops_its_candidate_at_once():
    with pytest.raises(KeyboardInterrupt):
        with make_executor(1) as (pool, _):
            worker = pool.submit(os.getpid).result()
            busy = pool.submit(time.sleep, 60)
            end = time.monotonic() + 10
            while not busy.running() and time.monotonic() < end:    # in the worker, past cancelling
                time.sleep(0.05)
            assert busy.running()
            time.sleep(0.2)
            t0 = time.monotonic()
            raise KeyboardInterrupt
    assert _wait_gone(worker, 10) and time.monotonic() - t0 < 10
