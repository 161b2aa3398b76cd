"""A team server as a user runs it: real processes, TLS, auth, two workers, S3 artifacts.

`tane users add` and `tane tokens create` make an admin and a token; `tane server
--auth --ssl-keyfile --ssl-certfile --workers 2` serves HTTPS; an unchanged training
script records through it with TANE_STORE=https://... and TANE_TOKEN.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tane.testing.server import free_port
from tane.tracking.stores import open_store

TRAIN = textwrap.dedent(
    """
    import tane

    with tane.start_run(experiment="team", name="from-laptop") as run:
        tane.log_params({"lr": 0.1, "depth": 4})
        for step in range(200):
            tane.log_metric("loss", 1.0 / (step + 1), step=step)
        tane.log_text("weights go here", "model/weights.txt")
        print(run.id)
    """
)


def _tane(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tane", *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def _certificate(folder: Path) -> tuple[Path, Path]:
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return key, cert


class Served:
    def __init__(self, proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.proc = proc
        self.url = url
        self.log = log


def _start(args: list[str], url: str, log: Path, env: dict[str, str], verify: object) -> Served:
    handle = open(log, "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "tane", "server", *args], stdout=handle, stderr=handle, env=env
    )
    handle.close()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", verify=verify, timeout=2).status_code == 200:  # type: ignore[arg-type]
                    return Served(proc, url, log)
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"tane server did not become healthy:\n{log.read_text()}")
            time.sleep(0.1)
    except BaseException:
        _stop(Served(proc, url, log))  # never leave a server behind
        raise


def _stop(served: Served) -> None:
    served.proc.terminate()
    try:
        served.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        served.proc.kill()
        served.proc.wait()


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Served, Path, str, Path]]:
    store = tmp_path / "team-store"
    env = {**os.environ, "TANE_STORE": str(store)}
    _tane("users", "add", "alice", "--admin", "--no-password", env=env)
    token = _tane("tokens", "create", "--user", "alice", "--name", "laptop", env=env).strip()
    assert token.startswith("tane_")
    key, cert = _certificate(tmp_path)
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    args = ["--store", str(store), "--port", str(port), "--auth", "--workers", "2"]
    args += ["--ssl-keyfile", str(key), "--ssl-certfile", str(cert)]
    served = _start(
        args, url, tmp_path / "server.log", env, ssl.create_default_context(cafile=cert)
    )
    try:
        yield served, store, token, cert
    finally:
        _stop(served)


@pytest.mark.slow
def test_training_script_records_through_an_https_server_with_a_token(
    tls_server: tuple[Served, Path, str, Path], tmp_path: Path
) -> None:
    served, store, token, cert = tls_server
    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    client_env = {k: v for k, v in os.environ.items() if not k.startswith(("TANE_", "AWS_"))} | {
        "TANE_STORE": served.url,
        "SSL_CERT_FILE": str(cert),
        "XDG_CACHE_HOME": str(tmp_path),
    }
    # Without a token: refused with the fix named, nothing recorded.
    refused = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=client_env,
        timeout=60,
        check=False,
    )
    assert refused.returncode != 0
    assert "requires authentication" in refused.stderr and "TANE_TOKEN" in refused.stderr
    assert "Traceback (most recent call last)" not in refused.stderr.split("NotAuthenticated")[-1]
    # With it: recorded on the server, exactly as on a laptop.
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env={**client_env, "TANE_TOKEN": token},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip().splitlines()[-1]
    local = open_store(str(store))
    run = local.get_run(run_id)
    assert run.status.name == "FINISHED"
    assert run.params == {"lr": "0.1", "depth": "4"}
    assert len(local.get_metric_history(run_id, "loss")) == 200
    with local.open_artifact(run_id, "model/weights.txt") as fh:
        assert fh.read() == b"weights go here"
    # The token is revoked: the next request is refused.
    token_id = token.split("_")[1]
    _tane("tokens", "revoke", token_id, "--store", str(store))
    gone = httpx.get(
        f"{served.url}/api/v1/runs/{run_id}",
        headers={"Authorization": f"Bearer {token}"},
        verify=ssl.create_default_context(cafile=cert),
    )
    assert gone.status_code == 401 and "revoked" in gone.json()["error"]["message"]
    # Plain HTTP to the TLS port is not served.
    with pytest.raises(httpx.TransportError):
        httpx.get(served.url.replace("https", "http") + "/health", timeout=5)


@pytest.mark.slow
def test_artifacts_on_s3_are_proxied_to_clients_without_credentials(
    moto_endpoint: str, tmp_path: Path
) -> None:
    import s3fs

    from tane.tracking.stores.rest import RestStore

    aws = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": moto_endpoint,
    }
    bucket = f"team-{os.getpid()}-{int(time.time())}"
    fs = s3fs.S3FileSystem(key="testing", secret="testing", endpoint_url=moto_endpoint)
    fs.mkdir(bucket)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    db = f"sqlite:///{tmp_path / 'server.db'}"
    args = ["--store", db, "--artifacts", f"s3://{bucket}/tane", "--port", str(port)]
    served = _start(args, url, tmp_path / "server.log", {**os.environ, **aws}, True)
    try:
        # This process has no AWS credentials at all; the server has them.
        for name in aws:
            assert name not in os.environ
        client = RestStore(url)
        exp = client.get_or_create_experiment("s3")
        run = client.create_run(exp.id, "on-s3")
        payload = os.urandom(3 * 1024 * 1024 + 7)
        local = tmp_path / "model.bin"
        local.write_bytes(payload)
        assert client.log_artifact(run.id, str(local), "models") == "models/model.bin"
        client.log_artifact_bytes(run.id, "notes.txt", b"hello s3")
        with client.open_artifact(run.id, "models/model.bin") as fh:
            assert fh.read() == payload
        listed = {a.path for a in client.list_artifacts(run.id)}
        assert listed == {"models", "notes.txt"}
        # The bytes are in the bucket, under the store's artifact root.
        keys = fs.find(f"{bucket}/tane")
        assert any(k.endswith(f"{run.id}/models/model.bin") for k in keys), keys
        assert fs.cat(next(k for k in keys if k.endswith("notes.txt"))) == b"hello s3"
        assert client.get_run(run.id).artifact_uri.startswith(f"s3://{bucket}/tane/")
        client.close()
    finally:
        _stop(served)
    # Serving the same store with another artifact root is refused, clearly.
    from tane.errors import StoreError
    from tane.server.app import StoreHolder

    with pytest.raises(StoreError, match="keeps its artifacts at s3://"):
        StoreHolder(db, artifacts=str(tmp_path / "elsewhere")).get()
