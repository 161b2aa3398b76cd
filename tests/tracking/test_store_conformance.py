"""The store conformance suite against every SQL backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tane.testing.stores import StoreConformance
from tane.tracking.stores.sql import SqlStore


class TestSqliteStore(StoreConformance):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SqlStore]:
        store = SqlStore(f"sqlite:///{tmp_path / 'store' / 'tane.db'}")
        yield store
        store.close()


@pytest.mark.postgres
class TestPostgresStore(StoreConformance):
    @pytest.fixture
    def store(self, postgres_url: str) -> Iterator[SqlStore]:
        store = SqlStore(postgres_url)
        yield store
        store.close()
