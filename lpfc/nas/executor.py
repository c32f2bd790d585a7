"""Where candidates are evaluated: a standard ``concurrent.futures.Executor``.

- default: a local ``ProcessPoolExecutor`` (spawned workers: the parent holds torch's threads, which a
  fork would copy half-initialised);
- ``dask="local"``: a Dask ``LocalCluster`` started here; ``dask="tcp://host:8786"``: an existing Dask
  scheduler. Either way ``distributed.Client(...).get_executor()`` -- Dask's own Executor, nothing home-made.

Workers evaluate through :func:`evaluate_task`, a module-level function so it pickles by name; it resolves
the evaluator in the worker (each worker imports it once and keeps what it caches).
"""
from __future__ import annotations

import math
import os
import threading
import time
from concurrent.futures import Executor
from contextlib import contextmanager
from typing import Optional

from ..errors import NasError


def evaluate_task(evaluator: str, arch: dict, opts: dict) -> tuple:
    """Run in a worker: (score, seconds). A score that is not a finite number is the evaluator's error."""
    from .evaluators import resolve

    fn = resolve(evaluator)
    t0 = time.perf_counter()
    score = fn(dict(arch), **dict(opts))
    try:
        score = float(score)
    except (TypeError, ValueError):
        raise NasError(f"evaluator {evaluator!r} returned {score!r}, not a number") from None
    if not math.isfinite(score):
        raise NasError(f"evaluator {evaluator!r} returned {score} for {arch}")
    return score, time.perf_counter() - t0


def _exit_with_parent(parent_pid: int) -> None:
    """A local worker's initializer: end the worker once its search process is gone.

    A search killed from outside (SIGTERM, SIGKILL, a closed terminal) runs no clean-up, and a spawned
    worker would go on with its candidate -- minutes of two busy cores -- orphaned. Linux re-parents the
    orphan, so a changed parent pid is the sign; a daemon thread checks it every second."""
    def watch():
        while True:
            time.sleep(1.0)
            if os.getppid() != parent_pid:
                os._exit(1)
    threading.Thread(target=watch, name="lpfc-nas-parent-watch", daemon=True).start()


@contextmanager
def make_executor(workers: int = 1, dask: Optional[str] = None, executor: Optional[Executor] = None):
    """Yields (executor, description); closes what it opened."""
    if executor is not None:
        yield executor, f"{type(executor).__name__} (given)"
        return
    if dask:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise NasError("--dask needs Dask distributed: pip install 'dask[distributed]'") from None
        cluster = None
        try:
            if dask == "local":
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None)
                client = Client(cluster)
            else:
                client = Client(dask, timeout="20s")
        except OSError as e:
            if cluster is not None:
                cluster.close()
            raise NasError(f"cannot connect to the Dask scheduler {dask!r}: {e}") from None
        try:
            n = len(client.scheduler_info().get("workers", {}))
            yield client.get_executor(pure=False), f"Dask {client.scheduler.address} ({n} worker(s))"
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    before = {c.pid for c in multiprocessing.active_children()}
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_exit_with_parent, initargs=(os.getpid(),))
    try:
        yield pool, f"local process pool ({workers} worker(s))"
    except BaseException:
        # interrupted (Ctrl-C) or failed: stop the candidates in flight rather than wait minutes for them
        # (the pool's workers are the children this process started since the pool opened)
        pool.shutdown(wait=False, cancel_futures=True)
        for child in multiprocessing.active_children():
            if child.pid not in before:
                child.terminate()
        raise
    pool.shutdown(wait=True, cancel_futures=True)


__all__ = ["evaluate_task", "make_executor"]
