"""Running on a Ray cluster: pipeline nodes and sweep trials as Ray tasks.

``tane run --runner ray`` and ``tane sweep --launcher ray`` connect here. The
rest of tane knows only :class:`concurrent.futures.Executor`: the scheduler of
the local runners and the sweep driver submit work to a :class:`RayExecutor`
as they would to a process pool. What Ray adds:

- each node is a task asking for the resources it declares
  (``node(..., resources={"num_cpus": 2, "num_gpus": 1})``), checked against
  the cluster's machines before anything is submitted, so a node no machine can
  hold fails at once instead of staying pending;
- memory datasets stay in Ray's object store: a node's memory outputs are task
  returns, handed to the nodes downstream as object references, and reach the
  driver only when the cache keeps them or the run returns them;
- the project's code reaches the workers through Ray's runtime environment
  (``working_dir`` the project folder, ``py_modules`` its ``src/`` packages);
- workers record to the same store as the driver, which therefore cannot be a
  file on the driver's disk when the cluster spans other machines.

``ray`` is an optional extra (``pip install 'tane[ray]'``); only this module
imports it, and only when a Ray runner or launcher is asked for.
"""

from __future__ import annotations

import contextlib
import copy
import os
import socket
import traceback
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tane.errors import InvalidInput, PipelineError

if TYPE_CHECKING:
    from tane.pipeline.datasets import Dataset
    from tane.pipeline.node import Node

#: Folders and files of a project never sent to the workers (stores, caches, data, VCS).
EXCLUDES = [
    ".git/",
    ".tane/",
    "mlruns/",
    "data/",
    "node_modules/",
    ".venv/",
    "venv/",
    "__pycache__/",
    "*.db",
    "*.pyc",
]

#: Resource names a node may ask for besides custom ones a cluster advertises.
KNOWN = ("num_cpus", "num_gpus", "memory")


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InvalidInput(
            "the Ray runner needs Ray: pip install 'tane[ray]' (or pip install ray)"
        ) from None
    return ray


