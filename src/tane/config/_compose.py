"""Composition of Hydra config directories with hydra-core's own compose API.

tane never re-implements Hydra's grammar: overrides are parsed by Hydra's
OverridesParser, defaults lists and groups are resolved by Hydra's config
loader, and value overrides are applied by Hydra's own code. What tane adds:
a process-wide lock (GlobalHydra is a singleton), one composition per
distinct set of group choices, sweep expansion for multirun (``compose``
refuses sweep overrides), clear errors, and no change of working directory.
"""

from __future__ import annotations

import copy
import inspect
import itertools
import logging
import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tane.errors import InvalidInput

if TYPE_CHECKING:
    from hydra.core.override_parser.types import Override
    from omegaconf import DictConfig

log = logging.getLogger("tane")

_LOCK = threading.RLock()
#: Jobs one multirun may expand to: ``range(0, 1e9)`` is a slip of the keyboard,
#: and listing it would exhaust the memory before the first job ran.
MAX_JOBS = 100_000
# Hydra groups that select Hydra's own plugins; tane runs jobs itself.
_PLUGIN_GROUPS = ("hydra/launcher", "hydra/sweeper")


def resolve_config_dir(config_path: str | os.PathLike[str] | None, base: str | None) -> str | None:
    """Return the absolute config folder: ``config_path`` relative to ``base`` (a folder).

    Raises InvalidInput naming the folder looked at when it does not exist.
    """
    if config_path is None:
        return None
    path = Path(config_path).expanduser()
    if not path.is_absolute():
        path = Path(base or os.getcwd()) / path
    path = path.resolve()
    if not path.is_dir():
        raise InvalidInput(
            f"config directory {str(config_path)!r} not found: looked at {path}; "
            "config_path is relative to the script's file (or absolute)"
        )
    return str(path)


def _caller_dir(depth: int) -> str | None:
    frame = inspect.currentframe()
    for _ in range(depth + 1):
        if frame is None:
            return None
        frame = frame.f_back
    if frame is None:
        return None
    filename = frame.f_code.co_filename
    if filename.startswith("<"):
        return os.getcwd()
    return str(Path(filename).resolve().parent)


def compose(
    config_path: str | os.PathLike[str] | None = None,
    config_name: str | None = None,
    overrides: Sequence[str] = (),
    *,
    job_name: str = "app",
) -> DictConfig:
    """Compose a config directory as Hydra would; return the DictConfig.

    Args:
        config_path: The config folder, relative to the calling file (or absolute).
        config_name: The primary config file, without ``.yaml``.
        overrides: Hydra overrides such as ``model=catboost``, ``+extra=1``, ``~x``.
        job_name: What ``${hydra:job.name}`` resolves to.

    Raises:
        InvalidInput: A missing folder, an unknown group option, a malformed
            override, or a sweep override (use ``-m`` with ``@tane.main``).
    """
    config_dir = resolve_config_dir(config_path, _caller_dir(1))
    return Composer(config_dir, config_name, job_name).compose(list(overrides))


