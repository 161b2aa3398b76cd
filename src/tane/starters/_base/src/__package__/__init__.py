"""The code of the project: its pipelines and their nodes."""