@dataclass
class RayCluster:
    """A connection to a Ray cluster (started here when no address is given).

    Attributes:
        address: What was asked for: None (``RAY_ADDRESS``, else a new local
            instance), ``auto``, ``host:port`` or ``ray://host:10001``.
        started: True when this process called ``ray.init`` (and shuts it down).
        remote: True when some of the cluster's machines are not this one.
        machines: Each alive machine's resources (``CPU``, ``GPU``, ``memory``...).
        runtime_env: What every task of tane's runs with (the project's code).
    """

    address: str | None
    started: bool
    remote: bool
    machines: list[dict[str, float]] = field(default_factory=list)
    runtime_env: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def connect(
        cls,
        address: str | None = None,
        *,
        project_root: str | os.PathLike[str] | None = None,
        runtime_env: Mapping[str, Any] | None = None,
        num_cpus: int | None = None,
    ) -> RayCluster:
        """Connect (or start a local instance) with the project's code in the runtime env.

        Args:
            address: As for ``ray.init``; None uses ``RAY_ADDRESS`` or starts Ray here.
            project_root: The folder sent to the workers as ``working_dir``.
            runtime_env: Laid over the runtime env tane builds (``ray:
                runtime_env:`` in tane.yaml): ``pip``, ``env_vars``, ``excludes``...
            num_cpus: CPUs of a local instance this process starts.
        """
        ray = _ray()
        started = False
        env = runtime_env_for(project_root, runtime_env)
        if not ray.is_initialized():
            # Ray takes local folders (working_dir, py_modules) for a whole job only:
            # a Ray this process already started (a notebook's) runs as it was set up.
            options: dict[str, Any] = {
                "runtime_env": copy.deepcopy(env) or None,  # ray.init rewrites it
                "include_dashboard": False,
                "log_to_driver": True,
                "logging_level": "WARNING",
                "configure_logging": True,
            }
            target = address or os.environ.get("RAY_ADDRESS")
            if target:
                options["address"] = target
            else:
                # A private instance, stopped with the run: Ray's notices about how a
                # shared cluster is secured are noise here.
                options["logging_level"] = "ERROR"
                if num_cpus is not None:
                    options["num_cpus"] = num_cpus
            if target and target != "auto":
                _check_reachable(target)
            try:
                ray.init(**options)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = target or "a new local instance"
                hint = (
                    "; a cluster with token authentication (Ray's default) needs "
                    "RAY_AUTH_MODE=token here, and its token in ~/.ray/auth_token or "
                    "RAY_AUTH_TOKEN"
                    if target and os.environ.get("RAY_AUTH_MODE") is None
                    else ""
                )
                raise InvalidInput(
                    f"cannot connect to the Ray cluster at {where}: {_first_line(exc)} (start "
                    "one with `ray start --head`, or give --address auto|HOST:PORT|"
                    f"ray://HOST:10001){hint}"
                ) from None
            started = True
            if not target:
                # Multirun jobs and sweep workers in other processes join this instance.
                os.environ["RAY_ADDRESS"] = ray.get_runtime_context().gcs_address
        machines = [
            {str(k): float(v) for k, v in n.get("Resources", {}).items()}
            for n in ray.nodes()
            if n.get("Alive")
        ]
        here = _local_addresses()
        hosts = {n.get("NodeManagerAddress") for n in ray.nodes() if n.get("Alive")}
        remote = bool(str(address or "").startswith("ray://")) or any(h not in here for h in hosts)
        return cls(address, started, remote, machines, env if started else {})

    def close(self) -> None:
        """Shut Ray down if this process started it."""
        if self.started:
            _ray().shutdown()
            self.started = False
            if self.address is None:
                os.environ.pop("RAY_ADDRESS", None)

    def __enter__(self) -> RayCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- checks before submitting ------------------------------------------------------

    def check_store(self, uri: str) -> None:
        """Refuse a store file on this machine when workers run on others."""
        if self.remote and is_local_store(uri):
            raise InvalidInput(
                f"the store {uri} is a file on this machine, and the Ray cluster's workers "
                "run on other machines: point TANE_STORE at a tane server "
                "(http://host:5000) or at PostgreSQL (postgresql://...) that every machine "
                "reaches"
            )

    def check_resources(self, nodes: Iterable[Node]) -> None:
        """Refuse nodes asking for more than any one machine of the cluster has."""
        for n in nodes:
            wanted = ray_resources(n)
            if not any(fits(wanted, machine) for machine in self.machines):
                have = "; ".join(_describe(m) for m in self.machines) or "no alive machine"
                raise PipelineError(
                    f"node {n.name!r} asks for {_describe_request(n.resources)}, which no "
                    f"machine of the Ray cluster has ({have}): lower its resources= or add "
                    "machines that have them"
                )

    # -- executors ---------------------------------------------------------------------

    def executor(
        self,
        setup: Callable[[], None] | None = None,
        *,
        keep_bytes: int = 0,
        hash_memory: bool = False,
    ) -> RayExecutor:
        """An executor submitting to this cluster.

        Args:
            setup: Called once per worker process (and run) before its first task.
            keep_bytes: Memory outputs up to this size come back pickled for the
                driver's cache (0: none).
            hash_memory: Whether workers hash memory outputs (for cache keys).
        """
        return RayExecutor(setup, keep_bytes, hash_memory)