@dataclass
class Composer:
    """Composes the configs of one app, caching one composition per group choice."""

    config_dir: str | None
    config_name: str | None
    job_name: str = "app"
    _cache: dict[tuple[str, ...], Any] = field(default_factory=dict, repr=False)
    _warned: bool = field(default=False, repr=False)

    # -- parsing -----------------------------------------------------------------

    def parse(self, overrides: Sequence[str]) -> list[Override]:
        """Parse overrides with Hydra's own parser; errors carry Hydra's message."""
        from hydra.core.override_parser.overrides_parser import OverridesParser
        from hydra.errors import HydraException, OverrideParseException

        with self._initialized() as loader:
            parser = OverridesParser.create(config_loader=loader)
            try:
                return list(parser.parse_overrides(list(overrides)))
            except OverrideParseException as exc:
                raise InvalidInput(f"malformed override: {exc}") from None
            except HydraException as exc:
                raise InvalidInput(f"override: {exc}") from None

    def expand(self, overrides: Sequence[str]) -> list[list[str]]:
        """Expand sweep overrides into the cartesian product of jobs, as Hydra's multirun does.

        ``a=1,2`` gives two values, ``range(1,4)`` gives 1, 2, 3 (the end is
        excluded), ``choice(a,b)`` and ``glob(*)`` over a group's options work;
        continuous sweeps (``interval``) need a search, not a grid.
        """
        lists: dict[str, list[str]] = {}
        jobs = 1
        for override in self.parse(overrides):
            key = override.get_key_element()
            if override.is_sweep_override():
                if not override.is_discrete_sweep():
                    raise InvalidInput(
                        f"{override.input_line!r} is a continuous range: a grid (-m) needs "
                        "values to list; give a list (a=0.1,0.2) or range(), or search it "
                        "with a sweep"
                    )
                if override.is_range_sweep():
                    _check_range(override)
                values = itertools.islice(override.sweep_string_iterator(), MAX_JOBS + 1)
                lists[key] = [f"{key}={value}" for value in values]
                if not lists[key]:
                    raise InvalidInput(
                        f"{override.input_line!r} gives no value, so the multirun would run "
                        "no job: widen the range, or check the glob against the group's options"
                    )
                jobs *= len(lists[key])
                if jobs > MAX_JOBS:
                    raise InvalidInput(
                        f"{override.input_line!r} makes the multirun more than {MAX_JOBS:,} "
                        "jobs: narrow the ranges, or search the space with a sweep (--sweep)"
                    )
            else:
                lists[key] = [override.input_line or f"{key}={override.get_value_element_as_str()}"]
        return [list(combo) for combo in itertools.product(*lists.values())]

    # -- composing ---------------------------------------------------------------

    def compose(self, overrides: Sequence[str]) -> DictConfig:
        """Compose the config with these (non-sweep) overrides.

        The defaults list is composed once per distinct set of group choices;
        value overrides are applied to a copy by Hydra's own override code.
        """
        from hydra.errors import ConfigCompositionException, HydraException, MissingConfigException
        from omegaconf.errors import OmegaConfBaseException

        parsed = self.parse(overrides)
        for override in parsed:
            if override.is_sweep_override():
                raise InvalidInput(
                    f"{override.input_line!r} is a sweep: run several jobs with -m "
                    "(--multirun), or give one value"
                )
        group, value = self._split(parsed)
        key = tuple(str(o.input_line) for o in group)
        try:
            with _LOCK:
                cached = self._cache.get(key)
                if cached is None:
                    full = self._compose_hydra(list(key))
                    # The hydra node is large and read-only: HydraConfig keeps it
                    # (for ${hydra:...}); only the task config is ever copied.
                    hydra_state = _hydra_state(full)
                    cached = (_without_hydra(full), hydra_state)
                    self._cache[key] = cached
                task, hydra_state = cached
                _restore_hydra_state(hydra_state)
                cfg = copy.deepcopy(task)
                if value:
                    _apply_value_overrides(value, cfg)
        except MissingConfigException as exc:
            raise InvalidInput(_missing_config_message(exc, self)) from None
        except (ConfigCompositionException, HydraException, OmegaConfBaseException) as exc:
            raise InvalidInput(f"cannot compose the config: {_hydra_message(exc)}") from None
        except ValueError as exc:
            # Hydra's checks of an override's value (a group given a number: `model=1`).
            if isinstance(exc, InvalidInput):
                raise
            overrides_text = " ".join(str(o.input_line) for o in parsed)
            raise InvalidInput(
                f"cannot compose the config with {overrides_text}: {_hydra_message(exc)}"
            ) from None
        return cfg

    def sweeper_params(self, overrides: Sequence[str] = ()) -> dict[str, str]:
        """The ``hydra.sweeper.params`` section: a search space written for Hydra's sweepers.

        Keys are config keys, values sweep expressions (``interval(0,1)``,
        ``choice(a,b)``, ``tag(log, interval(1e-4,1))``) as Hydra's Optuna and
        Nevergrad sweepers read them.
        """
        from hydra.core.hydra_config import HydraConfig

        self.compose(overrides)
        if not HydraConfig.initialized():
            return {}
        hydra_node: Any = HydraConfig.get()
        params = hydra_node.get("sweeper", {}).get("params") or {}
        return {str(k): str(v) for k, v in params.items()}

    def group_options(self) -> dict[str, list[str]]:
        """Every config group (outside ``hydra/``) and its options, for ``--help``."""
        out: dict[str, list[str]] = {}
        with self._initialized() as loader:
            if loader is None:
                return out

            def walk(prefix: str) -> None:
                for name in sorted(loader.list_groups(prefix)):
                    full = f"{prefix}/{name}" if prefix else name
                    if full == "hydra" or full.startswith("hydra/"):
                        continue
                    options = loader.get_group_options(full)
                    if options:
                        out[full] = list(options)
                    walk(full)

            walk("")
        return out

    # -- internals -----------------------------------------------------------------

    def _split(self, parsed: list[Override]) -> tuple[list[Override], list[Override]]:
        """Group (and hydra) overrides select configs; the rest set values."""
        with self._initialized() as loader:
            groups = set()
            if loader is not None:
                for override in parsed:
                    name = override.key_or_group
                    if override.is_hydra_override() or loader.get_group_options(name):
                        groups.add(id(override))
        group = [o for o in parsed if id(o) in groups]
        value = [o for o in parsed if id(o) not in groups]
        return group, value

    def _initialized(self) -> Any:
        return _initialize(self.config_dir, self.job_name)

    def _compose_hydra(self, overrides: list[str]) -> DictConfig:
        from hydra.types import RunMode
        from omegaconf import OmegaConf

        with self._initialized() as loader:
            if loader is None:
                return OmegaConf.create({})
            # What hydra.compose() does, on tane's own loader (see _initialize).
            cfg: DictConfig = loader.load_configuration(
                config_name=self.config_name,
                overrides=overrides,
                run_mode=RunMode.RUN,
                from_shell=False,
            )
        self._warn_plugins(cfg)
        return cfg

    def _warn_plugins(self, cfg: DictConfig) -> None:
        if self._warned:
            return
        choices = cfg.get("hydra", {}).get("runtime", {}).get("choices", {})
        chosen = {g: choices.get(g) for g in _PLUGIN_GROUPS if g in choices}
        defaults = {"hydra/launcher": "basic", "hydra/sweeper": "basic"}
        odd = {g: c for g, c in chosen.items() if c not in (None, defaults[g])}
        if odd:
            self._warned = True
            names = ", ".join(f"{g}={c}" for g, c in odd.items())
            log.warning(
                "tane: the config selects Hydra plugins (%s); tane runs jobs and sweeps "
                "itself, so they are ignored",
                names,
            )


