"""``tane.autolog()``: record every scikit-learn ``fit`` without changing the training code.

    tane.autolog()
    with tane.start_run():
        model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)

A fit logs the estimator's params (``get_params()``, nested ones as
``step__param``), its ``training_score`` (``score(X, y)``) and the fitted model
(``tane.log_model``, with a few rows of ``X`` as the input example). Only the
outermost fit is recorded: the fits a Pipeline, a grid search or an ensemble makes
inside its own are not. scikit-learn is imported when ``autolog()`` is called.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

from tane.integrations._training import plain_params

__all__ = ["autolog"]

log = logging.getLogger("tane")

_lock = threading.Lock()
_patched: dict[type, Callable[..., Any]] = {}  # class -> its own fit, as it was
_settings: dict[str, Any] = {}
# Fits under way in this process, in any thread: meta-estimators fit their parts in
# worker threads too (joblib's threading backend), and those must not be logged.
_fitting = [0]
_logged_runs: set[str] = set()


def autolog(
    disable: bool = False,
    *,
    log_models: bool = True,
    input_example_rows: int = 5,
    artifact_path: str = "model",
) -> None:
    """Record every scikit-learn estimator's ``fit``: params, training score and model.

    Inside an active run, the first fit logs to that run and each later one to a
    child run of it (a run holds one set of params). Outside a run, each fit gets a
    run of its own, named after the estimator, ended when ``fit`` returns.

    Args:
        disable: Undo ``autolog()``: ``fit`` is scikit-learn's own again.
        log_models: Log the fitted estimator with ``tane.log_model``.
        input_example_rows: How many rows of ``X`` to save as the model's input
            example (0: none).
        artifact_path: Where the model goes in the run's artifacts.
    """
    with _lock:
        if disable:
            for cls, original in _patched.items():
                cls.fit = original  # type: ignore[attr-defined]
            _patched.clear()
            _settings.clear()
            return
        _settings.update(
            log_models=log_models, rows=input_example_rows, artifact_path=artifact_path
        )
        for cls in _fit_owners():
            if cls not in _patched:
                original = cls.__dict__["fit"]
                _patched[cls] = original
                cls.fit = _wrap(original)  # type: ignore[attr-defined]


def _fit_owners() -> list[type]:
    """Every scikit-learn class that defines its own ``fit``."""
    from sklearn.base import BaseEstimator
    from sklearn.utils import all_estimators

    owners: dict[type, None] = {}
    for _, estimator in all_estimators():
        for cls in estimator.__mro__:
            if (
                "fit" in cls.__dict__
                and issubclass(cls, BaseEstimator)
                and cls.__module__.startswith("sklearn.")
            ):
                owners[cls] = None
    return list(owners)


def _wrap(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _lock:
            outer = _fitting[0] == 0 and bool(_settings)
            _fitting[0] += 1
        try:
            if not outer:
                return original(self, *args, **kwargs)
            return _logged_fit(original, self, args, kwargs)
        finally:
            with _lock:
                _fitting[0] -= 1

    return fit


def _logged_fit(
    original: Callable[..., Any], estimator: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    from tane.tracking.fluent import active_run, start_run

    name = type(estimator).__name__
    active = active_run()
    if active is not None and active.id not in _logged_runs:
        run = active
        own = None
    else:
        # A run of its own: outside any run, or a later fit inside one (as a child).
        own = start_run(name=name)
        run = own
    _logged_runs.add(run.id)
    try:
        run.log_params(_params(estimator))
        run.set_tags({"sklearn.estimator": f"{type(estimator).__module__}.{name}"})
        result = original(estimator, *args, **kwargs)
        x = args[0] if args else kwargs.get("X")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        if y is not None and hasattr(estimator, "score"):
            try:
                score = float(estimator.score(x, y))
            except Exception as exc:  # a courtesy: the fit itself worked
                log.warning("tane.autolog: %s.score(X, y) failed: %s", name, exc)
            else:
                run.log_metric("training_score", score)
        if _settings.get("log_models"):
            from tane.tracking.models import log_model

            log_model(
                estimator,
                _settings["artifact_path"],
                input_example=_example(x, int(_settings.get("rows", 0))),
            )
    except BaseException as exc:
        if own is not None:
            own.__exit__(type(exc), exc, exc.__traceback__)
        raise
    if own is not None:
        own.end()
    return result


def _params(estimator: Any) -> dict[str, Any]:
    from sklearn.base import BaseEstimator

    params = estimator.get_params(deep=True)
    plain = {
        key: (repr(value) if isinstance(value, BaseEstimator) else value)
        for key, value in params.items()
    }
    if "steps" in plain and isinstance(plain["steps"], list):
        plain["steps"] = [name for name, _ in plain["steps"]]
    return plain_params(plain)


def _example(x: Any, rows: int) -> Any:
    if rows <= 0 or x is None:
        return None
    if hasattr(x, "iloc"):
        return x.iloc[:rows]
    if hasattr(x, "shape") and hasattr(x, "__getitem__") and type(x).__module__ == "numpy":
        return x[:rows]
    return None
