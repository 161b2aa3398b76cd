"""The store conformance suite against every SQL backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tane.testing.stores import StoreConformance
from tane.tracking.stores.sql import SqlStore
from tane.tracking.stores.sqlite import SqliteStore, open_sqlite


class TestSqliteStore(StoreConformance):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SqlStore]:
        store = SqlStore(f"sqlite:///{tmp_path / 'store' / 'tane.db'}")
        yield store
        store.close()


class TestSqlite3Store(StoreConformance):
    """The sqlite3 recording path (search and the rest through its SqlStore)."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SqliteStore]:
        url = f"sqlite:///{tmp_path / 'store' / 'tane.db'}"
        SqlStore(url).close()  # SqlStore creates; the sqlite3 store opens what exists
        store = open_sqlite(url, str(tmp_path / "store" / "tane.db"))
        assert store is not None
        yield store
        store.close()


@pytest.mark.postgres
class TestPostgresStore(StoreConformance):
    @pytest.fixture
    def store(self, postgres_url: str) -> Iterator[SqlStore]:
        store = SqlStore(postgres_url)
        yield store
        store.close()
