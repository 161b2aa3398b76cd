"""A real `tane` app over a seeded store, and Debian's Chromium driven by Playwright.

The store is seeded once per session the way a user fills one: `tane demo` (training
runs with per-epoch metrics and figures, the iris pipeline run twice, a sweep over it),
plus runs with every kind of artifact preview, nested runs, a RUNNING run, and a
define-by-run sweep with PRUNED and FAILED trials. Screenshots of every test go to
``test-artifacts/ui/`` (or ``TANE_UI_ARTIFACTS``), kept by CI as test artifacts.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tane.testing.server import LiveServer

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("TANE_UI_ARTIFACTS", ROOT / "test-artifacts" / "ui"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


def png(width: int = 8, height: int = 8) -> bytes:
    """A small valid PNG (a red-blue gradient), made without any imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 32 % 256, 40, y * 32 % 256)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@dataclass
class Seeded:
    """What the seeded store holds, for the tests to look for."""

    store: str
    showcase_run: str  # every artifact kind, a note, nested children
    running_run: str
    pipeline_runs: list[str]
    demo_sweep: str
    pruned_sweep: str
    experiments: dict[str, str]  # name -> id


def experiments_by_name(store: Any) -> dict[str, str]:
    return {e.name: e.id for e in store.list_experiments()}


def _seed(folder: Path) -> Seeded:
    import tane
    from tane.tracking.stores import clear_cache, open_store
    from tane.tracking.stores.base import owner_host

    store_dir = folder / "store"
    env = {**os.environ, "TANE_STORE": str(store_dir), "XDG_CACHE_HOME": str(folder / "cache")}
    demo = subprocess.run(
        [sys.executable, "-m", "tane", "demo", "--runs", "4", "--epochs", "12", "--trials", "6"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert demo.returncode == 0, demo.stderr
    store = str(store_dir)
    # No git capture: the seed's own git.diff and commit tag, whatever state the checkout
    # the tests run in is in (a dirty tree's diff would replace them in the background).
    with tane.start_run(
        experiment="showcase", name="showcase", store=store, capture={"git": False}
    ) as run:
        tane.log_params({"lr": 0.01, "depth": 6, "model": "lgbm", "optimizer": "adam"})
        for step in range(300):
            tane.log_metrics({"loss": 1.0 / (step + 1), "acc": 1 - 1.0 / (step + 2)}, step=step)
            tane.log_metric("system/cpu_percent", 40 + step % 20, step=step)
        tane.log_text("epoch,loss\n1,0.9\n2,0.5\n3,0.25\n", "tables/curve.csv")
        tane.log_dict({"accuracy": 0.93, "classes": ["a", "b"]}, "report.json")
        tane.log_text("diff --git a/train.py b/train.py\n+lr = 0.01\n", "git.diff")
        tane.log_text("lr: 0.01\ndepth: 6\n", "config.yaml")
        active = tane.active_run()
        assert active is not None
        active.store.log_artifact_bytes(run.id, "plots/gradient.png", png())
        tane.set_tags({"team": "vision", "tane.git.commit": "0123456789abcdef"})
        for i in range(2):
            with tane.start_run(name=f"child-{i}"):
                tane.log_metric("loss", 0.5 - i * 0.1)
    showcase = run.id
    for i in range(12):
        with tane.start_run(experiment="showcase", name=f"grid-{i}", store=store):
            tane.log_params({"lr": [0.001, 0.01, 0.1][i % 3], "depth": 2 + i % 4, "model": "lgbm"})
            for step in range(50):
                tane.log_metric("loss", (1 + i % 3) / (step + 1), step=step)
            tane.log_metric("acc", 0.5 + i * 0.04)

    def objective(trial: Any) -> float:
        x = trial.suggest_float("x", -3, 3)
        y = trial.suggest_int("y", 0, 5)
        if trial.number == 3:
            raise RuntimeError("diverged")
        for step in range(5):
            trial.report((x - 1) ** 2 + y + 1.0 / (step + 1), step)
            if trial.number in (5, 7):
                raise tane.TrialPruned()
        return float((x - 1) ** 2 + y)

    outcome = tane.sweep(
        objective, n_trials=10, seed=1, store=store, experiment="sweeps", name="xy sweep"
    )
    # A run of this (live) process that stays RUNNING for the whole session.
    raw = open_store(store)
    running = raw.create_run(
        experiments_by_name(raw)["showcase"], "still-running", host=owner_host(), pid=os.getpid()
    )
    raw.log_batch(running.id, [("loss", 0.7, 0, 1)], {"lr": "0.5"})
    client = tane.Client(store)
    experiments = {e.name: e.id for e in client.list_experiments()}
    pipeline_runs = [  # the demo's two runs of the iris pipeline, not the sweep's trials
        r.id
        for r in client.search_runs(
            filter_string="tags.`tane.kind` = 'pipeline'", order_by=["start_time"]
        )
        if r.parent_id is None
    ]
    sweeps = list(client.search_runs(filter_string="tags.`tane.kind` = 'sweep'"))
    demo_sweep = next(r.id for r in sweeps if r.id != outcome.parent_id)
    clear_cache()
    return Seeded(
        store=store,
        showcase_run=showcase,
        running_run=running.id,
        pipeline_runs=pipeline_runs,
        demo_sweep=demo_sweep,
        pruned_sweep=outcome.parent_id,
        experiments=experiments,
    )


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return _seed(tmp_path_factory.mktemp("ui-seed"))


@pytest.fixture(scope="session")
def ui(seeded: Seeded) -> Iterator[LiveServer]:
    """The app (`tane ui`'s, no auth) over the seeded store on 127.0.0.1."""
    from tane.server import create_app

    with LiveServer(app=create_app(seeded.store)) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Chromium is not installed: scripts/test installs it (apt-get chromium)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page (1400x900); its screenshot is kept after the test, pass or fail."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    SHOTS.mkdir(parents=True, exist_ok=True)
    name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    try:
        tab.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)
    finally:
        context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


def ready(page: Any, timeout: float = 15_000) -> None:
    """Wait until the current view says its data is loaded and drawn."""
    page.wait_for_selector('[data-ready="true"]', timeout=timeout)


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=1, default=str)
