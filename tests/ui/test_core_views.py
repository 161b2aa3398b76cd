"""The experiments, runs, run and compare views, in Chromium, against a real server.

Every test compares what the page shows with what the store holds (read through
``tane.Client`` at the time of the test), so a view that shows the wrong runs, drops a
param or never saves a note fails. Waits are bounded: Playwright's ``expect`` and
``wait_for_*`` with timeouts.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect
from tests.ui.conftest import SHOTS, Seeded, ready

import tane
from tane.testing.server import LiveServer
from tane.tracking.entities import Run
from tane.tracking.stores import open_store

PASSWORD = "correct horse battery"
#: The runs table polls every 5 s while a run is RUNNING: one interval and some slack.
LIVE_TIMEOUT = 9_000


@pytest.fixture(autouse=True)
def bounded(page: Any) -> None:
    """Fail within 10 s rather than Playwright's default 30 s."""
    page.set_default_timeout(10_000)


@pytest.fixture(scope="module")
def client(seeded: Seeded) -> tane.Client:
    return tane.Client(seeded.store)


def showcase_runs(client: tane.Client, seeded: Seeded, filter_string: str = "") -> list[Run]:
    """The active runs of the showcase experiment, as the store returns them."""
    return list(
        client.search_runs(
            filter_string, experiment=seeded.experiments["showcase"], max_results=1000
        )
    )


def row_ids(page: Any) -> list[str]:
    """The run ids of the runs table's rows, top to bottom."""
    ids: list[str] = page.eval_on_selector_all(
        '[data-testid="run-row"]', "rows => rows.map(r => r.dataset.runId)"
    )
    return ids


def wait_rows(
    page: Any, expected: list[str], ordered: bool = True, timeout: float = 10_000
) -> None:
    """Wait until the table shows exactly these runs (in this order), then check it."""
    script = """([want, ordered]) => {
        const got = Array.from(document.querySelectorAll('[data-testid="run-row"]'),
                               r => r.dataset.runId);
        if (!ordered) { got.sort(); want = want.slice().sort(); }
        return got.length === want.length && got.every((id, i) => id === want[i]);
    }"""
    # On a timeout the assertion below says what was shown instead.
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(script, arg=[expected, ordered], timeout=timeout)
    shown = row_ids(page)
    if ordered:
        assert shown == expected
    else:
        assert sorted(shown) == sorted(expected)


