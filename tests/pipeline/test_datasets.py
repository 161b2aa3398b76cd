"""The dataset conformance suite against every dataset type, locally, in memory:// and on S3."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tane.pipeline.datasets import (
    CSVDataset,
    JSONDataset,
    MemoryDataset,
    PandasJSONDataset,
    ParquetDataset,
    PartitionedDataset,
    PickleDataset,
    SQLTableDataset,
    TextDataset,
    YAMLDataset,
)
from tane.testing.datasets import (
    DatasetCase,
    DatasetConformance,
    FileDatasetConformance,
    SaveFailureConformance,
)


def frame(rows: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": list(range(rows)),
            "name": [f"row-{i}" for i in range(rows)],
            "score": [i * 0.25 for i in range(rows)],
        }
    )


def frames_equal(a: Any, b: Any) -> bool:
    try:
        pd.testing.assert_frame_equal(a, b)
    except AssertionError:
        return False
    return True


def partitions_equal(loaded: Any, expected: Any) -> bool:
    return set(loaded) == set(expected) and all(
        callable(loaded[k]) and frames_equal(loaded[k](), v) for k, v in expected.items()
    )


class Unprintable:
    """A cell the CSV writer fails on after it has written the first rows."""

    def __str__(self) -> str:
        raise RuntimeError("this cell cannot be written")

    __repr__ = __str__


def half_written_frame() -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2, 3], "name": ["a", "b", Unprintable()]})


class NoPickle:
    def __reduce__(self) -> Any:
        raise TypeError("NoPickle objects refuse to be pickled")


@pytest.fixture(params=["local", "memory"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh folder: a local path or a memory:// URL."""
    if request.param == "local":
        yield str(tmp_path / "data")
        return
    import fsspec

    url = f"memory://tane-test-{uuid.uuid4().hex[:12]}"
    yield url
    fs = fsspec.filesystem("memory")
    if fs.exists(url):
        fs.rm(url, recursive=True)


def file_case(
    cls: Callable[..., Any],
    root: str,
    name: str,
    data: Any,
    other: Any,
    *,
    unsaveable: Any,
    equal: Callable[[Any, Any], bool] = lambda a, b: bool(a == b),
    **kwargs: Any,
) -> DatasetCase:
    sep = "/" if "://" in root else os.sep
    return DatasetCase(
        make=lambda **kw: cls(f"{root}{sep}{name}", **kwargs, **kw),
        data=data,
        other=other,
        equal=equal,
        unsaveable=unsaveable,
        other_path=f"{root}{sep}elsewhere{sep}{name}",
    )


class TestCSV(FileDatasetConformance):
    @pytest.fixture
    def dataset_case(self, root: str) -> DatasetCase:
        return file_case(
            CSVDataset,
            root,
            "iris.csv",
            frame(3),
            frame(5),
            unsaveable=half_written_frame(),
            equal=frames_equal,
        )


class TestParquet(FileDatasetConformance):
    @pytest.fixture
    def dataset_case(self, root: str) -> DatasetCase:
        return file_case(
            ParquetDataset,
            root,
            "iris.parquet",
            frame(3),
            frame(50),
            unsaveable=pd.DataFrame({"mixed": [1, "x"]}),
            equal=frames_equal,
        )


class TestJSON(FileDatasetConformance):
    @pytest.fixture
    def dataset_case(self, root: str) -> DatasetCase:
        return file_case(
            JSONDataset,
            root,
            "metrics.json",
            {"auc": 0.91, "labels": ["a", "b"], "nested": {"ok": True, "none": None}},
            {"auc": 0.5, "labels": []},
            unsaveable={"first": list(range(100)), "then": object()},
        )


class TestPandasJSON(FileDatasetConformance):
    @pytest.fixture
    def dataset_case(self, root: str) -> DatasetCase:
        return file_case(
            PandasJSONDataset,
            root,
            "iris.json",
            frame(3),
            frame(6),
            unsaveable={"not": "a frame"},
            equal=frames_equal,
        )


class TestYAML(FileDatasetConformance):
    @pytest.fixture
    def dataset_case(self, root: str) -> DatasetCase:
        return file_case(
            YAMLDataset,
            root,
            "params.yml",
            {"alpha": 0.1, "layers": [64, 32], "name": "yes"},
            {"alpha": 0.25},
            unsaveable={"first": list(range(100)), "then": object()},
        )


class TestText(FileDatasetConformance):
    @pytest.fixture
    def dataset_case(self, root: str) -> DatasetCase:
        return file_case(
            TextDataset,
            root,
            "notes.txt",
            "héllo\r\nworld\n",
            "a longer text than the first one\n",
            unsaveable=b"bytes are not text",
        )


