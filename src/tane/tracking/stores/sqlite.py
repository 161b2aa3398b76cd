"""The write path of a local SQLite store on the standard library's sqlite3.

Importing SQLAlchemy costs a tenth of a second, more than composing a config or
starting a run. A script that only records (the fluent API, ``@tane.main``,
multirun jobs, pipeline runs) needs a handful of statements: this store runs
those on ``sqlite3`` directly, with the same transactions as
:class:`~tane.tracking.stores.sql.SqlStore` (WAL, ``BEGIN IMMEDIATE`` under a
busy timeout), and hands everything else (search, history, deletion, purge,
listing artifacts) to a SqlStore on the same file, built on first use.

It opens only a store that exists at the current schema revision; creating and
migrating stay with SqlStore (:func:`open_sqlite` returns None otherwise).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from tane.errors import ExperimentNotFound, InvalidInput, RunNotFound, StoreError
from tane.tracking.artifacts import ArtifactRepository
from tane.tracking.entities import ArtifactInfo, Experiment, Metric, Run, RunStatus
from tane.tracking.stores._common import (
    SCHEMA_REVISION,
    SQLITE_BUSY_MS,
    check_experiment_name,
    check_run_name,
    deleted_run,
    id_number,
    now_ms,
    param_conflict,
    refused_value,
    run_updates,
    sqlite_error,
    sqlite_read_only,
)
from tane.tracking.stores.base import PointTuple, PurgeReport, RunPage, RunView, owner_host
from tane.tracking.values import check_key, param_number

if TYPE_CHECKING:
    from tane.tracking.stores.sql import SqlStore

_CHUNK = 500
#: What sqlite3 raises for a value it cannot bind: an integer beyond 64 bits,
#: text with a lone surrogate. The caller's value, not the store, is at fault.
_UNBINDABLE = (OverflowError, UnicodeEncodeError)


def open_sqlite(db_url: str, path: str) -> SqliteStore | None:
    """Open the SQLite store at ``path`` on sqlite3, or None when SqlStore must open it.

    None means: no file yet, not a tane store, another schema revision, or no
    artifact root recorded; SqlStore then creates, migrates or explains.
    """
    if not Path(path).is_file():
        return None
    try:
        conn = sqlite3.connect(sqlite_read_only(path), uri=True, timeout=SQLITE_BUSY_MS / 1000)
    except sqlite3.Error:
        return None
    try:
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        root = conn.execute("SELECT value FROM store_info WHERE key = 'artifact_root'").fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    if revision is None or revision[0] != SCHEMA_REVISION or root is None:
        return None
    return SqliteStore(db_url, path, str(root[0]))


class SqliteStore:
    """A SQLite store whose recording path needs no SQLAlchemy (see the module doc).

    Args:
        db_url: The ``sqlite:///`` URL, as SqlStore takes it.
        path: The database file.
        artifact_root: The artifact root recorded in the store.
    """

    def __init__(self, db_url: str, path: str, artifact_root: str) -> None:
        self.uri = db_url
        self.db_url = db_url
        self.path = path
        self.artifact_root = artifact_root
        self.artifacts = ArtifactRepository(artifact_root)
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._full: SqlStore | None = None
        self._series: dict[tuple[str, str], int] = {}
        self._experiment_ids: dict[str, tuple[int, str]] = {}

    # -- connections -----------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(
                    self.path,
                    timeout=SQLITE_BUSY_MS / 1000,
                    isolation_level=None,
                    check_same_thread=False,
                )
                conn.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.Error as exc:
                raise self._wrap(exc) from exc
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def _wrap(self, exc: sqlite3.Error) -> StoreError:
        return sqlite_error(
            self.uri, str(exc), operational=isinstance(exc, sqlite3.OperationalError)
        )

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group this thread's writes inside the block into one transaction.

        Ending a run (its last metric points, held params, tags and status) is
        one commit instead of four.
        """
        if getattr(self._local, "batch", False):
            yield
            return
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._wrap(exc) from exc
        self._local.batch = True
        try:
            yield
        except BaseException:
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        else:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise self._wrap(exc) from exc
        finally:
            self._local.batch = False

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: ``BEGIN IMMEDIATE``, queued by the busy timeout."""
        conn = self._conn()
        if getattr(self._local, "batch", False):
            # Inside batch(): part of its transaction. The writes grouped there (a
            # run's end) check before they change anything, so a refused one
            # leaves nothing behind.
            try:
                yield conn
            except sqlite3.IntegrityError:
                raise
            except sqlite3.Error as exc:
                raise self._wrap(exc) from exc
            except _UNBINDABLE as exc:
                raise refused_value(self.uri, exc) from exc
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._wrap(exc) from exc
        try:
            yield conn
        except BaseException as exc:
            # The transaction may be gone already (e.g. the disk failed).
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.IntegrityError):
                raise
            if isinstance(exc, sqlite3.Error):
                raise self._wrap(exc) from exc
            if isinstance(exc, _UNBINDABLE):
                raise refused_value(self.uri, exc) from exc
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise self._wrap(exc) from exc

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        try:
            return self._conn().execute(sql, tuple(args)).fetchall()
        except sqlite3.Error as exc:
            raise self._wrap(exc) from exc
        except _UNBINDABLE as exc:
            raise refused_value(self.uri, exc) from exc

    def full(self) -> SqlStore:
        """The SqlStore on the same file, for what this class does not do itself."""
        with self._lock:
            if self._full is None:
                from tane.tracking.stores.sql import SqlStore

                self._full = SqlStore(self.db_url, self.artifact_root)
            return self._full

    def close(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
            full, self._full = self._full, None
        for conn in conns:
            with suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()
        if full is not None:
            full.close()

    def after_fork(self) -> None:
        """Forget connections inherited from a parent process (never use them here)."""
        self._conns = []
        self._local = threading.local()
        self._lock = threading.Lock()
        if self._full is not None:
            self._full.after_fork()

    @property
    def reap_interval(self) -> float:
        return self.full().reap_interval

    @reap_interval.setter
    def reap_interval(self, value: float) -> None:
        self.full().reap_interval = value

    # -- experiments -----------------------------------------------------------

    def create_experiment(self, name: str, tags: Mapping[str, str] | None = None) -> Experiment:
        name = check_experiment_name(name)
        rows = [(check_key(k, "tag"), v) for k, v in (tags or {}).items()]
        now = now_ms()
        try:
            with self._write() as conn:
                cur = conn.execute(
                    "INSERT INTO experiments (name, created, last_activity, deleted) "
                    "VALUES (?, ?, ?, 0)",
                    (name, now, now),
                )
                exp_id = cur.lastrowid
                if rows:
                    conn.executemany(
                        "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)",
                        [(exp_id, k, v) for k, v in rows],
                    )
        except sqlite3.IntegrityError:
            raise InvalidInput(
                f"experiment {name!r} already exists: use it, or pick another name"
            ) from None
        return self._experiment("e.id = ?", exp_id)

    def get_or_create_experiment(self, name: str) -> Experiment:
        try:
            return self._experiment("e.name = ?", name)
        except ExperimentNotFound:
            pass
        try:
            return self.create_experiment(name)
        except InvalidInput:
            return self._experiment("e.name = ?", name)  # created meanwhile by another process

    def _experiment(self, where: str, value: object) -> Experiment:
        rows = self._query(
            "SELECT e.id, e.name, e.created, e.last_activity, e.deleted, "
            "(SELECT count(*) FROM runs r WHERE r.experiment_id = e.id AND r.deleted = 0), "
            "(SELECT max(coalesce(r.end_time, r.heartbeat, r.start_time)) FROM runs r "
            f"WHERE r.experiment_id = e.id AND r.deleted = 0) FROM experiments e WHERE {where}",
            (value,),
        )
        if not rows:
            raise ExperimentNotFound(
                f"no experiment named {value!r}; `tane experiments ls` lists them"
            )
        exp_id, name, created, last_activity, deleted, count, last = rows[0]
        tags = dict(
            self._query("SELECT key, value FROM experiment_tags WHERE experiment_id = ?", (exp_id,))
        )
        return Experiment(
            id=str(exp_id),
            name=name,
            created=created,
            last_activity=max(last_activity, last or 0),
            tags=tags,
            deleted=bool(deleted),
            run_count=int(count or 0),
        )

    def _experiment_ref(self, id_or_name: str) -> tuple[int, str]:
        """The id and name of an experiment named by id or name (an id wins)."""
        key = str(id_or_name)
        cached = self._experiment_ids.get(key)
        if cached is not None:
            return cached
        rows = self._query(
            "SELECT id, name FROM experiments WHERE name = ? OR id = ?",
            (key, -1 if (number := id_number(key)) is None else number),
        )
        if not rows:
            raise ExperimentNotFound(
                f"no experiment named {key!r}; `tane experiments ls` lists them"
            )
        by_id = [r for r in rows if str(r[0]) == key]
        found = (int((by_id or rows)[0][0]), str((by_id or rows)[0][1]))
        self._experiment_ids[key] = found  # ids and names of experiments never change
        return found

    def get_experiment(self, id_or_name: str) -> Experiment:
        return self.full().get_experiment(id_or_name)

    def list_experiments(self, include_deleted: bool = False) -> list[Experiment]:
        return self.full().list_experiments(include_deleted)

    def update_experiment(
        self,
        id_or_name: str,
        *,
        name: str | None = None,
        deleted: bool | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Experiment:
        updated = self.full().update_experiment(id_or_name, name=name, deleted=deleted, tags=tags)
        if name is not None:
            self._experiment_ids.clear()  # names are cached as never changing
        return updated

    # -- runs ------------------------------------------------------------------

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
        exp_id, exp_name = self._experiment_ref(experiment_id)
        name = check_run_name(name)
        run_id = uuid.uuid4().hex
        start = start_time if start_time is not None else now_ms()
        artifact_uri = self.artifacts.run_uri(str(exp_id), run_id)
        tag_values = dict(tags or {})
        with self._write() as conn:
            if (
                parent_id is not None
                and conn.execute("SELECT 1 FROM runs WHERE id = ?", (parent_id,)).fetchone() is None
            ):
                raise RunNotFound(f"parent run {parent_id!r} does not exist")
            conn.execute(
                "INSERT INTO runs (id, experiment_id, name, parent_id, status, start_time, "
                "heartbeat, host, pid, note, artifact_uri, deleted) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, 0)",
                (
                    run_id,
                    exp_id,
                    name,
                    parent_id,
                    RunStatus.RUNNING.value,
                    start,
                    start,
                    host,
                    pid,
                    artifact_uri,
                ),
            )
            if tag_values:
                conn.executemany(
                    "INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?)",
                    [(run_id, k, v) for k, v in tag_values.items()],
                )
        return Run(
            id=run_id,
            name=name,
            experiment_id=str(exp_id),
            experiment=exp_name,
            status=RunStatus.RUNNING,
            start_time=start,
            parent_id=parent_id,
            tags=tag_values,
            artifact_uri=artifact_uri,
            heartbeat=start,
        )

    def record_run(
        self,
        run: Run,
        *,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        points: Sequence[PointTuple] = (),
        status: RunStatus | None = None,
        end_time: int | None = None,
    ) -> None:
        """Write a run made in memory, with its params, tags and points, in one commit.

        A short child run (a sweep trial) is written whole at its end: one
        transaction instead of one to create it, one per write and one to end it.
        Without ``status`` the row is written RUNNING (the run goes on).
        """
        exp_id, _ = self._experiment_ref(run.experiment_id)
        all_tags = {**run.tags, **(tags or {})}
        final = RunStatus.parse(status).value if status is not None else RunStatus.RUNNING.value
        with self._write() as conn:
            conn.execute(
                "INSERT INTO runs (id, experiment_id, name, parent_id, status, start_time, "
                "end_time, heartbeat, host, pid, note, artifact_uri, deleted) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, 0)",
                (
                    run.id,
                    exp_id,
                    check_run_name(run.name),
                    run.parent_id,
                    final,
                    run.start_time,
                    end_time if status is not None else None,
                    end_time or run.start_time,
                    owner_host(),
                    os.getpid(),
                    run.artifact_uri,
                ),
            )
            if all_tags:
                conn.executemany(
                    "INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?)",
                    [(run.id, k, v) for k, v in all_tags.items()],
                )
            if params:
                conn.executemany(
                    "INSERT INTO params (run_id, key, value, value_num) VALUES (?, ?, ?, ?)",
                    [(run.id, k, v, param_number(v)) for k, v in params.items()],
                )
            found = _insert_new_series(conn, run.id, points) if points else {}
        self._series.update(found)

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
        values = run_updates(
            status=status, end_time=end_time, name=name, note=note, host=host, pid=pid
        )
        if not values:
            self.get_run(run_id)
            return
        assignments = ", ".join(f"{column} = ?" for column in values)
        with self._write() as conn:
            cur = conn.execute(
                f"UPDATE runs SET {assignments} WHERE id = ?", (*values.values(), run_id)
            )
            if cur.rowcount == 0:
                raise RunNotFound(f"no run with id {run_id!r}")

    def heartbeat(self, run_ids: Sequence[str], now: int) -> None:
        if not run_ids:
            return
        marks = ", ".join("?" * len(run_ids))
        with self._write() as conn:
            # A heartbeat proves the owner alive: a run declared CRASHED comes back.
            conn.execute(
                f"UPDATE runs SET status = ?, end_time = NULL WHERE id IN ({marks}) AND status = ?",
                (RunStatus.RUNNING.value, *run_ids, RunStatus.CRASHED.value),
            )
            conn.execute(f"UPDATE runs SET heartbeat = ? WHERE id IN ({marks})", (now, *run_ids))

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[PointTuple] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        if not metrics and not params and not tags:
            return
        with self._write() as conn:
            row = conn.execute("SELECT deleted FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFound(f"no run with id {run_id!r}")
            if row[0]:
                raise deleted_run(run_id)
            if params:
                _insert_params(conn, run_id, params)
            if tags:
                conn.executemany(
                    "INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?) "
                    "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
                    [(run_id, k, tags[k]) for k in sorted(tags)],
                )
            found = self._insert_metrics(conn, run_id, metrics) if metrics else {}
        # Only ids of a committed transaction may be remembered.
        self._series.update(found)

    def _insert_metrics(
        self, conn: sqlite3.Connection, run_id: str, points: Sequence[PointTuple]
    ) -> dict[tuple[str, str], int]:
        latest: dict[str, PointTuple] = {}
        for p in points:
            cur = latest.get(p[0])
            if cur is None or (p[2], p[3]) >= (cur[2], cur[3]):
                latest[p[0]] = p
        conn.executemany(
            "INSERT INTO latest_metrics (run_id, key, step, timestamp, value) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET "
            "step = excluded.step, timestamp = excluded.timestamp, value = excluded.value "
            "WHERE excluded.step > latest_metrics.step OR (excluded.step = latest_metrics.step "
            "AND excluded.timestamp >= latest_metrics.timestamp)",
            [
                (run_id, p[0], p[2], p[3], None if p[1] != p[1] else p[1])
                for p in (latest[k] for k in sorted(latest))
            ],
        )
        known = self._series
        missing = [k for k in latest if (run_id, k) not in known]
        found: dict[tuple[str, str], int] = {}
        for start in range(0, len(missing), _CHUNK):
            chunk = missing[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            for series_id, key in conn.execute(
                f"SELECT id, key FROM latest_metrics WHERE run_id = ? AND key IN ({marks})",
                (run_id, *chunk),
            ):
                found[(run_id, key)] = series_id
        ids = {k: known.get((run_id, k)) or found[(run_id, k)] for k in latest}
        conn.executemany(
            "INSERT INTO metrics (series_id, step, timestamp, value) VALUES (?, ?, ?, ?)",
            [(ids[p[0]], p[2], p[3], None if p[1] != p[1] else p[1]) for p in points],
        )
        conn.execute("UPDATE runs SET heartbeat = ? WHERE id = ?", (now_ms(), run_id))
        return found

    def delete_tag(self, run_id: str, key: str) -> None:
        self.full().delete_tag(run_id, key)

    def get_run(self, run_id: str) -> Run:
        return self.full().get_run(run_id)

    def search_runs(
        self,
        experiment_ids: Sequence[str] | None = None,
        filter_string: str = "",
        order_by: Sequence[str] = (),
        max_results: int = 1000,
        page_token: str | None = None,
        view: RunView = "active",
    ) -> RunPage:
        return self.full().search_runs(
            experiment_ids, filter_string, order_by, max_results, page_token, view
        )

    def get_metric_history(
        self,
        run_id: str,
        key: str,
        min_step: int | None = None,
        max_step: int | None = None,
        max_points: int | None = None,
    ) -> list[Metric]:
        return self.full().get_metric_history(run_id, key, min_step, max_step, max_points)

    def delete_runs(self, run_ids: Sequence[str]) -> None:
        self.full().delete_runs(run_ids)

    def restore_runs(self, run_ids: Sequence[str]) -> None:
        self.full().restore_runs(run_ids)

    def purge_runs(self, run_ids: Sequence[str] | None = None) -> PurgeReport:
        return self.full().purge_runs(run_ids)

    # -- artifacts -------------------------------------------------------------

    def _artifact_uri(self, run_id: str) -> str:
        rows = self._query("SELECT artifact_uri FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise RunNotFound(f"no run with id {run_id!r}")
        return str(rows[0][0])

    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None = None) -> str:
        return self.artifacts.log_file(self._artifact_uri(run_id), local_path, artifact_path)

    def log_artifact_bytes(
        self, run_id: str, artifact_path: str, data: bytes, append: bool = False
    ) -> None:
        self.artifacts.write_bytes(self._artifact_uri(run_id), artifact_path, data, append)

    def list_artifacts(self, run_id: str, path: str = "") -> list[ArtifactInfo]:
        return self.artifacts.list(self._artifact_uri(run_id), path)

    def open_artifact(self, run_id: str, path: str) -> BinaryIO:
        return self.artifacts.open(self._artifact_uri(run_id), path)

    def download_artifacts(self, run_id: str, path: str, dst: str) -> str:
        return self.artifacts.download(self._artifact_uri(run_id), path, dst)

    def __getattr__(self, name: str) -> Any:
        # Anything else SqlStore offers (vacuum, counts, ...) comes from it.
        if name.startswith("__") or name in ("_full", "_lock"):
            raise AttributeError(name)
        return getattr(self.full(), name)


def _insert_new_series(
    conn: sqlite3.Connection, run_id: str, points: Sequence[PointTuple]
) -> dict[tuple[str, str], int]:
    """Points of a run written whole: its series are new, no lookups or upserts needed."""
    latest: dict[str, PointTuple] = {}
    for p in points:
        cur = latest.get(p[0])
        if cur is None or (p[2], p[3]) >= (cur[2], cur[3]):
            latest[p[0]] = p
    ids: dict[str, int] = {}
    for key in sorted(latest):
        p = latest[key]
        cursor = conn.execute(
            "INSERT INTO latest_metrics (run_id, key, step, timestamp, value) "
            "VALUES (?, ?, ?, ?, ?)",
            (run_id, key, p[2], p[3], None if p[1] != p[1] else p[1]),
        )
        assert cursor.lastrowid is not None
        ids[key] = cursor.lastrowid
    conn.executemany(
        "INSERT INTO metrics (series_id, step, timestamp, value) VALUES (?, ?, ?, ?)",
        [(ids[p[0]], p[2], p[3], None if p[1] != p[1] else p[1]) for p in points],
    )
    return {(run_id, key): series for key, series in ids.items()}


def _insert_params(conn: sqlite3.Connection, run_id: str, params: Mapping[str, str]) -> None:
    # Insert what is new and leave what exists (atomically), then compare what is stored.
    conn.executemany(
        "INSERT INTO params (run_id, key, value, value_num) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (run_id, key) DO NOTHING",
        [(run_id, k, params[k], param_number(params[k])) for k in sorted(params)],
    )
    keys = list(params)
    stored: dict[str, str] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        stored.update(
            conn.execute(
                f"SELECT key, value FROM params WHERE run_id = ? AND key IN ({marks})",
                (run_id, *chunk),
            ).fetchall()
        )
    for key, value in params.items():
        old = stored.get(key)
        if old is not None and old != value:
            raise param_conflict(run_id, key, old, value)
