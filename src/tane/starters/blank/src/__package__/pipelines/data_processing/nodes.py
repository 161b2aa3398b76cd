"""Nodes of the data processing pipeline: plain functions from datasets to datasets.

For example::

    def clean(raw_data: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
        return raw_data.dropna()

Import heavy libraries (pandas, scikit-learn) inside the functions: a run whose
results are all cached never calls them, so it never pays for those imports.
"""
