"""A store that talks to a ``tane server`` over HTTP (``TANE_STORE=http://host:port``).

Every method of the Store protocol is one (or a few) calls to the server's
``/api/v1`` routes (see docs/server.md). Error bodies come back as tane's own
exceptions, chosen by their ``type``; connection errors and 502/503/504 answers
become StoreUnavailable.

A request is tried again, after a short backoff, when that cannot do a write
twice: the connection was never made, the server's store answered that it is
unavailable (its transaction was rolled back), or the request is idempotent.
Writes of a run that still fail (``log_batch``, ``update_run``, ``delete_tag``,
artifacts) are spooled to local disk (:mod:`tane.tracking.spool`) and sent in
order once the server answers again: nothing logged is lost while it is down.

httpx is imported here only: ``import tane`` never loads it.
"""

from __future__ import annotations

import os
import posixpath
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import quote

from tane.errors import (
    ExperimentNotFound,
    InvalidFilter,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    ParamConflict,
    PermissionDenied,
    RunNotFound,
    SchemaVersionError,
    StoreError,
    StoreUnavailable,
    TaneError,
)
from tane.tracking.artifacts import safe_artifact_path
from tane.tracking.entities import (
    ArtifactInfo,
    Experiment,
    Metric,
    ModelVersion,
    RegisteredModel,
    Run,
    RunStatus,
    float_from_json,
    float_to_json,
)
from tane.tracking.stores._common import display_uri, refused_value
from tane.tracking.stores.base import PointTuple, PurgeReport, RunPage, RunView

if TYPE_CHECKING:
    import httpx

    from tane.tracking.spool import Backlog, ReplayReport, Spool, SpoolItem

#: Attempts of a read (GET, search) before StoreUnavailable is raised.
READ_ATTEMPTS = 3
#: Seconds to wait before the second and third attempt of a read.
READ_BACKOFF = (0.1, 0.4)
#: Attempts of a write (when trying again cannot apply it twice) before it is spooled.
WRITE_ATTEMPTS = 3
#: Seconds to wait before the second and third attempt of a write.
WRITE_BACKOFF = (0.1, 0.4)
#: After the server was found unreachable, writes made in the caller's thread go
#: straight to the spool for 1, 2, 4 ... seconds, at most this many; the metric
#: writer's thread tries sending the spool at every flush meanwhile.
PROBE_MAX = 30.0
#: Seconds to wait for a connection (a server that is down must not hold a run up).
CONNECT_TIMEOUT = 5.0
#: Bytes of a downloaded artifact kept in memory before it spills to disk.
SPOOL_MAX = 8 * 1024 * 1024
#: Bytes read at a time from a download.
CHUNK_SIZE = 1024 * 1024

_ERROR_TYPES: dict[str, type[TaneError]] = {
    "RunNotFound": RunNotFound,
    "ExperimentNotFound": ExperimentNotFound,
    "NotFound": NotFound,
    "InvalidInput": InvalidInput,
    "ParamConflict": ParamConflict,
    "StoreUnavailable": StoreUnavailable,
    "StoreError": StoreError,
    "SchemaVersionError": SchemaVersionError,
    "NotAuthenticated": NotAuthenticated,
    "PermissionDenied": PermissionDenied,
}

_UNAVAILABLE_STATUS = (502, 503, 504)
#: Methods that may be sent twice with the same effect.
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})


class ServerUnreachable(StoreUnavailable):
    """The server could not be reached, or a proxy answered 502/503/504.

    Attributes:
        maybe_sent: The request may have reached the server (the connection
            broke after it was sent, or a proxy timed out): sending it again
            could apply it twice.
        reason: What went wrong, in a few words ("ConnectError: ...").
    """

    def __init__(self, message: str, *, maybe_sent: bool, reason: str = "") -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent
        self.reason = reason or message


class AccessRefused(StoreUnavailable):
    """The server refused a write of a run for its credentials (401) or rights (403).

    Not the write's fault: it is spooled, and sent once a token the server
    accepts is set (TANE_TOKEN) or the right is granted.
    """

    maybe_sent = False


#: Refusals that hold a run's writes in the spool instead of dropping or rejecting them.
_HELD = (NotAuthenticated, PermissionDenied)


def _access_refused(base: str, exc: TaneError) -> AccessRefused:
    return AccessRefused(
        f"server {base} refused the write ({type(exc).__name__}: {exc}); set TANE_TOKEN to "
        "a token it accepts or get the permission, then run `tane sync`"
    )


