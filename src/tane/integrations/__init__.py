"""Integrations: tane inside other tools' own entry points and training loops.

Each integration is a submodule that imports its tool, so importing this
package imports none of them: ``from tane.integrations.hydra import TaneCallback``.
"""
