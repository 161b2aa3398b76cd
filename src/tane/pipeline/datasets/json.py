"""JSON files of plain data (``json.JSONDataset``) or of DataFrames (``pandas.JSONDataset``)."""

from __future__ import annotations

import json
from typing import Any, BinaryIO, ClassVar

from tane.pipeline.datasets.base import FileDataset, read_text, text_writer


class JSONDataset(FileDataset):
    """Plain Python data (dicts, lists, strings, numbers, booleans, None) in a JSON file.

    ``load_args`` go to ``json.loads``, ``save_args`` to ``json.dump`` (default
    ``indent: 2``, as in Kedro). Tuples come back as lists.
    """

    type_name: ClassVar[str] = "json.JSONDataset"
    DEFAULT_SAVE_ARGS: ClassVar[dict[str, Any]] = {"indent": 2}

    def _read(self, fh: BinaryIO) -> Any:
        return json.loads(read_text(fh, self._text_load), **self._load_args)

    def _write(self, data: Any, fh: BinaryIO) -> None:
        with text_writer(fh, self._text_save) as out:
            json.dump(data, out, **self._save_args)


class PandasJSONDataset(FileDataset):
    """A pandas DataFrame in a JSON file (Kedro's ``pandas.JSONDataset``).

    ``load_args`` go to ``pandas.read_json``, ``save_args`` to ``DataFrame.to_json``.
    """

    type_name: ClassVar[str] = "pandas.JSONDataset"

    def _validate(self, data: Any) -> None:
        self._expect(data, "to_json", "a pandas DataFrame or Series")

    def _read(self, fh: BinaryIO) -> Any:
        import pandas as pd

        return pd.read_json(fh, **self._load_args)

    def _write(self, data: Any, fh: BinaryIO) -> None:
        data.to_json(fh, **self._save_args)
