"""A store that talks to a ``tane server`` over HTTP (``TANE_STORE=http://host:port``).

Every method of the Store protocol is one (or a few) calls to the server's
``/api/v1`` routes (see docs/server.md). Error bodies come back as tane's own
exceptions, chosen by their ``type``; connection errors and 502/503/504 answers
become StoreUnavailable, so the metric writer keeps the points and tries again.
Reads (GET and search) are retried twice with a short backoff.

httpx is imported here only: ``import tane`` never loads it.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import quote

from tane.errors import (
    ExperimentNotFound,
    InvalidFilter,
    InvalidInput,
    NotFound,
    ParamConflict,
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
    Run,
    RunStatus,
    float_from_json,
    float_to_json,
)
from tane.tracking.stores.base import PointTuple, PurgeReport, RunPage, RunView

if TYPE_CHECKING:
    import httpx

#: Attempts of a read (GET, search) before StoreUnavailable is raised.
READ_ATTEMPTS = 3
#: Seconds to wait before the second and third attempt of a read.
READ_BACKOFF = (0.1, 0.4)
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
}

_UNAVAILABLE_STATUS = (502, 503, 504)


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
        token: Sent as ``Authorization: Bearer <token>`` if given (the server does
            not check it yet).
        timeout: Seconds to wait for the server (connect, read, write).

    One ``httpx.Client`` serves every thread. ``artifact_root`` is descriptive
    only (``<base_url>/api/v1/artifacts``): the server has no route reporting
    its own artifact root; a run's ``artifact_uri`` is what the server says.
    """

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.uri = base_url
        self._base = base_url.rstrip("/")
        self.artifact_root = f"{self._base}/api/v1/artifacts"
        self._token = token
        self._timeout = timeout
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None

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
                self._client = httpx.Client(
                    base_url=f"{self._base}/api/v1", headers=headers, timeout=self._timeout
                )
            return self._client

    def _request(
        self, method: str, path: str, *, retry: bool | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Send a request; return a 2xx answer, raise tane's exception otherwise."""
        import httpx

        attempts = READ_ATTEMPTS if (method == "GET" if retry is None else retry) else 1
        for attempt in range(attempts):
            if attempt:
                time.sleep(READ_BACKOFF[min(attempt - 1, len(READ_BACKOFF) - 1)])
            try:
                response = self.client.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                error: TaneError = StoreUnavailable(
                    f"store {self.uri} cannot be reached ({type(exc).__name__}: {exc}); "
                    "is `tane server` running there?"
                )
            else:
                if response.is_success:
                    return response
                error = self._error(response)
            if not isinstance(error, StoreUnavailable):
                raise error
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
            return StoreUnavailable(f"store {self.uri} answered {status}: {message}")
        if status == 404:
            return NotFound(message)
        if status == 409:
            return ParamConflict(message)
        if 400 <= status < 500:
            return InvalidInput(f"store {self.uri} refused the request ({status}): {message}")
        return StoreError(f"store {self.uri} failed ({status}): {message}")

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    @staticmethod
    def _run_path(run_id: str) -> str:
        return f"/runs/{_quote(run_id)}"

    # -- experiments ---------------------------------------------------------------

    def create_experiment(self, name: str, tags: Mapping[str, str] | None = None) -> Experiment:
        data = self._json("POST", "/experiments", json={"name": name, "tags": dict(tags or {})})
        return _experiment(data)

    def get_experiment(self, id_or_name: str) -> Experiment:
        return _experiment(self._json("GET", f"/experiments/{_quote(id_or_name)}"))

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
        raise StoreError(f"store {self.uri}: experiment {name!r} could be neither read nor created")

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
        self._request("PATCH", self._run_path(run_id), json=body)

    def heartbeat(self, run_ids: Sequence[str], now: int) -> None:
        if not run_ids:
            return
        self._request("POST", "/runs/heartbeat", json={"run_ids": list(run_ids), "now": now})

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
        self._request("POST", f"{self._run_path(run_id)}/batch", json=body)

    def delete_tag(self, run_id: str, key: str) -> None:
        self._request("DELETE", f"{self._run_path(run_id)}/tags/{_quote(key)}")

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
            data = self._json("POST", "/runs/search", json=body, retry=True)
        except InvalidFilter as exc:
            exc.text = exc.text or filter_string
            raise
        return RunPage([_run(r) for r in data["runs"]], data.get("next_page_token"))

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

    def _upload(self, run_id: str, rel: str, content: bytes | IO[bytes]) -> str:
        data = self._json(
            "PUT",
            self._artifact_url(run_id, rel),
            content=content,
            headers={"Content-Type": "application/octet-stream"},
        )
        return str(data["path"])

    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None = None) -> str:
        src = Path(os.path.abspath(local_path))
        if not src.exists():
            raise NotFound(f"cannot log artifact {local_path!r}: no such file or folder")
        rel = safe_artifact_path(artifact_path)
        rel = safe_artifact_path(posixpath.join(rel, src.name) if rel else src.name or "root")
        if src.is_file():
            with open(src, "rb") as fh:
                return self._upload(run_id, rel, fh)
        # A folder: every file under it, at the same relative place (empty folders
        # cannot be sent). The run is checked first so that an unknown run fails alike.
        self.get_run(run_id)
        for root, _dirs, files in os.walk(src):
            for name in sorted(files):
                path = Path(root) / name
                sub = path.relative_to(src).as_posix()
                with open(path, "rb") as fh:
                    self._upload(run_id, f"{rel}/{sub}", fh)
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
        if append:
            try:
                current = self._request("GET", self._artifact_url(run_id, rel)).content
            except RunNotFound:
                raise
            except NotFound:
                current = b""
            data = current + data
        self._upload(run_id, rel, data)

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
                    f"store {self.uri} cannot be reached ({type(exc).__name__}: {exc})"
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

    def __repr__(self) -> str:
        return f"RestStore({self.uri!r})"
