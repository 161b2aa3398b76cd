"""The server is restarted while clients log: they retry or spool; nothing is lost.

Three client processes log metric points through the fluent API
(TANE_STORE=http://127.0.0.1:PORT) for a few seconds, while the server is
stopped twice and started again on the same port over the same SQLite store.
Afterwards every point logged is in the store exactly once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tane.testing.server import LiveServer
from tane.tracking.entities import RunStatus
from tane.tracking.stores.sql import SqlStore

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

CLIENT = r"""
import sys, time
import tane

seconds = float(sys.argv[1])
with tane.start_run(experiment="restart", capture=False) as run:
    tane.log_params({"client": sys.argv[2]})
    print(run.id, flush=True)
    deadline = time.monotonic() + seconds
    step = 0
    while time.monotonic() < deadline:
        tane.log_metric("loss", 1.0 / (step + 1), step=step)
        tane.log_metric("acc", step / 1000.0, step=step)
        step += 1
        if step % 500 == 0:
            tane.set_tag("progress", str(step))
        time.sleep(0.0005)
    tane.set_tag("progress", "done")
print(step, flush=True)
"""

CLIENTS = 3
SECONDS = 5.0


def test_clients_lose_nothing_while_the_server_restarts(tmp_path: Path) -> None:
    backend = SqlStore(
        f"sqlite:///{tmp_path / 'server' / 'tane.db'}", str(tmp_path / "server" / "artifacts")
    )
    server = LiveServer(store=backend).start()
    port = server.port
    env = {
        **os.environ,
        "TANE_STORE": server.url,
        "TANE_FLUSH_INTERVAL": "0.05",
        "PYTHONUNBUFFERED": "1",
    }
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    clients = [
        subprocess.Popen(
            [sys.executable, str(script), str(SECONDS), str(n)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(CLIENTS)
    ]
    try:
        # Every run exists before the first outage (creating a run needs the server).
        run_ids = [c.stdout.readline().strip() for c in clients]  # type: ignore[union-attr]
        assert all(len(r) == 32 for r in run_ids), run_ids
        started = time.monotonic()
        for up, down in [(0.6, 1.0), (0.8, 0.7)]:
            time.sleep(up)
            server.stop()
            time.sleep(down)
            server = LiveServer(store=backend, port=port).start()
        outcomes = [c.communicate(timeout=30) for c in clients]
        elapsed = time.monotonic() - started
    finally:
        server.stop()
        for c in clients:
            if c.poll() is None:
                c.kill()
                c.wait()
    try:
        for client, (_out, err) in zip(clients, outcomes, strict=True):
            assert client.returncode == 0, err
            # Each client met the outages (a spool warning) and ended with nothing left.
            assert "cannot be reached" in err, err
            assert "ended with" not in err, err
        for run_id, (out, _err) in zip(run_ids, outcomes, strict=True):
            logged = int(out.split()[-1])
            assert logged > 100
            for key in ("loss", "acc"):
                steps = [m.step for m in backend.get_metric_history(run_id, key)]
                # Every point, none twice.
                assert len(steps) == logged, (key, len(steps), logged)
                assert sorted(steps) == list(range(logged))
            run = backend.get_run(run_id)
            assert run.status is RunStatus.FINISHED
            assert run.tags["progress"] == "done"
            assert run.params["client"] in {str(n) for n in range(CLIENTS)}
        spool_runs = tmp_path / "xdg-cache" / "tane" / "spool"
        assert not list(spool_runs.glob("*/runs/*.jsonl"))
        assert elapsed < 20
    finally:
        backend.close()
