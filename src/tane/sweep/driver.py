"""The one sweep driver: a parent run, child runs for jobs, in-process or in worker processes.

A *strategy* decides which job comes next (the grid of a multirun now; the
samplers of a search later); the driver runs jobs as they are asked for,
``n_jobs`` at a time, gives the next job to a worker as soon as one ends (no
batch barrier), records every job as a child run of one parent run, keeps
going when a job fails, and can resume a parent run that was interrupted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from concurrent.futures import Executor as PoolExecutor
    from concurrent.futures import Future

#: Tag on a child run: the overrides of its job, as JSON (how resume finds what is done).
JOB_TAG = "tane.job.overrides"
#: Tag on the parent run: the sweep's overrides, as JSON.
SWEEP_TAG = "tane.sweep.overrides"
#: Tag on the parent run: what kind of parent it is.
KIND_TAG = "tane.kind"


@dataclass(frozen=True)
class Job:
    """One job: its position and the overrides that make its config."""

    index: int
    overrides: tuple[str, ...]
    params: tuple[tuple[str, Any], ...] = ()  # a search trial's values, by key


@dataclass
class JobResult:
    """How a job ended."""

    index: int
    overrides: tuple[str, ...]
    status: str
    run_id: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0
    value: Any = None
    params: dict[str, Any] = field(default_factory=dict)  # a search trial's values


class Strategy(Protocol):
    """Decides the jobs of a sweep."""

    def jobs(self, done: set[tuple[str, ...]]) -> Iterator[Job]:
        """Yield the jobs still to run (those in ``done`` finished before a resume)."""
        ...


@dataclass
class Grid:
    """Every combination, in order: what ``-m`` runs."""

    combos: list[list[str]]

    def jobs(self, done: set[tuple[str, ...]]) -> Iterator[Job]:
        for index, combo in enumerate(self.combos):
            if tuple(combo) not in done:
                yield Job(index, tuple(combo))


#: Runs one job; must be picklable (a module-level function) for worker processes.
Executor = Callable[[Job, str], JobResult]


def run_jobs(
    jobs: Iterator[Job],
    execute: Executor,
    parent_id: str,
    n_jobs: int = 1,
    on_result: Callable[[JobResult], None] | None = None,
    pool: PoolExecutor | None = None,
) -> list[JobResult]:
    """Run jobs, ``n_jobs`` at a time; a failing job is reported and the rest go on.

    With ``n_jobs`` 1 jobs run in this process; otherwise in that many worker
    processes (the ``spawn`` start method), each taking the next job as soon
    as it is free. A ``pool`` (Ray's, see ``tane.cluster``) takes the jobs
    instead, ``n_jobs`` at a time; its owner shuts it down.
    """
    results: list[JobResult] = []

    def record(result: JobResult) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result)

    if n_jobs <= 1 and pool is None:
        for job in jobs:
            record(execute(job, parent_id))
        return results

    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    from tane._threads import share_cores

    owned = pool is None
    if pool is None:
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(
            max_workers=n_jobs, mp_context=context, initializer=share_cores, initargs=(n_jobs,)
        )
    running: dict[Future[JobResult], Job] = {}
    try:
        for job in jobs:
            if len(running) >= n_jobs:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    record(_outcome(future, running.pop(future)))
            running[pool.submit(execute, job, parent_id)] = job
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                record(_outcome(future, running.pop(future)))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    if owned:
        pool.shutdown(wait=True)
    return results


def _outcome(future: Future[JobResult], job: Job) -> JobResult:
    try:
        return future.result()
    except BaseException as exc:  # the worker process itself died
        return JobResult(job.index, job.overrides, "FAILED", error=f"worker failed: {exc!r}")


def finished_jobs(client: Any, parent_id: str) -> set[tuple[str, ...]]:
    """The overrides of the FINISHED child runs of a parent (what a resume skips)."""
    done: set[tuple[str, ...]] = set()
    token = None
    while True:
        page = client.search_runs(
            f"attributes.parent_id = '{parent_id}' AND attributes.status = 'FINISHED'",
            max_results=1000,
            page_token=token,
        )
        for run in page:
            text = run.tags.get(JOB_TAG)
            if text:
                done.add(tuple(json.loads(text)))
        token = page.next_page_token
        if token is None:
            return done


def timed(fn: Callable[[], JobResult]) -> JobResult:
    """Run ``fn`` and fill in the seconds it took."""
    start = time.perf_counter()
    result = fn()
    result.seconds = time.perf_counter() - start
    return result
