"""Text files (Kedro's ``text.TextDataset``)."""

from __future__ import annotations

from typing import Any, BinaryIO, ClassVar

from tane.errors import DatasetError
from tane.pipeline.datasets.base import FileDataset, read_text


class TextDataset(FileDataset):
    """A string in a text file, byte for byte (no newline translation).

    The encoding is UTF-8 unless ``fs_args: {open_args_load: {encoding: ...}}``
    (and ``open_args_save``) say otherwise.
    """

    type_name: ClassVar[str] = "text.TextDataset"

    def _validate(self, data: Any) -> None:
        if not isinstance(data, str):
            raise DatasetError(
                f"{self._label()}: cannot save {type(data).__name__}: expected a str"
            )

    def _read(self, fh: BinaryIO) -> str:
        return read_text(fh, self._text_load)

    def _write(self, data: Any, fh: BinaryIO) -> None:
        args = self._text_save
        fh.write(data.encode(args.get("encoding") or "utf-8", args.get("errors") or "strict"))
