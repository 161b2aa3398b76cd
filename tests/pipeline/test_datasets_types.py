"""What each dataset type does beyond the shared contract."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tane.errors import DatasetError
from tane.pipeline.datasets import (
    APIDataset,
    CSVDataset,
    JSONDataset,
    MemoryDataset,
    ParquetDataset,
    PartitionedDataset,
    PickleDataset,
    SQLQueryDataset,
    SQLTableDataset,
    TextDataset,
    YAMLDataset,
)


def frame(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"id": list(range(rows)), "name": [f"r{i}" for i in range(rows)]})


# -- files -------------------------------------------------------------------------------


def test_relative_paths_are_relative_to_base_dir(tmp_path: Path) -> None:
    ds = CSVDataset("data/01_raw/iris.csv", base_dir=tmp_path)
    ds.save(frame(2))
    assert (tmp_path / "data" / "01_raw" / "iris.csv").is_file()
    assert ds.path == str(tmp_path / "data" / "01_raw" / "iris.csv")
    assert ds.describe()["filepath"] == "data/01_raw/iris.csv"


def test_relative_paths_default_to_the_working_directory_when_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ds = TextDataset("notes.txt")
    monkeypatch.chdir(tmp_path.parent)
    ds.save("hi")
    assert (tmp_path / "notes.txt").read_text() == "hi"


def test_file_url(tmp_path: Path) -> None:
    ds = TextDataset(f"file://{tmp_path}/a.txt")
    ds.save("x")
    assert (tmp_path / "a.txt").read_text() == "x"
    assert ds.path == str(tmp_path / "a.txt")


def test_missing_file_names_the_dataset_and_path(tmp_path: Path) -> None:
    ds = CSVDataset("data/01_raw/iris.csv", base_dir=tmp_path, name="iris")
    with pytest.raises(
        DatasetError, match=r"dataset 'iris' \(data/01_raw/iris.csv\): no such file"
    ):
        ds.load()


def test_local_stat_is_size_and_mtime_ns(tmp_path: Path) -> None:
    ds = TextDataset(str(tmp_path / "a.txt"))
    ds.save("hello")
    st = os.stat(tmp_path / "a.txt")
    assert ds.stat() == (st.st_size, st.st_mtime_ns)


def test_content_hash_streams_the_bytes(tmp_path: Path) -> None:
    ds = PickleDataset(str(tmp_path / "big.pkl"))
    ds.save(b"x" * (3 * 1024 * 1024 + 5))
    raw = (tmp_path / "big.pkl").read_bytes()
    assert ds.content_hash() == hashlib.sha256(raw).hexdigest()


def test_compression_through_open_args(tmp_path: Path) -> None:
    fs_args = {
        "open_args_save": {"compression": "gzip"},
        "open_args_load": {"compression": "gzip"},
    }
    ds = CSVDataset(str(tmp_path / "iris.csv.gz"), fs_args=fs_args)
    ds.save(frame(3))
    assert (tmp_path / "iris.csv.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert gzip.decompress((tmp_path / "iris.csv.gz").read_bytes()).startswith(b"id,name")
    pd.testing.assert_frame_equal(ds.load(), frame(3))


def test_text_encoding_through_open_args(tmp_path: Path) -> None:
    ds = TextDataset(
        str(tmp_path / "latin.txt"),
        fs_args={
            "open_args_save": {"encoding": "latin-1", "mode": "w"},
            "open_args_load": {"encoding": "latin-1"},
        },
    )
    ds.save("café")
    assert (tmp_path / "latin.txt").read_bytes() == b"caf\xe9"
    assert ds.load() == "café"


def test_csv_save_and_load_args(tmp_path: Path) -> None:
    ds = CSVDataset(
        str(tmp_path / "x.csv"), save_args={"sep": ";"}, load_args={"sep": ";", "index_col": 0}
    )
    ds.save(frame(2))
    assert (tmp_path / "x.csv").read_text().startswith("id;name")
    assert list(ds.load().columns) == ["name"]


def test_wrong_data_type_is_refused_before_writing(tmp_path: Path) -> None:
    ds = CSVDataset(str(tmp_path / "x.csv"), name="iris")
    with pytest.raises(DatasetError, match="dataset 'iris'.*cannot save dict: expected a pandas"):
        ds.save({"a": 1})
    assert not (tmp_path / "x.csv").exists()
    assert list(tmp_path.iterdir()) == []


def test_a_folder_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "x.json").mkdir()
    with pytest.raises(DatasetError, match="is a folder"):
        JSONDataset(str(tmp_path / "x.json")).load()


def test_parquet_without_pyarrow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    ds = ParquetDataset(str(tmp_path / "x.parquet"), name="features")
    with pytest.raises(DatasetError, match=r"dataset 'features'.*pip install 'tane\[parquet\]'"):
        ds.save(frame(2))
    with pytest.raises(DatasetError, match=r"tane\[parquet\]"):
        ds.load()


def test_pickle_backend_not_installed(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="backend 'no_such_pickler' is not installed: pip"):
        PickleDataset(str(tmp_path / "m.pkl"), backend="no_such_pickler")


def test_pickle_backend_without_load_and_dump(tmp_path: Path) -> None:
    ds = PickleDataset(str(tmp_path / "m.pkl"), backend="string")
    with pytest.raises(DatasetError, match="has no load"):
        ds.save(1)


def test_pickle_backends_write_their_own_format(tmp_path: Path) -> None:
    import cloudpickle
    import joblib

    for backend, reader in (("joblib", joblib.load), ("cloudpickle", cloudpickle.load)):
        ds = PickleDataset(str(tmp_path / f"{backend}.pkl"), backend=backend)
        ds.save({"a": [1, 2]})
        with open(tmp_path / f"{backend}.pkl", "rb") as fh:
            assert reader(fh) == {"a": [1, 2]}
        assert ds.describe()["backend"] == backend


def test_cloudpickle_saves_a_lambda(tmp_path: Path) -> None:
    ds = PickleDataset(str(tmp_path / "f.pkl"), backend="cloudpickle")
    ds.save(lambda x: x * 2)
    assert ds.load()(21) == 42
    with pytest.raises(DatasetError, match="cannot save function"):
        PickleDataset(str(tmp_path / "g.pkl")).save(lambda x: x)
    assert not (tmp_path / "g.pkl").exists()


def test_yaml_refuses_objects(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="RepresenterError"):
        YAMLDataset(str(tmp_path / "x.yml")).save({"a": object()})


# -- versions ------------------------------------------------------------------------------


def test_reads_kedro_versioned_data(tmp_path: Path) -> None:
    base = tmp_path / "data" / "06_models" / "model.json"
    for version, value in (
        ("2023-01-01T00.00.00.000Z", 1),
        ("2024-06-30T12.00.00.500Z", 3),
        ("2024-06-30T12.00.00.050Z", 2),
    ):
        (base / version).mkdir(parents=True)
        (base / version / "model.json").write_text(json.dumps(value))
    (base / "2025-01-01T00.00.00.000Z").mkdir()  # a folder without the file is no version
    ds = JSONDataset(str(base), versioned=True)
    assert ds.load() == 3
    assert ds.version == "2024-06-30T12.00.00.500Z"
    assert ds.versions() == [
        "2023-01-01T00.00.00.000Z",
        "2024-06-30T12.00.00.050Z",
        "2024-06-30T12.00.00.500Z",
    ]
    ds.save(4)
    assert ds.version is not None and ds.version > "2025-01-01T00.00.00.000Z"
    assert JSONDataset(str(base), versioned=True).load() == 4


def test_save_version_is_never_reused(tmp_path: Path) -> None:
    ds = JSONDataset(
        str(tmp_path / "m.json"), versioned=True, save_version="2024-01-01T00.00.00.000Z"
    )
    ds.save(1)
    assert (tmp_path / "m.json" / "2024-01-01T00.00.00.000Z" / "m.json").is_file()
    with pytest.raises(DatasetError, match="already exists.*never overwritten"):
        ds.save(2)
    assert JSONDataset(str(tmp_path / "m.json"), versioned=True).load() == 1


def test_failed_versioned_save_leaves_no_version(tmp_path: Path) -> None:
    ds = JSONDataset(str(tmp_path / "m.json"), versioned=True)
    ds.save(1)
    with pytest.raises(DatasetError):
        ds.save({"x": object()})
    assert len(list((tmp_path / "m.json").iterdir())) == 1
    assert ds.versions() == [ds.version]


def test_load_version_without_versioned_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not versioned"):
        JSONDataset(str(tmp_path / "m.json"), load_version="2024-01-01T00.00.00.000Z")


def test_versioned_with_path_keeps_versioning(tmp_path: Path) -> None:
    ds = JSONDataset(str(tmp_path / "a.json"), versioned=True)
    moved = ds.with_path(str(tmp_path / "b.json"))
    moved.save([1])
    assert moved.version is not None
    assert (tmp_path / "b.json" / moved.version / "b.json").is_file()


# -- memory ----------------------------------------------------------------------------------


def test_memory_empty_load() -> None:
    with pytest.raises(DatasetError, match="'scratch': has not been saved yet"):
        MemoryDataset(name="scratch").load()


def test_memory_copies_like_kedro() -> None:
    data = {"a": [1]}
    ds = MemoryDataset(data)
    data["a"].append(2)
    loaded = ds.load()
    assert loaded == {"a": [1]}
    loaded["a"].append(3)
    assert ds.load() == {"a": [1]}

    df = frame(2)
    ds = MemoryDataset(df)
    assert ds.load() is not df
    pd.testing.assert_frame_equal(ds.load(), df)

    lock_holder = {"lock": threading.Lock()}
    ds = MemoryDataset(lock_holder)
    assert ds.load() is lock_holder, "what cannot be deep-copied is assigned"

    obj = [1, 2]
    assert MemoryDataset(obj, copy_mode="assign").load() is obj
    assert MemoryDataset(None).load() is None


def test_memory_explicit_deepcopy_failure_keeps_old_data() -> None:
    ds = MemoryDataset([1], copy_mode="deepcopy", name="m")
    with pytest.raises(DatasetError, match="dataset 'm'.*deep-copy"):
        ds.save(threading.Lock())
    assert ds.load() == [1]


def test_memory_bad_copy_mode() -> None:
    with pytest.raises(DatasetError, match="copy_mode 'shallow'"):
        MemoryDataset(copy_mode="shallow")


# -- partitioned --------------------------------------------------------------------------------


def test_partitions_are_lazy_and_skip_hidden_files(tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / ".gitkeep").write_text("")
    (folder / "a.csv").write_text("id\n1\n")
    (folder / "notes.txt").write_text("not a partition")
    (folder / "sub").mkdir()
    (folder / "sub" / "b.csv").write_text("id\n2\n")
    ds = PartitionedDataset(str(folder), "pandas.CSVDataset", filename_suffix=".csv")
    loaded = ds.load()
    assert list(loaded) == ["a", "sub/b"]
    (folder / "a.csv").unlink()
    with pytest.raises(DatasetError, match="no such file"):
        loaded["a"]()
    assert loaded["sub/b"]()["id"].tolist() == [2]


def test_partitions_save_callables_and_overwrite(tmp_path: Path) -> None:
    calls: list[str] = []

    def make(pid: str, n: int) -> Any:
        def build() -> pd.DataFrame:
            calls.append(pid)
            return frame(n)

        return build

    ds = PartitionedDataset(
        str(tmp_path / "p"),
        {"type": "csv", "save_args": {"index": False}},
        filename_suffix=".csv",
    )
    ds.save({"a": make("a", 1), "b": frame(2)})
    assert calls == ["a"]
    ds.save({"c": frame(3)})
    assert list(ds.load()) == ["a", "b", "c"], "without overwrite, old partitions stay"
    replacing = PartitionedDataset(
        str(tmp_path / "p"), "csv", filename_suffix=".csv", overwrite=True
    )
    replacing.save({"b": frame(5)})
    assert list(replacing.load()) == ["b"]
    assert len(replacing.load()["b"]()) == 5
    assert sorted(os.listdir(tmp_path)) == ["p"], "no staging folder is left"


def test_partition_content_hash_is_over_relative_paths_and_file_hashes(tmp_path: Path) -> None:
    ds = PartitionedDataset(str(tmp_path / "p"), "text", filename_suffix=".txt")
    ds.save({"x/1": "one", "2": "two"})
    expected = hashlib.sha256()
    for rel in ("2.txt", "x/1.txt"):
        file_hash = hashlib.sha256((tmp_path / "p" / rel).read_bytes()).hexdigest()
        expected.update(f"{rel}\0{file_hash}\n".encode())
    assert ds.content_hash() == expected.hexdigest()


@pytest.mark.parametrize("pid", ["", "../escape", "/abs", ".hidden", "a//b", 3])
def test_bad_partition_ids(tmp_path: Path, pid: Any) -> None:
    ds = PartitionedDataset(str(tmp_path / "p"), "text")
    with pytest.raises(DatasetError, match="partition id"):
        ds.save({pid: "x"})
    assert not (tmp_path / "p").exists()


def test_partitioned_inner_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="cannot be versioned"):
        PartitionedDataset(str(tmp_path), {"type": "csv", "versioned": True})
    with pytest.raises(DatasetError, match="did you mean 'pandas.CSVDataset'"):
        PartitionedDataset(str(tmp_path), "pandas.CSVDatset")
    with pytest.raises(DatasetError, match="'filepath'"):
        PartitionedDataset(str(tmp_path), {"type": "csv", "filepath": "x.csv"})


def test_empty_partitioned_folder(tmp_path: Path) -> None:
    ds = PartitionedDataset(str(tmp_path / "none"), "csv", name="parts")
    assert ds.exists() is False
    assert ds.stat() is None and ds.content_hash() is None
    with pytest.raises(DatasetError, match="dataset 'parts'.*no partitions found"):
        ds.load()


# -- SQL ----------------------------------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    table = SQLTableDataset("orders", credentials={"con": url})
    table.save(pd.DataFrame({"id": [1, 2, 3], "amount": [10.0, 25.5, 7.25]}))
    table.release()
    return url


def test_sql_query_from_text(sqlite_url: str) -> None:
    ds = SQLQueryDataset(
        "SELECT id, amount FROM orders WHERE amount > ? ORDER BY id",
        credentials={"con": sqlite_url},
        load_args={"params": (8.0,)},
    )
    assert ds.load()["id"].tolist() == [1, 2]
    assert ds.exists() is True
    assert ds.path is None and ds.stat() is None and ds.content_hash() is None
    with pytest.raises(DatasetError, match="load-only"):
        ds.save(frame(1))
    with pytest.raises(DatasetError, match="has no path"):
        ds.with_path("elsewhere")
    ds.release()


def test_sql_query_from_file_relative_to_base_dir(sqlite_url: str, tmp_path: Path) -> None:
    (tmp_path / "queries").mkdir()
    (tmp_path / "queries" / "big.sql").write_text("SELECT id FROM orders WHERE amount > 20\n")
    ds = SQLQueryDataset(
        filepath="queries/big.sql", credentials={"con": sqlite_url}, base_dir=tmp_path
    )
    assert ds.load()["id"].tolist() == [2]
    assert ds.describe()["filepath"] == "queries/big.sql"
    missing = SQLQueryDataset(
        filepath="queries/nope.sql", credentials={"con": sqlite_url}, base_dir=tmp_path
    )
    assert missing.exists() is False
    with pytest.raises(DatasetError, match="no such file"):
        missing.load()
    ds.release()


def test_sql_query_needs_one_source() -> None:
    with pytest.raises(DatasetError, match="either sql"):
        SQLQueryDataset(credentials={"con": "sqlite://"})
    with pytest.raises(DatasetError, match="needs credentials with 'con'"):
        SQLQueryDataset("SELECT 1")


def test_relative_sqlite_path_is_relative_to_base_dir(tmp_path: Path) -> None:
    ds = SQLTableDataset(
        "t", credentials={"con": "sqlite:///data/app.db"}, base_dir=tmp_path, name="t"
    )
    (tmp_path / "data").mkdir()
    ds.save(frame(2))
    assert (tmp_path / "data" / "app.db").is_file()
    ds.release()


def test_sql_password_is_never_shown() -> None:
    url = "postgresql+psycopg://analyst:S3cretPassw0rd@127.0.0.1:1/warehouse"
    ds = SQLTableDataset("scores", credentials={"con": url}, name="scores")
    texts = [repr(ds), str(ds), repr(ds.describe())]
    for call in (ds.load, ds.exists, lambda: ds.save(frame(1))):
        with pytest.raises(DatasetError) as info:
            call()
        texts.append(str(info.value))
        cause = info.value.__cause__
        texts.append(str(cause) if cause is not None else "")
    query = SQLQueryDataset("SELECT 1", credentials={"con": url})
    with pytest.raises(DatasetError) as info:
        query.load()
    texts += [str(info.value), repr(query.describe())]
    assert "dataset 'scores' (table 'scores')" in texts[3]
    for text in texts:
        assert "S3cretPassw0rd" not in text


# -- HTTP API -----------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path == "/items":
            payload = {
                "params": {k: v[0] for k, v in parse_qs(url.query).items()},
                "auth": self.headers.get("Authorization"),
                "custom": self.headers.get("X-Custom"),
            }
            self._send(200, json.dumps(payload).encode())
        elif url.path == "/html":
            self._send(200, b"<html></html>", "text/html")
        else:
            self._send(404, b'{"error": "not found"}')

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._send(201, json.dumps({"received": json.loads(body)}).encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


def test_api_get_json_with_params_and_headers(api_url: str) -> None:
    ds = APIDataset(
        f"{api_url}/items",
        load_args={"params": {"q": "iris"}, "headers": {"X-Custom": "yes"}},
    )
    got = ds.load()
    assert got == {"params": {"q": "iris"}, "auth": None, "custom": "yes"}
    assert ds.exists() is True
    assert ds.path is None and ds.content_hash() is None and ds.stat() is None
    assert ds.describe() == {
        "type": "api.APIDataset",
        "path": None,
        "layer": None,
        "versioned": False,
        "url": f"{api_url}/items",
        "method": "GET",
    }
    with pytest.raises(DatasetError, match="load-only"):
        ds.save({})


def test_api_credentials(api_url: str) -> None:
    token = APIDataset(f"{api_url}/items", credentials={"token": "tok-SECRET-123"})
    assert token.load()["auth"] == "Bearer tok-SECRET-123"
    basic = APIDataset(f"{api_url}/items", credentials=["user", "pw-SECRET-456"])
    assert basic.load()["auth"].startswith("Basic ")
    for ds, secret in ((token, "tok-SECRET-123"), (basic, "pw-SECRET-456")):
        assert secret not in repr(ds.describe()) and secret not in repr(ds)
    with pytest.raises(DatasetError, match="credentials must be"):
        APIDataset(f"{api_url}/items", credentials={"nothing": "useful"})


def test_api_post_json(api_url: str) -> None:
    ds = APIDataset(f"{api_url}/items", method="POST", load_args={"json": {"n": 1}})
    assert ds.load() == {"received": {"n": 1}}
    assert ds.exists() is True


def test_api_errors(api_url: str) -> None:
    with pytest.raises(DatasetError, match=r"dataset 'users' \(GET .*/missing\).*404 Not Found"):
        APIDataset(f"{api_url}/missing", name="users").load()
    assert APIDataset(f"{api_url}/missing").exists() is False
    with pytest.raises(DatasetError, match=r"not JSON \(text/html\)"):
        APIDataset(f"{api_url}/html").load()
    with pytest.raises(DatasetError, match="unknown load_args bogus"):
        APIDataset(f"{api_url}/items", load_args={"bogus": 1})


def test_api_unreachable_hides_userinfo() -> None:
    ds = APIDataset("http://user:pa55word-xyz@127.0.0.1:1/x", load_args={"timeout": 2})
    with pytest.raises(DatasetError, match="request failed") as info:
        ds.load()
    assert "pa55word-xyz" not in str(info.value)
    assert "pa55word-xyz" not in repr(ds.describe())
    assert ds.exists() is False


# -- property round trips ---------------------------------------------------------------------

plain = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=15,
)
SETTINGS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(value=plain)
def test_json_round_trip(tmp_path: Path, value: Any) -> None:
    ds = JSONDataset(str(tmp_path / "v.json"))
    ds.save(value)
    assert ds.load() == value


@SETTINGS
@given(value=plain)
def test_yaml_round_trip(tmp_path: Path, value: Any) -> None:
    ds = YAMLDataset(str(tmp_path / "v.yml"))
    ds.save(value)
    assert ds.load() == value


@SETTINGS
@given(value=plain | st.tuples(plain, plain) | st.frozensets(st.integers(), max_size=5))
def test_pickle_round_trip(tmp_path: Path, value: Any) -> None:
    ds = PickleDataset(str(tmp_path / "v.pkl"))
    ds.save(value)
    assert ds.load() == value


@SETTINGS
@given(value=st.text(max_size=200))
def test_text_round_trip(tmp_path: Path, value: str) -> None:
    ds = TextDataset(str(tmp_path / "v.txt"))
    ds.save(value)
    assert ds.load() == value