def _quote(segment: str) -> str:
    """Percent-encode one URL path segment (slashes kept for artifact and key paths)."""
    return quote(segment, safe="/")


def _experiment(data: Mapping[str, Any]) -> Experiment:
    return Experiment(
        id=str(data["id"]),
        name=str(data["name"]),
        created=int(data["created"]),
        last_activity=int(data["last_activity"]),
        tags=dict(data.get("tags") or {}),
        deleted=bool(data.get("deleted", False)),
        run_count=int(data.get("run_count", 0)),
    )


def _model_version(data: Mapping[str, Any]) -> ModelVersion:
    return ModelVersion(
        name=data["name"],
        version=int(data["version"]),
        source=data["source"],
        run_id=data.get("run_id"),
        created=int(data["created"]),
        description=data.get("description", ""),
        aliases=tuple(data.get("aliases", ())),
    )


def _run(data: Mapping[str, Any]) -> Run:
    return Run(
        id=str(data["id"]),
        name=str(data["name"]),
        experiment_id=str(data["experiment_id"]),
        experiment=str(data["experiment"]),
        status=RunStatus.parse(str(data["status"])),
        start_time=int(data["start_time"]),
        end_time=None if data.get("end_time") is None else int(data["end_time"]),
        parent_id=data.get("parent_id"),
        params=dict(data.get("params") or {}),
        metrics={k: float_from_json(v) for k, v in (data.get("metrics") or {}).items()},
        tags=dict(data.get("tags") or {}),
        note=str(data.get("note") or ""),
        artifact_uri=str(data.get("artifact_uri") or ""),
        deleted=bool(data.get("deleted", False)),
    )


