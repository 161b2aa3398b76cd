"""What `tane push` and `tane import mlflow` show while they copy runs.

A line per run copied, and a progress bar on a terminal while it goes. Both
commands report the same kinds of events (plan, start, points, artifact, done);
they differ in their words and in what a finished run carries.
"""

from __future__ import annotations

import sys
from typing import Any

from tane.cli._format import human_bytes, short_id


def count(n: int, word: str) -> str:
    """``1 point``, ``2,000 points``."""
    return f"{n:,} {word}{'s' if n != 1 else ''}"


class CopyDisplay:
    """Shows the progress events of a copy of runs.

    Args:
        dry_run: Nothing is written: lines say what would be.
        doing: The verb of the bar ("pushing").
        done: The verb of a finished run's line ("pushed").
        would: The verb of a dry run's line ("would push").
        result: The attribute of a ``done`` event holding the copied run.
        width: The width the verbs are padded to.
    """

    def __init__(
        self, dry_run: bool, *, doing: str, done: str, would: str, result: str, width: int
    ) -> None:
        from tane.cli._render import console

        self.out = console()
        self.dry_run = dry_run
        self.words = (doing, done, would)
        self.result = result
        self.width = width
        self.planned = 0
        self.done = 0
        self.progress: Any = None
        self.task: Any = None
        self.tty = sys.stderr.isatty()

    def event(self, event: Any) -> None:
        """Show one step of the copy."""
        if event.kind == "plan":
            self.planned = event.count
            if self.tty and event.count and not self.dry_run:
                self._start_bar(event.count)
        elif event.kind == "start" and self.progress is not None:
            self.progress.update(self.task, description=self.name_of(event), status="")
        elif event.kind == "points" and self.progress is not None:
            self.progress.update(self.task, status=f"+{event.count} points")
        elif event.kind == "artifact" and self.progress is not None:
            self.progress.update(self.task, status=f"{event.detail} ({human_bytes(event.count)})")
        elif event.kind == "done" and getattr(event, self.result) is not None:
            self.done += 1
            self._line(getattr(event, self.result))
            if self.progress is not None:
                self.progress.advance(self.task)

    def name_of(self, event: Any) -> str:
        """The run an event is about, as the bar shows it."""
        return str(event.name)

    def detail(self, copied: Any) -> str:
        """What a run's line adds after its experiment."""
        return ""

    def _start_bar(self, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        from tane.cli._render import console

        self.progress = Progress(
            TextColumn(self.words[0] + " {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[cyan]{task.fields[status]}"),
            console=console(stderr=True),
            transient=True,
        )
        self.progress.start()
        self.task = self.progress.add_task("", total=total, status="")

    def _line(self, copied: Any) -> None:
        from rich.text import Text

        _, done, would = self.words
        verb = would if self.dry_run else "completed" if copied.resumed else done
        line = Text.assemble(
            (f"  {verb:<{self.width}} ", "green"),
            (short_id(copied.source_id), "bold cyan"),
            f" {copied.name}",
            (f"  {copied.experiment}{self.detail(copied)}", "dim"),
        )
        if not self.dry_run:
            line.append(
                f"  {count(copied.points, 'point')}, {count(copied.artifacts, 'artifact')} "
                f"({human_bytes(copied.bytes)})  -> {short_id(copied.target_id)}",
                style="dim",
            )
        self.out.print(line)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
