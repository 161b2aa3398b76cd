"""Parquet files as pandas DataFrames (Kedro's ``pandas.ParquetDataset``)."""

from __future__ import annotations

import importlib
from typing import Any, BinaryIO, ClassVar

from tane.errors import DatasetError
from tane.pipeline.datasets.base import FileDataset


class ParquetDataset(FileDataset):
    """A pandas DataFrame in a Parquet file (needs pyarrow: ``pip install 'tane[parquet]'``).

    ``load_args`` go to ``pandas.read_parquet``, ``save_args`` to
    ``DataFrame.to_parquet``.
    """

    type_name: ClassVar[str] = "pandas.ParquetDataset"

    def _engine(self, args: dict[str, Any]) -> None:
        if args.get("engine", "auto") in ("auto", "pyarrow"):
            try:
                importlib.import_module("pyarrow")
            except ImportError:
                raise DatasetError(
                    f"{self._label()}: Parquet needs pyarrow, which is not installed: "
                    "pip install 'tane[parquet]'"
                ) from None

    def _validate(self, data: Any) -> None:
        self._expect(data, "to_parquet", "a pandas DataFrame")
        self._engine(self._save_args)

    def _prepare_load(self) -> None:
        self._engine(self._load_args)

    def _read(self, fh: BinaryIO) -> Any:
        import pandas as pd

        return pd.read_parquet(fh, **self._load_args)

    def _write(self, data: Any, fh: BinaryIO) -> None:
        data.to_parquet(fh, **self._save_args)
