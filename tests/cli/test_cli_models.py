"""``tane models``: register versions of logged models, list them, move aliases."""

from __future__ import annotations

from collections.abc import Callable

from click.testing import Result

from tane.tracking.entities import Run
from tane.tracking.stores import open_store

Invoke = Callable[..., Result]
MakeRun = Callable[..., Run]


def test_register_list_and_alias(cli: Invoke, make_run: MakeRun, store: str) -> None:
    empty = cli("models", "ls")
    assert "No registered models yet" in empty.stdout
    run = make_run("trainer")
    made = cli("models", "register", f"runs:/{run.id[:8]}/model", "iris", "--description", "v1")
    assert made.exit_code == 0, made.output
    assert made.stdout.strip() == f"Registered iris v1 (runs:/{run.id}/model): models:/iris/1"
    cli("models", "register", f"runs:/{run.id}/better", "iris")
    moved = cli("models", "alias", "iris", "champion", "2")
    assert moved.stdout.strip() == "iris@champion is now v2: models:/iris@champion"
    listing = cli("models", "ls").stdout.splitlines()
    assert listing[0].split() == ["Model", "Latest", "Aliases", "Updated"]
    assert listing[1].split()[:3] == ["iris", "v2", "champion=v2"]
    versions = cli("models", "ls", "iris").stdout.splitlines()
    assert [line.split()[0] for line in versions[1:]] == ["v2", "v1"]
    assert "champion" in versions[1]
    stored = open_store(store).get_model_version("iris", alias="champion")
    assert (stored.version, stored.run_id) == (2, run.id)
    assert cli("models", "alias", "iris", "champion", "--remove").exit_code == 0
    assert open_store(store).get_model_version("iris", 2).aliases == ()


def test_bad_input_is_one_line(cli: Invoke, make_run: MakeRun) -> None:
    make_run("trainer")
    unknown = cli("models", "ls", "nope")
    assert unknown.exit_code == 1
    assert unknown.stderr.strip() == (
        "Error: no registered model named 'nope': `tane models ls` lists them"
    )
    no_run = cli("models", "register", "runs:/ffffffff/model", "iris")
    assert no_run.exit_code == 1 and "ffffffff" in no_run.stderr
    both = cli("models", "alias", "iris", "champion")
    assert both.exit_code == 1 and "give a VERSION" in both.stderr
    bad = cli("models", "register", "s3://bucket/m", "a/b")
    assert bad.exit_code == 1 and "contains '/'" in bad.stderr
