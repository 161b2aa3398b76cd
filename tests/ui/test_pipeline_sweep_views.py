"""The pipeline DAG, the dataset lineage and the sweep views, in Chromium, on real runs."""

from __future__ import annotations

from typing import Any

from tests.ui.conftest import Seeded, ready

from tane.testing.server import LiveServer
from tane.tracking.stores import open_store


def test_pipeline_dag_shows_nodes_datasets_and_the_cache(
    page: Any, ui: LiveServer, seeded: Seeded
) -> None:
    first, second = seeded.pipeline_runs
    page.goto(f"{ui.url}/runs/{first}/pipeline")
    ready(page)
    dag = page.get_by_test_id("pipeline-dag")
    assert dag.is_visible()
    nodes = page.get_by_test_id("dag-node")
    names = sorted(nodes.nth(i).get_attribute("data-name") for i in range(nodes.count()))
    doc = open_store(seeded.store).get_run(first)
    assert int(doc.tags["tane.nodes"]) == len(names) >= 3
    statuses = {nodes.nth(i).get_attribute("data-status") for i in range(nodes.count())}
    assert statuses == {"ran"}
    assert page.get_by_test_id("dag-dataset").count() >= len(names)
    # The second run took every node from the cache, and says so.
    page.goto(f"{ui.url}/runs/{second}/pipeline")
    ready(page)
    cached = page.get_by_test_id("dag-node")
    assert {cached.nth(i).get_attribute("data-cached") for i in range(cached.count())} == {"true"}
    assert page.get_by_test_id("dag-cached-marker").count() == cached.count()
    # Click a node: its details; click a dataset: its lineage page.
    cached.first.click()
    assert page.get_by_test_id("node-details").is_visible()
    persisted = page.locator('[data-testid="dag-dataset"][data-kind="dataset"]').first
    persisted.click()
    page.get_by_test_id("dataset-link").click()
    ready(page)
    versions = page.get_by_test_id("dataset-version-row")
    assert versions.count() >= 1
    uses = page.get_by_test_id("dataset-use-row")
    assert uses.count() >= 2  # both pipeline runs used it
    assert page.get_by_test_id("dataset-versions").is_visible()


def test_sweep_view_shows_history_importances_and_every_trial_state(
    page: Any, ui: LiveServer, seeded: Seeded
) -> None:
    page.goto(f"{ui.url}/runs/{seeded.pruned_sweep}/sweep")
    ready(page)
    for part in ("sweep-history", "sweep-parallel", "sweep-importances", "sweep-best"):
        assert page.get_by_test_id(part).is_visible(), part
    rows = page.get_by_test_id("trial-row")
    assert rows.count() == 10
    states = [rows.nth(i).get_attribute("data-state") for i in range(rows.count())]
    assert states.count("PRUNED") == 2 and states.count("FAILED") == 1
    assert states.count("COMPLETE") == 7
    assert page.get_by_test_id("importance-bar").count() == 2  # x and y
    # The history draws one point per COMPLETE trial and a best-so-far line.
    assert page.get_by_test_id("history-point").count() >= 7
    assert page.get_by_test_id("history-best-line").count() == 1
    # A trial row links to its run's page.
    rows.first.locator("a").first.click()
    page.wait_for_url("**/runs/*")
    ready(page)


def test_sweep_over_a_pipeline_links_to_its_trials(
    page: Any, ui: LiveServer, seeded: Seeded
) -> None:
    page.goto(f"{ui.url}/runs/{seeded.demo_sweep}/sweep")
    ready(page)
    rows = page.get_by_test_id("trial-row")
    assert rows.count() == 6
    assert {rows.nth(i).get_attribute("data-state") for i in range(6)} == {"COMPLETE"}
    assert page.get_by_test_id("sweep-objective").inner_text().strip() != ""
