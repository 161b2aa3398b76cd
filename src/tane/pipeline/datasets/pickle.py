"""Pickled Python objects (Kedro's ``pickle.PickleDataset``)."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType
from typing import Any, BinaryIO, ClassVar

from tane.errors import DatasetError
from tane.pipeline.datasets.base import FileDataset

_INSTALL = {"joblib": "joblib", "cloudpickle": "cloudpickle", "dill": "dill"}


class PickleDataset(FileDataset):
    """Any Python object in a pickle file.

    Args:
        filepath: Where the file is (see :class:`FileDataset`).
        backend: The module that pickles: ``pickle`` (default), ``joblib``,
            ``cloudpickle``, or any importable module with ``load(file)`` and
            ``dump(obj, file)`` (``dill`` ...).
        **kwargs: As for :class:`~tane.pipeline.datasets.base.FileDataset`;
            ``load_args`` and ``save_args`` go to the backend's load and dump.

    Only load pickles you trust: loading one can run any code.
    """

    type_name: ClassVar[str] = "pickle.PickleDataset"

    def __init__(self, filepath: str, *, backend: str = "pickle", **kwargs: Any) -> None:
        super().__init__(filepath, **kwargs)
        if not isinstance(backend, str) or not backend:
            raise DatasetError(f"{self._label()}: backend must be a module name such as 'joblib'")
        try:
            spec = importlib.util.find_spec(backend)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            package = _INSTALL.get(backend, backend)
            raise DatasetError(
                f"{self._label()}: pickle backend {backend!r} is not installed: "
                f"pip install {package}"
            )
        self._backend = backend

    def _module(self) -> ModuleType:
        try:
            module = importlib.import_module(self._backend)
        except ImportError as exc:
            raise DatasetError(
                f"{self._label()}: pickle backend {self._backend!r} cannot be imported "
                f"({exc}): pip install {_INSTALL.get(self._backend, self._backend)}"
            ) from exc
        if not all(callable(getattr(module, f, None)) for f in ("load", "dump")):
            raise DatasetError(
                f"{self._label()}: pickle backend {self._backend!r} has no load() and "
                "dump(): use pickle, joblib or cloudpickle"
            )
        return module

    def _validate(self, data: Any) -> None:
        self._module()

    def _read(self, fh: BinaryIO) -> Any:
        return self._module().load(fh, **self._load_args)

    def _write(self, data: Any, fh: BinaryIO) -> None:
        self._module().dump(data, fh, **self._save_args)

    def _describe(self) -> dict[str, Any]:
        return {**super()._describe(), "backend": self._backend}
