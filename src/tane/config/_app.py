"""``@tane.main``: a configured function becomes a tracked, overridable, sweepable script.

    @tane.main(config_path="conf", config_name="config")
    def train(cfg) -> float: ...

    python train.py model.alpha=0.1            # one run
    python train.py -m model=a,b --jobs 2      # a parent run and one child run per job
    python train.py --cfg                      # print the composed config

Unlike Hydra, the working directory never changes and no outputs/ folder appears;
every run is recorded in the tane store (``tane.run_dir()`` gives a folder when
a script wants one).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from tane.config._compose import Composer, resolve_config_dir
from tane.errors import InvalidInput, TaneError, is_pruned

F = TypeVar("F", bound=Callable[..., Any])


class TaneApp:
    """The app behind a ``@tane.main`` function: its config and how it runs."""

    def __init__(
        self,
        task: Callable[[Any], Any],
        config_dir: str | None,
        config_name: str | None,
        job_name: str,
        experiment: str | None,
        schema: type | None,
    ) -> None:
        self.task = task
        self.config_dir = config_dir
        self.config_name = config_name
        self.job_name = job_name
        self.experiment = experiment
        self.schema = schema
        self.composer = Composer(config_dir, config_name, job_name)
        self.last_run_id: str | None = None

    # -- config ------------------------------------------------------------------

    def compose(self, overrides: Sequence[str]) -> Any:
        """The composed, validated config for these overrides."""
        cfg = self.composer.compose(list(overrides))
        _drop_sweep_section(cfg)
        if self.schema is not None:
            from tane.config._schema import validate

            cfg = validate(cfg, self.schema)
        from tane.config._schema import check_missing

        check_missing(cfg)
        return cfg

    def experiment_name(self) -> str:
        if self.experiment:
            return self.experiment
        env = os.environ.get("TANE_EXPERIMENT")
        if env:
            return env
        from tane.project import find_project

        configured = find_project().settings.get("experiment")
        return str(configured) if configured else self.job_name

    # -- one run ---------------------------------------------------------------------

    def run(
        self,
        overrides: Sequence[str],
        *,
        name: str | None = None,
        parent_id: str | None = None,
        store: str | None = None,
        extra_tags: dict[str, str] | None = None,
    ) -> tuple[Any, str]:
        """Compose, record and call the task once; return its value and the run id.

        The run ends FAILED (and the exception propagates) if the task raises.
        """
        import tane
        from tane.config._context import use_config
        from tane.config._record import config_params, config_yaml

        cfg = self.compose(overrides)
        tags = {
            "tane.overrides": " ".join(overrides),
            "tane.app": self.job_name,
            **(extra_tags or {}),
        }
        with tane.start_run(
            experiment=self.experiment_name(),
            name=name or (" ".join(overrides) if overrides else None),
            tags=tags,
            parent_id=parent_id,
            store=store,
        ) as run:
            self.last_run_id = run.id
            run.log_params(config_params(cfg))
            run.log_bytes(config_yaml(cfg).encode("utf-8"), "config.yaml")
            with use_config(cfg):
                value = self.task(cfg)
            log_result(run, value)
        return value, run.id

    def run_job(
        self,
        overrides: tuple[str, ...],
        index: int,
        parent_id: str,
        store: str | None,
        extra_tags: dict[str, str] | None = None,
    ) -> Any:
        """Run one job of a multirun as a child run (called in-process or in a worker)."""
        from tane.sweep.driver import JOB_TAG, JobResult

        result = JobResult(index, overrides, "FINISHED")
        self.last_run_id = None
        try:
            value, run_id = self.run(
                list(overrides),
                parent_id=parent_id,
                store=store,
                extra_tags={JOB_TAG: json.dumps(list(overrides)), **(extra_tags or {})},
            )
            result.run_id = run_id
            result.value = _plain_value(value)
            result.metrics = _numbers(value)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            pruned = is_pruned(exc)
            result.status = "PRUNED" if pruned else "FAILED"
            result.error = (
                None if pruned else "".join(traceback.format_exception_only(type(exc), exc)).strip()
            )
            result.run_id = self.last_run_id
        return result

    # -- the command line -------------------------------------------------------

    def parser(self, with_groups: bool = False) -> argparse.ArgumentParser:
        epilog = ""
        if with_groups:  # listing the groups reads the config folder: only for --help
            groups = self.composer.group_options()
            lines = [f"  {g}: {', '.join(opts)}" for g, opts in groups.items()]
            epilog = (
                "config groups (choose with group=option):\n" + "\n".join(lines)
                if lines
                else "this app has no config groups"
            )
        epilog += (
            "\n\noverrides use Hydra's grammar: key=value, +new=1, ~key, group=option;"
            "\nwith -m, a=1,2 / range(1,4) / choice(a,b) / glob(*) give one job per value."
        )
        parser = argparse.ArgumentParser(
            prog=Path(sys.argv[0]).name,
            description=(self.task.__doc__ or "").strip().split("\n")[0] or None,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        parser.add_argument("overrides", nargs="*", help="config overrides, e.g. model.alpha=0.1")
        parser.add_argument(
            "-m", "--multirun", action="store_true", help="run one job per combination of values"
        )
        parser.add_argument(
            "-j",
            "--jobs",
            type=int,
            default=1,
            metavar="N",
            help="with -m: run N jobs at a time in worker processes (default 1: in this process)",
        )
        parser.add_argument("--cfg", action="store_true", help="print the composed config and exit")
        parser.add_argument(
            "--resolve", action="store_true", help="with --cfg: resolve interpolations"
        )
        parser.add_argument("--experiment", metavar="NAME", help="experiment to record in")
        parser.add_argument("--name", metavar="NAME", help="name of the run (or parent run)")
        parser.add_argument(
            "--resume",
            metavar="RUN_ID",
            help="with -m or --sweep: continue an interrupted multirun or sweep",
        )
        search = parser.add_argument_group("search (--sweep)")
        search.add_argument(
            "--sweep",
            action="store_true",
            help="search the sweep overrides (interval(), range(), choice(), a,b) with a sampler",
        )
        search.add_argument("--trials", type=int, metavar="N", help="how many trials (default 20)")
        search.add_argument(
            "--sampler", default=None, metavar="NAME", help="tpe (default), random, grid, ..."
        )
        search.add_argument(
            "--direction",
            default=None,
            metavar="DIR",
            help="minimize (default) or maximize; comma-separated for several objectives",
        )
        search.add_argument(
            "--objective",
            default=None,
            metavar="METRIC",
            help="metric(s) to optimize (default: the returned value, `objective`)",
        )
        search.add_argument(
            "--pruner", default=None, metavar="NAME", help="median, percentile, halving, hyperband"
        )
        search.add_argument("--timeout", type=float, metavar="S", help="stop asking after S s")
        search.add_argument("--seed", type=int, metavar="N", help="seed of the sampler")
        search.add_argument("--target", type=float, metavar="V", help="stop once best reaches V")
        search.add_argument(
            "--constraint",
            default=None,
            metavar="METRIC",
            help="metric(s) that must be <= 0 for a trial to be feasible (comma-separated)",
        )
        return parser

    def cli(self, argv: Sequence[str]) -> Any:
        """Run as the command line asks; exit with a clear message on bad input."""
        wants_help = any(a in ("-h", "--help") for a in argv)
        args = self.parser(with_groups=wants_help).parse_args(list(argv))
        if args.experiment:
            self.experiment = args.experiment
        try:
            if args.cfg:
                return self.print_config(args.overrides, args.resolve)
            if args.sweep or (args.resume and self._is_sweep(args.resume)):
                if args.jobs < 1:
                    raise InvalidInput(f"--jobs must be at least 1, got {args.jobs}")
                outcome = self.sweep(
                    args.overrides,
                    self.sweep_settings(args),
                    args.jobs,
                    args.resume,
                    args.name,
                )
                return outcome.best_value
            if args.multirun or args.resume:
                if args.jobs < 1:
                    raise InvalidInput(f"--jobs must be at least 1, got {args.jobs}")
                results = self.multirun(args.overrides, args.jobs, args.resume, args.name)
                failed = [r for r in results if r.status != "FINISHED"]
                if failed:
                    sys.exit(1)
                return [r.value for r in sorted(results, key=lambda r: r.index)]
            value, _ = self.run(args.overrides, name=args.name)
            return value
        except TaneError as exc:
            print(f"Error: {exc}", file=sys.stderr)
            sys.exit(2)

    def print_config(self, overrides: Sequence[str], resolve: bool) -> None:
        from omegaconf import OmegaConf

        cfg = self.composer.compose(list(overrides))
        sys.stdout.write(OmegaConf.to_yaml(cfg, resolve=resolve))

    # -- several jobs -------------------------------------------------------------

    def multirun(
        self,
        overrides: Sequence[str],
        n_jobs: int,
        resume: str | None = None,
        name: str | None = None,
    ) -> list[Any]:
        """Run the grid of the sweep overrides as child runs of one parent run."""
        import tane
        from tane.sweep.driver import KIND_TAG, SWEEP_TAG, Grid, finished_jobs, run_jobs

        client = tane.Client()
        done: set[tuple[str, ...]] = set()
        if resume:
            parent = client.get_run(resume)
            if parent.tags.get(KIND_TAG) != "multirun":
                raise InvalidInput(f"run {parent.id} is not a multirun: nothing to resume")
            overrides = json.loads(parent.tags[SWEEP_TAG])
            done = finished_jobs(client, parent.id)
        combos = self.composer.expand(list(overrides))
        for combo in combos[:1]:
            self.compose(combo)  # a bad config fails here, before any run is recorded
        reporter = _Reporter(len(combos), len(done))
        parent_run = tane.start_run(
            experiment=self.experiment_name(),
            name=name or f"{self.job_name} multirun",
            run_id=parent.id if resume else None,
            tags={
                KIND_TAG: "multirun",
                SWEEP_TAG: json.dumps(list(overrides)),
                "tane.app": self.job_name,
                "tane.jobs": str(len(combos)),
            },
        )
        store = parent_run.store.uri
        # Jobs in this process share the parent's store; workers open it by its URI.
        execute = functools.partial(_execute, self.entry, store if n_jobs > 1 else None)

        def finished(result: Any) -> None:
            if not result.metrics and result.run_id and result.status == "FINISHED":
                # What the job logged with tane.log_metric (a pipeline's nodes do).
                logged = client.get_run(result.run_id).metrics
                result.metrics = {k: v for k, v in logged.items() if not k.startswith("system/")}
            reporter.job_done(result)

        with parent_run:
            results = run_jobs(Grid(combos).jobs(done), execute, parent_run.id, n_jobs, finished)
            failed = sum(1 for r in results if r.status != "FINISHED")
            parent_run.set_tags(
                {
                    "tane.jobs.failed": str(failed),
                    "tane.jobs.finished": str(len(results) - failed + len(done)),
                }
            )
        reporter.summary(results, parent_run.id)
        return results

    # -- a search -----------------------------------------------------------------------

    def _is_sweep(self, run_id: str) -> bool:
        import tane
        from tane.sweep.driver import KIND_TAG

        return tane.Client().get_run(run_id).tags.get(KIND_TAG) == "sweep"

    def sweep_settings(self, args: Any = None) -> Any:
        """Settings from the ``sweep:`` config section, overridden by the command line."""
        from tane.sweep.run import settings_from

        return settings_from(self.compose_base_sweep_section(), args)

    def compose_base_sweep_section(self) -> dict[str, Any]:
        from omegaconf import OmegaConf

        from tane.sweep.run import is_sweep_section

        cfg = self.composer.compose([])
        section = cfg.get("sweep") if hasattr(cfg, "get") else None
        if section is None or not is_sweep_section(section):
            return {}
        plain = OmegaConf.to_container(section, resolve=True)
        return {str(k): v for k, v in plain.items()} if isinstance(plain, dict) else {}

    def sweep(
        self,
        overrides: Sequence[str],
        settings: Any,
        n_jobs: int = 1,
        resume: str | None = None,
        name: str | None = None,
        launcher: str = "local",
    ) -> Any:
        """Search the sweep overrides with a sampler: a parent run, a child run per trial."""
        from tane.sweep.run import run_sweep

        return run_sweep(self, list(overrides), settings, n_jobs, resume, name, launcher)

    entry: Any = None  # the decorated wrapper: what worker processes unpickle


def _execute(entry: Any, store: str | None, job: Any, parent_id: str) -> Any:
    """Run one job (module level, so worker processes can unpickle it)."""
    from tane.sweep.driver import timed

    app: TaneApp = entry.tane_app
    return timed(lambda: app.run_job(job.overrides, job.index, parent_id, store))


def _drop_sweep_section(cfg: Any) -> None:
    """A ``sweep:`` section configures the search, not the task: keep it out of both."""
    section = cfg.get("sweep") if hasattr(cfg, "get") else None
    if section is None:
        return
    from tane.sweep.run import is_sweep_section

    if is_sweep_section(section):
        from omegaconf import open_dict

        with open_dict(cfg):
            del cfg["sweep"]


def log_result(run: Any, value: Any) -> None:
    """Record what the task returned: a number as ``objective``, a dict's numbers by key."""
    from tane.config._result import return_metrics

    metrics, ignored = return_metrics(value)
    if metrics:
        run.log_metrics(metrics)
    if ignored:
        run.set_tags({"tane.result": ignored})


