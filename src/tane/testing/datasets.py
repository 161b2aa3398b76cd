"""The dataset conformance suite: the contract of :class:`tane.pipeline.datasets.Dataset`.

Subclass :class:`DatasetConformance` (every type), plus
:class:`SaveFailureConformance` for types that can fail to write a value and
:class:`VersionedConformance` for types that support ``versioned=True``
(:class:`FileDatasetConformance` is all three), and give it a ``dataset_case``
fixture that returns a :class:`DatasetCase` for a fresh, empty location; pytest
then runs every test against it::

    class TestCSV(FileDatasetConformance):
        @pytest.fixture
        def dataset_case(self, tmp_path):
            return DatasetCase(
                make=lambda **kw: CSVDataset(str(tmp_path / "iris.csv"), **kw),
                data=pd.DataFrame({"a": [1, 2]}),
                other=pd.DataFrame({"a": [1, 2, 3]}),
                unsaveable={"not": "a frame"},
                equal=lambda a, b: a.equals(b),
                other_path=str(tmp_path / "elsewhere.csv"),
            )
"""

from __future__ import annotations

import hashlib
import operator
import os
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tane.errors import DatasetError
from tane.pipeline.datasets.base import Dataset

NOTHING: Any = object()
"""``DatasetCase.unsaveable`` when every value can be saved (the test is skipped)."""

VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}\.\d{3}Z$")


@dataclass
class DatasetCase:
    """How to test one dataset type at one location.

    Attributes:
        make: Return a new dataset object for the case's location (the same one
            each call). Versionable types take ``versioned=True`` and
            ``load_version=...`` as keyword arguments.
        data: A value the type stores.
        other: Another value, stored in a file of another size (so a changed
            ``stat()`` is visible even where modification times are coarse).
        equal: Return True if a loaded value matches an expected one.
        unsaveable: A value the type must refuse to save (ideally one its writer
            fails on midway), or NOTHING.
        other_path: A second, empty location for ``with_path``; None for types
            without a path.
        secrets: Strings (passwords, keys) that must never show in a
            description, a repr or an error message.
        storage_options: fsspec options to list the location's folder.
        versionable: The type supports ``versioned=True``.
        file_backed: The data lives in files: ``path``, ``stat()``,
            ``content_hash()`` are not None after a save.
    """

    make: Callable[..., Dataset]
    data: Any
    other: Any
    equal: Callable[[Any, Any], bool] = operator.eq
    unsaveable: Any = NOTHING
    other_path: str | None = None
    secrets: tuple[str, ...] = ()
    storage_options: dict[str, Any] = field(default_factory=dict)
    versionable: bool = True
    file_backed: bool = True


def _fs(url: str, options: dict[str, Any]) -> tuple[Any, str]:
    import fsspec

    fs, path = fsspec.core.url_to_fs(url, **options)
    return fs, path


def _listing(case: DatasetCase, dataset: Dataset) -> set[str]:
    """Every file and folder next to (and below) the dataset's path."""
    assert dataset.path is not None
    fs, path = _fs(dataset.path, case.storage_options)
    parent = posixpath.dirname(path.rstrip("/")) if "://" in dataset.path else None
    if parent is None:
        parent = os.path.dirname(path.rstrip(os.sep))
    fs.invalidate_cache()
    if not fs.exists(parent):
        return set()
    return {str(p) for p in fs.find(parent, withdirs=True)}


def _stored_bytes(case: DatasetCase, url: str) -> bytes | None:
    fs, path = _fs(url, case.storage_options)
    fs.invalidate_cache()
    if not fs.isfile(path):
        return None
    with fs.open(path, "rb") as fh:
        data: bytes = fh.read()
    return data


def _version(dataset: Dataset) -> str | None:
    # A function call, so that type checkers do not carry an earlier narrowing over.
    return dataset.version