class _initialize:
    """Context: the config loader of a folder, under the process lock.

    tane builds Hydra's own ConfigLoaderImpl for the folder instead of going
    through GlobalHydra: composing leaves Hydra's process-wide state alone (user
    code may call ``hydra.initialize`` itself), and the loader, costlier to set
    up than a composition, is kept per folder.
    """

    def __init__(self, config_dir: str | None, job_name: str) -> None:
        self.config_dir = config_dir
        self.job_name = job_name

    def __enter__(self) -> Any:
        _LOCK.acquire()
        if self.config_dir is None:
            return None
        try:
            from hydra.core.utils import JobRuntime

            loader = _LOADERS.get(self.config_dir)
            if loader is None:
                from hydra import version
                from hydra._internal.config_loader_impl import ConfigLoaderImpl
                from hydra._internal.utils import create_config_search_path
                from hydra.core.utils import setup_globals

                version.setbase(None)  # Hydra 1.3 semantics, as initialize(version_base=None)
                setup_globals()  # the ${hydra:...} and ${now:...} resolvers
                loader = ConfigLoaderImpl(
                    config_search_path=create_config_search_path(self.config_dir)
                )
                _LOADERS[self.config_dir] = loader
            JobRuntime().set("name", self.job_name)  # what ${hydra:job.name} gives
            return loader
        except BaseException:
            _LOCK.release()
            raise

    def __exit__(self, *exc: object) -> None:
        _LOCK.release()


_LOADERS: dict[str, Any] = {}


def _hydra_state(cfg: DictConfig) -> Any:
    """Set HydraConfig from a composed config; return its state to restore later."""
    from hydra.core.hydra_config import HydraConfig

    if "hydra" not in cfg:
        return None
    HydraConfig.instance().set_config(cfg)
    return HydraConfig.instance().cfg


def _restore_hydra_state(state: Any) -> None:
    from hydra.core.hydra_config import HydraConfig

    if state is not None:
        HydraConfig.instance().cfg = state


def _without_hydra(cfg: DictConfig) -> DictConfig:
    from omegaconf import open_dict

    if "hydra" in cfg:
        with open_dict(cfg):
            del cfg["hydra"]
    return cfg


def _check_range(override: Override) -> None:
    """Refuse a range() that Hydra would list forever or fail on: NaN, infinite, step 0."""
    sweep: Any = override.value()
    ends = [v for v in (sweep.start, sweep.stop, sweep.step) if v is not None]
    if not all(math.isfinite(v) for v in ends):
        raise InvalidInput(f"{override.input_line!r}: a range needs finite numbers")
    if sweep.step == 0:
        raise InvalidInput(f"{override.input_line!r}: a range's step cannot be 0")
    if sweep.start is not None and sweep.stop is not None:
        count = (sweep.stop - sweep.start) / (sweep.step or 1)
        if count > MAX_JOBS:
            raise InvalidInput(
                f"{override.input_line!r} lists about {count:.3g} values, more than "
                f"{MAX_JOBS:,} jobs: narrow it, or search it with a sweep (--sweep)"
            )


def _apply_value_overrides(overrides: list[Override], cfg: DictConfig) -> None:
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    # Hydra's own code for `a.b=1`, `+x=2`, `++y=3`, `~z`: nothing re-implemented.
    ConfigLoaderImpl._apply_overrides_to_config(overrides, cfg)


def _hydra_message(exc: BaseException) -> str:
    text = str(exc).strip()
    cause = exc.__cause__
    if cause is not None and str(cause).strip() and str(cause).strip() not in text:
        text = f"{text}: {str(cause).strip()}"
    return " ".join(text.split())


def _missing_config_message(exc: BaseException, composer: Composer) -> str:
    text = _hydra_message(exc).split(" Config search path:")[0]
    if composer.config_dir is not None:
        text = f"{text} (config directory {composer.config_dir})"
    return text
