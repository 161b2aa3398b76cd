"""A store in a SQL database: SQLite (the local default) or PostgreSQL.

SQLAlchemy 2 Core, no ORM. SQLite runs in WAL mode; every write transaction
starts with ``BEGIN IMMEDIATE`` under a busy timeout, so concurrent writers
queue instead of failing with "database is locked". Schema creation and
migration run under a file lock (SQLite) or an advisory lock (PostgreSQL).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import math
import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from tane.errors import (
    ExperimentNotFound,
    InvalidInput,
    NotFound,
    RunNotFound,
    SchemaVersionError,
    StoreError,
    StoreUnavailable,
)
from tane.tracking.artifacts import ArtifactRepository
from tane.tracking.entities import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    ArtifactInfo,
    Experiment,
    Metric,
    ModelVersion,
    RegisteredModel,
    Run,
    RunStatus,
)
from tane.tracking.stores import _schema as t
from tane.tracking.stores._common import (
    SQLITE_BUSY_MS,
    check_experiment_name,
    check_model_name,
    check_run_name,
    default_artifact_root,
    deleted_run,
    display_uri,
    id_number,
    newer_schema,
    normalize_db_url,
    now_ms,
    param_conflict,
    pid_alive,
    refused_value,
    run_updates,
    sqlite_error,
    sqlite_path,
    sqlite_read_only,
)
from tane.tracking.stores.base import (
    PointTuple,
    PurgeReport,
    RunPage,
    RunView,
    heartbeat_timeout_ms,
    owner_host,
)
from tane.tracking.values import check_key, param_number

_RETRIES = 5
# PostgreSQL: deadlock detected, serialization failure.
_RETRYABLE_SQLSTATES = ("40P01", "40001")
#: What a driver raises for a value it cannot send: an integer beyond 64 bits,
#: text with a lone surrogate. The caller's value, not the store, is at fault.
_UNBINDABLE = (OverflowError, UnicodeEncodeError)


_STATUS = {status.value: status for status in RunStatus}


class SqlStore:
    """Runs, experiments and metrics in a SQL database; artifacts under an fsspec root.

    Args:
        db_url: ``sqlite:///path.db`` or ``postgresql://user:pw@host/db``.
        artifact_root: Where artifacts go. Recorded in the database when the
            store is created; later opens read it from there.
        upgrade: Apply pending migrations automatically (local stores do).
    """

    def __init__(
        self, db_url: str, artifact_root: str | None = None, *, upgrade: bool | None = None
    ) -> None:
        self.db_url = normalize_db_url(db_url)
        self.uri = db_url
        # What messages show: errors reach logs and a server's clients.
        self._shown = display_uri(db_url)
        self.dialect = self.db_url.split(":", 1)[0].split("+", 1)[0]
        self.is_sqlite = self.dialect == "sqlite"
        if self.is_sqlite:
            _refuse_newer_sqlite(db_url)
        self._engine = sql_engine(self.db_url)
        self._last_reap = -1e9
        self._series: dict[tuple[str, str], int] = {}
        self._experiment_ids: dict[str, int] = {}
        self._statements: dict[
            tuple[Any, ...], sa.Select[Any]
        ] = {}  # (run id, metric key) -> series id
        self.reap_interval = 5.0
        self._lock = threading.Lock()
        auto_upgrade = self.is_sqlite if upgrade is None else upgrade
        try:
            root = self._ensure_schema(artifact_root, auto_upgrade)
        except BaseException:
            self._engine.dispose()
            raise
        self.artifact_root = root
        self.artifacts = ArtifactRepository(root)

    # -- connection handling -------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite, queued by the busy timeout)."""
        try:
            with self._engine.connect() as raw:
                conn = raw.execution_options(tane_write=True)
                with conn.begin():
                    yield conn
        except sa.exc.IntegrityError:
            raise  # callers turn a taken name or key into their own error
        except sa.exc.DataError as exc:
            raise refused_value(self._shown, exc) from exc
        except sa.exc.DBAPIError as exc:
            raise self._wrap(exc) from exc
        except _UNBINDABLE as exc:
            raise refused_value(self._shown, exc) from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn, conn.begin():
                yield conn
        except sa.exc.DataError as exc:
            raise refused_value(self._shown, exc) from exc
        except sa.exc.DBAPIError as exc:
            raise self._wrap(exc) from exc
        except _UNBINDABLE as exc:
            raise refused_value(self._shown, exc) from exc

    def _wrap(self, exc: sa.exc.DBAPIError) -> StoreError:
        text = str(exc.orig) if exc.orig is not None else str(exc)
        if _sqlstate(exc) in _RETRYABLE_SQLSTATES:
            reason = " ".join(text.split())
            return StoreUnavailable(
                f"store {self._shown}: a concurrent write conflicted ({reason})"
            )
        return sqlite_error(self._shown, text, operational=isinstance(exc, sa.exc.OperationalError))

    def close(self) -> None:
        self._engine.dispose()

    def after_fork(self) -> None:
        """Drop pooled connections inherited from a parent process."""
        self._engine.dispose(close=False)

    # -- schema ----------------------------------------------------------------

    def _ensure_schema(self, artifact_root: str | None, auto_upgrade: bool) -> str:
        try:
            revision, root = self._read_revision()
        except sa.exc.DatabaseError as exc:
            raise self._connect_error(exc) from exc
        if revision == t.SCHEMA_REVISION and root is not None:
            return root
        with self._schema_lock():
            revision, root = self._read_revision()
            if revision is not None and revision not in t.KNOWN_REVISIONS:
                raise newer_schema(self.uri, revision)
            if revision != t.SCHEMA_REVISION:
                if revision is not None and not auto_upgrade:
                    raise SchemaVersionError(
                        f"the store {self._shown} has schema revision {revision!r}; this tane "
                        f"needs {t.SCHEMA_REVISION!r}: run `tane db upgrade --store URI`"
                    )
                upgrade_schema(self._engine)
            if root is None:
                root = self._initialize(artifact_root)
        return root

    def _connect_error(self, exc: sa.exc.DatabaseError) -> StoreError:
        text = str(exc.orig) if exc.orig is not None else str(exc)
        if self.is_sqlite:
            return self._wrap(exc)
        safe = sa.engine.make_url(self.uri).render_as_string(hide_password=True)
        reason = " ".join(text.split())
        return StoreError(
            f"cannot reach the store database {safe}: {reason} (check that the server "
            "is running and that host, port, user and password are right)"
        )

    def _read_revision(self) -> tuple[str | None, str | None]:
        with self._engine.connect() as conn:
            names = set(sa.inspect(conn).get_table_names())
            if names and not {"alembic_version", "store_info"} <= names:
                # Refuse to add tane's tables to another application's database.
                others = ", ".join(sorted(names)[:5])
                hint = " (an MLflow database?)" if "alembic_version" in names else ""
                raise StoreError(
                    f"{self._shown} is not a tane store: it holds other tables ({others}){hint}; "
                    "point TANE_STORE at a new file, folder or empty database"
                )
            if "alembic_version" not in names:
                return None, None
            revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            root = None
            if "store_info" in names:
                root = conn.execute(
                    sa.select(t.store_info.c.value).where(t.store_info.c.key == "artifact_root")
                ).scalar()
            conn.rollback()
            return revision, root

    @contextmanager
    def _schema_lock(self) -> Iterator[None]:
        if self.is_sqlite:
            path = sqlite_path(self.db_url)
            if path is None:
                yield
                return
            from filelock import FileLock

            with FileLock(path + ".lock", timeout=120):
                yield
            return
        with self._engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(726863)"))
            conn.commit()
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(726863)"))
                conn.commit()

    def _initialize(self, artifact_root: str | None) -> str:
        root = artifact_root or default_artifact_root(self.db_url)
        if "://" not in root:
            root = str(Path(root).expanduser().resolve())
            Path(root).mkdir(parents=True, exist_ok=True)
        now = now_ms()
        with self._write() as conn:
            exists = conn.execute(
                sa.select(t.experiments.c.id).where(t.experiments.c.id == 0)
            ).first()
            if exists is None:
                conn.execute(
                    t.experiments.insert().values(
                        id=0,
                        name=DEFAULT_EXPERIMENT_NAME,
                        created=now,
                        last_activity=now,
                        deleted=False,
                    )
                )
            conn.execute(t.store_info.insert().values(key="artifact_root", value=root))
        return root

    # -- experiments -----------------------------------------------------------

    def create_experiment(self, name: str, tags: Mapping[str, str] | None = None) -> Experiment:
        name = check_experiment_name(name)
        now = now_ms()
        try:
            with self._write() as conn:
                exp_id = conn.execute(
                    t.experiments.insert().values(
                        name=name, created=now, last_activity=now, deleted=False
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
                if tags:
                    conn.execute(
                        t.experiment_tags.insert(),
                        [
                            {"experiment_id": exp_id, "key": check_key(k, "tag"), "value": v}
                            for k, v in tags.items()
                        ],
                    )
        except sa.exc.IntegrityError:
            raise InvalidInput(
                f"experiment {name!r} already exists: use it, or pick another name"
            ) from None
        return self.get_experiment(str(exp_id))

    def update_experiment(
        self,
        id_or_name: str,
        *,
        name: str | None = None,
        deleted: bool | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Experiment:
        exp_id = self._experiment_id(id_or_name)
        is_default = str(exp_id) == DEFAULT_EXPERIMENT_ID
        if is_default and (name is not None or deleted):
            raise InvalidInput(
                f"the default experiment {DEFAULT_EXPERIMENT_NAME!r} cannot be renamed or "
                "deleted: create another experiment instead"
            )
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = check_experiment_name(name)
        if deleted is not None:
            values["deleted"] = deleted
        try:
            with self._write() as conn:
                if values:
                    conn.execute(
                        t.experiments.update().where(t.experiments.c.id == exp_id).values(**values)
                    )
                if tags:
                    _upsert(
                        conn,
                        t.experiment_tags,
                        [
                            {"experiment_id": exp_id, "key": check_key(k, "tag"), "value": str(v)}
                            for k, v in tags.items()
                        ],
                        ["experiment_id", "key"],
                        ["value"],
                    )
        except sa.exc.IntegrityError:
            raise InvalidInput(f"experiment {name!r} already exists: pick another name") from None
        if name is not None:
            # Names are cached as never changing: forget this experiment's old ones.
            with self._lock:
                for key in [k for k, v in self._experiment_ids.items() if v == exp_id]:
                    del self._experiment_ids[key]
        return self.get_experiment(str(exp_id))

    def get_or_create_experiment(self, name: str) -> Experiment:
        try:
            return self.get_experiment_by_name(name)
        except ExperimentNotFound:
            pass
        try:
            return self.create_experiment(name)
        except InvalidInput:
            return self.get_experiment_by_name(name)  # another process created it meanwhile

    def get_experiment(self, id_or_name: str) -> Experiment:
        key = str(id_or_name)
        number = id_number(key)
        if number is not None:
            found = self._experiments(sa.and_(t.experiments.c.id == number))
            if found:
                return found[0]
        return self.get_experiment_by_name(key)

    def _experiment_id(self, id_or_name: str) -> int:
        """The id of an experiment named by id or name, without counting its runs."""
        key = str(id_or_name)
        cached = self._experiment_ids.get(key)
        if cached is not None:
            return cached
        e = t.experiments
        cond = e.c.name == key
        number = id_number(key)
        if number is not None:
            cond = (e.c.id == number) | cond
        with self._read() as conn:
            rows = conn.execute(sa.select(e.c.id, e.c.name).where(cond)).all()
        if not rows:
            raise ExperimentNotFound(
                f"no experiment named {key!r}; `tane experiments ls` lists them"
            )
        # An id match wins over a name that happens to be digits, as in get_experiment.
        by_id = [r.id for r in rows if str(r.id) == key]
        found = int(by_id[0] if by_id else rows[0].id)
        self._experiment_ids[key] = found  # ids and names of experiments never change
        return found

    def get_experiment_by_name(self, name: str) -> Experiment:
        found = self._experiments(t.experiments.c.name == name)
        if not found:
            raise ExperimentNotFound(
                f"no experiment named {name!r}; `tane experiments ls` lists them"
            )
        return found[0]

    def get_keys(self, experiment_ids: Sequence[str] | None = None) -> dict[str, list[str]]:
        r = t.runs
        runs = sa.select(r.c.id).where(r.c.deleted == sa.false())
        if experiment_ids is not None:
            runs = runs.where(
                r.c.experiment_id.in_([self._experiment_id(e) for e in experiment_ids])
            )
        found: dict[str, list[str]] = {}
        with self._read() as conn:
            for kind, table in (
                ("params", t.params),
                ("metrics", t.latest_metrics),
                ("tags", t.tags),
            ):
                stmt = (
                    sa.select(table.c.key)
                    .where(table.c.run_id.in_(runs.scalar_subquery()))
                    .distinct()
                    .order_by(table.c.key)
                )
                found[kind] = list(conn.execute(stmt).scalars())
        return found

    def list_experiments(self, include_deleted: bool = False) -> list[Experiment]:
        cond = sa.true() if include_deleted else t.experiments.c.deleted == sa.false()
        return self._experiments(cond)

    def _experiments(self, cond: sa.ColumnElement[bool]) -> list[Experiment]:
        e, r = t.experiments, t.runs
        counts = (
            sa.select(
                r.c.experiment_id,
                sa.func.count().label("n"),
                sa.func.max(sa.func.coalesce(r.c.end_time, r.c.heartbeat, r.c.start_time)).label(
                    "last"
                ),
            )
            .where(r.c.deleted == sa.false())
            .group_by(r.c.experiment_id)
            .subquery()
        )
        stmt = (
            sa.select(e, counts.c.n, counts.c.last)
            .outerjoin(counts, counts.c.experiment_id == e.c.id)
            .where(cond)
            .order_by(e.c.id)
        )
        with self._read() as conn:
            rows = conn.execute(stmt).all()
            ids = [row.id for row in rows]
            tag_rows = (
                conn.execute(
                    sa.select(t.experiment_tags).where(t.experiment_tags.c.experiment_id.in_(ids))
                ).all()
                if ids
                else []
            )
        tags: dict[int, dict[str, str]] = {}
        for tr in tag_rows:
            tags.setdefault(tr.experiment_id, {})[tr.key] = tr.value
        return [
            Experiment(
                id=str(row.id),
                name=row.name,
                created=row.created,
                last_activity=max(row.last_activity, row.last or 0),
                tags=tags.get(row.id, {}),
                deleted=bool(row.deleted),
                run_count=int(row.n or 0),
            )
            for row in rows
        ]

    # -- runs --------------------------------------------------------------

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
        exp_id = self._experiment_id(experiment_id)
        name = check_run_name(name)
        run_id = uuid.uuid4().hex
        start = start_time if start_time is not None else now_ms()
        with self._write() as conn:
            if (
                parent_id is not None
                and conn.execute(sa.select(t.runs.c.id).where(t.runs.c.id == parent_id)).first()
                is None
            ):
                raise RunNotFound(f"parent run {parent_id!r} does not exist")
            conn.execute(
                t.runs.insert().values(
                    id=run_id,
                    experiment_id=exp_id,
                    name=name,
                    parent_id=parent_id,
                    status=RunStatus.RUNNING.value,
                    start_time=start,
                    heartbeat=start,
                    host=host,
                    pid=pid,
                    note="",
                    artifact_uri=self.artifacts.run_uri(str(exp_id), run_id),
                    deleted=False,
                )
            )
            if tags:
                conn.execute(
                    t.tags.insert(),
                    [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()],
                )
        return self._get_run(run_id)

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
        with self._write() as conn:
            result = conn.execute(t.runs.update().where(t.runs.c.id == run_id).values(**values))
            if result.rowcount == 0:
                raise RunNotFound(f"no run with id {run_id!r}")

    def heartbeat(self, run_ids: Sequence[str], now: int) -> None:
        if not run_ids:
            return
        with self._write() as conn:
            # Only a live owner sends heartbeats: a run declared CRASHED while its
            # process was merely suspended comes back.
            conn.execute(
                t.runs.update()
                .where(t.runs.c.id.in_(run_ids), t.runs.c.status == RunStatus.CRASHED.value)
                .values(status=RunStatus.RUNNING.value, end_time=None)
            )
            conn.execute(t.runs.update().where(t.runs.c.id.in_(run_ids)).values(heartbeat=now))

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[PointTuple] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        if not metrics and not params and not tags:
            return
        for attempt in range(_RETRIES):
            try:
                self._log_batch(run_id, metrics, params, tags)
                return
            except StoreUnavailable as exc:
                # PostgreSQL ends one of two conflicting transactions at once
                # (deadlock, serialization): running it again succeeds.
                if _sqlstate(exc.__cause__) not in _RETRYABLE_SQLSTATES or (
                    attempt == _RETRIES - 1
                ):
                    raise
                time.sleep(0.02 * (2**attempt))

    def _log_batch(
        self,
        run_id: str,
        metrics: Sequence[PointTuple],
        params: Mapping[str, str] | None,
        tags: Mapping[str, str] | None,
    ) -> None:
        with self._write() as conn:
            row = conn.execute(sa.select(t.runs.c.deleted).where(t.runs.c.id == run_id)).first()
            if row is None:
                raise RunNotFound(f"no run with id {run_id!r}")
            if row.deleted:
                raise deleted_run(run_id)
            if params:
                self._insert_params(conn, run_id, params)
            if tags:
                _upsert(
                    conn,
                    t.tags,
                    [{"run_id": run_id, "key": k, "value": tags[k]} for k in sorted(tags)],
                    ["run_id", "key"],
                    ["value"],
                )
            found = self._insert_metrics(conn, run_id, metrics) if metrics else {}
        # Only ids of a committed transaction may be remembered.
        self._series.update(found)

    def _insert_params(self, conn: Connection, run_id: str, params: Mapping[str, str]) -> None:
        rows = [
            {"run_id": run_id, "key": k, "value": params[k], "value_num": param_number(params[k])}
            for k in sorted(params)
        ]
        # Insert what is new and leave what exists, atomically (two writers of the
        # same param cannot both insert), then compare what is stored.
        conn.execute(
            _dialect_insert(conn, t.params).on_conflict_do_nothing(
                index_elements=["run_id", "key"]
            ),
            rows,
        )
        stored = dict(
            conn.execute(
                sa.select(t.params.c.key, t.params.c.value).where(
                    t.params.c.run_id == run_id, t.params.c.key.in_(list(params))
                )
            ).all()
        )
        for key, value in params.items():
            old = stored.get(key)
            if old is not None and old != value:
                raise param_conflict(run_id, key, old, value)

    def _insert_metrics(
        self, conn: Connection, run_id: str, points: Sequence[PointTuple]
    ) -> dict[tuple[str, str], int]:
        """Insert points; return the series ids this transaction looked up."""
        latest: dict[str, PointTuple] = {}
        for p in points:
            cur = latest.get(p[0])
            if cur is None or (p[2], p[3]) >= (cur[2], cur[3]):
                latest[p[0]] = p
        # Sorted, so two writers of one run lock the same rows in the same order.
        _upsert_latest(conn, run_id, [latest[k] for k in sorted(latest)])
        known = self._series
        missing = [k for k in latest if (run_id, k) not in known]
        found: dict[tuple[str, str], int] = {}
        for chunk in _chunks(missing, 500):
            for series_id, key in conn.execute(
                sa.select(t.latest_metrics.c.id, t.latest_metrics.c.key).where(
                    t.latest_metrics.c.run_id == run_id, t.latest_metrics.c.key.in_(chunk)
                )
            ):
                found[(run_id, key)] = series_id
        ids = {k: known.get((run_id, k)) or found[(run_id, k)] for k in latest}
        # NaN is stored as NULL (v != v is the NaN test). The driver's executemany
        # with positional tuples skips SQLAlchemy's per-row work: this is the hot
        # path of every training loop.
        rows = [(ids[p[0]], p[2], p[3], None if p[1] != p[1] else p[1]) for p in points]
        conn.exec_driver_sql(_insert_metrics_sql(self.dialect), rows)
        conn.execute(t.runs.update().where(t.runs.c.id == run_id).values(heartbeat=now_ms()))
        return found

    def delete_tag(self, run_id: str, key: str) -> None:
        self.get_run(run_id)
        with self._write() as conn:
            conn.execute(t.tags.delete().where(t.tags.c.run_id == run_id, t.tags.c.key == key))

    def get_run(self, run_id: str) -> Run:
        self._reap_crashed()
        return self._get_run(run_id)

    def _get_run(self, run_id: str) -> Run:
        with self._read() as conn:
            runs = self._load_runs(conn, self._run_select().where(t.runs.c.id == run_id))
        if not runs:
            raise RunNotFound(f"no run with id {run_id!r}; `tane runs ls` lists runs and their ids")
        return runs[0]

    def _run_select(self) -> sa.Select[Any]:
        return sa.select(*t.runs.c, t.experiments.c.name.label("experiment_name")).join(
            t.experiments, t.experiments.c.id == t.runs.c.experiment_id
        )

    def _load_runs(self, conn: Connection, stmt: sa.Select[Any]) -> list[Run]:
        rows = conn.execute(stmt).all()
        if not rows:
            return []
        ids = [r.id for r in rows]
        params: dict[str, dict[str, str]] = {i: {} for i in ids}
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        metrics: dict[str, dict[str, float]] = {i: {} for i in ids}
        steps: dict[str, dict[str, int]] = {i: {} for i in ids}
        mark = "?" if self.is_sqlite else "%s"
        for chunk in _chunks(ids, 300):
            # One round trip for params, tags and latest metrics of the whole page,
            # past SQLAlchemy's statement building: this runs on every search.
            marks = ", ".join([mark] * len(chunk))
            sql = (
                "SELECT 0, run_id, key, value, CAST(NULL AS DOUBLE PRECISION) FROM params "
                f"WHERE run_id IN ({marks}) "
                "UNION ALL SELECT 1, run_id, key, value, CAST(NULL AS DOUBLE PRECISION) FROM tags "
                f"WHERE run_id IN ({marks}) "
                "UNION ALL SELECT 2, run_id, key, CAST(step AS TEXT), value FROM latest_metrics "
                f"WHERE run_id IN ({marks})"
            )
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                # The driver's cursor directly: its rows are plain tuples already.
                cursor.execute(sql, tuple(chunk) * 3)
                fetched = cursor.fetchall()
            finally:
                cursor.close()
            for kind, rid, key, text, number in fetched:
                if kind == 0:
                    params[rid][key] = text
                elif kind == 1:
                    tags[rid][key] = text
                else:
                    metrics[rid][key] = math.nan if number is None else number
                    steps[rid][key] = int(text)
        return [
            Run(
                id=r.id,
                name=r.name,
                experiment_id=str(r.experiment_id),
                experiment=r.experiment_name,
                status=_STATUS[r.status],
                start_time=r.start_time,
                end_time=r.end_time,
                parent_id=r.parent_id,
                params=params[r.id],
                metrics=metrics[r.id],
                tags=tags[r.id],
                note=r.note or "",
                artifact_uri=r.artifact_uri,
                deleted=bool(r.deleted),
                heartbeat=r.heartbeat,
                metric_steps=steps[r.id],
            )
            for r in rows
        ]

    def search_runs(
        self,
        experiment_ids: Sequence[str] | None = None,
        filter_string: str = "",
        order_by: Sequence[str] = (),
        max_results: int = 1000,
        page_token: str | None = None,
        view: RunView = "active",
    ) -> RunPage:

        if max_results < 1:
            raise InvalidInput(f"max_results must be at least 1, got {max_results}")
        offset = _decode_token(page_token)
        self._reap_crashed()
        exp_ids = (
            None
            if experiment_ids is None
            else tuple(self._experiment_id(exp) for exp in experiment_ids)
        )
        # The same query is asked again and again (a UI polling, a notebook in a
        # loop): its statement is built once.
        cache_key = (filter_string, tuple(order_by), exp_ids, view, max_results, offset)
        stmt = self._statements.get(cache_key)
        if stmt is None:
            stmt = self._search_statement(filter_string, order_by, exp_ids, view)
            stmt = stmt.limit(max_results + 1).offset(offset)
            if len(self._statements) >= 128:
                self._statements.pop(next(iter(self._statements)))
            self._statements[cache_key] = stmt
        with self._read() as conn:
            runs = self._load_runs(conn, stmt)
        token = None
        if len(runs) > max_results:
            runs = runs[:max_results]
            token = _encode_token(offset + max_results)
        return RunPage(runs, token)

    def _search_statement(
        self,
        filter_string: str,
        order_by: Sequence[str],
        exp_ids: tuple[int, ...] | None,
        view: RunView,
    ) -> sa.Select[Any]:
        from tane.tracking.query import parse_filter, parse_order_by
        from tane.tracking.stores._sql_filter import apply_order, filter_clause, metric_lead

        expr = parse_filter(filter_string or "")
        keys = [parse_order_by(clause) for clause in order_by]
        lead = metric_lead(expr, keys)
        if lead is None:
            stmt = self._run_select()
        else:
            lead_table, lead_criteria, lead_order, expr = lead
            stmt = (
                sa.select(*t.runs.c, t.experiments.c.name.label("experiment_name"))
                .select_from(lead_table)
                .join(t.runs, t.runs.c.id == lead_table.c.run_id)
                .join(t.experiments, t.experiments.c.id == t.runs.c.experiment_id)
                .where(*lead_criteria)
                .order_by(lead_order)
            )
            keys = keys[1:]
        if exp_ids is not None:
            stmt = stmt.where(t.runs.c.experiment_id.in_(exp_ids))
        if view == "active":
            stmt = stmt.where(t.runs.c.deleted == sa.false())
        elif view == "deleted":
            stmt = stmt.where(t.runs.c.deleted == sa.true())
        if expr is not None:
            stmt = stmt.where(filter_clause(expr))
        return apply_order(stmt, keys)

    def get_metric_history(
        self,
        run_id: str,
        key: str,
        min_step: int | None = None,
        max_step: int | None = None,
        max_points: int | None = None,
    ) -> list[Metric]:
        m = t.metrics
        with self._read() as conn:
            if conn.execute(sa.select(t.runs.c.id).where(t.runs.c.id == run_id)).first() is None:
                raise RunNotFound(f"no run with id {run_id!r}")
            series_id = conn.execute(
                sa.select(t.latest_metrics.c.id).where(
                    t.latest_metrics.c.run_id == run_id, t.latest_metrics.c.key == key
                )
            ).scalar()
            if series_id is None:
                return []
            cond = [m.c.series_id == series_id]
            if min_step is not None:
                cond.append(m.c.step >= min_step)
            if max_step is not None:
                cond.append(m.c.step <= max_step)
            rows: Sequence[Any]
            if max_points is None:
                rows = conn.execute(
                    sa.select(m.c.step, m.c.timestamp, m.c.value)
                    .where(*cond)
                    .order_by(m.c.step, m.c.timestamp)
                ).all()
            else:
                rows = _downsampled(conn, cond, max_points)
        return [Metric(key, math.nan if v is None else v, s, ts) for s, ts, v in rows]

    # -- the model registry ----------------------------------------------------------

    def register_model(
        self, name: str, source: str, run_id: str | None = None, description: str = ""
    ) -> ModelVersion:
        check_model_name(name)
        if not source:
            raise InvalidInput("a model version needs a source, such as runs:/<run id>/model")
        if run_id is not None:
            self.get_run(run_id)  # RunNotFound for an unknown run
        for _ in range(_RETRIES):
            now = now_ms()
            try:
                with self._write() as conn:
                    models, versions = t.registered_models, t.model_versions
                    exists = conn.execute(
                        sa.select(models.c.name).where(models.c.name == name)
                    ).first()
                    if exists is None:
                        conn.execute(
                            models.insert().values(
                                name=name, created=now, updated=now, description=""
                            )
                        )
                    else:
                        conn.execute(
                            models.update().where(models.c.name == name).values(updated=now)
                        )
                    latest = conn.execute(
                        sa.select(sa.func.max(versions.c.version)).where(versions.c.name == name)
                    ).scalar()
                    number = int(latest or 0) + 1
                    conn.execute(
                        versions.insert().values(
                            name=name,
                            version=number,
                            run_id=run_id,
                            source=source,
                            created=now,
                            description=description,
                        )
                    )
                return self.get_model_version(name, number)
            except sa.exc.IntegrityError:
                continue  # another writer took this version number: take the next
        raise StoreUnavailable(f"could not register a version of {name!r}: try again")

    def get_model_version(
        self, name: str, version: int | None = None, alias: str | None = None
    ) -> ModelVersion:
        versions, aliases = t.model_versions, t.model_aliases
        with self._read() as conn:
            self._model_exists(conn, name)
            if alias is not None:
                found = conn.execute(
                    sa.select(aliases.c.version).where(
                        aliases.c.name == name, aliases.c.alias == alias
                    )
                ).scalar()
                if found is None:
                    raise NotFound(
                        f"model {name!r} has no alias {alias!r}: `tane models ls {name}` "
                        "lists its versions and aliases"
                    )
                version = int(found)
            stmt = sa.select(versions).where(versions.c.name == name)
            if version is None:
                stmt = stmt.order_by(versions.c.version.desc()).limit(1)
            else:
                stmt = stmt.where(versions.c.version == version)
            row = conn.execute(stmt).first()
            if row is None:
                raise NotFound(f"model {name!r} has no version {version}")
            names = conn.execute(
                sa.select(aliases.c.alias)
                .where(aliases.c.name == name, aliases.c.version == row.version)
                .order_by(aliases.c.alias)
            ).scalars()
            return _model_version(row, tuple(names))

    @staticmethod
    def _model_exists(conn: Connection, name: str) -> None:
        found = conn.execute(
            sa.select(t.registered_models.c.name).where(t.registered_models.c.name == name)
        ).first()
        if found is None:
            raise NotFound(f"no registered model named {name!r}: `tane models ls` lists them")

    def list_registered_models(self) -> list[RegisteredModel]:
        models, versions, aliases = t.registered_models, t.model_versions, t.model_aliases
        with self._read() as conn:
            latest = dict(
                conn.execute(
                    sa.select(versions.c.name, sa.func.max(versions.c.version)).group_by(
                        versions.c.name
                    )
                ).all()
            )
            by_model: dict[str, dict[str, int]] = {}
            for row in conn.execute(sa.select(aliases)):
                by_model.setdefault(row.name, {})[row.alias] = row.version
            rows = conn.execute(sa.select(models).order_by(models.c.name)).all()
        return [
            RegisteredModel(
                name=r.name,
                created=r.created,
                updated=r.updated,
                description=r.description,
                latest_version=latest.get(r.name),
                aliases=dict(sorted(by_model.get(r.name, {}).items())),
            )
            for r in rows
        ]

    def list_model_versions(self, name: str) -> list[ModelVersion]:
        versions, aliases = t.model_versions, t.model_aliases
        with self._read() as conn:
            self._model_exists(conn, name)
            named: dict[int, list[str]] = {}
            for row in conn.execute(
                sa.select(aliases).where(aliases.c.name == name).order_by(aliases.c.alias)
            ):
                named.setdefault(row.version, []).append(row.alias)
            rows = conn.execute(
                sa.select(versions)
                .where(versions.c.name == name)
                .order_by(versions.c.version.desc())
            ).all()
        return [_model_version(r, tuple(named.get(r.version, ()))) for r in rows]

    def set_model_alias(self, name: str, alias: str, version: int | None) -> None:
        check_model_name(alias, "alias")
        if version is not None:
            self.get_model_version(name, version)  # NotFound for an unknown version
        aliases = t.model_aliases
        with self._write() as conn:
            self._model_exists(conn, name)
            conn.execute(aliases.delete().where(aliases.c.name == name, aliases.c.alias == alias))
            if version is not None:
                conn.execute(aliases.insert().values(name=name, alias=alias, version=version))
            conn.execute(
                t.registered_models.update()
                .where(t.registered_models.c.name == name)
                .values(updated=now_ms())
            )

    def delete_runs(self, run_ids: Sequence[str]) -> None:
        self._set_deleted(run_ids, True)

    def restore_runs(self, run_ids: Sequence[str]) -> None:
        self._set_deleted(run_ids, False)

    def _set_deleted(self, run_ids: Sequence[str], deleted: bool) -> None:
        with self._write() as conn:
            found = {
                r[0]
                for r in conn.execute(sa.select(t.runs.c.id).where(t.runs.c.id.in_(list(run_ids))))
            }
            missing = [r for r in run_ids if r not in found]
            if missing:
                raise RunNotFound(f"no run with id {missing[0]!r}")
            ids = _with_descendants(conn, list(found))
            conn.execute(
                t.runs.update()
                .where(t.runs.c.id.in_(ids))
                .values(deleted=deleted, deleted_time=now_ms() if deleted else None)
            )

    def purge_runs(self, run_ids: Sequence[str] | None = None) -> PurgeReport:
        with self._read() as conn:
            stmt = sa.select(t.runs.c.id, t.runs.c.artifact_uri, t.runs.c.deleted)
            if run_ids is not None:
                stmt = stmt.where(t.runs.c.id.in_(list(run_ids)))
            else:
                stmt = stmt.where(t.runs.c.deleted == sa.true())
            rows = conn.execute(stmt).all()
        live = [r.id for r in rows if not r.deleted]
        if live:
            raise InvalidInput(
                f"run {live[0]} is not deleted; delete it first (`tane runs rm {live[0]}`)"
            )
        freed = 0
        purged: list[str] = []
        for chunk in _chunks(rows, 200):
            with self._write() as conn:
                # Checked again inside the transaction: a run restored meanwhile stays.
                ids = [
                    r[0]
                    for r in conn.execute(
                        sa.select(t.runs.c.id).where(
                            t.runs.c.id.in_([r.id for r in chunk]), t.runs.c.deleted == sa.true()
                        )
                    )
                ]
                series = sa.select(t.latest_metrics.c.id).where(t.latest_metrics.c.run_id.in_(ids))
                conn.execute(t.metrics.delete().where(t.metrics.c.series_id.in_(series)))
                for table in (t.latest_metrics, t.params, t.tags):
                    conn.execute(table.delete().where(table.c.run_id.in_(ids)))
                conn.execute(
                    t.runs.update().where(t.runs.c.parent_id.in_(ids)).values(parent_id=None)
                )
                conn.execute(t.runs.delete().where(t.runs.c.id.in_(ids)))
            # Artifacts go after the commit: a folder left by a failure here is
            # harmless, a run without its artifacts would not be.
            gone = set(ids)
            for r in chunk:
                if r.id in gone:
                    freed += self.artifacts.delete_run(r.artifact_uri)
            purged.extend(ids)
            self._series = {k: v for k, v in self._series.items() if k[0] not in gone}
        if purged and self.is_sqlite:
            freed += self._vacuum()
        return PurgeReport(purged, freed)

    def _vacuum(self) -> int:
        path = sqlite_path(self.db_url)
        if path is None:
            return 0
        before = _file_size(path) + _file_size(path + "-wal")
        import sqlite3

        # VACUUM cannot run inside a transaction, so it goes to the driver
        # connection directly (in autocommit mode, see _create_engine).
        raw = self._engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("VACUUM")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.close()
        except sqlite3.OperationalError:
            return 0  # busy: another process holds the database; space is reused anyway
        finally:
            raw.close()
        after = _file_size(path) + _file_size(path + "-wal")
        return max(0, before - after)

    def _reap_crashed(self) -> None:
        """Mark RUNNING runs whose owner is gone as CRASHED (at most every few seconds)."""
        now = time.monotonic()
        if now - self._last_reap < self.reap_interval:
            return
        self._last_reap = now
        stale = now_ms() - heartbeat_timeout_ms()
        r = t.runs
        try:
            with self._read() as conn:
                rows = conn.execute(
                    sa.select(r.c.id, r.c.heartbeat, r.c.host, r.c.pid).where(
                        r.c.status == RunStatus.RUNNING.value
                    )
                ).all()
            here = owner_host()
            dead = [
                (row.id, row.heartbeat)
                for row in rows
                if (row.heartbeat or 0) < stale
                or (row.host == here and row.pid is not None and not pid_alive(row.pid))
            ]
            if not dead:
                return
            with self._write() as conn:
                for run_id, beat in dead:
                    # Only if nothing changed since it was read: a heartbeat that
                    # arrived meanwhile proves the owner alive.
                    conn.execute(
                        r.update()
                        .where(
                            r.c.id == run_id,
                            r.c.status == RunStatus.RUNNING.value,
                            r.c.heartbeat == beat if beat is not None else r.c.heartbeat.is_(None),
                        )
                        .values(status=RunStatus.CRASHED.value, end_time=beat)
                    )
        except StoreError:
            return  # a read-only or busy store: report the stored status this time

    # -- artifacts -------------------------------------------------------------

    def _artifact_uri(self, run_id: str) -> str:
        with self._read() as conn:
            uri = conn.execute(
                sa.select(t.runs.c.artifact_uri).where(t.runs.c.id == run_id)
            ).scalar()
        if uri is None:
            raise RunNotFound(f"no run with id {run_id!r}")
        return str(uri)

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


# -- helpers -------------------------------------------------------------------


def _refuse_newer_sqlite(db_url: str) -> None:
    """Raise SchemaVersionError for a SQLite store of a newer tane, reading it read-only.

    Checked before the engine connects: its first connection turns the file to
    WAL, and a store this tane cannot open must be left exactly as it was.
    """
    import sqlite3

    path = sqlite_path(db_url)
    if path is None or not Path(path).is_file():
        return
    try:
        conn = sqlite3.connect(sqlite_read_only(path), uri=True, timeout=SQLITE_BUSY_MS / 1000)
    except sqlite3.Error:
        return  # SqlStore's own connection explains what is wrong
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"alembic_version", "store_info"} <= tables:
            return  # not a tane store: SqlStore says so
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return
    finally:
        conn.close()
    if row is not None and row[0] not in t.KNOWN_REVISIONS:
        raise newer_schema(db_url, str(row[0]))


def schema_revision(db_url: str) -> str | None:
    """Return the schema revision of a store database, None if it has no tane schema yet.

    Reads only; a missing SQLite file is not created.

    Raises:
        StoreError: The database cannot be reached or read.
    """
    if db_url.startswith("sqlite"):
        path = sqlite_path(db_url)
        if path is not None and not Path(path).is_file():
            return None
    engine = sa.create_engine(normalize_db_url(db_url))
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            value = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            return None if value is None else str(value)
    except sa.exc.DBAPIError as exc:
        safe = sa.engine.make_url(db_url).render_as_string(hide_password=True)
        reason = " ".join(str(exc.orig).split())
        raise StoreError(f"cannot read the store database {safe}: {reason}") from None
    finally:
        engine.dispose()


def _model_version(row: Any, aliases: tuple[str, ...]) -> ModelVersion:
    return ModelVersion(
        name=row.name,
        version=row.version,
        source=row.source,
        run_id=row.run_id,
        created=row.created,
        description=row.description,
        aliases=aliases,
    )


def sql_engine(db_url: str) -> Engine:
    """Return an engine on a store database with tane's connection settings.

    SQLite gets WAL, a busy timeout and ``BEGIN IMMEDIATE`` for connections
    whose execution options carry ``tane_write=True``; PostgreSQL a pre-pinged pool.
    """
    db_url = normalize_db_url(db_url)
    if db_url.startswith("sqlite"):
        path = sqlite_path(db_url)
        persistent = path is not None
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            db_url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_MS / 1000},
            poolclass=sa.pool.QueuePool if path else sa.pool.StaticPool,
        )

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Take transaction control from pysqlite so BEGIN IMMEDIATE is ours to emit.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
            if persistent:
                cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA case_sensitive_like = ON")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            if conn.get_execution_options().get("tane_write"):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql("BEGIN")

        return engine
    return sa.create_engine(db_url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def upgrade_schema(engine: Engine, revision: str = "head") -> None:
    """Apply Alembic migrations up to ``revision`` (under the caller's lock)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "tane.tracking.stores:migrations")
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()


def _sqlstate(exc: BaseException | None) -> str | None:
    orig = getattr(exc, "orig", None)
    state = getattr(orig, "sqlstate", None)
    return state if isinstance(state, str) else None


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidInput(
            f"page token {token!r} is not one tane gave out: pass the token of the previous page"
        ) from None
    if not isinstance(offset, int) or not 0 <= offset < 2**62:
        raise InvalidInput(f"page token {token!r} is not one tane gave out")
    return offset


def _insert_metrics_sql(dialect: str) -> str:
    mark = "?" if dialect == "sqlite" else "%s"
    return (
        "INSERT INTO metrics (series_id, step, timestamp, value) "
        f"VALUES ({mark}, {mark}, {mark}, {mark})"
    )


def _dialect_insert(conn: Connection, table: sa.Table) -> Any:
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    return pg_insert(table)


def _upsert(
    conn: Connection,
    table: sa.Table,
    rows: list[dict[str, Any]],
    keys: list[str],
    update: list[str],
) -> None:
    stmt = _dialect_insert(conn, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=keys, set_={c: stmt.excluded[c] for c in update}
    )
    conn.execute(stmt, rows)


def _upsert_latest(conn: Connection, run_id: str, points: list[PointTuple]) -> None:
    lm = t.latest_metrics
    stmt = _dialect_insert(conn, lm)
    ex = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=["run_id", "key"],
        set_={"step": ex.step, "timestamp": ex.timestamp, "value": ex.value},
        where=(ex.step > lm.c.step) | ((ex.step == lm.c.step) & (ex.timestamp >= lm.c.timestamp)),
    )
    conn.execute(
        stmt,
        [
            {
                "run_id": run_id,
                "key": p[0],
                "step": p[2],
                "timestamp": p[3],
                "value": None if p[1] != p[1] else p[1],
            }
            for p in points
        ],
    )


def _with_descendants(conn: Connection, ids: list[str]) -> list[str]:
    seen = set(ids)
    frontier = list(ids)
    while frontier:
        children = []
        for chunk in _chunks(frontier, 500):
            children += [
                r[0]
                for r in conn.execute(
                    sa.select(t.runs.c.id).where(t.runs.c.parent_id.in_(list(chunk)))
                )
                if r[0] not in seen
            ]
        seen.update(children)
        frontier = children
    return list(seen)


#: Series up to this many points are downsampled in Python after one read.
_READ_WHOLE = 100_000


def _low(point: tuple[int, int, float | None]) -> float:
    """A point's value for ordering, NaN (NULL) lowest (as the SQL's coalesce)."""
    value = point[2]
    return float("-inf") if value is None else value


def _downsampled(
    conn: Connection, cond: list[sa.ColumnElement[bool]], max_points: int
) -> list[tuple[int, int, float | None]]:
    """At most ``max_points`` points: per step bucket the first, the lowest and the highest.

    The work happens in the database (window functions in SQLite >= 3.25 and
    PostgreSQL), so a million-point series never crosses into Python whole.
    """
    if max_points < 1:
        raise InvalidInput(f"max_points must be at least 1, got {max_points}")
    m = t.metrics
    bounds = conn.execute(
        sa.select(sa.func.count(), sa.func.min(m.c.step), sa.func.max(m.c.step)).where(*cond)
    ).one()
    count, lo, hi = bounds
    if count == 0:
        return []
    if count <= max_points:
        return [
            tuple(r)
            for r in conn.execute(
                sa.select(m.c.step, m.c.timestamp, m.c.value)
                .where(*cond)
                .order_by(m.c.step, m.c.timestamp)
            )
        ]
    buckets = max(1, max_points // 3)
    span = (hi - lo) + 1
    found: set[tuple[int, int, float | None]] = set()
    if count <= _READ_WHOLE:
        # A few points per bucket: one read and a pass in Python beat a query per bucket.
        best: dict[int, list[tuple[int, int, float | None]]] = {}
        for row in conn.execute(
            sa.select(m.c.step, m.c.timestamp, m.c.value)
            .where(*cond)
            .order_by(m.c.step, m.c.timestamp)
        ):
            point = (row[0], row[1], row[2])
            kept = best.get(((point[0] - lo) * buckets) // span)
            if kept is None:
                best[((point[0] - lo) * buckets) // span] = [point, point, point]
                continue
            if _low(point) < _low(kept[1]):
                kept[1] = point
            if _low(point) > _low(kept[2]):
                kept[2] = point
        for kept in best.values():
            found.update(kept)
        return sorted(found, key=lambda r: (r[0], r[1]))[:max_points]
    # Bucket i holds the steps with (step - lo) * buckets // span == i, the Python path's
    # rule: it starts at lo + ceil(span * i / buckets).
    edges = sorted({lo + -(-span * i // buckets) for i in range(buckets)} | {hi + 1})
    # Per bucket, three indexed range lookups (its first point, its lowest, its highest):
    # each reads only its own steps through ix_metrics_series_step, so the whole series
    # is read about twice, with no sort of it (window functions over a million points
    # took 2.3-2.9 s in SQLite; this takes about 0.35 s).
    value_or_low = sa.func.coalesce(m.c.value, float("-inf"))
    a: sa.BindParameter[int] = sa.bindparam("a", type_=sa.BigInteger)
    z: sa.BindParameter[int] = sa.bindparam("z", type_=sa.BigInteger)
    picked = [
        sa.select(m.c.step, m.c.timestamp, m.c.value)
        .where(*cond, m.c.step >= a, m.c.step < z)
        .order_by(*order)
        .limit(1)
        for order in (
            (m.c.step, m.c.timestamp),
            (value_or_low, m.c.step),
            (value_or_low.desc(), m.c.step),
        )
    ]
    for start, stop in itertools.pairwise(edges):
        for stmt in picked:
            hit = conn.execute(stmt, {"a": start, "z": stop}).first()
            if hit is not None:
                found.add((hit[0], hit[1], hit[2]))
    return sorted(found, key=lambda r: (r[0], r[1]))[:max_points]