def runtime_env_for(
    root: str | os.PathLike[str] | None, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The project folder as ``working_dir`` and its ``src/`` packages as ``py_modules``."""
    env: dict[str, Any] = {}
    if root is not None:
        folder = Path(root).resolve()
        env["working_dir"] = str(folder)
        env["excludes"] = list(EXCLUDES)
        src = folder / "src"
        if src.is_dir():
            modules = sorted(
                str(p) for p in src.iterdir() if p.is_dir() and (p / "__init__.py").is_file()
            )
            if modules:
                env["py_modules"] = modules
    for key, value in (extra or {}).items():
        if key == "excludes":
            env["excludes"] = [*env.get("excludes", []), *value]
        elif key == "env_vars":
            env["env_vars"] = {
                **env.get("env_vars", {}),
                **{str(k): str(v) for k, v in value.items()},
            }
        else:
            env[key] = value
    return env


def is_local_store(uri: str) -> bool:
    """True for a store only this machine can open: a folder or a SQLite file."""
    text = str(uri)
    return "://" not in text or text.startswith(("sqlite:", "file:"))


def ray_resources(n: Node) -> dict[str, float]:
    """A node's ``resources=`` as the cluster names them (``num_cpus`` -> ``CPU``)."""
    names = {"num_cpus": "CPU", "num_gpus": "GPU", "memory": "memory"}
    out = {"CPU": 1.0}
    for key, value in n.resources.items():
        out[names.get(key, key)] = float(value)
    return out


def task_options(n: Node) -> dict[str, Any]:
    """``.options(...)`` for a node's task: its resources and its retries."""
    options: dict[str, Any] = {"num_cpus": 1}
    custom: dict[str, float] = {}
    for key, value in n.resources.items():
        if key in KNOWN:
            options[key] = value
        else:
            custom[key] = float(value)
    if custom:
        options["resources"] = custom
    # Ray retries a task whose worker died; a node raising is retried by the node itself.
    options["max_retries"] = n.retries
    options["retry_exceptions"] = False
    return options


def fits(wanted: Mapping[str, float], machine: Mapping[str, float]) -> bool:
    return all(machine.get(k, 0.0) >= v for k, v in wanted.items() if v > 0)


def _describe(machine: Mapping[str, float]) -> str:
    parts = []
    for key in ("CPU", "GPU", "memory"):
        if key in machine:
            value = machine[key]
            parts.append(
                f"{key} {value / 2**30:.1f} GiB" if key == "memory" else f"{key} {value:g}"
            )
    parts += [
        f"{k} {v:g}"
        for k, v in sorted(machine.items())
        if k not in ("CPU", "GPU", "memory", "object_store_memory")
        and not k.startswith("node:")
        and not k.startswith("accelerator_type")
    ]
    return ", ".join(parts)


def _describe_request(resources: Mapping[str, float]) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in resources.items()) or "num_cpus=1"


def _local_addresses() -> set[str]:
    found = {"127.0.0.1", "localhost", "::1"}
    with contextlib.suppress(OSError):
        found.add(socket.gethostbyname(socket.gethostname()))
    with contextlib.suppress(Exception):
        found.add(node_ip())
    return found


def node_ip() -> str:
    """The address Ray knows this machine by (where its workers reach the driver)."""
    return str(_ray().util.get_node_ip_address())


def _check_reachable(address: str) -> None:
    """Fail at once on an address nothing listens at (Ray itself retries for minutes)."""
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise InvalidInput(f"Ray address {address!r}: give auto, HOST:PORT or ray://HOST:10001")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
            pass
    except OSError as exc:
        raise InvalidInput(
            f"cannot connect to the Ray cluster at {address}: nothing answers there "
            f"({exc.strerror or exc}); start one with `ray start --head`, or check the address"
        ) from None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


# -- the executor ------------------------------------------------------------------------


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a Ray worker (chained as its cause)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


class RayValue:
    """A node's memory output kept in Ray's object store (what the scheduler holds)."""

    def __init__(self, ref: Any, digest: str | None, summary: str, payload: bytes | None) -> None:
        self.ref = ref
        self.digest = digest
        self.summary = summary
        self.payload = payload  # pickled, for the driver's cache; None when not kept

    def fetch(self) -> Any:
        """The value itself, brought to this process."""
        return _ray().get(self.ref)

    def __repr__(self) -> str:
        return f"RayValue({self.summary})"


