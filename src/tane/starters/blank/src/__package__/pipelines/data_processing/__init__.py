"""The first pipeline of the project: add its nodes to nodes.py and pipeline.py."""
