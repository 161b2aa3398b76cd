"""Datasets: data a pipeline loads and saves, in files (any fsspec URL), databases, APIs or memory.

Each type is its own module; pandas, fsspec, SQLAlchemy, httpx and PyYAML are
imported only when a dataset of that type loads or saves. See ``docs/catalog.md``.
"""

from tane.pipeline.datasets._types import (
    KEDRO_TYPES,
    TYPES,
    dataset_from_config,
    known_type_names,
    resolve_type,
)
from tane.pipeline.datasets.api import APIDataset
from tane.pipeline.datasets.base import (
    VERSION_FORMAT,
    Dataset,
    DatasetLike,
    FileDataset,
    ObjectDataset,
    generate_version,
)
from tane.pipeline.datasets.csv import CSVDataset
from tane.pipeline.datasets.json import JSONDataset, PandasJSONDataset
from tane.pipeline.datasets.memory import MemoryDataset
from tane.pipeline.datasets.parquet import ParquetDataset
from tane.pipeline.datasets.partitioned import PartitionedDataset
from tane.pipeline.datasets.pickle import PickleDataset
from tane.pipeline.datasets.sql import SQLQueryDataset, SQLTableDataset
from tane.pipeline.datasets.text import TextDataset
from tane.pipeline.datasets.yaml import YAMLDataset

__all__ = [
    "KEDRO_TYPES",
    "TYPES",
    "VERSION_FORMAT",
    "APIDataset",
    "CSVDataset",
    "Dataset",
    "DatasetLike",
    "FileDataset",
    "JSONDataset",
    "MemoryDataset",
    "ObjectDataset",
    "PandasJSONDataset",
    "ParquetDataset",
    "PartitionedDataset",
    "PickleDataset",
    "SQLQueryDataset",
    "SQLTableDataset",
    "TextDataset",
    "YAMLDataset",
    "dataset_from_config",
    "generate_version",
    "known_type_names",
    "resolve_type",
]
