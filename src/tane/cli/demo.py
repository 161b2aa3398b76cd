"""``tane demo``: record a few tracked training runs on a dataset bundled with scikit-learn.

The runs train classifiers on the handwritten digits of ``sklearn.datasets.load_digits``
(bundled with scikit-learn, no download), epoch by epoch, logging params,
per-epoch metrics, the fitted model and a learning-curve figure.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import click

from tane.cli import CliError
from tane.cli._context import state
from tane.cli._format import short_id

#: SGD settings in the order the demo uses them: the first few already differ
#: in every param, so even a short demo has something to compare.
_SGD_GRID: tuple[tuple[str, float, str], ...] = (
    ("l2", 1e-4, "optimal"),
    ("elasticnet", 1e-3, "adaptive"),
    ("l1", 1e-2, "optimal"),
    ("l2", 1e-3, "adaptive"),
    ("elasticnet", 1e-4, "optimal"),
    ("l1", 1e-4, "adaptive"),
    ("l2", 1e-2, "adaptive"),
    ("elasticnet", 1e-2, "optimal"),
    ("l1", 1e-3, "optimal"),
    ("l2", 1e-3, "optimal"),
    ("elasticnet", 1e-2, "adaptive"),
    ("l1", 1e-3, "adaptive"),
    ("l2", 1e-2, "optimal"),
    ("elasticnet", 1e-3, "optimal"),
    ("l1", 1e-2, "adaptive"),
    ("l2", 1e-4, "adaptive"),
    ("elasticnet", 1e-4, "adaptive"),
    ("l1", 1e-4, "optimal"),
)
_TREES_PER_EPOCH = 4
_LOGREG_ITERS_PER_EPOCH = 4


@dataclass(frozen=True)
class Plan:
    """One demo run: a name, the model kind and its params."""

    name: str
    model: str
    params: dict[str, Any] = field(default_factory=dict)


def plan_runs(count: int) -> list[Plan]:
    """Return the runs of a demo of ``count`` runs.

    Mostly SGD classifiers over a grid of penalty, alpha and learning rate;
    from two runs on, the last is a random forest, and from four on a
    logistic regression joins in.
    """
    others: list[Plan] = []
    if count >= 4:
        others.append(Plan("logreg-C1", "logistic_regression", {"C": 1.0}))
    if count >= 2:
        others.append(
            Plan(
                "forest-depth12",
                "random_forest",
                {"max_depth": 12, "trees_per_epoch": _TREES_PER_EPOCH},
            )
        )
    plans = []
    for i in range(count - len(others)):
        penalty, alpha, rate = _SGD_GRID[i % len(_SGD_GRID)]
        suffix = f"-{i // len(_SGD_GRID) + 1}" if i >= len(_SGD_GRID) else ""
        params: dict[str, Any] = {"penalty": penalty, "alpha": alpha, "learning_rate": rate}
        if rate != "optimal":
            params["eta0"] = 0.01
        plans.append(Plan(f"sgd-{penalty}-{alpha:g}-{rate}{suffix}", "sgd", params))
    return plans + others


@click.command()
@click.option(
    "--runs",
    "n_runs",
    type=click.IntRange(1, 100),
    default=6,
    show_default=True,
    help="How many runs to record.",
)
@click.option(
    "--epochs",
    type=click.IntRange(1, 500),
    default=15,
    show_default=True,
    help="Epochs per run (one metric point per epoch).",
)
@click.option(
    "--experiment",
    "-e",
    default="demo",
    show_default=True,
    help="Experiment to record the runs in.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Random seed of the data split and the models.",
)
@click.option(
    "--pipeline/--no-pipeline",
    "with_pipeline",
    default=True,
    show_default=True,
    help="Also scaffold the iris starter project in a temporary folder and run its "
    "pipelines twice (the second run is cached).",
)
@click.option(
    "--trials",
    type=click.IntRange(0, 200),
    default=20,
    show_default=True,
    help="Trials of the sweep over the iris pipeline (0: no sweep).",
)
def demo(
    n_runs: int, epochs: int, experiment: str, seed: int, with_pipeline: bool, trials: int
) -> None:
    """Record a few tracked scikit-learn training runs, then run a cached pipeline.

    Trains classifiers on the digits dataset bundled with scikit-learn (no
    download), epoch by epoch, in the current store: params, per-epoch
    metrics, the fitted model and a learning-curve figure for each run. Then
    scaffolds the iris starter project in a temporary folder, runs its
    pipelines twice (the second run finds every node cached) and sweeps the
    model's params with TPE, every trial a run whose preprocessing is cached.
    """
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise CliError('the demo needs scikit-learn: pip install "tane[demo]"') from None
    cli = state()
    cli.client()  # create the store before the runs so that its errors come first
    data = _load_data(seed)
    plans = plan_runs(n_runs)
    with _one_blas_thread():
        run_ids = _train_all(
            plans, data, epochs=epochs, experiment=experiment, seed=seed, store=cli.store_uri
        )
    _report(
        cli.client().search_runs(
            "attributes.run_id IN (" + ", ".join(f"'{i}'" for i in run_ids) + ")",
            order_by=["metrics.val_accuracy DESC"],
            max_results=len(run_ids),
        ),
        experiment,
    )
    if with_pipeline:
        _pipeline_demo(cli.store_uri, trials)


def _pipeline_demo(store: str, trials: int) -> None:
    """Scaffold the iris starter in a temporary folder, run it twice, print both runs."""
    import tempfile
    from pathlib import Path

    from tane.cli import _render
    from tane.cli.new import _iris_csv, _write_project
    from tane.pipeline.session import PipelineApp, PipelineProject, RunOptions
    from tane.sweep.search import SweepSettings

    out = _render.console()
    swept: Any = None
    with tempfile.TemporaryDirectory(prefix="tane-demo-") as folder:
        root = Path(folder) / "iris"
        _write_project(root, "iris", name="iris", package="iris_demo", iris=_iris_csv())
        out.print()
        out.print(f"[bold]Pipelines[/]: the iris starter (`tane new iris`) in {root}")
        project = PipelineProject.find(root)
        rows = []
        for attempt in ("first run", "again, nothing changed"):
            app = PipelineApp(project, RunOptions(progress=False))
            started = time.perf_counter()
            _, run_id = app.run([], store=store)
            elapsed = time.perf_counter() - started
            result = app.last_result
            assert result is not None
            run = state().client().get_run(run_id)
            rows.append((attempt, run, result, elapsed))
        from rich.table import Table

        table = Table(header_style="bold", box=None, pad_edge=False)
        for col in ("tane run", "run", "nodes ran", "cached", "accuracy", "wall time"):
            table.add_column(col)
        for label, run, result, elapsed in rows:
            table.add_row(
                label,
                f"{run.name} ({short_id(run.id)})",
                str(len(result.ran)),
                str(len(result.cached)),
                f"{run.metrics.get('accuracy', float('nan')):.3f}",
                f"{elapsed:.2f} s",
            )
        out.print(table)
        if trials:
            out.print()
            out.print(
                f"[bold]A sweep[/]: {trials} TPE trials over the learning rate and the leaves "
                "(`tane sweep`), preprocessing from the cache"
            )
            app = PipelineApp(project, RunOptions(progress=False))
            settings = SweepSettings(
                sampler="tpe",
                directions=["maximize"],
                objectives=["accuracy"],
                trials=trials,
                seed=0,
            )
            outcome = app.sweep(
                [
                    "model.learning_rate=tag(log, interval(0.01, 0.5))",
                    "model.num_leaves=range(3, 32)",
                ],
                settings,
            )
            swept = outcome
    if swept is not None:
        ran = cached = 0
        for trial in swept.trials:
            if trial.run_id:
                tags = state().client().get_run(trial.run_id).tags
                ran += int(tags.get("tane.nodes.ran", 0))
                cached += int(tags.get("tane.nodes.cached", 0))
        out.print(
            f"Sweep {short_id(swept.parent_id)}: best accuracy {swept.best_value:.3f}; "
            f"{cached} of {ran + cached} node runs came from the cache",
            highlight=False,
        )
    out.print(
        "Start your own: tane new my-project --starter iris && cd my-project && tane run",
        highlight=False,
    )


def _one_blas_thread() -> Any:
    """Limit BLAS to one thread: on small data its thread start-ups cost more than the math."""
    import contextlib
    import importlib

    try:
        threadpoolctl = importlib.import_module("threadpoolctl")  # a scikit-learn dependency
    except ImportError:
        return contextlib.nullcontext()
    return threadpoolctl.threadpool_limits(limits=1)


@dataclass(frozen=True)
class _Data:
    x_train: Any
    x_val: Any
    y_train: Any
    y_val: Any
    classes: Any


def _load_data(seed: int) -> _Data:
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=0.25, random_state=seed, stratify=y
    )
    scaler = StandardScaler().fit(x_train)
    return _Data(scaler.transform(x_train), scaler.transform(x_val), y_train, y_val, np.unique(y))


def _train_all(
    plans: Sequence[Plan], data: _Data, *, epochs: int, experiment: str, seed: int, store: str
) -> list[str]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from tane.cli._render import console

    run_ids = []
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[cyan]{task.fields[status]}"),
    )
    with Progress(*columns, console=console(), transient=False) as progress:
        for number, plan in enumerate(plans, 1):
            task = progress.add_task(
                f"run {number}/{len(plans)} {plan.name}", total=epochs, status=""
            )

            def advance(epoch: int, metrics: dict[str, float], task: Any = task) -> None:
                progress.update(
                    task, completed=epoch + 1, status=f"val_accuracy {metrics['val_accuracy']:.3f}"
                )

            run_ids.append(
                _train_one(
                    plan,
                    data,
                    epochs=epochs,
                    experiment=experiment,
                    seed=seed,
                    store=store,
                    on_epoch=advance,
                )
            )
    return run_ids


def _make_model(plan: Plan, seed: int) -> Any:
    if plan.model == "sgd":
        from sklearn.linear_model import SGDClassifier

        return SGDClassifier(loss="log_loss", random_state=seed, **plan.params)
    if plan.model == "logistic_regression":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(
            C=plan.params["C"], max_iter=_LOGREG_ITERS_PER_EPOCH, warm_start=True
        )
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=0,
        max_depth=plan.params["max_depth"],
        warm_start=True,
        random_state=seed,
        n_jobs=1,
    )


def _fit_epoch(model: Any, plan: Plan, data: _Data, epoch: int) -> None:
    if plan.model == "sgd":
        model.partial_fit(data.x_train, data.y_train, classes=data.classes)
    elif plan.model == "random_forest":
        model.n_estimators = (epoch + 1) * _TREES_PER_EPOCH
        model.fit(data.x_train, data.y_train)
    else:
        model.fit(data.x_train, data.y_train)


def _scores(model: Any, data: _Data) -> dict[str, float]:
    """Return the log loss and accuracy on the training and validation sets."""
    import numpy as np

    result = {}
    for split, x, y in (("train", data.x_train, data.y_train), ("val", data.x_val, data.y_val)):
        proba = np.clip(model.predict_proba(x), 1e-15, 1.0)
        truth = np.searchsorted(model.classes_, y)
        result[f"{split}_loss"] = float(-np.log(proba[np.arange(len(y)), truth]).mean())
        result[f"{split}_accuracy"] = float((proba.argmax(1) == truth).mean())
    return result


def _train_one(
    plan: Plan,
    data: _Data,
    *,
    epochs: int,
    experiment: str,
    seed: int,
    store: str,
    on_epoch: Callable[[int, dict[str, float]], None],
) -> str:
    import pickle
    import warnings

    import tane

    # The demo's own output is the progress display: the runs record the code
    # version and the environment, not the console or system metrics.
    with tane.start_run(
        experiment=experiment,
        name=plan.name,
        store=store,
        tags={"dataset": "sklearn.digits", "source": "tane demo"},
        capture=["git", "environment", "packages"],
    ) as run:
        run.log_params(
            {
                "model": plan.model,
                **plan.params,
                "epochs": epochs,
                "seed": seed,
                "n_train": len(data.y_train),
                "n_val": len(data.y_val),
            }
        )
        run.set_note(
            f"`tane demo`: a **{plan.model}** classifier on scikit-learn's bundled "
            f"handwritten digits, {epochs} epochs."
        )
        model = _make_model(plan, seed)
        history: list[dict[str, float]] = []
        started = time.perf_counter()
        with warnings.catch_warnings():
            # Few iterations per epoch are the point of a learning curve.
            from sklearn.exceptions import ConvergenceWarning

            warnings.simplefilter("ignore", ConvergenceWarning)
            for epoch in range(epochs):
                _fit_epoch(model, plan, data, epoch)
                metrics = _scores(model, data)
                run.log_metrics(metrics, step=epoch)
                history.append(metrics)
                on_epoch(epoch, metrics)
        best = max(h["val_accuracy"] for h in history)
        run.log_metrics(
            {"best_val_accuracy": best, "fit_seconds": round(time.perf_counter() - started, 4)}
        )
        run.log_bytes(pickle.dumps(model), "model.pkl")
        figure = _learning_curve(plan.name, history)
        if figure is not None:
            tane.log_figure(figure, "learning_curve.png")
        return run.id


def _learning_curve(name: str, history: Sequence[dict[str, float]]) -> Any:
    """Return a matplotlib figure of the run's losses and accuracies (None without matplotlib)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    figure = Figure(figsize=(8, 3.2), dpi=80)
    loss_ax, acc_ax = figure.subplots(1, 2)
    epochs = range(len(history))
    for split in ("train", "val"):
        loss_ax.plot(epochs, [h[f"{split}_loss"] for h in history], label=split)
        acc_ax.plot(epochs, [h[f"{split}_accuracy"] for h in history], label=split)
    loss_ax.set(title="log loss", xlabel="epoch")
    acc_ax.set(title="accuracy", xlabel="epoch")
    acc_ax.legend()
    figure.suptitle(name)
    figure.tight_layout()
    return figure


def _report(found: Sequence[Any], experiment: str) -> None:
    from tane.cli import _render

    out = _render.console()
    choice = _render.choose_columns(
        found,
        [
            "metrics.val_accuracy",
            "metrics.val_loss",
            "params.model",
            "params.penalty",
            "params.alpha",
            "params.learning_rate",
        ],
    )
    out.print()
    out.print(
        _render.runs_table(
            found,
            choice,
            now_ms=int(time.time() * 1000),
            title=f"experiment {experiment!r}, best first",
            show_experiment=False,
        )
    )
    if not found:
        return
    best = found[0]
    out.print()
    accuracy = best.metrics.get("val_accuracy", float("nan"))
    out.print(
        f"Best: [bold]{best.name}[/bold] ({short_id(best.id)}), val_accuracy {accuracy:.4f}. Next:"
    )
    out.print(f"  tane runs show {short_id(best.id)}", highlight=False)
    if len(found) > 1:
        ids = " ".join(short_id(r.id) for r in found[:3])
        out.print(f"  tane runs compare {ids}", highlight=False)
    out.print(
        f"  tane runs ls -e {shlex.quote(experiment)} -o 'metrics.val_accuracy DESC'",
        highlight=False,
    )