class RestStore:
    """The Store protocol over a tane server's REST API.

    Args:
        base_url: The server, e.g. ``http://127.0.0.1:5000`` (a trailing ``/`` is ignored).
        token: Sent as ``Authorization: Bearer <token>`` if given (a server run
            with ``--auth`` needs one).
        timeout: Seconds to wait for the server (connect, read, write).
        spool: Keep a run's writes on local disk while the server is down
            (default); False raises StoreUnavailable instead.

    One ``httpx.Client`` serves every thread. ``artifact_root`` is descriptive
    only (``<base_url>/api/v1/artifacts``): the server has no route reporting
    its own artifact root; a run's ``artifact_uri`` is what the server says.

    While the server cannot be reached, the writes of a run are spooled to
    local disk (``spool``) and sent in order before the run's next write that
    gets through, at every flush of the metric writer (``sync_spool``) and by
    ``tane sync``. Creating runs and experiments, and every read, still need
    the server. ``spool=False`` raises StoreUnavailable instead (bulk copies such
    as ``tane push``, which resume by themselves, use it).
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        timeout: float = 30.0,
        *,
        spool: bool = True,
    ) -> None:
        self.uri = base_url
        # What messages show: a password in the URL is not theirs to print.
        self._shown = display_uri(base_url)
        self._spooling = spool
        self._base = base_url.rstrip("/")
        self.artifact_root = f"{self._base}/api/v1/artifacts"
        self._token = token
        self._timeout = timeout
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._reset_spooling()

    def _reset_spooling(self) -> None:
        self._spool: Spool | None = None
        self._state_lock = threading.Lock()
        self._run_locks: dict[str, threading.RLock] = {}
        # Runs whose writes this object spooled and has not seen sent yet.
        self._spooled: set[str] = set()
        # Since when the server is taken for down (monotonic), None while it answers.
        self._down_since: float | None = None
        self._failures = 0
        self._retry_at = 0.0
        self._announced = False

    # -- HTTP ------------------------------------------------------------------------

    @property
    def client(self) -> httpx.Client:
        """The shared client, created on first use (and again after a fork)."""
        client = self._client
        if client is not None:
            return client
        with self._lock:
            if self._client is None:
                import httpx

                headers = {"User-Agent": "tane-rest-store"}
                if self._token:
                    headers["Authorization"] = f"Bearer {self._token}"
                timeout = httpx.Timeout(self._timeout, connect=min(self._timeout, CONNECT_TIMEOUT))
                self._client = httpx.Client(
                    base_url=f"{self._base}/api/v1", headers=headers, timeout=timeout
                )
            return self._client

    def _request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool | None = None,
        attempts: int | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send a request; return a 2xx answer, raise tane's exception otherwise.

        A request is tried again (``attempts`` in all, default 3 for reads and
        writes alike) only when that cannot apply it twice: it never reached
        the server, the server's store answered that it is unavailable, or it
        is ``idempotent`` (default: GET, PUT, PATCH, DELETE).
        """
        import httpx

        if idempotent is None:
            idempotent = method in _IDEMPOTENT
        reading = method == "GET"
        if attempts is None:
            attempts = READ_ATTEMPTS if reading else WRITE_ATTEMPTS
        backoff = READ_BACKOFF if reading else WRITE_BACKOFF
        content = kwargs.get("content")
        body_file = content if hasattr(content, "seek") else None
        start = body_file.tell() if body_file is not None else 0
        for attempt in range(attempts):
            if attempt:
                time.sleep(backoff[min(attempt - 1, len(backoff) - 1)])
                if body_file is not None:
                    body_file.seek(start)  # a file body is sent whole again
            try:
                response = self.client.request(method, path, **kwargs)
            except UnicodeEncodeError as exc:
                # A lone surrogate in the body: no JSON encoder can send it.
                raise refused_value(self._shown, exc) from None
            except httpx.TransportError as exc:
                # A connection never made cannot have delivered the request; any
                # other failure may come after the server has handled it.
                not_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
                not_sent = not_sent or isinstance(exc, httpx.PoolTimeout)
                reason = f"{type(exc).__name__}: {exc}"
                error: TaneError = ServerUnreachable(
                    f"store {self._shown} cannot be reached ({reason}); "
                    "is `tane server` running there?",
                    maybe_sent=not not_sent,
                    reason=reason,
                )
            else:
                if response.is_success:
                    return response
                error = self._error(response)
            if not isinstance(error, StoreUnavailable):
                raise error
            if getattr(error, "maybe_sent", False) and not idempotent:
                break
        raise error

    def _error(self, response: httpx.Response) -> TaneError:
        """Turn an error answer into the tane exception it stands for."""
        status = response.status_code
        detail: Mapping[str, Any] = {}
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            detail = body["error"]
        kind = str(detail.get("type", ""))
        message = str(detail.get("message") or response.text[:500] or response.reason_phrase)
        if kind == "InvalidFilter":
            position = detail.get("position")
            return InvalidFilter(message, position=position if isinstance(position, int) else None)
        known = _ERROR_TYPES.get(kind)
        if known is not None:
            return known(message)
        if status in _UNAVAILABLE_STATUS:
            # No tane body: a proxy answered, and may have passed the request on.
            return ServerUnreachable(
                f"store {self._shown} answered {status}: {message}",
                maybe_sent=True,
                reason=f"it answered {status}: {message}",
            )
        if status == 404:
            return NotFound(message)
        if status == 409:
            return ParamConflict(message)
        if 400 <= status < 500:
            return InvalidInput(f"store {self._shown} refused the request ({status}): {message}")
        return StoreError(f"store {self._shown} failed ({status}): {message}")

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    @staticmethod
    def _run_path(run_id: str) -> str:
        return f"/runs/{_quote(run_id)}"

    # -- spooling while the server is down ------------------------------------------

    @property
    def spool(self) -> Spool:
        """Where this server's writes wait while it cannot be reached."""
        spool = self._spool
        if spool is None:
            from tane.tracking.spool import Spool

            with self._state_lock:
                if self._spool is None:
                    self._spool = Spool(self._base)
                spool = self._spool
        return spool

    def _run_lock(self, run_id: str) -> threading.RLock:
        with self._state_lock:
            lock = self._run_locks.get(run_id)
            if lock is None:
                lock = self._run_locks[run_id] = threading.RLock()
            return lock

    def _seems_down(self) -> bool:
        """True while writes in the caller's thread should not try the server."""
        return self._down_since is not None and time.monotonic() < self._retry_at

    def _went_down(self) -> None:
        with self._state_lock:
            now = time.monotonic()
            if self._down_since is None:
                self._down_since = now
            self._failures += 1
            self._retry_at = now + min(PROBE_MAX, 2.0 ** (self._failures - 1))

    def _came_up(self) -> None:
        if self._down_since is not None:
            with self._state_lock:
                self._down_since = None
                self._failures = 0
                self._retry_at = 0.0
                self._announced = False

    def _write(
        self,
        run_id: str,
        op: str,
        body: Mapping[str, Any],
        send: Callable[[], object],
        *,
        data: bytes | None = None,
        source: str | None = None,
    ) -> None:
        """Send a write of a run now, or spool it while the server cannot be reached.

        The run's spooled writes go first, in order; while any remain, this
        one joins them. Errors other than the server being unreachable (an
        unknown run, a param conflict) are raised as usual.
        """
        from tane.tracking.spool import spoolable

        if not self._spooling or not spoolable(run_id):
            send()
            return
        with self._run_lock(run_id):
            spool = self.spool
            if spool.has(run_id):
                # Older writes of the run first; if they cannot all go, this waits too.
                try:
                    waiting = self._seems_down() or self.replay(run_id).pending > 0
                except (StoreError, OSError):
                    waiting = True  # the spool is locked or unreadable: append (or say why)
                if waiting:
                    self._to_spool(run_id, op, body, data, source, uncertain=False)
                    return
            elif self._seems_down():
                self._to_spool(run_id, op, body, data, source, uncertain=False)
                return
            try:
                send()
            except StoreUnavailable as exc:
                self._went_down()
                maybe_sent = bool(getattr(exc, "maybe_sent", False))
                self._to_spool(run_id, op, body, data, source, uncertain=maybe_sent, cause=exc)
                return
            except _HELD as exc:
                # Credentials expired mid-run: keep the write rather than lose it.
                self._went_down()
                refused = _access_refused(self._base, exc)
                self._to_spool(run_id, op, body, data, source, uncertain=False, cause=refused)
                return
            self._came_up()

    def _to_spool(
        self,
        run_id: str,
        op: str,
        body: Mapping[str, Any],
        data: bytes | None,
        source: str | None,
        *,
        uncertain: bool,
        cause: BaseException | None = None,
    ) -> None:
        try:
            self.spool.append(run_id, op, body, data=data, source=source, uncertain=uncertain)
        except StoreError as exc:
            # Not even the disk: the caller keeps what it can (the metric writer its
            # points in memory) and hears why.
            raise StoreUnavailable(f"store {self._shown} cannot be reached, and {exc}") from exc
        with self._state_lock:
            self._spooled.add(run_id)
            announce = not self._announced
            self._announced = True
        if announce:
            reason = str(cause) if cause is not None else f"server {self._base} is down"
            print(
                f"tane: {reason}\ntane: writes to it are kept in {self.spool.folder} and sent "
                "when it is back (`tane sync` sends them too)",
                file=sys.__stderr__,
            )

    def replay(
        self,
        run_id: str,
        *,
        attempts: int = 1,
        progress: Callable[[SpoolItem], None] | None = None,
        quiet: bool = False,
    ) -> ReplayReport:
        """Send a run's spooled writes in order, until one cannot be.

        Writes the server refuses for good (the run was deleted, a param
        conflicts) are moved to the spool's ``rejected.jsonl`` and reported
        on stderr; the following ones are still sent.

        Args:
            run_id: The run.
            attempts: Tries of each write before giving up for now.
            progress: Called after each write sent, refused or found on the server.
            quiet: Do not print refused writes on stderr (the caller reports them).
        """
        with self._run_lock(run_id):
            report = self.spool.replay(
                run_id, lambda item: self._send_item(item, attempts), progress
            )
            with self._state_lock:
                if report.pending:
                    self._spooled.add(run_id)
                else:
                    self._spooled.discard(run_id)
        if report.error is not None:
            self._went_down()
        elif report.sent or report.already or report.rejected:
            self._came_up()
        for item, error in [] if quiet else report.rejected:
            print(
                f"tane: server {self._base} refused a spooled write of run {run_id} "
                f"({item.describe()}): {error}; it is kept in {self.spool.rejected_file}",
                file=sys.__stderr__,
            )
        return report

    def sync_spool(self, run_id: str | None = None) -> int:
        """Send what this object spooled (for one run, or all); return writes still spooled.

        Called by the metric writer at every flush: it tries the server even
        while writes in the caller's thread skip it. Stops at the first run
        whose writes cannot be sent.
        """
        from tane.tracking.spool import spoolable

        if run_id is not None:
            runs = [run_id] if spoolable(run_id) and self.spool.has(run_id) else []
        else:
            with self._state_lock:
                runs = sorted(self._spooled)
        pending = 0
        for index, rid in enumerate(runs):
            report = self.replay(rid)
            pending += report.pending
            if report.error is not None:
                pending += sum(self.spool.backlog(r).items for r in runs[index + 1 :])
                break
        return pending

    def spool_backlog(self, run_id: str) -> Backlog | None:
        """What is spooled for a run, or None if nothing is."""
        from tane.tracking.spool import spoolable

        if not spoolable(run_id) or not self.spool.has(run_id):
            return None
        backlog = self.spool.backlog(run_id)
        return backlog if backlog.items else None

    def _send_item(self, item: SpoolItem, attempts: int) -> bool:
        """Send one spooled write; return False if the server had it already.

        A refusal for credentials or rights stops sending (AccessRefused, a
        StoreUnavailable) instead of setting the write aside as rejected.
        """
        try:
            return self._send_spooled(item, attempts)
        except _HELD as exc:
            raise _access_refused(self._base, exc) from exc

    def _send_spooled(self, item: SpoolItem, attempts: int) -> bool:
        run_id, body = item.run_id, item.body
        if item.op == "batch":
            metrics = body.get("metrics") or []
            if item.uncertain and metrics and self._batch_stored(run_id, metrics):
                return False
            self._request(
                "POST",
                f"{self._run_path(run_id)}/batch",
                json=body,
                attempts=attempts,
                # Params (same value) and tags (upserted) may be sent twice; points not.
                idempotent=not metrics,
            )
        elif item.op == "update":
            self._request("PATCH", self._run_path(run_id), json=body, attempts=attempts)
        elif item.op == "delete_tag":
            self._request(
                "DELETE",
                f"{self._run_path(run_id)}/tags/{_quote(str(body['key']))}",
                attempts=attempts,
            )
        elif item.op == "artifact":
            return self._send_artifact(item, attempts)
        else:
            raise InvalidInput(f"unknown spooled write {item.op!r}")
        return True

    def _send_artifact(self, item: SpoolItem, attempts: int) -> bool:
        rel = str(item.body["path"])
        blob = item.blob
        if blob is None or not blob.exists():
            raise NotFound(f"the spooled bytes of artifact {rel!r} are missing ({blob})")
        if not item.body.get("append"):
            with open(blob, "rb") as fh:
                self._upload(item.run_id, rel, fh, attempts=attempts)
            return True
        data = blob.read_bytes()
        current = self._current_artifact(item.run_id, rel)
        base = item.body.get("base")
        applied = isinstance(base, int) and len(current) == base + len(data)
        if item.uncertain and applied and current.endswith(data):
            return False  # appended before the connection broke
        # Recorded with the write if this upload's fate is unknown (see Spool.replay).
        item.body["base"] = len(current)
        self._upload(item.run_id, rel, current + data, attempts=attempts)
        return True

    def _current_artifact(self, run_id: str, rel: str) -> bytes:
        try:
            return self._request("GET", self._artifact_url(run_id, rel)).content
        except RunNotFound:
            raise
        except NotFound:
            return b""

    def _batch_stored(self, run_id: str, metrics: Sequence[Sequence[Any]]) -> bool:
        """True if the server holds every point of a batch (a batch is stored whole or not)."""
        wanted: dict[str, Counter[tuple[int, int, float | str]]] = {}
        for key, value, step, ts in metrics:
            point = (int(step), int(ts), float_to_json(float_from_json(value)))
            wanted.setdefault(str(key), Counter())[point] += 1
        for key, points in wanted.items():
            steps = [step for step, _, _ in points]
            history = self.get_metric_history(run_id, key, min(steps), max(steps))
            have = Counter((m.step, m.timestamp, float_to_json(m.value)) for m in history)
            if any(have[point] < count for point, count in points.items()):
                return False
        return True

    # -- experiments ---------------------------------------------------------------

    def create_experiment(self, name: str, tags: Mapping[str, str] | None = None) -> Experiment:
        data = self._json("POST", "/experiments", json={"name": name, "tags": dict(tags or {})})
        return _experiment(data)

    def get_experiment(self, id_or_name: str) -> Experiment:
        return _experiment(self._json("GET", self._experiment_path(id_or_name)))

    def _experiment_path(self, id_or_name: str) -> str:
        """The URL path of an experiment; a name no path segment carries goes by its id.

        A '/' would split the segment, and "." or ".." would be resolved away by
        the URL itself: such a name is looked up in the list instead.
        """
        if "/" not in id_or_name and id_or_name not in (".", ".."):
            return f"/experiments/{_quote(id_or_name)}"
        for exp in self.list_experiments(include_deleted=True):
            if exp.name == id_or_name:
                return f"/experiments/{exp.id}"
        raise ExperimentNotFound(
            f"no experiment named {id_or_name!r}; `tane experiments ls` lists them"
        )

    def get_or_create_experiment(self, name: str) -> Experiment:
        for _ in range(3):
            try:
                found = self.get_experiment(name)
                if found.name == name:
                    return found
            except ExperimentNotFound:
                pass
            try:
                return self.create_experiment(name)
            except InvalidInput as exc:
                if "already exists" not in str(exc):
                    raise
                # Another client created it in between: read it back.
                for exp in self.list_experiments(include_deleted=True):
                    if exp.name == name:
                        return exp
        raise StoreError(
            f"store {self._shown}: experiment {name!r} could be neither read nor created"
        )

    def update_experiment(
        self,
        id_or_name: str,
        *,
        name: str | None = None,
        deleted: bool | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Experiment:
        body: dict[str, Any] = {"name": name, "deleted": deleted, "tags": dict(tags or {})}
        path = self._experiment_path(id_or_name)
        return _experiment(self._json("PATCH", path, json=body, idempotent=True))

    def list_experiments(self, include_deleted: bool = False) -> list[Experiment]:
        params = {"include_deleted": "true"} if include_deleted else {}
        data = self._json("GET", "/experiments", params=params)
        return [_experiment(e) for e in data["experiments"]]

    # -- runs ----------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        name: str,
        *,
        parent_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        start_time: int | None = None,
        host: str | None = None,
        pid: int | None = None,
    ) -> Run:
        body = {
            "experiment_id": experiment_id,
            "name": name,
            "parent_id": parent_id,
            "tags": dict(tags or {}),
            "start_time": start_time,
            "host": host,
            "pid": pid,
        }
        return _run(self._json("POST", "/runs", json=body))

    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | None = None,
        end_time: int | None = None,
        name: str | None = None,
        note: str | None = None,
        host: str | None = None,
        pid: int | None = None,
    ) -> None:
        fields: dict[str, Any] = {
            "status": None if status is None else RunStatus.parse(status).value,
            "end_time": end_time,
            "name": name,
            "note": note,
            "host": host,
            "pid": pid,
        }
        body = {k: v for k, v in fields.items() if v is not None}
        self._write(
            run_id,
            "update",
            body,
            lambda: self._request("PATCH", self._run_path(run_id), json=body),
        )

    def heartbeat(self, run_ids: Sequence[str], now: int) -> None:
        """Record that these runs' owners are alive; dropped while the server is down."""
        if not run_ids or self._seems_down():
            return
        try:
            self._request(
                "POST",
                "/runs/heartbeat",
                json={"run_ids": list(run_ids), "now": now},
                idempotent=True,
                attempts=1,
            )
        except StoreUnavailable:
            # A later beat says the same: nothing is lost by dropping this one.
            self._went_down()
            return
        self._came_up()

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[PointTuple] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        body = {
            "metrics": [
                [key, float_to_json(float(value)), int(step), int(ts)]
                for key, value, step, ts in metrics
            ],
            "params": {k: str(v) for k, v in (params or {}).items()},
            "tags": {k: str(v) for k, v in (tags or {}).items()},
        }
        if not body["metrics"] and not body["params"] and not body["tags"]:
            return
        path = f"{self._run_path(run_id)}/batch"
        # Sending points twice would store them twice: a batch whose fate is unknown
        # is spooled as uncertain, and checked against the server before it is resent.
        idempotent = not body["metrics"]
        self._write(
            run_id,
            "batch",
            body,
            lambda: self._request("POST", path, json=body, idempotent=idempotent),
        )

    def delete_tag(self, run_id: str, key: str) -> None:
        path = f"{self._run_path(run_id)}/tags/{_quote(key)}"
        self._write(run_id, "delete_tag", {"key": key}, lambda: self._request("DELETE", path))

    def get_run(self, run_id: str) -> Run:
        return _run(self._json("GET", self._run_path(run_id)))

    def search_runs(
        self,
        experiment_ids: Sequence[str] | None = None,
        filter_string: str = "",
        order_by: Sequence[str] = (),
        max_results: int = 1000,
        page_token: str | None = None,
        view: RunView = "active",
    ) -> RunPage:
        body = {
            "experiment_ids": None if experiment_ids is None else list(experiment_ids),
            "filter": filter_string,
            "order_by": list(order_by),
            "max_results": max_results,
            "page_token": page_token,
            "view": view,
        }
        try:
            # A search only reads: retried like a GET.
            data = self._json("POST", "/runs/search", json=body, idempotent=True)
        except InvalidFilter as exc:
            exc.text = exc.text or filter_string
            raise
        return RunPage([_run(r) for r in data["runs"]], data.get("next_page_token"))

    # -- the model registry ---------------------------------------------------------

    def register_model(
        self, name: str, source: str, run_id: str | None = None, description: str = ""
    ) -> ModelVersion:
        body = {"source": source, "run_id": run_id, "description": description}
        return _model_version(self._json("POST", f"/models/{_quote(name)}/versions", json=body))

    def get_model_version(
        self, name: str, version: int | None = None, alias: str | None = None
    ) -> ModelVersion:
        if alias is not None:
            path = f"/models/{_quote(name)}/aliases/{_quote(alias)}"
        elif version is not None:
            path = f"/models/{_quote(name)}/versions/{int(version)}"
        else:
            versions = self.list_model_versions(name)
            if not versions:
                raise NotFound(f"model {name!r} has no versions")
            return versions[0]
        return _model_version(self._json("GET", path))

    def list_registered_models(self) -> list[RegisteredModel]:
        return [
            RegisteredModel(
                name=m["name"],
                created=m["created"],
                updated=m["updated"],
                description=m["description"],
                latest_version=m["latest_version"],
                aliases={str(k): int(v) for k, v in m["aliases"].items()},
            )
            for m in self._json("GET", "/models")["models"]
        ]

    def list_model_versions(self, name: str) -> list[ModelVersion]:
        data = self._json("GET", f"/models/{_quote(name)}/versions")
        return [_model_version(v) for v in data["versions"]]

    def set_model_alias(self, name: str, alias: str, version: int | None) -> None:
        path = f"/models/{_quote(name)}/aliases/{_quote(alias)}"
        if version is None:
            self._request("DELETE", path)
        else:
            self._request("PUT", path, json={"version": int(version)})

    def get_keys(self, experiment_ids: Sequence[str] | None = None) -> dict[str, list[str]]:
        body = {"experiment_ids": None if experiment_ids is None else list(experiment_ids)}
        data = self._json("POST", "/runs/keys", json=body, idempotent=True)
        return {kind: list(data[kind]) for kind in ("params", "metrics", "tags")}

    def get_metric_history(
        self,
        run_id: str,
        key: str,
        min_step: int | None = None,
        max_step: int | None = None,
        max_points: int | None = None,
    ) -> list[Metric]:
        query = {"min_step": min_step, "max_step": max_step, "max_points": max_points}
        params = {k: v for k, v in query.items() if v is not None}
        data = self._json("GET", f"{self._run_path(run_id)}/metrics/{_quote(key)}", params=params)
        return [
            Metric(m["key"], float_from_json(m["value"]), int(m["step"]), int(m["timestamp"]))
            for m in data["metrics"]
        ]

    def delete_runs(self, run_ids: Sequence[str]) -> None:
        self._request("POST", "/runs/delete", json={"run_ids": list(run_ids)})

    def restore_runs(self, run_ids: Sequence[str]) -> None:
        self._request("POST", "/runs/restore", json={"run_ids": list(run_ids)})

    def purge_runs(self, run_ids: Sequence[str] | None = None) -> PurgeReport:
        """Not available over HTTP: the server has no purge route."""
        raise StoreError(
            "purging runs is done on the server: tane --store <the server's database> gc"
        )

    # -- artifacts -------------------------------------------------------------------

    def _artifact_url(self, run_id: str, rel: str) -> str:
        return f"{self._run_path(run_id)}/artifacts/{_quote(rel)}"

    def _upload(
        self, run_id: str, rel: str, content: bytes | IO[bytes], attempts: int | None = None
    ) -> str:
        data = self._json(
            "PUT",
            self._artifact_url(run_id, rel),
            content=content,
            headers={"Content-Type": "application/octet-stream"},
            attempts=attempts,
        )
        return str(data["path"])

    def _upload_file(self, run_id: str, rel: str, path: Path) -> None:
        """Upload a file, or spool a copy of it while the server cannot be reached."""

        def send() -> None:
            with open(path, "rb") as fh:
                self._upload(run_id, rel, fh)

        self._write(
            run_id,
            "artifact",
            {"path": rel, "append": False, "size": path.stat().st_size},
            send,
            source=str(path),
        )

    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None = None) -> str:
        src = Path(os.path.abspath(local_path))
        if not src.exists():
            raise NotFound(f"cannot log artifact {local_path!r}: no such file or folder")
        rel = safe_artifact_path(artifact_path)
        rel = safe_artifact_path(posixpath.join(rel, src.name) if rel else src.name or "root")
        if src.is_file():
            self._upload_file(run_id, rel, src)
            return rel
        # A folder: every file under it, at the same relative place (empty folders
        # cannot be sent). The run is checked first so that an unknown run fails alike
        # (unless the server is down: the files are then spooled).
        if not self._seems_down():
            try:
                self.get_run(run_id)
            except StoreUnavailable:
                self._went_down()
        for root, _dirs, files in os.walk(src):
            for name in sorted(files):
                path = Path(root) / name
                sub = path.relative_to(src).as_posix()
                self._upload_file(run_id, f"{rel}/{sub}", path)
        return rel

    def log_artifact_bytes(
        self, run_id: str, artifact_path: str, data: bytes, append: bool = False
    ) -> None:
        """Write bytes as an artifact file.

        The server has no append route: ``append=True`` downloads the current
        file (none: empty), appends and uploads the whole. That is not atomic
        across clients: two appending to one file at once may lose one's bytes.
        """
        rel = safe_artifact_path(artifact_path, allow_root=False)
        body = {"path": rel, "append": append, "size": len(data)}

        def send() -> None:
            if not append:
                self._upload(run_id, rel, data)
                return
            current = self._current_artifact(run_id, rel)
            # Should the upload's fate be unknown, the spooled write can tell from
            # the file's size whether it was appended already.
            body["base"] = len(current)
            self._upload(run_id, rel, current + data)

        self._write(run_id, "artifact", body, send, data=data)

    def list_artifacts(self, run_id: str, path: str = "") -> list[ArtifactInfo]:
        rel = safe_artifact_path(path)
        data = self._json(
            "GET", f"{self._run_path(run_id)}/artifacts", params={"path": rel} if rel else {}
        )
        return [
            ArtifactInfo(str(a["path"]), bool(a["is_dir"]), a.get("size"))
            for a in data["artifacts"]
        ]

    def open_artifact(self, run_id: str, path: str) -> BinaryIO:
        """Download an artifact into a spooled temporary file (memory, then disk) and open it."""
        rel = safe_artifact_path(path, allow_root=False)
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX)  # noqa: SIM115 (returned)
        try:
            self._download_to(run_id, rel, spool)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return cast(BinaryIO, spool)

    def _download_to(self, run_id: str, rel: str, out: IO[bytes]) -> None:
        import httpx

        url = self._artifact_url(run_id, rel)
        for attempt in range(READ_ATTEMPTS):
            if attempt:
                time.sleep(READ_BACKOFF[min(attempt - 1, len(READ_BACKOFF) - 1)])
                out.seek(0)
                out.truncate()
            try:
                with self.client.stream("GET", url) as response:
                    if not response.is_success:
                        response.read()
                        error = self._error(response)
                        if isinstance(error, StoreUnavailable):
                            continue
                        raise error
                    for chunk in response.iter_bytes(CHUNK_SIZE):
                        out.write(chunk)
                    return
            except httpx.TransportError as exc:
                error = StoreUnavailable(
                    f"store {self._shown} cannot be reached ({type(exc).__name__}: {exc})"
                )
        raise error

    def download_artifacts(self, run_id: str, path: str, dst: str) -> str:
        rel = safe_artifact_path(path)
        entries = self.list_artifacts(run_id, rel)
        if not entries:
            raise NotFound(f"artifact {rel or '/'!r} not found in run {run_id}")
        local = Path(dst) / (posixpath.basename(rel) if rel else run_id)
        if rel and len(entries) == 1 and entries[0].path == rel and not entries[0].is_dir:
            self._download_file(run_id, rel, local)
            return str(local)
        self._download_folder(run_id, rel, entries, local)
        return str(local)

    def _download_file(self, run_id: str, rel: str, local: Path) -> None:
        local.parent.mkdir(parents=True, exist_ok=True)
        with open(local, "wb") as fh:
            self._download_to(run_id, rel, fh)

    def _download_folder(
        self, run_id: str, rel: str, entries: list[ArtifactInfo], local: Path
    ) -> None:
        local.mkdir(parents=True, exist_ok=True)
        prefix = f"{rel}/" if rel else ""
        for entry in entries:
            sub = entry.path[len(prefix) :] if entry.path.startswith(prefix) else entry.path
            target = local / sub
            if entry.is_dir:
                self._download_folder(
                    run_id, entry.path, self.list_artifacts(run_id, entry.path), target
                )
            else:
                self._download_file(run_id, entry.path, target)

    # -- lifetime ------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def after_fork(self) -> None:
        """Forget the parent's connections in a forked child (a new client is made on use)."""
        self._lock = threading.Lock()
        self._client = None
        # The parent's spooled runs are the parent's to send; the files are shared.
        self._reset_spooling()

    def __repr__(self) -> str:
        return f"RestStore({self._shown!r})"
