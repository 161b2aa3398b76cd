"""The ``tane`` command line.

``tane --help`` must start fast, so this module imports only click: each
subcommand lives in its own module, loaded when that command runs (see
:class:`LazyGroup`), and those modules import rich, the store and SQLAlchemy
inside their functions.
"""

from __future__ import annotations

import importlib
from typing import IO, Any

import click

from tane._version import __version__
from tane.cli._context import CliState
from tane.errors import TaneError

__all__ = ["CliError", "LazyGroup", "main"]


class CliError(click.ClickException):
    """An error the user can fix: shown as one red ``Error: ...`` line, exit code 1."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        """Print ``Error: <message>`` in red on stderr (or ``file``)."""
        click.secho(f"Error: {self.format_message()}", file=file, err=file is None, fg="red")


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when used.

    Args:
        lazy_subcommands: Command name -> ``("module:attribute", short help)``.
            The short help is shown by ``--help`` without importing the module.
        **kwargs: Passed to :class:`click.Group`.
    """

    def __init__(
        self, *args: Any, lazy_subcommands: dict[str, tuple[str, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = dict(lazy_subcommands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return the eager and lazy command names, sorted."""
        return sorted({*super().list_commands(ctx), *self.lazy_subcommands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Return the command, importing its module on first use."""
        if cmd_name in self.lazy_subcommands and cmd_name not in self.commands:
            target, _ = self.lazy_subcommands[cmd_name]
            module_name, attribute = target.split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{target} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands with their short help, without importing lazy ones."""
        rows: list[tuple[str, str]] = []
        for name in self.list_commands(ctx):
            if name in self.commands:
                command = self.commands[name]
                if command.hidden:
                    continue
                rows.append((name, command.get_short_help_str(formatter.width - 6 - len(name))))
            else:
                rows.append((name, self.lazy_subcommands[name][1]))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; show tane's own errors as one red line instead of a traceback."""
        try:
            return super().invoke(ctx)
        except TaneError as exc:
            raise CliError(str(exc)) from exc


_COMMANDS = {
    "runs": ("tane.cli.runs:runs", "List, show, compare, delete and restore runs."),
    "experiments": ("tane.cli.experiments:experiments", "List and create experiments."),
    "gc": ("tane.cli.gc:gc", "Remove deleted runs and their artifacts for good."),
    "db": ("tane.cli.db:db", "Show or upgrade the schema of a database store."),
    "demo": ("tane.cli.demo:demo", "Record a few tracked scikit-learn training runs."),
    "new": ("tane.cli.new:new", "Scaffold a new project (tane new NAME --starter iris)."),
    "run": ("tane.cli.pipelines:run", "Run a pipeline of the project, skipping what is cached."),
    "pipeline": ("tane.cli.pipelines:pipeline", "Show the project's pipelines."),
    "sweep": ("tane.cli.pipelines:sweep", "Search a pipeline's params with Optuna's samplers."),
    "server": ("tane.cli.server:server", "Serve the store over HTTP (REST API under /api/v1)."),
    "models": ("tane.cli.models:models", "List registered models, register versions, set aliases."),
    "ui": ("tane.cli.server:ui", "Show the store's runs, pipelines and sweeps in the web UI."),
    "users": ("tane.cli.users:users", "Add and list the users of a server run with --auth."),
    "tokens": ("tane.cli.users:tokens", "Create, list and revoke API tokens (TANE_TOKEN)."),
    "sync": ("tane.cli.sync:sync", "Send the writes spooled while a tane server was down."),
    "catalog": ("tane.cli.pipelines:catalog", "List the datasets of the project's catalog."),
    "push": ("tane.cli.push:push", "Copy runs to a team server (again: nothing copied twice)."),
    "import": ("tane.cli.import_:import_", "Import MLflow runs (again: nothing twice)."),
    "export": (
        "tane.cli.export:export",
        "Export a pipeline as an Airflow DAG or a Kubeflow pipeline.",
    ),
}


@click.group(
    cls=LazyGroup,
    lazy_subcommands=_COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--store",
    metavar="URI",
    envvar="TANE_STORE",
    show_envvar=True,
    help="Store to use: a folder, sqlite:///file.db or postgresql://... "
    "Default: the store: setting of tane.yaml, else .tane/ in the project root.",
)
@click.version_option(
    __version__,
    "--version",
    "-V",
    prog_name="tane",
    message="%(prog)s %(version)s",
    help="Show tane's version and exit.",
)
@click.pass_context
def main(ctx: click.Context, store: str | None) -> None:
    """tane: configs, pipelines, tracked runs and sweeps in one toolkit.

    Runs are recorded in a store (by default .tane/ in the project root).
    Try `tane demo` to record a few runs, then `tane runs ls`.
    """
    ctx.obj = CliState(store)
