"""Nodes of the data processing pipeline: raw flowers -> model input table.

pandas and scikit-learn are imported inside the functions: a run whose results
are all cached never calls them, so it never pays for those imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

#: The four measurements of a flower, in centimetres in the raw data.
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
#: The column naming the species: setosa, versicolor or virginica.
SPECIES = "species"
#: The column of the species as an integer, the label the model learns.
TARGET = "target"


def preprocess(raw_iris: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """Return the flowers without outliers, their measurements scaled to [0, 1].

    Outliers are found by an isolation forest on the four measurements.

    Args:
        raw_iris: One flower a row: the four measurements and the species.
        params: ``preprocess:`` of conf/config.yaml: ``contamination`` (the share
            of flowers to drop) and ``random_state``.
    """
    from sklearn.ensemble import IsolationForest
    from sklearn.preprocessing import MinMaxScaler

    forest = IsolationForest(
        contamination=params["contamination"], random_state=params["random_state"]
    )
    inliers = forest.fit_predict(raw_iris[FEATURES]) == 1
    kept: pd.DataFrame = raw_iris.loc[inliers].reset_index(drop=True)
    kept[FEATURES] = MinMaxScaler().fit_transform(kept[FEATURES])
    return kept


def create_model_input(preprocessed_iris: pd.DataFrame) -> pd.DataFrame:
    """Return the measurements, the species and ``target``: the species as an integer.

    Species are numbered in alphabetical order (setosa 0, versicolor 1,
    virginica 2); the ``species`` column stays, so the table says what each
    number means.
    """
    codes = {name: code for code, name in enumerate(sorted(preprocessed_iris[SPECIES].unique()))}
    table: pd.DataFrame = preprocessed_iris[[*FEATURES, SPECIES]].copy()
    table[TARGET] = table[SPECIES].map(codes).astype("int64")
    return table
