"""Errors tane raises. Each names the thing, the cause and the fix."""

from __future__ import annotations


class TaneError(Exception):
    """Base class of every error tane raises on purpose."""


class StoreError(TaneError):
    """The store cannot be opened or written (unreachable, corrupt, locked)."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or is busy right now; the same call may work later."""


class SchemaVersionError(StoreError):
    """The store's schema is newer than this tane, or older and not migrated."""


class NotAuthenticated(TaneError):
    """A server with auth on got no credentials, or ones it does not accept (401)."""


class PermissionDenied(TaneError):
    """The caller is known but lacks the permission the request needs (403)."""


class TooManyAttempts(TaneError):
    """Too many failed logins from one client or for one user; wait and retry (429)."""

    def __init__(self, message: str, retry_after: int = 60) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class NotFound(TaneError, LookupError):
    """A run, experiment or artifact does not exist."""


class RunNotFound(NotFound):
    """No run has this id."""


class ExperimentNotFound(NotFound):
    """No experiment has this name or id."""


class InvalidInput(TaneError, ValueError):
    """A key, value, path or argument is not acceptable."""


class ParamConflict(InvalidInput):
    """A param was logged again with a different value."""


class InvalidFilter(InvalidInput):
    """A search filter or order-by clause does not parse.

    Attributes:
        text: The filter as given.
        position: 0-based character offset of the problem, or None.
    """

    def __init__(self, message: str, text: str = "", position: int | None = None) -> None:
        self.text = text
        self.position = position
        if position is not None and text:
            caret = " " * position + "^"
            message = f"{message}\n  {text}\n  {caret}"
        super().__init__(message)


class NoActiveRun(TaneError):
    """A fluent logging call was made with no run started."""


class PipelineError(TaneError):
    """A pipeline is malformed (a cycle, a missing input, two writers of one output)
    or a node failed."""


class DatasetError(TaneError):
    """A dataset cannot be configured, loaded or saved (names the dataset and its path)."""


def is_pruned(exc: BaseException | None) -> bool:
    """Whether ``exc`` is, or was caused by, a TrialPruned (tane's or Optuna's).

    A pipeline node that raises ``tane.TrialPruned()`` reaches the sweep wrapped
    in NodeFailed (its ``cause``); the trial is pruned all the same.
    """
    seen = 0
    while exc is not None and seen < 8:
        if type(exc).__name__ == "TrialPruned":
            return True
        exc = getattr(exc, "cause", None) or exc.__cause__
        seen += 1
    return False