def natural(text: str) -> list[Any]:
    """A sort key that orders the numbers in a text by value, as the table does."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def runs_page(page: Any, ui: LiveServer, seeded: Seeded, query: str = "") -> None:
    page.goto(f"{ui.url}/experiments/{seeded.experiments['showcase']}{query}")
    ready(page)


def query_of(page: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def select_runs(page: Any, run_ids: list[str]) -> None:
    for run_id in run_ids:
        row = page.locator(f'[data-testid="run-row"][data-run-id="{run_id}"]')
        row.locator('input[type="checkbox"]').click()
        expect(row).to_have_attribute("aria-selected", "true")


# -- the experiments -----------------------------------------------------------------


def test_experiments_page_lists_every_experiment_with_its_run_count(
    page: Any, ui: LiveServer, seeded: Seeded, client: tane.Client
) -> None:
    page.goto(ui.url)
    ready(page)
    expected = {e.id: e.run_count for e in client.list_experiments()}
    rows = page.get_by_test_id("experiment-row")
    expect(rows).to_have_count(len(expected))
    shown = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        count = row.locator("td.num").inner_text().replace(",", "")
        shown[row.get_attribute("data-experiment-id")] = int(count)
    assert shown == expected
    assert expected[seeded.experiments["showcase"]] >= 16  # the seed's runs are counted
    # A row opens its experiment's runs.
    rows.filter(has_text="showcase").first.click()
    page.wait_for_url(f"**/experiments/{seeded.experiments['showcase']}")
    ready(page)
    wait_rows(page, [r.id for r in showcase_runs(client, seeded)], ordered=False)


def test_unknown_path_shows_not_found(page: Any, ui: LiveServer) -> None:
    page.goto(f"{ui.url}/no/such/page")
    ready(page)
    expect(page.get_by_test_id("not-found")).to_be_visible()


# -- the runs table ------------------------------------------------------------------


def test_runs_table_filter_shows_what_the_store_finds(
    page: Any, ui: LiveServer, seeded: Seeded, client: tane.Client
) -> None:
    runs_page(page, ui, seeded)
    everything = showcase_runs(client, seeded)
    wait_rows(page, [r.id for r in everything], ordered=False)
    box = page.get_by_test_id("run-filter")
    box.fill("metrics.acc > 0.8")
    box.press("Enter")
    matching = [r.id for r in showcase_runs(client, seeded, "metrics.acc > 0.8")]
    assert 0 < len(matching) < len(everything)
    wait_rows(page, matching, ordered=False)
    assert query_of(page)["filter"] == "metrics.acc > 0.8"
    expect(page.locator(".page-head .sub")).to_contain_text("matching the filter")
    # A filter the server refuses says why, in place of the rows.
    box.fill("metrics.acc >")
    box.press("Enter")
    expect(page.get_by_test_id("filter-error")).to_be_visible()
    assert row_ids(page) == []
    # Clearing it shows every run again.
    box.fill("")
    box.press("Enter")
    wait_rows(page, [r.id for r in everything], ordered=False)


def test_filter_autocompletion_offers_the_keys(
    page: Any, ui: LiveServer, seeded: Seeded, client: tane.Client
) -> None:
    runs_page(page, ui, seeded)
    box = page.get_by_test_id("run-filter")
    box.click()
    box.press_sequentially("params.")
    suggestions = page.get_by_test_id("filter-suggestions")
    expect(suggestions).to_be_visible()
    offered = suggestions.locator('[role="option"] .mono').all_inner_texts()
    params = set().union(*(r.params for r in showcase_runs(client, seeded)))
    assert {f"params.{k}" for k in params} <= set(offered)
    assert "params.lr" in offered
    # Narrowing the word narrows the list; accepting one puts it in the box.
    box.press_sequentially("op")
    expect(suggestions.locator('[role="option"]')).to_have_count(1)
    box.press("Tab")
    expect(box).to_have_value("params.optimizer")


def test_sorting_by_a_column_orders_the_rows(
    page: Any, ui: LiveServer, seeded: Seeded, client: tane.Client
) -> None:
    runs_page(page, ui, seeded)
    runs = showcase_runs(client, seeded)
    with_acc = [r for r in runs if "acc" in r.metrics]
    without = [r.id for r in runs if "acc" not in r.metrics]
    header = page.locator('[role="columnheader"][data-column="metrics.acc"]')
    header.locator("button.rt-sort").click()  # numbers: the highest first
    expect(header).to_have_attribute("aria-sort", "descending")
    assert query_of(page)["sort"] == "metrics.acc:desc"
    desc = [r.id for r in sorted(with_acc, key=lambda r: r.metrics["acc"], reverse=True)]
    page.wait_for_function(
        "first => document.querySelector('[data-testid=\"run-row\"]').dataset.runId === first",
        arg=desc[0],
        timeout=5_000,
    )
    shown = row_ids(page)
    assert shown[: len(desc)] == desc
    assert sorted(shown[len(desc) :]) == sorted(without)  # runs without the value last
    header.locator("button.rt-sort").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    wait_rows(page, desc[::-1] + shown[len(desc) :])
    # By name: text order, numbers in names by value (grid-2 before grid-10).
    page.locator('[data-column="attributes.name"] button.rt-sort').click()
    wait_rows(page, [r.id for r in sorted(runs, key=lambda r: natural(r.name))])


def test_choosing_a_column_shows_it(
    page: Any, ui: LiveServer, seeded: Seeded, client: tane.Client
) -> None:
    runs_page(page, ui, seeded)
    assert page.locator('[data-column="tags.team"]').count() == 0
    page.get_by_test_id("column-chooser").click()
    panel = page.get_by_test_id("column-chooser-panel")
    panel.locator('input[type="search"]').fill("team")
    panel.locator('input[data-key="tags.team"]').check()
    expect(page.locator('[role="columnheader"][data-column="tags.team"]')).to_be_visible()
    assert "tags.team" in query_of(page)["cols"].split(",")
    page.keyboard.press("Escape")
    # The cell of the run with the tag holds its value; the others are empty.
    team = client.get_run(seeded.showcase_run).tags["team"]
    row = page.locator(f'[data-testid="run-row"][data-run-id="{seeded.showcase_run}"]')
    expect(row).to_contain_text(team)
    # Hiding it again from its header.
    head = page.locator('[role="columnheader"][data-column="tags.team"]')
    head.hover()
    head.get_by_role("button", name="Hide the column team").click()
    expect(page.locator('[data-column="tags.team"]')).to_have_count(0)


def test_group_by_a_param_shows_groups(
    page: Any, ui: LiveServer, seeded: Seeded, client: tane.Client
) -> None:
    runs_page(page, ui, seeded)
    page.get_by_test_id("group-by").select_option("params.lr")
    groups = page.get_by_test_id("run-group")
    runs = showcase_runs(client, seeded)
    expected: dict[str, int] = {}
    for r in runs:
        value = r.params.get("lr", "(none)")
        expected[value] = expected.get(value, 0) + 1
    expect(groups).to_have_count(len(expected))
    shown = {}
    for i in range(groups.count()):
        g = groups.nth(i)
        count = g.locator(".rt-group-toggle > .muted").last.inner_text()
        shown[g.locator("strong").inner_text()] = int(count.split()[0])
    assert shown == expected
    assert query_of(page)["group"] == "params.lr"
    # A group folds away.
    g = groups.filter(has=page.locator("strong", has_text="0.1")).first
    folded = int(g.locator(".rt-group-toggle > .muted").last.inner_text().split()[0])
    before = page.get_by_test_id("run-row").count()
    g.locator(".rt-group-toggle").click()
    expect(page.get_by_test_id("run-row")).to_have_count(before - folded)


def test_running_run_shows_its_status(
    page: Any, ui: LiveServer, seeded: Seeded, client: tane.Client
) -> None:
    assert client.get_run(seeded.running_run).status == "RUNNING"
    runs_page(page, ui, seeded)
    row = page.locator(f'[data-testid="run-row"][data-run-id="{seeded.running_run}"]')
    expect(row).to_have_attribute("data-status", "RUNNING")
    badge = row.locator(".badge")
    expect(badge).to_have_text("Running")
    expect(badge).to_have_class("badge badge-running")
    expect(page.locator(".page-head .sub")).to_contain_text("1 running")
    finished = page.locator(f'[data-testid="run-row"][data-run-id="{seeded.showcase_run}"]')
    expect(finished.locator(".badge")).to_have_text("Finished")


def test_live_update_of_a_running_run(
    page: Any, ui: LiveServer, seeded: Seeded, client: tane.Client
) -> None:
    """A point logged (and a run created) while the table is open shows within a poll."""
    runs_page(page, ui, seeded, "?cols=metrics.loss,metrics.acc")
    row = page.locator(f'[data-testid="run-row"][data-run-id="{seeded.running_run}"]')
    expect(row).to_have_attribute("data-status", "RUNNING")
    store = open_store(seeded.store)
    try:
        before = store.get_run(seeded.running_run).metrics["loss"]
        assert before != 0.0123
        store.log_batch(seeded.running_run, [("loss", 0.0123, 99, int(time.time() * 1000))])
        late = store.create_run(seeded.experiments["showcase"], "late-arrival")
        store.log_batch(late.id, [("acc", 0.4242, 0, int(time.time() * 1000))])
        store.update_run(late.id, status="FINISHED", end_time=int(time.time() * 1000))
    finally:
        store.close()
    loss = row.locator(".rt-cell").nth(5)  # select, status, name, created, duration, loss
    expect(loss).to_have_text("0.0123", timeout=LIVE_TIMEOUT)
    added = page.locator(f'[data-testid="run-row"][data-run-id="{late.id}"]')
    expect(added).to_contain_text("0.4242", timeout=LIVE_TIMEOUT)
    expect(added).to_have_attribute("data-status", "FINISHED")
    wait_rows(page, [r.id for r in showcase_runs(client, seeded)], ordered=False)


# -- compare -------------------------------------------------------------------------


def test_select_runs_and_compare_them(
    page: Any, ui: LiveServer, seeded: Seeded, client: tane.Client, browser: Any
) -> None:
    runs = {r.name: r for r in showcase_runs(client, seeded)}
    chosen = [runs["grid-0"], runs["grid-1"], runs["showcase"]]
    ids = [r.id for r in chosen]
    runs_page(page, ui, seeded)
    button = page.get_by_test_id("compare-button")
    expect(button).to_be_disabled()
    select_runs(page, ids)
    expect(button).to_be_enabled()
    expect(button).to_have_text(f"Compare {len(ids)}")
    assert query_of(page)["sel"].split(",") == ids
    button.click()
    page.wait_for_url("**/compare?runs=*")
    assert query_of(page)["runs"].split(",") == ids
    ready(page)
    chips = page.get_by_test_id("compare-runs").locator("a")
    assert chips.all_inner_texts() == [r.name for r in chosen]

    # Curves overlaid: one chart per metric, each drawing every run's points.
    for key in ("loss", "acc"):
        chart = page.locator(f'.metric-chart[data-metric="{key}"]')
        expect(chart).to_have_attribute("data-loaded", "true")
        expect(chart.get_by_test_id("metric-chart").locator("canvas").first).to_be_attached()
        points = sum(len(client.get_metric_history(r.id, key)) for r in chosen)
        expect(chart).to_have_attribute("data-points", str(points))

    # Parallel coordinates and the scatter: one line and one point per run.
    lines = page.get_by_test_id("parallel-coordinates").locator("path.pc-line")
    expect(lines).to_have_count(len(ids))
    assert sorted(lines.evaluate_all("ls => ls.map(l => l.dataset.runId)")) == sorted(ids)
    points = page.get_by_test_id("scatter").locator("circle.sc-point")
    expect(points).to_have_count(len(ids))
    page.get_by_test_id("scatter-x").select_option("params.lr")
    assert query_of(page)["sx"] == "params.lr"
    expect(page.get_by_test_id("scatter").locator("svg")).to_have_attribute(
        "aria-label", "acc against lr"
    )

    # The params that differ, and only those.
    keys = set().union(*(r.params for r in chosen))
    differing = {k for k in keys if len({r.params.get(k) for r in chosen}) > 1}
    assert differing == {"lr", "depth", "optimizer"}
    diff = page.get_by_test_id("params-diff")
    rows = diff.locator("tbody tr[data-param]")
    expect(rows).to_have_count(len(differing))
    assert set(rows.evaluate_all("rs => rs.map(r => r.dataset.param)")) == differing
    lr = diff.locator('tr[data-param="lr"] td.val').all_inner_texts()
    assert lr == [r.params["lr"] for r in chosen]
    page.get_by_test_id("params-diff-all").check()
    expect(rows).to_have_count(len(keys))

    # The link reopens the same comparison, chart settings included, in a fresh browser.
    link = page.url
    other = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        again = other.new_page()
        again.goto(link)
        ready(again)
        assert again.get_by_test_id("compare-runs").locator("a").all_inner_texts() == [
            r.name for r in chosen
        ]
        expect(again.get_by_test_id("scatter-x")).to_have_value("params.lr")
        again_rows = again.get_by_test_id("params-diff").locator("tbody tr[data-param]")
        expect(again_rows).to_have_count(len(differing))
        again.screenshot(path=str(SHOTS / "compare-link-reopened.png"))
    finally:
        other.close()


# -- one run -------------------------------------------------------------------------


def test_run_overview_shows_status_commit_and_children(
    page: Any, ui: LiveServer, seeded: Seeded, client: tane.Client
) -> None:
    run = client.get_run(seeded.showcase_run)
    page.goto(f"{ui.url}/runs/{run.id}")
    ready(page)
    expect(page.locator("h1")).to_have_text(run.name)
    overview = page.get_by_test_id("run-overview")
    expect(overview.locator(".badge[data-status]")).to_have_text("Finished")
    commit = run.tags["tane.git.commit"]
    expect(overview.locator(f'code[title="{commit}"]')).to_have_text(commit[:10])
    params = page.get_by_test_id("params-table")
    for key, value in run.params.items():
        expect(params.locator("tr", has_text=key)).to_contain_text(value)
    children = list(client.search_runs(f"attributes.parent_id = '{run.id}'"))
    assert len(children) == 2
    overview.get_by_role("button", name="2 runs").click()
    wait_rows(page, [c.id for c in children], ordered=False)
    assert query_of(page)["tab"] == "children"


def test_run_metric_and_system_charts(
    page: Any, ui: LiveServer, seeded: Seeded, client: tane.Client
) -> None:
    run_id = seeded.showcase_run
    page.goto(f"{ui.url}/runs/{run_id}?tab=metrics")
    ready(page)
    charts = page.locator(".metric-chart")
    expect(charts).to_have_count(2)  # acc and loss; system/ metrics have their own tab
    for key in ("acc", "loss"):
        chart = page.locator(f'.metric-chart[data-metric="{key}"]')
        expect(chart).to_have_attribute("data-loaded", "true")
        points = len(client.get_metric_history(run_id, key))
        expect(chart).to_have_attribute("data-points", str(points))
        canvas = chart.get_by_test_id("metric-chart").locator("canvas").first
        size = canvas.evaluate("c => [c.width, c.height]")
        assert size[0] > 100 and size[1] > 100
    page.get_by_test_id("tab-system").click()
    system = page.locator('.metric-chart[data-metric="system/cpu_percent"]')
    expect(system).to_have_attribute("data-loaded", "true")
    expect(system.get_by_test_id("metric-chart").locator("canvas").first).to_be_attached()
    expect(page.locator(".metric-chart")).to_have_count(1)
    # The chart settings live in the URL.
    page.get_by_test_id("log-scale").check()
    assert query_of(page)["log"] == "1"


def test_run_artifacts_preview_every_kind(
    page: Any, ui: LiveServer, seeded: Seeded, client: tane.Client
) -> None:
    run_id = seeded.showcase_run
    page.goto(f"{ui.url}/runs/{run_id}")
    ready(page)
    page.get_by_test_id("tab-artifacts").click()
    entry = page.get_by_test_id("artifact-entry")
    top = {a.path for a in client.list_artifacts(run_id)}
    expect(entry).to_have_count(len(top))

    # CSV: a table with the file's cells (and a row number column).
    entry.and_(page.locator('[data-path="tables"]')).click()
    entry.and_(page.locator('[data-path="tables/curve.csv"]')).click()
    table = page.get_by_test_id("csv-table")
    expect(table).to_be_visible()
    head = table.locator("thead th").all_inner_texts()
    body = [row.locator("td").all_inner_texts()[1:] for row in table.locator("tbody tr").all()]
    lines = client.read_artifact(run_id, "tables/curve.csv").decode().strip().split("\n")
    assert head[1:] == lines[0].split(",")
    assert body == [line.split(",") for line in lines[1:]]
    assert query_of(page)["path"] == "tables/curve.csv"

    # PNG: an image the browser decoded.
    entry.and_(page.locator('[data-path="plots"]')).click()
    entry.and_(page.locator('[data-path="plots/gradient.png"]')).click()
    image = page.get_by_test_id("artifact-image")
    image.wait_for()
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=\"artifact-image\"]');"
        " return i && i.complete && i.naturalWidth > 0; }",
        timeout=5_000,
    )
    assert image.evaluate("i => [i.naturalWidth, i.naturalHeight]") == [8, 8]

    # JSON: pretty-printed, the same document.
    entry.and_(page.locator('[data-path="report.json"]')).click()
    text = page.get_by_test_id("artifact-text")
    expect(text).to_contain_text('"accuracy": 0.93')
    assert json.loads(text.inner_text()) == json.loads(client.read_artifact(run_id, "report.json"))

    # The git diff: added lines marked as such.
    entry.and_(page.locator('[data-path="git.diff"]')).click()
    diff = page.get_by_test_id("diff-view")
    expect(diff.locator(".diff-add")).to_have_text("+lr = 0.01\n")
    expect(diff.locator(".diff-file")).to_contain_text("diff --git a/train.py b/train.py")

    # The URL names the file: reloading shows it again.
    page.reload()
    ready(page)
    expect(page.get_by_test_id("diff-view").locator(".diff-add")).to_have_text("+lr = 0.01\n")


def test_note_and_tags_are_saved(
    page: Any, ui: LiveServer, seeded: Seeded, client: tane.Client
) -> None:
    run_id = seeded.showcase_run
    page.goto(f"{ui.url}/runs/{run_id}")
    ready(page)
    note = f"Tried a lower lr at {time.time_ns()}.\nBetter loss."
    editor = page.get_by_test_id("note-editor")
    editor.fill(note)
    page.get_by_test_id("note-save").click()
    expect(page.locator(".note .ok-text")).to_have_text("Saved")
    assert client.get_run(run_id).note == note
    page.get_by_test_id("tag-key").fill("reviewed-by")
    page.get_by_test_id("tag-value").fill("ann")
    page.get_by_test_id("tag-add").click()
    expect(page.locator('[data-testid="tag"][data-key="reviewed-by"]')).to_contain_text("ann")
    assert client.get_run(run_id).tags["reviewed-by"] == "ann"
    # What was saved is what the page shows after a reload.
    page.reload()
    ready(page)
    expect(page.get_by_test_id("note-editor")).to_have_value(note)
    expect(page.locator('[data-testid="tag"][data-key="reviewed-by"]')).to_be_visible()
    # Removing the tag.
    page.get_by_role("button", name="Remove the tag reviewed-by").click()
    expect(page.locator('[data-testid="tag"][data-key="reviewed-by"]')).to_have_count(0)
    assert "reviewed-by" not in client.get_run(run_id).tags


# -- the URL holds the state ---------------------------------------------------------


def test_runs_page_state_survives_a_reload(
    page: Any, ui: LiveServer, seeded: Seeded, client: tane.Client
) -> None:
    flt = "metrics.acc > 0.6 and params.model = 'lgbm'"
    expected = [
        r.id
        for r in client.search_runs(
            flt, experiment=seeded.experiments["showcase"], order_by=["metrics.acc ASC"]
        )
    ]
    assert len(expected) >= 5
    runs_page(page, ui, seeded, f"?filter={quote(flt)}&sort=metrics.acc:asc&group=")
    expect(page.get_by_test_id("run-filter")).to_have_value(flt)
    wait_rows(page, expected)
    header = page.locator('[role="columnheader"][data-column="metrics.acc"]')
    expect(header).to_have_attribute("aria-sort", "ascending")
    # The third click of a header clears the sort (the server's order), the next one
    # sorts from the highest; a reload shows the same rows in the same order.
    header.locator("button.rt-sort").click()
    expect(header).to_have_attribute("aria-sort", "none")
    assert "sort" not in query_of(page)
    by_server = [r.id for r in client.search_runs(flt, experiment=seeded.experiments["showcase"])]
    wait_rows(page, by_server)
    header.locator("button.rt-sort").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    wait_rows(page, expected[::-1])
    page.reload()
    ready(page)
    wait_rows(page, expected[::-1])
    expect(page.get_by_test_id("run-filter")).to_have_value(flt)


# -- theme ---------------------------------------------------------------------------


def test_theme_toggle_switches_and_is_remembered(page: Any, ui: LiveServer) -> None:
    page.goto(ui.url)
    ready(page)
    html = page.locator("html")
    expect(html).to_have_attribute("data-theme", "light")  # headless Chromium prefers light
    background = "() => getComputedStyle(document.body).backgroundColor"
    light_bg = page.evaluate(background)
    page.get_by_test_id("theme-toggle").click()
    expect(html).to_have_attribute("data-theme", "dark")
    dark_bg = page.evaluate(background)
    assert dark_bg != light_bg
    page.reload()
    ready(page)
    expect(html).to_have_attribute("data-theme", "dark")
    expect(page.get_by_test_id("theme-toggle")).to_have_attribute("data-theme-current", "dark")
    assert page.evaluate(background) == dark_bg
    page.get_by_test_id("theme-toggle").click()
    expect(html).to_have_attribute("data-theme", "light")
    page.reload()
    ready(page)
    expect(html).to_have_attribute("data-theme", "light")


# -- with auth -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def auth_ui(seeded: Seeded) -> Iterator[LiveServer]:
    """`tane server --auth` over the seeded store, with a user allowed to edit showcase."""
    from tane.server import create_app
    from tane.server.users import AuthStore

    store = open_store(seeded.store)
    users = AuthStore(store.uri)
    users.add_user("ann", "user", PASSWORD)
    users.grant("ann", seeded.experiments["showcase"], "edit")
    try:
        with LiveServer(app=create_app(store=store, auth=True)) as server:
            yield server
    finally:
        users.remove_user("ann")
        users.close()
        store.close()


def test_login_then_the_page_asked_for_and_a_write_with_csrf(
    page: Any, auth_ui: LiveServer, seeded: Seeded, client: tane.Client
) -> None:
    runs = {r.name: r for r in showcase_runs(client, seeded)}
    run_id = runs["grid-3"].id
    wanted = f"/runs/{run_id}?tab=overview"
    page.goto(auth_ui.url + wanted)
    page.wait_for_url("**/login?next=*")
    assert query_of(page)["next"] == wanted
    page.fill("#username", "ann")
    page.fill("#password", "wrong password")
    page.click('button[type="submit"]')
    expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")
    page.fill("#username", "ann")
    page.fill("#password", PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_url(f"**{wanted}")
    ready(page)
    expect(page.locator("h1")).to_have_text("grid-3")
    expect(page.locator(".user-chip")).to_contain_text("ann")

    writes: list[dict[str, str]] = []
    page.on(
        "request",
        lambda r: writes.append(r.headers) if r.method == "PATCH" else None,
    )
    note = f"Reviewed behind auth {time.time_ns()}"
    page.get_by_test_id("note-editor").fill(note)
    page.get_by_test_id("note-save").click()
    expect(page.locator(".note .ok-text")).to_have_text("Saved")
    assert client.get_run(run_id).note == note
    assert len(writes) == 1 and writes[0].get("x-csrf-token")
