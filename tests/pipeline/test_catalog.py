"""The data catalog: YAML, interpolation, templates, credentials, factories, type names."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tane.errors import DatasetError
from tane.pipeline.catalog import DataCatalog
from tane.pipeline.datasets import (
    KEDRO_TYPES,
    TYPES,
    CSVDataset,
    Dataset,
    MemoryDataset,
    ObjectDataset,
    PartitionedDataset,
    resolve_type,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(
        tmp_path / "conf" / "catalog.yml",
        """
        _root: data
        _csv: &csv
          type: pandas.CSVDataset
          save_args: {index: false}

        iris:
          <<: *csv
          filepath: ${_root}/01_raw/iris.csv
          layer: raw
          metadata: {kedro-viz: {layer: raw}}

        model:
          type: pickle.PickleDataset
          filepath: ${_root}/06_models/model.pkl
          backend: joblib
          versioned: true

        metrics:
          type: json.JSONDataset
          filepath: ${models_dir}/metrics.json

        home_note:
          type: text
          filepath: ${oc.env:TANE_TEST_NOTES_DIR}/note.txt
        """,
    )
    return tmp_path


def test_from_yaml_resolves_templates_interpolations_and_base_dir(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TANE_TEST_NOTES_DIR", str(project / "notes"))
    catalog = DataCatalog.from_yaml(
        project / "conf" / "catalog.yml",
        context={"models_dir": "data/08_reporting", "iris": "the context loses to the file"},
        base_dir=project,
    )
    assert catalog.names() == ["iris", "model", "metrics", "home_note"]
    iris = catalog.get("iris")
    assert isinstance(iris, CSVDataset)
    assert iris.layer == "raw"
    assert iris.path == str(project / "data" / "01_raw" / "iris.csv")
    catalog.save("iris", pd.DataFrame({"a": [1]}))
    assert (project / "data" / "01_raw" / "iris.csv").read_text() == "a\n1\n"
    assert catalog.describe("metrics")["path"] == str(
        project / "data" / "08_reporting" / "metrics.json"
    )
    catalog.save("home_note", "hi")
    assert (project / "notes" / "note.txt").read_text() == "hi"
    assert catalog.describe("iris")["save_args"] == {"index": False}


def test_notebook_use_relative_to_cwd(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    monkeypatch.setenv("TANE_TEST_NOTES_DIR", "notes")
    catalog = DataCatalog.from_yaml("conf/catalog.yml", context={"models_dir": "out"})
    catalog.save("metrics", {"auc": 0.9})
    assert catalog.load("metrics") == {"auc": 0.9}
    assert (project / "out" / "metrics.json").is_file()


def test_unresolvable_interpolation_names_the_entry(project: Path) -> None:
    with pytest.raises(DatasetError, match="entry 'metrics': cannot resolve an interpolation"):
        DataCatalog.from_yaml(project / "conf" / "catalog.yml", base_dir=project)


def test_missing_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="catalog file .*nope.yml' not found"):
        DataCatalog.from_yaml(tmp_path / "nope.yml")
    bad = write(tmp_path / "bad.yml", "iris: [unclosed\n")
    with pytest.raises(DatasetError, match="bad.yml"):
        DataCatalog.from_yaml(bad)
    empty = write(tmp_path / "empty.yml", "")
    assert DataCatalog.from_yaml(empty).names() == []


def test_entry_errors() -> None:
    with pytest.raises(DatasetError, match="catalog entry 'x': has no 'type'"):
        DataCatalog.from_config({"x": {"filepath": "a.csv"}})
    with pytest.raises(DatasetError, match="catalog entry 'x': expected a mapping"):
        DataCatalog.from_config({"x": "pandas.CSVDataset"})
    with pytest.raises(
        DatasetError,
        match="catalog entry 'x': pandas.CSVDataset has no argument 'load_arg' — did you "
        "mean 'load_args'",
    ):
        DataCatalog.from_config({"x": {"type": "csv", "filepath": "a.csv", "load_arg": {}}})
    with pytest.raises(DatasetError, match="catalog entry 'x': pandas.CSVDataset: missing"):
        DataCatalog.from_config({"x": {"type": "csv"}})
    with pytest.raises(DatasetError, match="MemoryDataset cannot be versioned"):
        DataCatalog.from_config({"x": {"type": "memory", "versioned": True}})


def test_path_is_an_alias_of_filepath(tmp_path: Path) -> None:
    catalog = DataCatalog.from_config(
        {
            "a": {"type": "text", "path": "a.txt"},
            "p": {"type": "partitioned", "filepath": "parts", "dataset": "text"},
        },
        base_dir=tmp_path,
    )
    assert catalog.get("a").path == str(tmp_path / "a.txt")
    assert catalog.get("p").path == str(tmp_path / "parts")


# -- type names ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(KEDRO_TYPES))
def test_every_kedro_name_resolves(name: str) -> None:
    expected = resolve_type(KEDRO_TYPES[name])
    assert resolve_type(name) is expected
    if "." in name and not name.startswith("kedro."):
        assert resolve_type(f"kedro_datasets.{name}") is expected
    assert resolve_type(name.replace("Dataset", "DataSet")) is expected


def test_short_names_and_describe_types() -> None:
    for short in TYPES:
        cls = resolve_type(short)
        assert issubclass(cls, Dataset)
        assert cls.type_name, short
    assert resolve_type("pandas.CSVDataSet") is CSVDataset
    assert resolve_type("tane.pipeline.datasets.CSVDataset") is CSVDataset
    assert resolve_type("tane.pipeline.datasets.csv:CSVDataset") is CSVDataset


def test_unknown_type_near_match() -> None:
    with pytest.raises(DatasetError) as info:
        DataCatalog.from_config({"iris": {"type": "pandas.CSVDatset", "filepath": "x.csv"}})
    assert str(info.value) == (
        "catalog entry 'iris': type 'pandas.CSVDatset' not found — did you mean "
        "'pandas.CSVDataset'?"
    )
    with pytest.raises(DatasetError, match="type 'pardquet' not found — did you mean 'parquet'"):
        DataCatalog.from_config({"x": {"type": "pardquet", "filepath": "x"}})
    with pytest.raises(DatasetError, match="type 'zzzz' not found: use one of csv"):
        DataCatalog.from_config({"x": {"type": "zzzz"}})
    with pytest.raises(DatasetError, match="module 'tane.pipeline.datasets' has no 'CSVDatset"):
        resolve_type("tane.pipeline.datasets.CSVDatset")
    with pytest.raises(DatasetError, match="type 'no_such_pkg.Thing' not found"):
        resolve_type("no_such_pkg.Thing")
    with pytest.raises(DatasetError, match="is not a dataset class"):
        resolve_type("collections.OrderedDict")


CUSTOM = '''
from tane.pipeline.datasets import Dataset

class Box:
    """Any class with load and save."""

    def __init__(self, size, credentials=None):
        self.size = size
        self.credentials = credentials
        self._data = None

    def load(self):
        return self._data

    def save(self, data):
        self._data = [data] * self.size


class Counter(Dataset):
    type_name = "custom.Counter"

    def __init__(self, start=0, **kwargs):
        super().__init__(**kwargs)
        self.value = start

    def load(self):
        return self.value

    def save(self, data):
        self.value = data

    def exists(self):
        return True
'''


def test_custom_classes_by_import_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = f"tane_custom_{tmp_path.name.replace('-', '_')}"
    write(tmp_path / "mods" / f"{module}.py", CUSTOM)
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    catalog = DataCatalog.from_config(
        {
            "box": {
                "type": f"{module}.Box",
                "size": 2,
                "layer": "raw",
                "credentials": "box_creds",
                "metadata": {"ignored": True},
            },
            "counter": {"type": f"{module}:Counter", "start": 5, "layer": "primary"},
        },
        {"box_creds": {"token": "t"}},
    )
    box = catalog.get("box")
    assert isinstance(box, ObjectDataset)
    assert box.wrapped.credentials == {"token": "t"}
    assert box.layer == "raw"
    catalog.save("box", "x")
    assert catalog.load("box") == ["x", "x"]
    assert catalog.describe("box")["type"] == f"{module}.Box"
    assert catalog.exists("box") is False, "no exists(): unknown, so False"
    counter = catalog.get("counter")
    assert counter.layer == "primary" and counter.name == "counter"
    assert catalog.load("counter") == 5
    assert catalog.describe("counter")["type"] == "custom.Counter"
    with pytest.raises(DatasetError, match="has no argument 'begin'"):
        DataCatalog.from_config({"c": {"type": f"{module}.Counter", "begin": 1}})


# -- credentials ----------------------------------------------------------------------------


def test_credentials_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANE_TEST_DB_PASSWORD", "Pa55-from-env")
    catalog_file = write(
        tmp_path / "catalog.yml",
        """
        scores:
          type: pandas.SQLTableDataset
          table_name: scores
          credentials: warehouse
        local_scores:
          type: pandas.SQLTableDataset
          table_name: scores
          credentials: sqlite_db
        """,
    )
    creds_file = write(
        tmp_path / "credentials.yml",
        f"""
        warehouse:
          con: postgresql+psycopg://analyst:${{oc.env:TANE_TEST_DB_PASSWORD}}@127.0.0.1:1/db
        sqlite_db:
          con: sqlite:///{tmp_path / "local.db"}
        """,
    )
    catalog = DataCatalog.from_yaml(catalog_file, creds_file)
    catalog.save("local_scores", pd.DataFrame({"x": [1, 2]}))
    assert catalog.load("local_scores")["x"].tolist() == [1, 2]
    catalog.release("local_scores")
    texts = [repr(catalog.describe("scores")), repr(catalog), repr(catalog.get("scores"))]
    for call in (lambda: catalog.load("scores"), lambda: catalog.exists("scores")):
        with pytest.raises(DatasetError, match="dataset 'scores'") as info:
            call()
        texts.append(str(info.value))
    for text in texts:
        assert "Pa55-from-env" not in text


def test_unknown_credentials_name_lists_the_names() -> None:
    config = {"x": {"type": "csv", "filepath": "x.csv", "credentials": "s3_prod"}}
    secret = {"s3_dev": {"secret": "abc-secret"}, "gcs": {"token": "tok-secret"}}
    with pytest.raises(DatasetError) as info:
        DataCatalog.from_config(config, secret)
    message = str(info.value)
    assert message.startswith("catalog entry 'x': credentials 's3_prod' not found")
    assert "did you mean 's3_dev'" in message and "gcs, s3_dev" in message
    assert "abc-secret" not in message and "tok-secret" not in message
    with pytest.raises(DatasetError, match="no credentials were given"):
        DataCatalog.from_config(config)


def test_inline_and_nested_credentials(tmp_path: Path) -> None:
    catalog = DataCatalog.from_config(
        {
            "parts": {
                "type": "partitions.PartitionedDataset",
                "path": "memory://tane-catalog-creds/parts",
                "dataset": {"type": "text", "credentials": "inner"},
                "credentials": {"skip_instance_cache": True},
            }
        },
        {"inner": {"skip_instance_cache": True}},
        base_dir=tmp_path,
    )
    ds = catalog.get("parts")
    assert isinstance(ds, PartitionedDataset)
    ds.save({"a": "x"})
    assert {k: v() for k, v in ds.load().items()} == {"a": "x"}


# -- factories ------------------------------------------------------------------------------


FACTORIES: dict[str, Any] = {
    "{name}": {"type": "memory"},
    "{name}_csv": {"type": "csv", "filepath": "data/{name}.csv"},
    "{namespace}.{name}_csv": {"type": "csv", "filepath": "data/{namespace}/{name}.csv"},
    "{namespace}.int_{name}": {"type": "pickle", "filepath": "int/{namespace}/{name}.pkl"},
    "{namespace}.int_{name}{suffix}": {"type": "text", "filepath": "{namespace}/{name}{suffix}"},
    "reviews_csv": {"type": "csv", "filepath": "special/reviews.csv"},
    "{a}_{b}_csv": {"type": "csv", "filepath": "two/{a}/{b}.csv"},
}


def test_factory_order_is_kedros() -> None:
    catalog = DataCatalog.from_config(FACTORIES)
    # Five literal characters each, so more placeholders first, then by name;
    # then four literal characters, then the catch-all.
    assert catalog.patterns() == [
        "{namespace}.int_{name}{suffix}",
        "{a}_{b}_csv",
        "{namespace}.int_{name}",
        "{namespace}.{name}_csv",
        "{name}_csv",
        "{name}",
    ]
    assert catalog.names() == ["reviews_csv"]


def test_factories_resolve_names(tmp_path: Path) -> None:
    catalog = DataCatalog.from_config(FACTORIES, base_dir=tmp_path)
    assert catalog.get("reviews_csv").path == str(tmp_path / "special" / "reviews.csv")
    assert catalog.get("shuttles_csv").path == str(tmp_path / "data" / "shuttles.csv")
    assert catalog.get("fr.companies_csv").path == str(tmp_path / "data" / "fr" / "companies.csv")
    assert catalog.get("my_big_csv").path == str(tmp_path / "two" / "my" / "big.csv")
    # The lazy first placeholder takes the shortest match, as Kedro's parse does.
    assert catalog.get("a.b.c_csv").path == str(tmp_path / "data" / "a" / "b.c.csv")
    # Three placeholders win over two at equal specificity (Kedro's order).
    assert catalog.get("eu.int_sales").path == str(tmp_path / "eu" / "sales")
    assert catalog.describe("eu.int_sales")["type"] == "text.TextDataset"
    assert isinstance(catalog.get("anything"), MemoryDataset)
    assert "shuttles_csv" in catalog and "x" in catalog
    assert catalog.names() == ["reviews_csv"], "names made from patterns are not declared"
    described = catalog.describe("shuttles_csv")
    assert described["pattern"] == "{name}_csv" and described["name"] == "shuttles_csv"
    assert catalog.get("shuttles_csv") is catalog.get("shuttles_csv")


def test_factory_without_catch_all_and_unknown_names() -> None:
    catalog = DataCatalog.from_config(
        {
            "iris": {"type": "memory"},
            "companies": {"type": "memory"},
            "{name}_csv": {"type": "csv", "filepath": "{name}.csv"},
        }
    )
    assert "irs" not in catalog
    assert catalog.exists("irs") is False
    with pytest.raises(DatasetError) as info:
        catalog.get("irs")
    assert str(info.value) == "dataset 'irs' not found in the catalog — did you mean 'iris'?"
    with pytest.raises(DatasetError, match="it has iris, companies, \\{name\\}_csv"):
        catalog.load("zzzzzz")


def test_factory_errors() -> None:
    with pytest.raises(DatasetError, match="uses '\\{other\\}', which is not a placeholder"):
        DataCatalog.from_config({"{name}_csv": {"type": "csv", "filepath": "{other}.csv"}})
    with pytest.raises(DatasetError, match="more than one catch-all"):
        DataCatalog.from_config({"{a}": {"type": "memory"}, "{b}": {"type": "memory"}})
    with pytest.raises(DatasetError, match="credentials 'nope' not found"):
        DataCatalog.from_config(
            {"{a}_csv": {"type": "csv", "filepath": "x", "credentials": "nope"}}
        )
    catalog = DataCatalog.from_config({"{name}_x": {"type": "pandas.CSVDatset", "filepath": "x"}})
    with pytest.raises(
        DatasetError, match="did you mean 'pandas.CSVDataset'.*pattern '\\{name\\}_x'"
    ):
        catalog.get("a_x")


# -- versions -------------------------------------------------------------------------------


def test_load_versions(tmp_path: Path) -> None:
    config = {
        "model": {"type": "json", "filepath": "m.json", "versioned": True},
        "{name}_v": {"type": "json", "filepath": "{name}.json", "versioned": True},
    }
    catalog = DataCatalog.from_config(config, base_dir=tmp_path)
    catalog.save("model", 1)
    first = catalog.get("model").version
    catalog.save("model", 2)
    catalog.save("other_v", "a")
    other_first = catalog.get("other_v").version
    catalog.save("other_v", "b")
    assert catalog.load("model") == 2
    assert first is not None and other_first is not None
    pinned = DataCatalog.from_config(
        config, load_versions={"model": first, "other_v": other_first}, base_dir=tmp_path
    )
    assert pinned.load("model") == 1
    assert pinned.load("other_v") == "a"
    gone = DataCatalog.from_config(
        config, load_versions={"model": "2001-01-01T00.00.00.000Z"}, base_dir=tmp_path
    )
    with pytest.raises(DatasetError, match=f"'2001-01-01T00.00.00.000Z' not found.*{first}"):
        gone.load("model")
    with pytest.raises(DatasetError, match="load_versions names 'modle'.*did you mean 'model'"):
        DataCatalog.from_config(config, load_versions={"modle": first})
    with pytest.raises(DatasetError, match="not versioned: set versioned: true"):
        DataCatalog.from_config(
            {"x": {"type": "json", "filepath": "x.json"}}, load_versions={"x": first}
        )


def test_one_save_version_for_the_catalog(tmp_path: Path) -> None:
    version = "2024-05-01T10.00.00.000Z"
    catalog = DataCatalog.from_config(
        {
            "a": {"type": "json", "filepath": "a.json", "versioned": True},
            "b": {"type": "json", "filepath": "b.json", "versioned": True},
            "c": {"type": "json", "filepath": "c.json"},
        },
        base_dir=tmp_path,
        save_version=version,
    )
    for name in ("a", "b", "c"):
        catalog.save(name, name)
    assert (tmp_path / "a.json" / version / "a.json").is_file()
    assert (tmp_path / "b.json" / version / "b.json").is_file()
    assert (tmp_path / "c.json").is_file()


# -- the catalog in code --------------------------------------------------------------------


def test_catalog_in_code(tmp_path: Path) -> None:
    catalog = DataCatalog({"numbers": MemoryDataset([1, 2])})
    assert catalog.load("numbers") == [1, 2]
    assert catalog.get("numbers").name == "numbers"
    with pytest.raises(DatasetError, match="already in the catalog: pass replace=True"):
        catalog.add("numbers", MemoryDataset())
    catalog.add("numbers", MemoryDataset([3]), replace=True)
    assert catalog.load("numbers") == [3]
    catalog.release("numbers")
    assert catalog.exists("numbers") is False

    class Plain:
        def load(self) -> int:
            return 7

        def save(self, data: Any) -> None:
            pass

    catalog.add("plain", Plain())  # type: ignore[arg-type]
    assert catalog.load("plain") == 7
    with pytest.raises(DatasetError, match="has no load"):
        catalog.add("bad", object())  # type: ignore[arg-type]
    assert catalog.names() == ["numbers", "plain"]
    assert catalog.describe("numbers")["type"] == "MemoryDataset"


def test_missing_file_message(tmp_path: Path) -> None:
    catalog = DataCatalog.from_config(
        {"iris": {"type": "pandas.CSVDataset", "filepath": "data/01_raw/iris.csv"}},
        base_dir=tmp_path,
    )
    with pytest.raises(
        DatasetError, match=r"^dataset 'iris' \(data/01_raw/iris.csv\): no such file"
    ):
        catalog.load("iris")


def test_from_config_accepts_omegaconf(tmp_path: Path) -> None:
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"_root": "d", "x": {"type": "text", "filepath": "${_root}/x.txt"}})
    catalog = DataCatalog.from_config(cfg, base_dir=tmp_path)
    assert catalog.get("x").path == str(tmp_path / "d" / "x.txt")


def test_importing_the_catalog_imports_nothing_heavy() -> None:
    code = (
        "import sys, tane.pipeline.catalog, tane.pipeline.datasets;"
        "print([m for m in ('pandas', 'fsspec', 'sqlalchemy', 'httpx', 'yaml', 'omegaconf',"
        " 'pyarrow') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
