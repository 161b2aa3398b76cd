"""Nodes of the data science pipeline: split, train, evaluate.

pandas, scikit-learn and LightGBM are imported inside the functions: a run whose
results are all cached never calls them, so it never pays for those imports.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

#: The columns of the model input table the classifier learns from.
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
#: The column it learns to predict: the species as an integer.
TARGET = "target"


def split_data(
    model_input_table: pd.DataFrame, params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    """Return ``X_train, X_test, y_train, y_test``, split with the same share of each species.

    Args:
        model_input_table: The measurements and the ``target`` column.
        params: ``split:`` of conf/config.yaml: ``test_size`` (the share of rows
            held out) and ``random_state``.
    """
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(
        model_input_table[FEATURES],
        model_input_table[TARGET],
        test_size=params["test_size"],
        random_state=params["random_state"],
        stratify=model_input_table[TARGET],
    )
    return x_train, x_test, y_train, y_test


def train_model(x_train: pd.DataFrame, y_train: pd.Series, params: dict[str, Any]) -> Any:
    """Return a gradient-boosted classifier fitted on the training set.

    LightGBM's ``LGBMClassifier`` if LightGBM is installed, else scikit-learn's
    ``HistGradientBoostingClassifier`` with the same settings.

    Args:
        x_train: The measurements of the training flowers.
        y_train: Their species as integers.
        params: ``model:`` of conf/config.yaml: ``learning_rate``,
            ``n_estimators``, ``num_leaves``, ``min_child_samples`` and ``random_state``.
    """
    classifier: Any
    try:
        from lightgbm import LGBMClassifier
    except ImportError:
        from sklearn.ensemble import HistGradientBoostingClassifier

        logger.info("LightGBM is not installed: training a HistGradientBoostingClassifier")
        classifier = HistGradientBoostingClassifier(
            learning_rate=params["learning_rate"],
            max_iter=params["n_estimators"],
            max_leaf_nodes=params["num_leaves"],
            min_samples_leaf=params.get("min_child_samples", 20),
            random_state=params["random_state"],
        )
    else:
        logger.info("training a LightGBM LGBMClassifier")
        classifier = LGBMClassifier(
            learning_rate=params["learning_rate"],
            n_estimators=params["n_estimators"],
            num_leaves=params["num_leaves"],
            min_child_samples=params.get("min_child_samples", 20),
            random_state=params["random_state"],
            verbose=-1,
        )
    return classifier.fit(x_train, y_train)


def evaluate_model(classifier: Any, x_test: pd.DataFrame, y_test: pd.Series) -> dict[str, float]:
    """Return the accuracy and macro F1 of the classifier on the test set.

    They are also logged as metrics of the run when there is one (``tane run``
    starts one), so ``tane runs ls`` shows them; called from a notebook or a
    test without a run, the function only returns them.
    """
    from sklearn.metrics import accuracy_score, f1_score

    predicted = classifier.predict(x_test)
    metrics = {
        "accuracy": float(accuracy_score(y_test, predicted)),
        "f1_macro": float(f1_score(y_test, predicted, average="macro")),
    }
    logger.info("accuracy %.3f, macro F1 %.3f", metrics["accuracy"], metrics["f1_macro"])
    _log_to_run(metrics)
    return metrics


def _log_to_run(metrics: dict[str, float]) -> None:
    """Log the metrics to the active run, if there is one (``tane run`` starts one)."""
    import tane

    if tane.active_run() is None:
        return
    for key, value in metrics.items():
        tane.log_metric(key, value)
