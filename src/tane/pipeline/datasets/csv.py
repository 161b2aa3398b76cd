"""CSV files as pandas DataFrames (Kedro's ``pandas.CSVDataset``)."""

from __future__ import annotations

from typing import Any, BinaryIO, ClassVar

from tane.pipeline.datasets.base import FileDataset


class CSVDataset(FileDataset):
    """A pandas DataFrame in a CSV file.

    ``load_args`` go to ``pandas.read_csv``, ``save_args`` to ``DataFrame.to_csv``
    (default ``index: false``, as in Kedro).

    Example:
        >>> import pandas as pd, tempfile, os
        >>> ds = CSVDataset(os.path.join(tempfile.mkdtemp(), "iris.csv"))
        >>> ds.save(pd.DataFrame({"petal": [1.4, 4.7]}))
        >>> ds.load()["petal"].tolist()
        [1.4, 4.7]
    """

    type_name: ClassVar[str] = "pandas.CSVDataset"
    DEFAULT_SAVE_ARGS: ClassVar[dict[str, Any]] = {"index": False}

    def _validate(self, data: Any) -> None:
        self._expect(data, "to_csv", "a pandas DataFrame")

    def _read(self, fh: BinaryIO) -> Any:
        import pandas as pd

        return pd.read_csv(fh, **self._load_args)

    def _write(self, data: Any, fh: BinaryIO) -> None:
        data.to_csv(fh, **self._save_args)
