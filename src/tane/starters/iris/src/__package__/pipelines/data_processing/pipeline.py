"""The data processing pipeline: ``raw_iris`` -> ``preprocessed_iris`` -> ``model_input_table``."""

from __future__ import annotations

from typing import Any

from tane.pipeline import Pipeline, node

from .nodes import create_model_input, preprocess


def create_pipeline(**kwargs: Any) -> Pipeline:
    """Return the pipeline that cleans the raw flowers and builds the model input table."""
    return Pipeline(
        [
            node(
                preprocess,
                inputs=["raw_iris", "params:preprocess"],
                outputs="preprocessed_iris",
                name="preprocess",
                tags=["preprocessing"],
            ),
            node(
                create_model_input,
                inputs="preprocessed_iris",
                outputs="model_input_table",
                name="create_model_input",
                tags=["preprocessing"],
            ),
        ]
    )
