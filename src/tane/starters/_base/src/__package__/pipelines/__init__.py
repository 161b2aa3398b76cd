"""The pipelines of the project.

Each pipeline is a folder here whose ``pipeline.py`` has a ``create_pipeline()``
function; ``tane.yaml`` says which of them ``tane run`` runs by default.
"""