def _numbers(value: Any) -> dict[str, float]:
    from tane.config._result import return_metrics

    return return_metrics(value)[0]


def _plain_value(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


class _Reporter:
    """Progress lines as jobs end, and the summary table."""

    def __init__(self, total: int, already: int) -> None:
        self.total = total
        self.count = already

    def job_done(self, result: Any) -> None:
        self.count += 1
        metrics = " ".join(f"{k}={_fmt(v)}" for k, v in list(result.metrics.items())[:4])
        status = (
            result.status if result.status == "FINISHED" else f"{result.status}: {result.error}"
        )
        print(
            f"[{self.count}/{self.total}] {' '.join(result.overrides) or '(no overrides)'}"
            f"  {status}  {metrics}  ({result.seconds:.1f} s)",
            flush=True,
        )

    def summary(self, results: list[Any], parent_id: str) -> None:
        # Plain text, not rich: importing rich would cost more than the table.
        keys: list[str] = []
        for result in results:
            for key in result.metrics:
                if key not in keys:
                    keys.append(key)
        keys = keys[:6]
        header = ["#", "overrides", *keys, "status", "run"]
        rows = [
            [
                str(r.index),
                " ".join(r.overrides),
                *[_fmt(r.metrics.get(k)) for k in keys],
                r.status,
                (r.run_id or "")[:8],
            ]
            for r in sorted(results, key=lambda r: r.index)
        ]
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        print(f"\nmultirun {parent_id[:8]}: {len(results)} jobs")
        for row in [header, *rows]:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        failed = [r for r in results if r.status != "FINISHED"]
        if failed:
            print(
                f"{len(failed)} of {len(results)} jobs failed; `tane runs show <run>` has the "
                f"traceback, and `python {Path(sys.argv[0]).name} -m --resume {parent_id[:12]}` "
                "runs them again"
            )
        sys.stdout.flush()


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.6g}"