@pytest.fixture(params=["pickle", "joblib", "cloudpickle"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class TestPickle(FileDatasetConformance):
    @pytest.fixture
    def dataset_case(self, root: str, backend: str) -> DatasetCase:
        return file_case(
            PickleDataset,
            root,
            "model.pkl",
            {"weights": [0.5, 1.5], "classes": ("a", "b")},
            {"weights": [0.5, 1.5, 2.5, 3.5], "classes": ("a", "b", "c")},
            unsaveable={"first": list(range(1000)), "then": NoPickle()},
            backend=backend,
        )


class TestSQLTable(DatasetConformance, SaveFailureConformance):
    @pytest.fixture
    def dataset_case(self, tmp_path: Path) -> Iterator[DatasetCase]:
        made: list[SQLTableDataset] = []

        def make(**kw: Any) -> SQLTableDataset:
            ds = SQLTableDataset(
                "scores", credentials={"con": f"sqlite:///{tmp_path / 'db.sqlite'}"}, **kw
            )
            made.append(ds)
            return ds

        yield DatasetCase(
            make=make,
            data=frame(3),
            other=frame(5),
            equal=frames_equal,
            # sqlite3 cannot bind a dict: the insert fails after DROP and CREATE ran.
            unsaveable=pd.DataFrame({"id": [1], "name": [{"a": 1}], "score": [1.0]}),
            versionable=False,
            file_backed=False,
        )
        for ds in made:
            ds.release()


class TestMemory(DatasetConformance, SaveFailureConformance):
    @pytest.fixture
    def dataset_case(self) -> DatasetCase:
        dataset = MemoryDataset(copy_mode="deepcopy")
        return DatasetCase(
            make=lambda **kw: dataset,
            data={"a": [1, 2]},
            other={"a": [1, 2, 3]},
            unsaveable={"lock": threading.Lock()},
            versionable=False,
            file_backed=False,
        )

    def test_release_drops_the_data(self) -> None:
        dataset = MemoryDataset([1])
        dataset.release()
        assert dataset.exists() is False


class TestPartitioned(DatasetConformance, SaveFailureConformance):
    @pytest.fixture
    def dataset_case(self, root: str) -> DatasetCase:
        sep = "/" if "://" in root else os.sep
        return DatasetCase(
            make=lambda **kw: PartitionedDataset(
                f"{root}{sep}parts", "pandas.CSVDataset", filename_suffix=".csv", **kw
            ),
            data={"2024-01": frame(2), "eu/2024-02": frame(3)},
            other={"2024-01": frame(4), "eu/2024-02": frame(6)},
            equal=partitions_equal,
            # The first partition is fine; the second fails: nothing may change.
            unsaveable={"2024-01": frame(9), "eu/2024-02": half_written_frame()},
            other_path=f"{root}{sep}other_parts",
            versionable=False,
        )


# -- S3, against a real moto server on 127.0.0.1 ----------------------------------------------


S3_SECRET = "s3-secret-value-do-not-show"


@pytest.fixture(scope="session")
def s3_credentials(moto_endpoint: str) -> dict[str, Any]:
    import s3fs

    credentials = {
        "key": "testing-access-key",
        "secret": S3_SECRET,
        "client_kwargs": {"endpoint_url": moto_endpoint},
    }
    fs = s3fs.S3FileSystem(**credentials)
    fs.mkdir("tane-datasets")
    return credentials


class TestS3CSV(FileDatasetConformance):
    @pytest.fixture
    def dataset_case(self, s3_credentials: dict[str, Any]) -> DatasetCase:
        prefix = f"s3://tane-datasets/{uuid.uuid4().hex[:12]}"
        return DatasetCase(
            make=lambda **kw: CSVDataset(f"{prefix}/iris.csv", credentials=s3_credentials, **kw),
            data=frame(3),
            other=frame(5),
            equal=frames_equal,
            unsaveable=half_written_frame(),
            other_path=f"{prefix}/elsewhere/iris.csv",
            secrets=(S3_SECRET,),
            storage_options=s3_credentials,
        )


class TestS3Partitioned(DatasetConformance, SaveFailureConformance):
    @pytest.fixture
    def dataset_case(self, s3_credentials: dict[str, Any]) -> DatasetCase:
        prefix = f"s3://tane-datasets/{uuid.uuid4().hex[:12]}"
        return DatasetCase(
            make=lambda **kw: PartitionedDataset(
                f"{prefix}/parts",
                "pandas.CSVDataset",
                filename_suffix=".csv",
                credentials=s3_credentials,
                **kw,
            ),
            data={"2024-01": frame(2), "eu/2024-02": frame(3)},
            other={"2024-01": frame(4), "eu/2024-02": frame(6)},
            equal=partitions_equal,
            unsaveable={"2024-01": frame(9), "eu/2024-02": half_written_frame()},
            other_path=f"{prefix}/other_parts",
            secrets=(S3_SECRET,),
            storage_options=s3_credentials,
            versionable=False,
        )


def test_s3_stat_is_size_and_etag(s3_credentials: dict[str, Any]) -> None:
    ds = CSVDataset(f"s3://tane-datasets/{uuid.uuid4().hex[:12]}/x.csv", credentials=s3_credentials)
    ds.save(frame(2))
    size, etag = ds.stat() or (None, None)
    assert size == len(frame(2).to_csv(index=False).encode())
    assert isinstance(etag, str) and etag.strip('"')
