"""Several uvicorn workers on one PostgreSQL, with auth: concurrent clients race safely.

A real `tane server --workers 2 --auth` process over a real PostgreSQL. Sixteen
clients at once create the same experiment by name, create runs, log params and
metrics, sign in with passwords and grant permissions; nothing answers 5xx, every
point lands once, and every worker agrees on users, tokens and permissions.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tane.server.users import AuthStore
from tane.testing.server import free_port
from tane.tracking.stores.rest import RestStore
from tane.tracking.stores.sql import SqlStore

CLIENTS = 16
BATCHES = 20
POINTS = 25


@pytest.mark.slow
def test_two_workers_on_one_postgres_under_concurrent_clients(
    postgres_url: str, tmp_path: Path
) -> None:
    users = AuthStore(postgres_url)
    users.add_user("root", "admin", "root-password-1")
    users.add_user("worker", "user", "worker-password-1")
    admin_token = users.create_token("root")[1]
    users.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "tane", "server", "--store", postgres_url),
                *("--port", str(port), "--workers", "2", "--auth"),
                *("--default-permission", "none"),
            ],
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        errors: list[str] = []
        statuses: list[int] = []
        run_ids: list[str] = []
        lock = threading.Lock()
        barrier = threading.Barrier(CLIENTS)

        def client(i: int) -> None:
            try:
                store = RestStore(url, token=admin_token)
                barrier.wait()
                exp = store.get_or_create_experiment("shared")  # all at once, same name
                run = store.create_run(exp.id, f"client-{i}")
                with lock:
                    run_ids.append(run.id)
                for b in range(BATCHES):
                    points = [
                        ("loss", float(b * POINTS + k), b * POINTS + k, k) for k in range(POINTS)
                    ]
                    store.log_batch(run.id, points, {"client": str(i)}, {"batch": str(b)})
                # Sessions and grants from every worker at once.
                with httpx.Client(base_url=url, timeout=30) as http:
                    login = http.post(
                        "/api/v1/auth/login",
                        json={"username": "worker", "password": "worker-password-1"},
                    )
                    granted = http.put(
                        f"/api/v1/experiments/{exp.id}/permissions/worker",
                        json={"level": "read" if i % 2 else "edit"},
                        headers={"Authorization": f"Bearer {admin_token}"},
                    )
                with lock:
                    statuses.extend([login.status_code, granted.status_code])
                store.update_run(run.id, status=None, note=f"done {i}")
                store.close()
            except Exception as exc:  # collected, asserted below
                with lock:
                    errors.append(f"client {i}: {type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert errors == []
        assert set(statuses) <= {200, 204}, statuses
        # Every worker sees the same users and the last grant.
        with httpx.Client(base_url=url, timeout=10) as http:
            answers = {
                http.get(
                    "/api/v1/users", headers={"Authorization": f"Bearer {admin_token}"}
                ).status_code
                for _ in range(8)
            }
        assert answers == {200}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]
    store = SqlStore(postgres_url)
    try:
        experiments = [e for e in store.list_experiments() if e.name == "shared"]
        assert len(experiments) == 1
        assert len(run_ids) == CLIENTS
        for run_id in run_ids:
            history = store.get_metric_history(run_id, "loss")
            assert len(history) == BATCHES * POINTS
            assert store.get_run(run_id).note.startswith("done ")
    finally:
        store.close()
    assert os.environ.get("TANE_SERVER_SETTINGS") is None
