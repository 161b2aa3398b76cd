"""Running a pipeline: in order, on threads or on processes, skipping what is cached.

One scheduler serves every runner. It walks the DAG as nodes finish; for each
node that becomes ready it computes the cache key (code fingerprint, the params
it reads, the content hashes of its inputs) and either takes the cached outputs
or hands the node to the executor: inline (``sequential``), a thread pool
(``thread``) or a pool of spawned processes (``process``). Loading inputs,
calling the function, saving persisted outputs and hashing them happen in the
executor; memory outputs come back to the scheduler, which keeps them for the
nodes downstream and in the cache. On Ray (``ray``, see ``tane.cluster``) each
node is a task and memory outputs stay in Ray's object store: the scheduler
holds references and hands them to the tasks downstream.

This module knows nothing of tracking: a :class:`RunObserver` hears about every
node, and the session (``tane.pipeline.session``) records what it hears.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from tane.cluster import RayValue
from tane.errors import DatasetError, PipelineError
from tane.pipeline.cache import Entry, NodeCache, OutputRecord, memory_hash, node_key
from tane.pipeline.node import ALL_PARAMS, PARAMS_PREFIX, Node, is_param

if TYPE_CHECKING:
    from tane.pipeline.catalog import DataCatalog
    from tane.pipeline.datasets import Dataset
    from tane.pipeline.pipeline import Pipeline

RunnerName = Literal["sequential", "thread", "process", "ray"]
RUNNERS: tuple[str, ...] = ("sequential", "thread", "process", "ray")
NodeStatus = Literal["ran", "cached", "failed", "not run"]


@dataclass
class LineageRecord:
    """A dataset a node read or wrote in a pipeline run."""

    dataset: str
    direction: Literal["read", "write"]
    node: str
    hash: str | None = None
    path: str | None = None
    version: str | None = None
    kind: str = "dataset"  # or "memory", "params"


@dataclass
class NodeResult:
    """What happened to one node."""

    name: str
    status: NodeStatus
    duration: float = 0.0
    attempts: int = 0
    error: str | None = None
    key: str | None = None
    saved_duration: float = 0.0  # for a cached node: how long its cached run took
    metrics: list[tuple[str, float, int]] = field(default_factory=list)  # what it logged


@dataclass
class PipelineResult:
    """The outcome of a pipeline run.

    Attributes:
        nodes: Per node, in the order they finished.
        lineage: Every dataset read and written, with hashes and versions.
        outputs: The pipeline's free outputs that are not in the catalog
            (Kedro returns these too).
        duration: Wall time in seconds.
    """

    nodes: list[NodeResult] = field(default_factory=list)
    lineage: list[LineageRecord] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    duration: float = 0.0

    @property
    def ran(self) -> list[str]:
        return [n.name for n in self.nodes if n.status == "ran"]

    @property
    def cached(self) -> list[str]:
        return [n.name for n in self.nodes if n.status == "cached"]


class RunObserver(Protocol):
    """What a runner reports while it works (progress display, recording, hooks)."""

    def pipeline_started(self, pipeline: Pipeline, total: int) -> None: ...

    def node_started(self, node: Node, inputs: Mapping[str, Any] | None) -> None: ...

    def node_finished(
        self, node: Node, result: NodeResult, outputs: Mapping[str, Any] | None
    ) -> None: ...

    def node_failed(self, node: Node, error: BaseException, inputs: Mapping[str, Any]) -> None: ...

    def pipeline_finished(self, result: PipelineResult) -> None: ...


class NullObserver:
    """An observer that ignores everything (for subclassing)."""

    def pipeline_started(self, pipeline: Pipeline, total: int) -> None:
        return

    def node_started(self, node: Node, inputs: Mapping[str, Any] | None) -> None:
        return

    def node_finished(
        self, node: Node, result: NodeResult, outputs: Mapping[str, Any] | None
    ) -> None:
        return

    def node_failed(self, node: Node, error: BaseException, inputs: Mapping[str, Any]) -> None:
        return

    def pipeline_finished(self, result: PipelineResult) -> None:
        return


class NodeFailed(PipelineError):
    """A node raised on its last attempt.

    Attributes:
        node: The node's name.
        cause: The exception it raised.
    """

    def __init__(self, message: str, node: str, cause: BaseException | None) -> None:
        super().__init__(message)
        self.node = node
        self.cause = cause


def run(
    pipeline: Pipeline,
    catalog: DataCatalog | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    runner: str = "sequential",
    jobs: int | None = None,
    cache: NodeCache | None = None,
    observers: list[Any] | None = None,
    isolate: str | os.PathLike[str] | None = None,
    run_id: str | None = None,
    worker_setup: Callable[[], None] | None = None,
    resume_hint: str = "tane run",
    reuse: bool = True,
    cluster: Any = None,
) -> PipelineResult:
    """Run a pipeline and return what happened; raise NodeFailed when a node fails.

    Args:
        pipeline: The nodes to run.
        catalog: Where inputs come from and outputs go; names it lacks are
            memory datasets. Default: an empty catalog.
        params: The config ``params:`` inputs read (a dict or DictConfig).
        runner: ``sequential``, ``thread``, ``process`` or ``ray``.
        jobs: Workers for the thread and process runners (default: CPU count).
        cache: Skip nodes whose code, params and inputs are unchanged.
        observers: Objects with the :class:`RunObserver` methods.
        isolate: A folder for this run's persisted outputs instead of the
            catalog's paths (side-by-side runs: multirun jobs, sweep trials).
        run_id: The tracked run nodes log to (process workers attach to it).
        worker_setup: Called in each process worker before its first node.
        resume_hint: The command a failure message suggests.
        reuse: False to run every node (``--no-cache``); the cache is still
            written, and file hashes still remembered.
        cluster: For ``ray``: a :class:`tane.cluster.RayCluster` (default: one
            connected here, with ``RAY_ADDRESS`` or a new local instance).
    """
    from tane.pipeline.catalog import DataCatalog

    if runner not in RUNNERS:
        raise PipelineError(f"unknown runner {runner!r}: use one of {', '.join(RUNNERS)}")
    if jobs is not None and jobs < 1:
        raise PipelineError(f"jobs must be at least 1, got {jobs}")
    scheduler = _Scheduler(
        pipeline,
        catalog if catalog is not None else DataCatalog(),
        params if params is not None else {},
        cache,
        list(observers or []),
        Path(isolate) if isolate is not None else None,
        resume_hint,
        reuse,
    )
    if runner == "process":
        _check_picklable(pipeline)
    executor: Executor | None = None
    own_cluster = None
    if runner == "ray":
        from tane.cluster import RayCluster

        if cluster is None:
            cluster = own_cluster = RayCluster.connect(num_cpus=jobs)
        try:
            cluster.check_resources(pipeline.nodes)
        except BaseException:
            if own_cluster is not None:
                own_cluster.close()
            raise
        keep = cache.max_bytes // 4 if cache is not None and cache.store_memory else 0
        executor = cluster.executor(worker_setup, keep_bytes=keep, hash_memory=cache is not None)
    elif runner == "thread":
        from concurrent.futures import ThreadPoolExecutor

        executor = ThreadPoolExecutor(jobs or os.cpu_count() or 2, thread_name_prefix="tane-node")
    elif runner == "process":
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        workers = jobs or os.cpu_count() or 2
        executor = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(worker_setup, workers),
        )
    try:
        return scheduler.run(executor)
    finally:
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        if own_cluster is not None:
            own_cluster.close()
        if cache is not None:
            cache.flush()


# -- the scheduler ----------------------------------------------------------------


@dataclass
class _Done:
    """What an executed node hands back."""

    memory: dict[str, Any]
    persisted: dict[str, tuple[str | None, str | None, str | None]]  # name -> hash, path, version
    reads: dict[str, tuple[str | None, str | None]]  # dataset -> path, version actually read
    duration: float
    attempts: int
    metrics: list[tuple[str, float, int]] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # inputs rewritten while loading


class _Scheduler:
    def __init__(
        self,
        pipeline: Pipeline,
        catalog: DataCatalog,
        params: Mapping[str, Any],
        cache: NodeCache | None,
        observers: list[Any],
        isolate: Path | None,
        resume_hint: str,
        reuse: bool = True,
    ) -> None:
        self.pipeline = pipeline
        self.catalog = catalog
        self.params = params
        self.cache = cache
        self.observers = observers
        self.isolate = isolate
        self.resume_hint = resume_hint
        self.reuse = reuse
        self.producers = pipeline.producers()
        self.datasets: dict[str, Dataset | None] = {}  # None: a memory dataset of this run
        self.hashes: dict[str, str | None] = {}
        # The change signature (size, mtime) each hash was taken at: a load that
        # finds another means someone else wrote the file meanwhile.
        self.signatures: dict[str, Any] = {}
        self.memory: dict[str, Any] = {}
        self.objects: dict[str, str] = {}  # memory output -> cache object digest (not loaded)
        self.result = PipelineResult()
        self.consumers: dict[str, int] = {}
        self.free_outputs = pipeline.outputs()
        for n in pipeline.nodes:
            for i in n.dataset_inputs:
                self.consumers[i] = self.consumers.get(i, 0) + 1
        self._param_values: dict[str, Any] = {}
        self._plain_params: Any = None

    # -- set-up --------------------------------------------------------------------

    def check(self) -> None:
        """Refuse inputs nobody provides and params the config lacks, before running."""
        for name in sorted(self.pipeline.inputs()):
            if is_param(name):
                self.param(name)
            elif name not in self.catalog:
                import difflib

                known = sorted(set(self.catalog.names()) | self.pipeline.datasets())
                near = difflib.get_close_matches(name, [k for k in known if k != name], n=3)
                hint = f"; did you mean {', '.join(map(repr, near))}?" if near else ""
                readers = [n.name for n in self.pipeline.nodes if name in n.inputs]
                raise PipelineError(
                    f"input {name!r} of node {readers[0]!r} is written by no node and is not in "
                    f"the catalog{hint}. Add it to conf/catalog.yaml, or add the node that "
                    "makes it"
                )

    def dataset(self, name: str) -> Dataset | None:
        """The dataset for a name in this run; None for a memory dataset of the run."""
        if name in self.datasets:
            return self.datasets[name]
        ds: Dataset | None = None
        if name in self.catalog:
            ds = self.catalog.get(name)
            from tane.pipeline.datasets import MemoryDataset

            if isinstance(ds, MemoryDataset) and name in self.producers:
                ds = None
            elif ds is not None and self.isolate is not None and name in self.producers:
                ds = self._isolated(name, ds)
        self.datasets[name] = ds
        return ds

    def _isolated(self, name: str, ds: Dataset) -> Dataset:
        if ds.path is None:
            return ds  # SQL tables, APIs: nothing to redirect
        base = ds.describe().get("filepath") or ds.path
        tail = Path(str(base).split("://", 1)[-1]).name
        assert self.isolate is not None
        return ds.with_path(str(self.isolate / "data" / name / tail))

    def param(self, name: str) -> Any:
        if name in self._param_values:
            return self._param_values[name]
        if self._plain_params is None:
            self._plain_params = _plain(self.params)
        value = _param_value(self._plain_params, name)
        self._param_values[name] = value
        return value

    # -- hashing -------------------------------------------------------------------

    def input_hash(self, name: str) -> str | None:
        if name in self.hashes:
            return self.hashes[name]
        digest = None
        ds = self.dataset(name)
        if ds is not None:
            signature = ds.stat()
            digest = self.dataset_hash(ds, signature)
            if signature is not None:
                self.signatures[name] = signature
        self.hashes[name] = digest
        return digest

    def dataset_hash(self, ds: Dataset, signature: Any = None) -> str | None:
        from tane.pipeline.datasets import MemoryDataset

        if isinstance(ds, MemoryDataset):
            try:
                value = ds.load()
            except DatasetError:
                return None
            found = memory_hash(value)
            return found[0] if found else None
        if signature is None:
            signature = ds.stat()
        location = ds.path
        if signature is not None and location is not None and self.cache is not None:
            known = self.cache.known_hash(location, signature)
            if known is not None:
                return known
        digest = ds.content_hash()
        if digest is not None and signature is not None and location is not None and self.cache:
            self.cache.remember_hash(location, signature, digest)
        return digest

    def key(self, node: Node) -> str | None:
        if not node.cache:
            return None
        from tane.pipeline._fingerprint import fingerprint

        inputs: dict[str, str] = {}
        for name in node.dataset_inputs:
            digest = self.input_hash(name)
            if digest is None:
                return None  # an input of unknown content: always run
            inputs[name] = digest
        params = {name: self.param(name) for name in node.param_inputs}
        try:
            code = fingerprint(node.func)
        except Exception:
            return None
        return node_key(code, params, inputs, list(node.outputs))

    # -- cache hits ------------------------------------------------------------------

    def try_cached(self, node: Node, key: str) -> Entry | None:
        assert self.cache is not None
        entry = self.cache.get(key)
        if entry is None or set(entry.outputs) != set(node.outputs):
            return None
        updates: dict[str, Dataset] = {}
        for name, record in entry.outputs.items():
            if record.kind == "memory":
                # Loaded only if a node that must run reads it; made again if it is
                # gone by then (evicted, too big to keep, or a node with cache_memory=False).
                continue
            ds = self.dataset(name)
            if ds is None:
                return None
            if record.version is not None and getattr(ds, "versioned", False):
                # The version that run wrote, not whatever is latest now.
                pinned = ds.at_version(record.version)
                if pinned.exists() and self.dataset_hash(pinned) == record.hash:
                    updates[name] = pinned
                    continue
                return None
            if ds.exists() and self.dataset_hash(ds) == record.hash:
                continue
            found = self._relocated(ds, record)
            if found is None:
                return None
            updates[name] = found
        self.datasets.update(updates)
        for name, record in entry.outputs.items():
            self.hashes[name] = record.hash
            if record.kind == "memory":
                self.objects[name] = record.hash
        return entry

    def _relocated(self, ds: Dataset, record: OutputRecord) -> Dataset | None:
        """The output where the cached run wrote it (another run's folder), if intact."""
        if record.path is None or record.version is not None or record.path == ds.path:
            return None
        try:
            there = ds.with_path(record.path)
        except DatasetError:
            return None
        if not there.exists() or self.dataset_hash(there) != record.hash:
            return None
        if self.isolate is not None:
            return there  # read it where it is; this run writes nowhere shared
        # An ordinary run keeps the catalog's paths current: copy the bytes there.
        try:
            _copy(record.path, str(ds.path))
        except OSError:
            return None
        return ds if self.dataset_hash(ds) == record.hash else None

    # -- values ----------------------------------------------------------------------

    def value(self, name: str) -> Any:
        """A memory value of this run (loading a cached object when needed)."""
        if name in self.memory:
            return self.memory[name]
        digest = self.objects.get(name)
        if digest is not None and self.cache is not None:
            try:
                value = self.cache.load_object(digest)
            except KeyError:
                # Evicted or damaged since its entry was read: make it again.
                self._remake(self.producers[name])
                return self.memory[name]
            self.memory[name] = value
            return value
        raise KeyError(name)

    def _remake(self, node: Node) -> None:
        """Run a cached node again, here and now, for the memory outputs it lost."""
        inputs = {
            name: ("value", item[1].fetch()) if isinstance(item[1], RayValue) else item
            for name, item in self.inputs_for(node).items()
        }
        try:
            done = _execute(node, inputs, self.outputs_for(node))
        except _Attempts as exc:
            raise self.failed(node, exc.cause, {}, exc.attempts) from exc.cause
        for name, value in done.memory.items():
            self.memory[name] = value
            self.objects.pop(name, None)
            found = memory_hash(value)
            if found is not None and self.cache is not None:
                self.cache.put_object(found[0], found[1])

    def outputs_for(self, node: Node) -> dict[str, Dataset | None]:
        return {name: self.dataset(name) for name in node.outputs}

    def inputs_for(self, node: Node) -> dict[str, Any]:
        """Per input: ("value", v) for memory and params, ("dataset", ds) to load."""
        out: dict[str, Any] = {}
        for name in node.inputs:
            if is_param(name):
                out[name] = ("value", self.param(name))
                continue
            ds = self.dataset(name)
            if ds is None:
                out[name] = ("value", self.value(name))
            else:
                out[name] = ("dataset", ds, self.signatures.get(name))
        return out

    # -- the loop --------------------------------------------------------------------

    def run(self, executor: Executor | None) -> PipelineResult:
        start = time.perf_counter()
        if self.cache is not None:
            from tane.pipeline import _fingerprint

            _fingerprint.use_memo(self.cache.root / "versions.json")
        self.check()
        nodes = self.pipeline.nodes
        for obs in self.observers:
            obs.pipeline_started(self.pipeline, len(nodes))
        deps = self.pipeline.dependencies()
        waiting = {n.name: len(deps[n.name]) for n in nodes}
        users: dict[str, list[Node]] = {n.name: [] for n in nodes}
        for n in nodes:
            for d in deps[n.name]:
                users[d].append(n)
        ready = [n for n in nodes if waiting[n.name] == 0]
        running: dict[Future[_Done], tuple[Node, str | None, dict[str, Any]]] = {}
        failure: NodeFailed | None = None
        finished: set[str] = set()

        def release(node: Node) -> None:
            finished.add(node.name)
            for user in users[node.name]:
                waiting[user.name] -= 1
                if waiting[user.name] == 0:
                    ready.append(user)

        while ready or running:
            while ready and failure is None:
                node = ready.pop(0)
                key = self.key(node) if self.cache is not None else None
                entry = self.try_cached(node, key) if key is not None and self.reuse else None
                if entry is not None:
                    self.cached(node, key, entry)
                    release(node)
                    continue
                try:
                    inputs = self.inputs_for(node)
                except NodeFailed as exc:
                    failure = exc  # a cached node upstream had to run again, and failed
                    break
                except (KeyError, DatasetError) as exc:
                    failure = self.failed(node, exc, {}, 0)
                    break
                for obs in self.observers:
                    obs.node_started(node, _shown(inputs))
                if executor is None:
                    try:
                        done = _execute(node, inputs, self.outputs_for(node))
                    except _Attempts as exc:
                        failure = self.failed(node, exc.cause, inputs, exc.attempts, exc.cause)
                        break
                    self.finished(node, key, done, inputs)
                    release(node)
                else:
                    outputs = self.outputs_for(node)
                    submit_node = getattr(executor, "submit_node", None)
                    if submit_node is not None:  # Ray: memory inputs stay in its object store
                        future = submit_node(node, inputs, outputs)
                    else:
                        future = executor.submit(_execute, node, inputs, outputs)
                    running[future] = (node, key, inputs)
            if not running:
                if ready and failure is None:
                    continue
                break
            done_set, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done_set:
                node, key, inputs = running.pop(future)
                try:
                    done = future.result()
                except _Attempts as exc:
                    if failure is None:
                        # From a process worker the cause has no frames; the remote
                        # traceback concurrent.futures chained to `exc` has them.
                        origin = exc.cause if exc.cause.__traceback__ is not None else exc
                        failure = self.failed(node, exc.cause, inputs, exc.attempts, origin)
                    continue
                except BaseException as exc:  # a worker died, or the result did not pickle
                    if failure is None:
                        failure = self.failed(node, exc, inputs, 1)
                    continue
                self.finished(node, key, done, inputs)
                release(node)
        for n in nodes:
            if n.name not in finished and not any(r.name == n.name for r in self.result.nodes):
                self.result.nodes.append(NodeResult(n.name, "not run"))
        self.result.duration = time.perf_counter() - start
        if failure is None:
            for name in sorted(self.pipeline.outputs()):
                if self.dataset(name) is None:
                    value = self.value(name)
                    self.result.outputs[name] = (
                        value.fetch() if isinstance(value, RayValue) else value
                    )
        for obs in self.observers:
            obs.pipeline_finished(self.result)
        if failure is not None:
            raise failure
        return self.result

    def cached(self, node: Node, key: str | None, entry: Entry) -> None:
        result = NodeResult(
            node.name,
            "cached",
            key=key,
            saved_duration=entry.duration,
            metrics=[(str(k), float(v), int(s)) for k, v, s in entry.metrics],
        )
        self.result.nodes.append(result)
        self._lineage_reads(node, {})
        for name, record in entry.outputs.items():
            ds = self.datasets.get(name)
            self.result.lineage.append(
                LineageRecord(
                    name,
                    "write",
                    node.name,
                    record.hash,
                    ds.path if ds is not None and record.kind == "dataset" else record.path,
                    record.version,
                    record.kind,
                )
            )
        for obs in self.observers:
            obs.node_finished(node, result, None)

    def finished(self, node: Node, key: str | None, done: _Done, inputs: dict[str, Any]) -> None:
        records: dict[str, OutputRecord] = {}
        storable = True
        for name, (digest, path, version) in done.persisted.items():
            self.hashes[name] = digest
            ds = self.datasets.get(name)
            if ds is not None and version is not None:
                # Nodes downstream read the version this run wrote, even if another
                # run saves a newer one meanwhile.
                ds = ds.at_version(version)
                self.datasets[name] = ds
            signature = ds.stat() if ds is not None and digest is not None else None
            if signature is not None and ds is not None and digest:
                self.signatures[name] = signature
                if self.cache is not None:
                    self.cache.remember_hash(str(ds.path), signature, digest)
            if digest is None:
                storable = False
            else:
                records[name] = OutputRecord(digest, "dataset", path, version)
        if done.changed:
            # An input was rewritten by someone else while this node read it: what
            # it made does not belong to the input hashes of its key.
            storable = False
        for name, value in done.memory.items():
            self.memory[name] = value
            if self.cache is None:
                continue  # no cache: memory values are not pickled just for a hash
            if isinstance(value, RayValue):  # hashed by the worker; kept there
                self.hashes[name] = value.digest
                if value.digest is None:
                    storable = False
                    continue
                if key is not None and value.payload is not None:
                    self.cache.put_object(value.digest, value.payload)
                records[name] = OutputRecord(value.digest, "memory")
                continue
            found = memory_hash(value)
            digest = found[0] if found else None
            self.hashes[name] = digest
            if found is None:
                storable = False
                continue
            if key is not None and node.cache_memory:
                self.cache.put_object(found[0], found[1])
            records[name] = OutputRecord(found[0], "memory")
        if key is not None and self.cache is not None and storable:
            self.cache.put(
                key, Entry(node.name, records, duration=done.duration, metrics=done.metrics)
            )
        result = NodeResult(
            node.name, "ran", done.duration, done.attempts, key=key, metrics=done.metrics
        )
        self.result.nodes.append(result)
        self._lineage_reads(node, done.reads)
        for name in node.outputs:
            rec = records.get(name)
            persisted = done.persisted.get(name)
            self.result.lineage.append(
                LineageRecord(
                    name,
                    "write",
                    node.name,
                    self.hashes.get(name),
                    persisted[1] if persisted else None,
                    persisted[2] if persisted else None,
                    rec.kind if rec else ("dataset" if persisted else "memory"),
                )
            )
        for obs in self.observers:
            obs.node_finished(node, result, done.memory)
        self._forget(node)

    def _lineage_reads(self, node: Node, reads: dict[str, tuple[str | None, str | None]]) -> None:
        for name in node.dataset_inputs:
            ds = self.datasets.get(name)
            path, version = reads.get(name, (ds.path if ds is not None else None, None))
            if name not in self.hashes and ds is not None:
                self.input_hash(name)
            self.result.lineage.append(
                LineageRecord(
                    name,
                    "read",
                    node.name,
                    self.hashes.get(name),
                    path,
                    version,
                    "dataset" if ds is not None else "memory",
                )
            )

    def _forget(self, node: Node) -> None:
        """Drop memory values no remaining node needs (free outputs are kept)."""
        for name in node.dataset_inputs:
            self.consumers[name] -= 1
            if self.consumers[name] == 0 and name not in self.free_outputs:
                self.memory.pop(name, None)

    def failed(
        self,
        node: Node,
        exc: BaseException,
        inputs: dict[str, Any],
        attempts: int,
        origin: BaseException | None = None,
    ) -> NodeFailed:
        shown = _shown(inputs)
        for obs in self.observers:
            obs.node_failed(node, exc, shown)
        self.result.nodes.append(
            NodeResult(node.name, "failed", attempts=attempts, error=_one_line(exc))
        )
        described = ", ".join(f"{k} ({v})" for k, v in shown.items()) or "none"
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        error = NodeFailed(
            f"node {node.name!r} failed{tries}: {_one_line(exc)}\n"
            f"  inputs: {described}\n"
            f"  to resume: {self.resume_hint} --from-nodes {node.name} "
            "(or run the same command again: finished nodes are cached)",
            node.name,
            exc,
        )
        error.__cause__ = origin  # the node's own traceback, for `tane runs show --traceback`
        return error


# -- executing one node (in this process, a thread, or a worker) --------------------


class _Attempts(Exception):
    def __init__(self, cause: BaseException, attempts: int, text: str) -> None:
        super().__init__(text)
        self.cause = cause
        self.attempts = attempts

    def __reduce__(self) -> Any:
        cause: BaseException = self.cause
        try:
            import pickle

            pickle.dumps(cause)
        except Exception:
            cause = RuntimeError(_one_line(self.cause))
        return (_Attempts, (cause, self.attempts, str(self)))


def _execute(node: Node, inputs: dict[str, Any], outputs: dict[str, Dataset | None]) -> _Done:
    attempts = 0
    while True:
        attempts += 1
        start = time.perf_counter()
        reads: dict[str, tuple[str | None, str | None]] = {}
        changed: list[str] = []
        try:
            values = []
            for name in node.inputs:
                kind, obj, *expected = inputs[name]
                if kind == "dataset":
                    signature = expected[0] if expected else None
                    before = obj.stat() if signature is not None else None
                    values.append(obj.load())
                    reads[name] = (obj.path, obj.version)
                    if signature is not None and (before != signature or obj.stat() != signature):
                        changed.append(name)
                else:
                    values.append(obj)
            with _metric_tap() as logged:
                results = node.call(values)
            persisted: dict[str, tuple[str | None, str | None, str | None]] = {}
            memory: dict[str, Any] = {}
            for name, value in results.items():
                ds = outputs.get(name)
                if ds is None:
                    memory[name] = value
                else:
                    ds.save(value)
                    persisted[name] = (ds.content_hash(), ds.path, ds.version)
            _flush_run()
            duration = time.perf_counter() - start
            return _Done(memory, persisted, reads, duration, attempts, list(logged), changed)
        except Exception as exc:
            # A pruned trial is not a failure to retry.
            if attempts > node.retries or type(exc).__name__ == "TrialPruned":
                _flush_run()
                text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                raise _Attempts(exc, attempts, text) from exc


@contextmanager
def _metric_tap() -> Iterator[list[tuple[str, float, int]]]:
    """What the node logs with tane.log_metric, when tracking is in use."""
    fluent = sys.modules.get("tane.tracking.fluent")
    if fluent is None:
        yield []
        return
    with fluent.tap_metrics() as points:
        yield points


def _flush_run() -> None:
    """Send the metrics a node logged before the scheduler moves on."""
    fluent = sys.modules.get("tane.tracking.fluent")
    if fluent is not None and fluent.active_run() is not None:
        fluent.flush()


def _check_picklable(pipeline: Pipeline) -> None:
    """Refuse, before anything runs, nodes a worker process could not receive."""
    import pickle

    for n in pipeline.nodes:
        try:
            pickle.dumps(n.func)
        except Exception as exc:
            raise PipelineError(
                f"node {n.name!r}: the process runner sends functions to worker processes by "
                f"their import path, and {getattr(n.func, '__qualname__', n.func)!r} has none "
                f"({type(exc).__name__}): define it at module level, or use --runner thread"
            ) from None


def _worker_init(setup: Callable[[], None] | None, workers: int) -> None:
    from tane._threads import share_cores

    share_cores(workers)
    if setup is not None:
        setup()


def _shown(inputs: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for name, item in inputs.items():
        kind, obj = item[0], item[1]
        if kind == "dataset":
            out[name] = f"{type(obj).__name__} at {obj.path}" if obj.path else type(obj).__name__
        else:
            out[name] = _summary(obj)
    return out


def _summary(value: Any) -> str:
    if isinstance(value, RayValue):
        return value.summary
    shape = getattr(value, "shape", None)
    kind = type(value).__name__
    if shape is not None:
        return f"{kind} {'x'.join(str(s) for s in shape)}"
    if isinstance(value, (dict, list, tuple, set)):
        return f"{kind} of {len(value)}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _one_line(exc: BaseException) -> str:
    """``Type: the first line of the message`` (a long message's hint lines dropped)."""
    lines = str(exc).strip().splitlines()
    name = type(exc).__name__
    return f"{name}: {lines[0]}" if lines else name


def _param_value(plain: Any, name: str) -> Any:
    if name == ALL_PARAMS:
        return plain
    path = name[len(PARAMS_PREFIX) :]
    node: Any = plain
    walked = []
    for part in path.split("."):
        walked.append(part)
        if not isinstance(node, Mapping) or part not in node:
            keys = sorted(node) if isinstance(node, Mapping) else []
            import difflib

            near = difflib.get_close_matches(part, [str(k) for k in keys], n=3)
            hint = f"; did you mean {', '.join(map(repr, near))}?" if near else ""
            raise PipelineError(
                f"parameter {name!r}: the config has no {'.'.join(walked)!r}{hint} "
                "(parameters come from conf/config.yaml; `tane run --cfg` prints them)"
            )
        node = node[part]
    return node


def _plain(params: Mapping[str, Any]) -> Any:
    try:
        from omegaconf import DictConfig, OmegaConf
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        return params
    if isinstance(params, DictConfig):
        return OmegaConf.to_container(params, resolve=True)
    return params


def _copy(src: str, dst: str) -> None:
    import fsspec

    fs, src_path = fsspec.core.url_to_fs(src)
    dst_fs, dst_path = fsspec.core.url_to_fs(dst)
    if fs.isdir(src_path):
        raise OSError(f"{src} is a folder: the node runs again instead of copying it")
    dst_fs.makedirs(os.path.dirname(dst_path) or ".", exist_ok=True)
    with fs.open(src_path, "rb") as fin, dst_fs.open(dst_path + ".tmp-copy", "wb") as fout:
        while chunk := fin.read(1 << 20):
            fout.write(chunk)
    dst_fs.mv(dst_path + ".tmp-copy", dst_path)
