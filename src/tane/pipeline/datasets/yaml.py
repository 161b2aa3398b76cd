"""YAML files of plain Python data (Kedro's ``yaml.YAMLDataset``)."""

from __future__ import annotations

from typing import Any, BinaryIO, ClassVar

from tane.pipeline.datasets.base import FileDataset, read_text, text_writer


class YAMLDataset(FileDataset):
    """Plain Python data in a YAML file, read and written with PyYAML's safe loader and dumper.

    ``save_args`` go to ``yaml.safe_dump`` (default ``default_flow_style: false``,
    ``sort_keys: false``). Tuples come back as lists; objects other than plain data
    are refused. Non-ASCII characters are written escaped, as in Kedro:
    ``allow_unicode: true`` writes them as they are, but PyYAML then reads some
    (such as U+0085) back as line breaks.
    """

    type_name: ClassVar[str] = "yaml.YAMLDataset"
    DEFAULT_SAVE_ARGS: ClassVar[dict[str, Any]] = {
        "default_flow_style": False,
        "sort_keys": False,
    }

    def _read(self, fh: BinaryIO) -> Any:
        import yaml

        return yaml.safe_load(read_text(fh, self._text_load))

    def _write(self, data: Any, fh: BinaryIO) -> None:
        import yaml

        with text_writer(fh, self._text_save) as out:
            yaml.safe_dump(data, out, **self._save_args)
