"""Kedro's config layout: ``conf/base`` + ``conf/<env>``, parameters in ``parameters*.yml``.

Kedro projects keep parameters in ``conf/base/parameters.yml``,
``parameters_<pipeline>.yml`` and ``parameters/**.yml``, with an environment
folder (``conf/local`` by default) laid over ``base``. This composer reads
them into one config and then behaves like any tane config: the same override
grammar (Hydra's), the same ``-m`` expansion, the same record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tane.config._compose import Composer
from tane.errors import InvalidInput

if TYPE_CHECKING:
    from omegaconf import DictConfig

PATTERNS = ("parameters.yml", "parameters.yaml", "parameters_*.yml", "parameters_*.yaml")


def parameter_files(conf_dir: Path, env: str | None) -> list[Path]:
    """The parameter files of ``base`` then ``env``, in merge order."""
    files: list[Path] = []
    for folder in [conf_dir / "base", *([conf_dir / env] if env else [])]:
        found: set[Path] = set()
        for pattern in PATTERNS:
            found.update(folder.glob(pattern))
        sub = folder / "parameters"
        if sub.is_dir():
            found.update(sub.rglob("*.yml"))
            found.update(sub.rglob("*.yaml"))
        files.extend(sorted(found))
    return files


@dataclass
class ParamsComposer(Composer):
    """A Composer over Kedro-style parameter files instead of a Hydra config folder.

    Files of one folder must not repeat a top-level key (as in Kedro); the
    environment's files are merged over ``base``.
    """

    files: list[Path] = field(default_factory=list)
    conf_dir: Path | None = None

    def _compose_hydra(self, overrides: list[str]) -> DictConfig:
        from omegaconf import OmegaConf

        if overrides:
            raise InvalidInput(
                f"{overrides[0]!r}: this project has no config groups (parameters come from "
                "conf/base/parameters*.yml); override values instead, e.g. model.lr=0.1"
            )
        merged: Any = OmegaConf.create({})
        by_folder: dict[Path, dict[str, Path]] = {}
        for path in self.files:
            try:
                loaded = OmegaConf.load(path)
            except Exception as exc:
                raise InvalidInput(f"{path} is not valid YAML: {exc}") from None
            if loaded is None or not isinstance(loaded, type(merged)):
                if loaded in (None, {}):
                    continue
                raise InvalidInput(f"{path} must be a mapping of parameters")
            seen = by_folder.setdefault(self._env_folder(path), {})
            for key in loaded:
                other = seen.get(str(key))
                if other is not None:
                    raise InvalidInput(
                        f"parameter {key!r} is defined in both {other} and {path}: "
                        "keep one (an environment folder may override base)"
                    )
                seen[str(key)] = path
            merged = OmegaConf.merge(merged, loaded)
        result: DictConfig = merged
        return result

    def _env_folder(self, path: Path) -> Path:
        for parent in path.parents:
            if parent.parent == self.conf_dir:
                return parent
        return path.parent


def params_composer(conf_dir: Path, env: str | None, job_name: str) -> ParamsComposer:
    return ParamsComposer(
        None, None, job_name, files=parameter_files(conf_dir, env), conf_dir=conf_dir
    )


__all__ = ["PATTERNS", "ParamsComposer", "parameter_files", "params_composer"]


@dataclass
class PlainComposer(Composer):
    """A config folder whose primary file needs nothing of Hydra, composed without it.

    When the primary file has no defaults list (or only ``_self_``), no ``hydra:``
    node, no ``${hydra:...}`` interpolation and no ``@package`` header, Hydra's
    composition is exactly loading the file. With no overrides, this composer
    does that with OmegaConf alone and skips importing Hydra (about a tenth of
    a second: most of a cached pipeline run). Overrides go through Hydra as usual.
    """

    def compose(self, overrides: Sequence[str]) -> DictConfig:
        if overrides:
            return super().compose(overrides)
        from omegaconf import DictConfig, OmegaConf

        assert self.config_dir is not None and self.config_name is not None
        path = Path(self.config_dir) / f"{self.config_name}.yaml"
        try:
            cfg = OmegaConf.load(path)
        except Exception as exc:
            raise InvalidInput(f"{path} is not valid YAML: {exc}") from None
        if not isinstance(cfg, DictConfig):
            raise InvalidInput(f"{path} must be a mapping")
        if "defaults" in cfg:
            del cfg["defaults"]
        OmegaConf.set_struct(cfg, True)  # as Hydra returns it: unknown keys are errors
        return cfg


def plain_config(path: Path) -> bool:
    """True if composing ``path`` with Hydra would only load it (see PlainComposer)."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return False
    if "${hydra:" in text or "${now:" in text or "@package" in text:
        return False
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return False  # Hydra's own message, then
    if not isinstance(data, dict) or "hydra" in data:
        return False
    defaults = data.get("defaults")
    return defaults is None or defaults == ["_self_"]