def main(
    config_path: str | None = None,
    config_name: str | None = None,
    *,
    experiment: str | None = None,
    schema: type | None = None,
) -> Callable[[F], F]:
    """Make ``fn(cfg)`` a tracked, overridable, sweepable script.

    Args:
        config_path: Config folder, relative to the file of the decorated function.
        config_name: Primary config file (without .yaml).
        experiment: Experiment of the runs; default TANE_EXPERIMENT, the
            project's ``experiment:``, else the script's name.
        schema: A dataclass or pydantic model that validates the config.

    Calling the decorated function with no arguments reads the command line
    (overrides, ``-m``, ``--jobs``, ``--cfg``, ``--help``); calling it with a
    config runs the function on that config, untracked.
    """

    def decorator(task: F) -> F:
        # The file the function is written in (robust under runners such as
        # cProfile or pytest, where sys.modules["__main__"] is another module).
        source = getattr(getattr(task, "__code__", None), "co_filename", None)
        if not source or source.startswith("<"):
            source = getattr(sys.modules.get(task.__module__), "__file__", None)
        base = str(Path(source).resolve().parent) if source else os.getcwd()
        script = Path(sys.argv[0]).stem if task.__module__ == "__main__" else task.__module__
        job_name = script.rsplit(".", 1)[-1] or task.__name__
        problem: InvalidInput | None = None
        config_dir = None
        try:
            config_dir = resolve_config_dir(config_path, base)
        except InvalidInput as exc:
            problem = exc  # reported when the script runs, as one clear line
        app = TaneApp(task, config_dir, config_name, job_name, experiment, schema)

        @functools.wraps(task)
        def wrapper(cfg: Any = None) -> Any:
            if cfg is not None:
                return task(cfg)
            if _in_worker():
                return None  # a worker process importing the script: jobs come from the driver
            if problem is not None:
                print(f"Error: {problem}", file=sys.stderr)
                sys.exit(2)
            return app.cli(sys.argv[1:])

        wrapper.tane_app = app  # type: ignore[attr-defined]
        app.entry = wrapper
        return wrapper  # type: ignore[return-value]

    return decorator


def _in_worker() -> bool:
    multiprocessing = sys.modules.get("multiprocessing")
    if multiprocessing is None:  # a worker has it imported by its bootstrap
        return False
    return multiprocessing.parent_process() is not None and (
        multiprocessing.current_process().name.startswith(("SpawnProcess", "ForkProcess"))
    )
