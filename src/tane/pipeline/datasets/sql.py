"""SQL tables and queries as pandas DataFrames, through SQLAlchemy.

Kedro's ``pandas.SQLTableDataset`` and ``pandas.SQLQueryDataset``. The
connection URL is a credential (``credentials: {con: postgresql://...}``): it
never appears in a message or a description.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

from tane.errors import DatasetError
from tane.pipeline.datasets._storage import Storage, resolve_url, secrets_of, storage_options
from tane.pipeline.datasets.base import Dataset, read_text


def _connection(label: str, credentials: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    if not isinstance(credentials, Mapping) or not credentials.get("con"):
        raise DatasetError(
            f"{label}: needs credentials with 'con', a SQLAlchemy URL such as "
            "'postgresql://user:password@host/db' or 'sqlite:///data/app.db'"
        )
    con = credentials["con"]
    if not isinstance(con, str):
        raise DatasetError(f"{label}: credentials 'con' must be a SQLAlchemy URL string")
    return con, {k: v for k, v in credentials.items() if k != "con"}


class _SQLDataset(Dataset):
    """An engine made on first use; SQLite paths relative to ``base_dir``."""

    def __init__(
        self,
        credentials: Mapping[str, Any] | None,
        *,
        layer: str | None,
        metadata: Mapping[str, Any] | None,
        name: str | None,
        base_dir: str | os.PathLike[str] | None,
    ) -> None:
        super().__init__(layer=layer, metadata=metadata, name=name)
        self._secrets = secrets_of(credentials)
        self._con, self._engine_args = _connection(self._label(), credentials)
        self._base_dir = os.fspath(base_dir) if base_dir is not None else os.getcwd()
        self._engine: Any = None

    def engine(self) -> Any:
        """The SQLAlchemy engine (made on first use)."""
        if self._engine is None:
            try:
                self._engine = self._make_engine()
            except Exception as exc:
                self._fail("cannot connect", exc)
        return self._engine

    def _make_engine(self) -> Any:
        import sqlalchemy as sa

        url = sa.engine.make_url(self._con)
        sqlite = url.get_backend_name() == "sqlite"
        if (
            sqlite
            and url.database
            and url.database != ":memory:"
            and not url.database.startswith("file:")
        ):
            url = url.set(database=resolve_url(url.database, self._base_dir))
        engine = sa.create_engine(url, **self._engine_args)
        if sqlite and url.get_driver_name() == "pysqlite":
            # pysqlite commits before DDL on its own; take over BEGIN so that a
            # replace (DROP, CREATE, INSERT) is one transaction that a failure undoes.
            @sa.event.listens_for(engine, "connect")
            def _no_implicit_commit(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.isolation_level = None

            @sa.event.listens_for(engine, "begin")
            def _begin(connection: Any) -> None:
                connection.exec_driver_sql("BEGIN")

        return engine

    def release(self) -> None:
        """Close the engine's pooled connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


