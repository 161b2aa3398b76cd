"""The active config: the one ``tane.capture`` reads and ``@tane.main`` sets.

A ``contextvars.ContextVar`` holds it, so asyncio tasks and threads started with a
copied context (``contextvars.copy_context().run``, ``asyncio.to_thread``) see the
config of the code that started them. A plain ``threading.Thread`` starts with an
empty context; for those, the config entered most recently and still in use
anywhere in the process is the answer (the *process default*), so worker threads
of a ``@tane.main`` task see the task's config.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omegaconf import DictConfig

_UNSET: Any = object()

# _UNSET: this context never entered use_config; fall back to the process default.
# None: it left its use_config blocks, so it has no config of its own.
_current: ContextVar[DictConfig | None] = ContextVar("tane.config.active", default=_UNSET)

# Configs in use, most recently entered last: (entry token, config). Entries are
# removed by identity on exit, so blocks that end out of order (tasks, threads)
# leave the right default behind.
_in_use: list[tuple[object, DictConfig]] = []
_lock = threading.Lock()


def active_config() -> DictConfig | None:
    """Return the config of the innermost ``use_config`` block, or None outside any.

    In a thread started without a copy of the context (a plain
    ``threading.Thread``), this is the config entered most recently and still
    in use in the process.
    """
    cfg = _current.get()
    if cfg is not _UNSET:
        return cfg
    try:
        return _in_use[-1][1]
    except IndexError:
        return None


@contextmanager
def use_config(cfg: DictConfig | Mapping[str, Any]) -> Iterator[DictConfig]:
    """Make ``cfg`` the active config for the duration of the ``with`` block.

    Blocks nest: leaving one restores the config that was active before it. A
    mapping is turned into a ``DictConfig`` first.

    Args:
        cfg: The config, usually the composed one that ``@tane.main`` passes.

    Yields:
        The active config (``cfg`` itself when it is a ``DictConfig``).
    """
    from omegaconf import DictConfig, OmegaConf

    config = cfg if isinstance(cfg, DictConfig) else OmegaConf.create(dict(cfg))
    entry = object()
    with _lock:
        _in_use.append((entry, config))
    token = _current.set(config)
    try:
        yield config
    finally:
        previous = token.old_value
        _current.reset(token)
        if previous is token.MISSING:
            # Leaving the outermost block: this context has no config now, and must
            # not fall back to another thread's or task's config still in use.
            _current.set(None)
        with _lock:
            for index in range(len(_in_use) - 1, -1, -1):
                if _in_use[index][0] is entry:
                    del _in_use[index]
                    break
