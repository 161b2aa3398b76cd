"""Configs: Hydra config directories composed as Hydra would, and the apps that use them."""

from tane.config._compose import Composer, compose, resolve_config_dir

__all__ = ["Composer", "compose", "resolve_config_dir"]