class RayExecutor(Executor):
    """Submits callables (sweep trials) and pipeline nodes as Ray tasks."""

    def __init__(
        self,
        setup: Callable[[], None] | None = None,
        keep_bytes: int = 0,
        hash_memory: bool = False,
    ) -> None:
        ray = _ray()
        self.setup = setup
        self.keep_bytes = keep_bytes
        self.hash_memory = hash_memory
        self._call = ray.remote(_call_task)
        self._node = ray.remote(_node_task)
        self._pending: set[Future[Any]] = set()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Run ``fn(*args, **kwargs)`` as a task (one CPU); its exception is re-raised here."""
        ref = self._call.options(num_cpus=1, max_retries=0).remote(self.setup, fn, args, kwargs)
        return self._track(ref, _unwrap)

    def submit_node(
        self, n: Node, inputs: dict[str, Any], outputs: dict[str, Dataset | None]
    ) -> Future[Any]:
        """Run a pipeline node; memory inputs held in the object store go in as references."""
        refs: list[Any] = []
        sent: dict[str, Any] = {}
        for name, item in inputs.items():
            if item[0] == "value" and isinstance(item[1], RayValue):
                sent[name] = ("ref", len(refs))
                refs.append(item[1].ref)
            else:
                sent[name] = item
        memory = [name for name, ds in outputs.items() if ds is None]
        options = {**task_options(n), "num_returns": 1 + len(memory)}
        returned = self._node.options(**options).remote(
            self.setup, n, sent, outputs, memory, self.keep_bytes, self.hash_memory, *refs
        )
        if not memory:
            returned = [returned]

        def finish(outcome: Any) -> Any:
            done = _unwrap(outcome)
            done.memory = {
                name: RayValue(ref, *done.memory[name])
                for name, ref in zip(memory, returned[1:], strict=True)
            }
            return done

        return self._track(returned[0], finish)

    def _track(self, ref: Any, convert: Callable[[Any], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        self._pending.add(future)

        def settle(raw: Future[Any]) -> None:
            self._pending.discard(future)
            try:
                future.set_result(convert(raw.result()))
            except BaseException as exc:
                future.set_exception(_cluster_error(exc))

        future.set_running_or_notify_cancel()
        ref.future().add_done_callback(settle)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Cancel what is still queued or running (``cancel_futures``); Ray stays up."""
        if cancel_futures:
            for future in list(self._pending):
                future.cancel()


def _unwrap(outcome: Any) -> Any:
    kind, value, text = outcome
    if kind == "error":
        if text:
            value.__cause__ = RemoteTraceback(text)
        raise value
    return value


def _cluster_error(exc: BaseException) -> BaseException:
    """A Ray failure (worker died, task cancelled) as one line a user can act on."""
    module = type(exc).__module__ or ""
    if module.startswith("ray"):
        return RuntimeError(f"the Ray task failed: {_first_line(exc)}")
    return exc


# -- in the worker -------------------------------------------------------------------------

_SET_UP: set[str] = set()


def _prepare(setup: Callable[[], None] | None) -> None:
    if setup is None:
        return
    key = repr(setup)
    if key not in _SET_UP:
        setup()
        _SET_UP.add(key)


def _call_task(
    setup: Callable[[], None] | None, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Any
) -> tuple[str, Any, str]:
    try:
        _prepare(setup)
        return ("ok", fn(*args, **kwargs), "")
    except Exception as exc:
        return ("error", _portable(exc), "".join(traceback.format_exception(exc)))


def _node_task(
    setup: Callable[[], None] | None,
    n: Node,
    inputs: dict[str, Any],
    outputs: dict[str, Dataset | None],
    memory: list[str],
    keep_bytes: int,
    hash_memory: bool,
    *resolved: Any,
) -> Any:
    from tane.pipeline.runner import _Attempts, _execute, _summary

    filled = {
        name: ("value", resolved[item[1]]) if item[0] == "ref" else item
        for name, item in inputs.items()
    }
    try:
        _prepare(setup)
        done = _execute(n, filled, outputs)
    except Exception as exc:
        cause = exc.cause if isinstance(exc, _Attempts) else exc
        text = "".join(traceback.format_exception(cause))
        outcome: Any = ("error", _portable(exc), text)
        return outcome if not memory else (outcome, *([None] * len(memory)))
    values = [done.memory.get(name) for name in memory]
    info: dict[str, tuple[str | None, str, bytes | None]] = {}
    for name, value in zip(memory, values, strict=True):
        digest, payload = None, None
        if hash_memory:
            from tane.pipeline.cache import memory_hash

            found = memory_hash(value)
            if found is not None:
                digest = found[0]
                if n.cache_memory and len(found[1]) <= keep_bytes:
                    payload = found[1]
        info[name] = (digest, _summary(value), payload)
    done.memory = info  # the values travel as task returns
    outcome = ("ok", done, "")
    return outcome if not memory else (outcome, *values)


def _portable(exc: BaseException) -> BaseException:
    """The exception itself if it pickles, else a RuntimeError with its text."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes, just made
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