class SQLTableDataset(_SQLDataset):
    """A database table as a pandas DataFrame.

    Args:
        table_name: The table.
        credentials: ``{con: <SQLAlchemy URL>}`` and any other ``create_engine``
            arguments. A relative SQLite path is relative to ``base_dir``.
        load_args: Arguments of ``pandas.read_sql_table`` (``schema``, ``columns`` ...).
        save_args: Arguments of ``DataFrame.to_sql``; by default ``index: false``
            and ``if_exists: replace`` (Kedro's default ``fail`` makes a second
            save an error).
        layer: The catalog's layer.
        metadata: Free-form, ignored.
        name: The catalog name, for messages.
        base_dir: The folder relative SQLite paths are relative to.

    A save runs in one transaction: if it fails, the table is as it was.
    """

    type_name: ClassVar[str] = "pandas.SQLTableDataset"
    DEFAULT_SAVE_ARGS: ClassVar[dict[str, Any]] = {"index": False, "if_exists": "replace"}

    def __init__(
        self,
        table_name: str,
        *,
        credentials: Mapping[str, Any] | None = None,
        load_args: Mapping[str, Any] | None = None,
        save_args: Mapping[str, Any] | None = None,
        layer: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        name: str | None = None,
        base_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if not isinstance(table_name, str) or not table_name:
            raise DatasetError(
                f"dataset '{name}': table_name must be a non-empty string"
                if name
                else "pandas.SQLTableDataset: table_name must be a non-empty string"
            )
        self._table = table_name
        super().__init__(credentials, layer=layer, metadata=metadata, name=name, base_dir=base_dir)
        self._load_args = dict(load_args or {})
        self._save_args = {**self.DEFAULT_SAVE_ARGS, **(save_args or {})}
        self._save_args.pop("name", None)
        self._save_args.pop("con", None)

    def _where(self) -> str:
        return f"table {self._table!r}"

    def load(self) -> Any:
        import pandas as pd

        if not self.exists():
            raise DatasetError(f"{self._label()}: no such table: save it first")
        try:
            with self.engine().connect() as conn:
                return pd.read_sql_table(self._table, conn, **self._load_args)
        except Exception as exc:
            self._fail("cannot load", exc)

    def save(self, data: Any) -> None:
        if not hasattr(data, "to_sql"):
            raise DatasetError(
                f"{self._label()}: cannot save {type(data).__name__}: expected a pandas DataFrame"
            )
        try:
            with self.engine().begin() as conn:
                data.to_sql(name=self._table, con=conn, **self._save_args)
        except DatasetError:
            raise
        except Exception as exc:
            self._fail(f"cannot save {type(data).__name__}", exc)

    def exists(self) -> bool:
        import sqlalchemy as sa

        try:
            with self.engine().connect() as conn:
                return bool(
                    sa.inspect(conn).has_table(self._table, schema=self._load_args.get("schema"))
                )
        except DatasetError:
            raise
        except Exception as exc:
            self._fail("cannot check whether the table exists", exc)

    def _describe(self) -> dict[str, Any]:
        return {
            "table_name": self._table,
            "load_args": dict(self._load_args),
            "save_args": dict(self._save_args),
        }


class SQLQueryDataset(_SQLDataset):
    """The result of a SQL query as a pandas DataFrame (load only).

    Args:
        sql: The query; or
        filepath: a ``.sql`` file with it (a local path or any fsspec URL).
        credentials: ``{con: <SQLAlchemy URL>}`` and any other ``create_engine``
            arguments.
        load_args: Arguments of ``pandas.read_sql_query`` (``params``,
            ``parse_dates``, ``chunksize`` ...). The query is passed to the
            driver as written, so parameters use the driver's style.
        fs_args: Storage options to read ``filepath``.
        execution_options: SQLAlchemy execution options of the connection.
        layer: The catalog's layer.
        metadata: Free-form, ignored.
        name: The catalog name, for messages.
        base_dir: The folder relative paths are relative to.
    """

    type_name: ClassVar[str] = "pandas.SQLQueryDataset"

    def __init__(
        self,
        sql: str | None = None,
        *,
        credentials: Mapping[str, Any] | None = None,
        filepath: str | None = None,
        load_args: Mapping[str, Any] | None = None,
        fs_args: Mapping[str, Any] | None = None,
        execution_options: Mapping[str, Any] | None = None,
        layer: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        name: str | None = None,
        base_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self._sql = sql
        self._filepath = filepath
        super().__init__(credentials, layer=layer, metadata=metadata, name=name, base_dir=base_dir)
        if (sql is None) == (filepath is None):
            raise DatasetError(
                f"{self._label()}: give either sql (the query) or filepath (a .sql file), "
                "not both or neither"
            )
        self._load_args = dict(load_args or {})
        self._execution_options = dict(execution_options or {})
        self._storage: Storage | None = None
        self._url: str | None = None
        if filepath is not None:
            self._url = resolve_url(filepath, self._base_dir)
            options, self._open_load, _ = storage_options(None, fs_args)
            self._storage = Storage(self._url, options)

    def _where(self) -> str:
        if self._filepath is not None:
            return self._filepath
        query = " ".join((self._sql or "").split())
        return f"query {query[:60] + '...' if len(query) > 60 else query!r}"

    def _query(self) -> str:
        if self._storage is None or self._url is None:
            return self._sql or ""
        try:
            with self._storage.open_read(self._url, self._open_load) as fh:
                return read_text(fh, {})
        except FileNotFoundError:
            raise DatasetError(f"{self._label()}: no such file {self._url!r}") from None
        except Exception as exc:
            self._fail(f"cannot read {self._url}", exc)

    def load(self) -> Any:
        import pandas as pd

        query = self._query()
        try:
            with self.engine().connect() as conn:
                if self._execution_options:
                    conn.execution_options(**self._execution_options)
                return pd.read_sql_query(query, conn, **self._load_args)
        except DatasetError:
            raise
        except Exception as exc:
            self._fail("cannot run the query", exc)

    def save(self, data: Any) -> None:
        raise DatasetError(
            f"{self._label()}: a query is load-only; save to a pandas.SQLTableDataset instead"
        )

    def exists(self) -> bool:
        """True: a query always has a result (if its .sql file exists)."""
        if self._storage is None or self._url is None:
            return True
        return self._storage.exists(self._url)

    def _describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"load_args": dict(self._load_args)}
        if self._filepath is not None:
            out["filepath"] = self._filepath
        else:
            out["sql"] = self._sql
        return out
