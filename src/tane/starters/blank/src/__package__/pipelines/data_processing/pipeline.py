"""The data processing pipeline: no nodes yet."""

from __future__ import annotations

from typing import Any

from tane.pipeline import Pipeline


def create_pipeline(**kwargs: Any) -> Pipeline:
    """Return the pipeline, empty until nodes are added.

    For example, with ``clean`` in nodes.py (``from tane.pipeline import node``)::

        return Pipeline(
            [node(clean, inputs=["raw_data", "params:clean"], outputs="clean_data")]
        )
    """
    return Pipeline([])
