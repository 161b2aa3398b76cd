"""Data held in memory (Kedro's ``MemoryDataset``)."""

from __future__ import annotations

import copy
import sys
from collections.abc import Mapping
from typing import Any, ClassVar

from tane.errors import DatasetError
from tane.pipeline.datasets.base import Dataset

_EMPTY: Any = object()
COPY_MODES = ("deepcopy", "copy", "assign")


def infer_copy_mode(data: Any) -> str:
    """Return Kedro's copy mode for ``data``: ``copy`` for pandas and numpy objects,
    ``assign`` for Spark and Ibis tables, else ``deepcopy``.
    """
    module = type(data).__module__.split(".", 1)[0]
    if module in ("pyspark", "ibis"):
        return "assign"
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(data, pandas.DataFrame | pandas.Series):
        return "copy"
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(data, numpy.ndarray):
        return "copy"
    return "deepcopy"


class MemoryDataset(Dataset):
    """Data kept in this process; loads return a copy, so callers cannot change it.

    Args:
        data: Initial data (by default the dataset is empty; ``None`` is data).
        copy_mode: How data is copied on save and on load: ``deepcopy``,
            ``copy`` (``data.copy()``) or ``assign`` (no copy). By default,
            as in Kedro: ``copy`` for pandas and numpy objects, ``assign`` for
            Spark and Ibis tables, ``deepcopy`` for the rest, and ``assign`` for
            objects that cannot be deep-copied (locks, generators, models that hold
            a connection).
        layer: The catalog's layer.
        metadata: Free-form, ignored.
        name: The catalog name, for messages.

    Example:
        >>> ds = MemoryDataset()
        >>> ds.save({"a": [1, 2]})
        >>> loaded = ds.load()
        >>> loaded["a"].append(3)
        >>> ds.load()
        {'a': [1, 2]}
    """

    type_name: ClassVar[str] = "MemoryDataset"

    def __init__(
        self,
        data: Any = _EMPTY,
        copy_mode: str | None = None,
        *,
        layer: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(layer=layer, metadata=metadata, name=name)
        if copy_mode is not None and copy_mode not in COPY_MODES:
            raise DatasetError(
                f"{self._label()}: copy_mode {copy_mode!r} is not one of {', '.join(COPY_MODES)}"
            )
        self._copy_mode = copy_mode
        self._data: Any = _EMPTY
        if data is not _EMPTY:
            self.save(data)

    def _copy(self, data: Any) -> Any:
        mode = self._copy_mode or infer_copy_mode(data)
        if mode == "assign":
            return data
        if mode == "copy":
            if not callable(getattr(data, "copy", None)):
                raise DatasetError(
                    f"{self._label()}: copy_mode 'copy' needs data with a copy() method, "
                    f"not {type(data).__name__}"
                )
            return data.copy()
        try:
            return copy.deepcopy(data)
        except Exception as exc:
            if self._copy_mode is None:
                # Kedro's default for what cannot be copied: keep the object itself.
                return data
            self._fail(f"cannot deep-copy {type(data).__name__} (try copy_mode: assign)", exc)

    def load(self) -> Any:
        if self._data is _EMPTY:
            raise DatasetError(f"{self._label()}: has not been saved yet")
        return self._copy(self._data)

    def save(self, data: Any) -> None:
        self._data = self._copy(data)

    def exists(self) -> bool:
        return self._data is not _EMPTY

    def release(self) -> None:
        self._data = _EMPTY

    def _describe(self) -> dict[str, Any]:
        data = None if self._data is _EMPTY else f"<{type(self._data).__name__}>"
        return {"data": data, "copy_mode": self._copy_mode}