class DatasetConformance:
    """Every dataset type passes these tests."""

    @pytest.fixture
    def case(self, dataset_case: DatasetCase) -> DatasetCase:
        return dataset_case

    def _assert_no_secret(self, case: DatasetCase, *texts: str) -> None:
        for text in texts:
            for secret in case.secrets:
                assert secret not in text, f"a secret shows in {text!r}"

    # -- load and save -----------------------------------------------------------

    def test_round_trip(self, case: DatasetCase) -> None:
        dataset = case.make()
        dataset.save(case.data)
        assert case.equal(dataset.load(), case.data)
        assert case.equal(case.make().load(), case.data), "a new object reads what was saved"

    def test_save_replaces(self, case: DatasetCase) -> None:
        dataset = case.make()
        dataset.save(case.data)
        dataset.save(case.other)
        assert case.equal(dataset.load(), case.other)
        assert not case.equal(dataset.load(), case.data)

    def test_exists(self, case: DatasetCase) -> None:
        dataset = case.make()
        assert dataset.exists() is False
        dataset.save(case.data)
        assert dataset.exists() is True
        assert case.make().exists() is True

    def test_load_before_save_fails_clearly(self, case: DatasetCase) -> None:
        dataset = case.make()
        dataset.name = "unsaved_thing"
        with pytest.raises(DatasetError, match="unsaved_thing") as info:
            dataset.load()
        self._assert_no_secret(case, str(info.value))

    # -- description ---------------------------------------------------------------

    def test_describe(self, case: DatasetCase) -> None:
        dataset = case.make()
        dataset.save(case.data)
        described = dataset.describe()
        assert isinstance(described["type"], str) and described["type"]
        assert described["path"] == dataset.path
        assert "layer" in described
        assert described["versioned"] is False
        if case.file_backed:
            assert dataset.path
        else:
            assert dataset.path is None
        self._assert_no_secret(case, repr(described), repr(dataset), str(dataset))

    # -- change signatures ---------------------------------------------------------

    def test_content_hash(self, case: DatasetCase) -> None:
        dataset = case.make()
        if not case.file_backed:
            dataset.save(case.data)
            assert dataset.content_hash() is None
            return
        assert dataset.content_hash() is None
        dataset.save(case.data)
        first = dataset.content_hash()
        assert first is not None and re.fullmatch(r"[0-9a-f]{64}", first)
        stored = _stored_bytes(case, dataset.path or "")
        if stored is not None:
            assert first == hashlib.sha256(stored).hexdigest()
        dataset.save(case.data)
        assert dataset.content_hash() == first, "identical saves hash the same"
        dataset.save(case.other)
        assert dataset.content_hash() != first

    def test_stat(self, case: DatasetCase) -> None:
        dataset = case.make()
        if not case.file_backed:
            dataset.save(case.data)
            assert dataset.stat() is None
            return
        assert dataset.stat() is None
        dataset.save(case.data)
        first = dataset.stat()
        assert first is not None
        assert dataset.stat() == first, "stat is stable without a save"
        dataset.save(case.other)
        assert dataset.stat() != first

    def test_with_path(self, case: DatasetCase) -> None:
        dataset = case.make()
        if case.other_path is None:
            with pytest.raises(DatasetError):
                dataset.with_path("elsewhere")
            return
        dataset.save(case.data)
        moved = dataset.with_path(case.other_path)
        assert type(moved) is type(dataset)
        assert moved.path != dataset.path
        assert moved.exists() is False
        moved.save(case.other)
        assert case.equal(moved.load(), case.other)
        assert case.equal(dataset.load(), case.data), "the original is untouched"
        assert moved.describe()["type"] == dataset.describe()["type"]

    def test_release_keeps_stored_data(self, case: DatasetCase) -> None:
        dataset = case.make()
        dataset.save(case.data)
        dataset.release()
        if case.file_backed:
            assert case.equal(dataset.load(), case.data)


class SaveFailureConformance:
    """A save that fails midway leaves the old data intact and no partial file.

    For types that can be handed a value they fail to write (the case's
    ``unsaveable``); mix it in next to :class:`DatasetConformance`.
    """

    def _assert_no_secret(self, case: DatasetCase, *texts: str) -> None:
        for text in texts:
            for secret in case.secrets:
                assert secret not in text, f"a secret shows in {text!r}"

    # -- failures ------------------------------------------------------------------

    def test_failed_save_keeps_old_content(self, case: DatasetCase) -> None:
        assert case.unsaveable is not NOTHING, "give the case an unsaveable value"
        dataset = case.make()
        dataset.save(case.data)
        before = _listing(case, dataset) if case.file_backed else set()
        stored = dataset.content_hash()
        with pytest.raises(DatasetError) as info:
            dataset.save(case.unsaveable)
        self._assert_no_secret(case, str(info.value))
        assert case.equal(case.make().load(), case.data), "the old data is intact"
        assert dataset.content_hash() == stored
        if case.file_backed:
            assert _listing(case, dataset) == before, "no partial or temporary file is left"


class VersionedConformance:
    """``versioned=True``: Kedro's version layout, latest and pinned loads, no overwrites."""

    # -- versions ------------------------------------------------------------------

    def _versioned(self, case: DatasetCase, **kwargs: Any) -> Dataset:
        assert case.versionable, "the case's type must support versioned=True"
        return case.make(versioned=True, **kwargs)

    def test_versioned_save_and_load_latest(self, case: DatasetCase) -> None:
        dataset = self._versioned(case)
        assert dataset.exists() is False
        assert dataset.version is None
        base = case.make().path
        assert base is not None and dataset.path == base
        dataset.save(case.data)
        first = _version(dataset)
        assert first is not None and VERSION.match(first), first
        sep = "/" if "://" in base else os.sep
        name = base.rstrip(sep).rsplit(sep, 1)[-1]
        assert dataset.path == sep.join([base.rstrip(sep), first, name]), "Kedro's layout"
        assert dataset.describe()["versioned"] is True
        dataset.save(case.other)
        second = _version(dataset)
        assert second is not None and second > first, "each save is a new, later version"
        fresh = self._versioned(case)
        assert case.equal(fresh.load(), case.other), "loads the latest"
        assert fresh.version == second
        assert fresh.exists() is True

    def test_versioned_pinned_load(self, case: DatasetCase) -> None:
        dataset = self._versioned(case)
        dataset.save(case.data)
        first = dataset.version
        dataset.save(case.other)
        pinned = self._versioned(case, load_version=first)
        assert case.equal(pinned.load(), case.data)
        assert pinned.version == first

    def test_missing_pinned_version_names_those_that_exist(self, case: DatasetCase) -> None:
        dataset = self._versioned(case)
        versions = []
        for _ in range(2):
            dataset.save(case.data)
            versions.append(_version(dataset))
        missing = self._versioned(case, load_version="2000-01-01T00.00.00.000Z")
        assert missing.exists() is False
        with pytest.raises(DatasetError, match=re.escape("2000-01-01T00.00.00.000Z")) as info:
            missing.load()
        for version in versions:
            assert version is not None and version in str(info.value)

    def test_versions_are_never_overwritten(self, case: DatasetCase) -> None:
        dataset = self._versioned(case)
        seen = set()
        for _ in range(3):
            dataset.save(case.data)
            seen.add(dataset.version)
        assert len(seen) == 3
        for version in seen:
            assert case.equal(self._versioned(case, load_version=version).load(), case.data)


class FileDatasetConformance(DatasetConformance, SaveFailureConformance, VersionedConformance):
    """Everything a file dataset (CSV, JSON, pickle, ...) passes."""
