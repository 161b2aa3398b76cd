"""The data science pipeline: ``model_input_table`` -> ``classifier`` -> ``metrics``."""

from __future__ import annotations

from typing import Any

from tane.pipeline import Pipeline, node

from .nodes import evaluate_model, split_data, train_model


def create_pipeline(**kwargs: Any) -> Pipeline:
    """Return the pipeline that splits the data, trains the classifier and evaluates it."""
    return Pipeline(
        [
            node(
                split_data,
                inputs=["model_input_table", "params:split"],
                outputs=["X_train", "X_test", "y_train", "y_test"],
                name="split_data",
                tags=["training"],
            ),
            node(
                train_model,
                inputs=["X_train", "y_train", "params:model"],
                outputs="classifier",
                name="train_model",
                tags=["training"],
            ),
            node(
                evaluate_model,
                inputs=["classifier", "X_test", "y_test"],
                outputs="metrics",
                name="evaluate_model",
                tags=["evaluation"],
            ),
        ]
    )
