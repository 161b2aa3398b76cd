"""The real ``mlflow`` client against a real tane server (``MLFLOW_TRACKING_URI=http://tane``).

An unchanged MLflow script logs through tane's MLflow routes; its runs are then
read back through tane's own Client and REST store like any other run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy
import pytest

from tane.server import create_app
from tane.server.auth import AuthSettings
from tane.server.mlflow_api import translate_filter
from tane.server.users import AuthStore
from tane.testing.server import LiveServer
from tane.tracking.client import Client
from tane.tracking.entities import RunStatus
from tane.tracking.stores import open_store
from tane.tracking.stores.rest import RestStore
from tane.tracking.stores.sql import SqlStore

mlflow = pytest.importorskip("mlflow")

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _mlflow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        # A refusal is final: no backoff and retries to slow the tests down.
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def tracking(server: LiveServer, backend: SqlStore, monkeypatch: pytest.MonkeyPatch) -> str:
    """MLFLOW_TRACKING_URI pointing at a tane server over a fresh store."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    mlflow.set_tracking_uri(server.url)
    return server.url


def test_an_unchanged_mlflow_script_logs_into_tane(
    tracking: str, backend: SqlStore, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello from mlflow")
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 12_000)  # 3 MB: several chunks each way
    # -- the MLflow script, as its authors wrote it --
    mlflow.set_experiment("mlflow-script")
    with mlflow.start_run(run_name="train") as parent:
        mlflow.log_param("lr", 0.1)
        mlflow.log_params({"depth": 3, "optimizer": "adam"})
        for step in range(3):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.75, "f1": 0.5}, step=2)
        mlflow.set_tag("team", "vision")
        mlflow.log_artifact(str(notes))
        mlflow.log_artifact(str(notes), artifact_path="docs")
        mlflow.log_dict({"layers": [1, 2]}, "config/model.json")
        mlflow.log_artifact(str(big), artifact_path="data")
        toy = mlflow.data.from_numpy(numpy.array([[1.0, 2.0]]), name="toy")
        mlflow.log_input(toy, context="training")
        with mlflow.start_run(run_name="fold-1", nested=True) as child:
            mlflow.log_metric("fold_acc", 0.7)
    # -- and tane sees ordinary runs --
    client = Client(backend)
    experiment = client.get_experiment("mlflow-script")
    assert parent.info.experiment_id == experiment.id
    run = backend.get_run(parent.info.run_id)
    assert run.name == "train" and run.status is RunStatus.FINISHED and run.end_time
    assert run.params == {"lr": "0.1", "depth": "3", "optimizer": "adam"}
    assert run.metrics == {"loss": pytest.approx(1 / 3), "acc": 0.75, "f1": 0.5}
    history = backend.get_metric_history(run.id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]
    assert run.tags["team"] == "vision"
    assert "mlflow.runName" not in run.tags and "mlflow.parentRunId" not in run.tags
    assert backend.open_artifact(run.id, "notes.txt").read() == b"hello from mlflow"
    assert backend.open_artifact(run.id, "docs/notes.txt").read() == b"hello from mlflow"
    assert json.loads(backend.open_artifact(run.id, "config/model.json").read()) == {
        "layers": [1, 2]
    }
    nested = backend.get_run(child.info.run_id)
    assert nested.parent_id == run.id and nested.name == "fold-1"
    assert nested.metrics == {"fold_acc": 0.7}
    # ... through tane's own REST client too.
    rest = RestStore(tracking)
    try:
        assert rest.get_run(run.id).params == run.params
        found = rest.search_runs([experiment.id], "attributes.parent_id IS NULL")
        assert [r.id for r in found.runs] == [run.id]
    finally:
        rest.close()
    # MLflow reads it all back the way it wrote it.
    got = mlflow.get_run(run.id)
    assert got.info.run_name == "train" and got.info.status == "FINISHED"
    assert got.info.lifecycle_stage == "active"
    assert got.data.params == {"lr": "0.1", "depth": "3", "optimizer": "adam"}
    assert got.data.metrics["acc"] == 0.75
    assert got.data.tags["team"] == "vision" and got.data.tags["mlflow.runName"] == "train"
    child_tags = mlflow.get_run(nested.id).data.tags
    assert child_tags["mlflow.parentRunId"] == run.id
    names = {f.path for f in mlflow.MlflowClient().list_artifacts(run.id)}
    assert names == {"notes.txt", "docs", "config", "data"}
    assert mlflow.artifacts.load_dict(f"runs:/{run.id}/config/model.json") == {"layers": [1, 2]}
    assert backend.open_artifact(run.id, "data/big.bin").read() == big.read_bytes()
    copy = mlflow.artifacts.download_artifacts(
        run_id=run.id, artifact_path="data/big.bin", dst_path=str(tmp_path / "big")
    )
    assert Path(copy).read_bytes() == big.read_bytes()
    (dataset,) = got.inputs.dataset_inputs
    assert dataset.dataset.name == "toy" and dataset.tags[0].value == "training"
    assert json.loads(run.tags["tane.mlflow.dataset.toy"])["digest"] == dataset.dataset.digest
    local = mlflow.artifacts.download_artifacts(
        run_id=run.id, artifact_path="docs", dst_path=str(tmp_path / "dl")
    )
    assert (Path(local) / "notes.txt").read_text() == "hello from mlflow"
    children = mlflow.search_runs(
        [experiment.id], filter_string=f"tags.mlflow.parentRunId = '{run.id}'", output_format="list"
    )
    assert [r.info.run_id for r in children] == [nested.id]


def test_mlflow_client_experiments_runs_and_search(tracking: str, backend: SqlStore) -> None:
    from mlflow.entities import Metric, Param, RunTag, ViewType
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    exp_id = client.create_experiment("clienty", tags={"owner": "ml"})
    assert client.get_experiment_by_name("clienty").experiment_id == exp_id
    assert client.get_experiment(exp_id).tags == {"owner": "ml"}
    assert client.get_experiment_by_name("no such experiment") is None
    with pytest.raises(MlflowException, match="already exists") as taken:
        client.create_experiment("clienty")
    assert taken.value.error_code == "RESOURCE_ALREADY_EXISTS"
    found = client.search_experiments(filter_string="name LIKE 'client%'")
    assert [e.name for e in found] == ["clienty"]
    tagged = client.search_experiments(filter_string="tags.owner = 'ml'", order_by=["name"])
    assert [e.experiment_id for e in tagged] == [exp_id]
    assert {"Default", "clienty"} <= {e.name for e in client.search_experiments()}

    runs = {}
    for name, model, acc in (("a", "lgbm", 0.8), ("b", "lgbm", 0.95), ("c", "svm", 0.99)):
        run = client.create_run(exp_id, run_name=name, tags={"kind": "trial"})
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("acc", acc, 1_700_000_000_000 + i, i) for i in range(3)],
            params=[Param("model", model)],
            tags=[RunTag("fold", "1")],
        )
        runs[name] = run.info.run_id
    history = client.get_metric_history(runs["b"], "acc")
    assert [(m.step, m.value) for m in history] == [(0, 0.95), (1, 0.95), (2, 0.95)]
    hits = client.search_runs(
        [exp_id], "metrics.acc > 0.5 and params.model = 'lgbm'", order_by=["metrics.acc DESC"]
    )
    assert [r.info.run_name for r in hits] == ["b", "a"]
    by_name = client.search_runs([exp_id], "tags.mlflow.runName = 'c'")
    assert [r.info.run_id for r in by_name] == [runs["c"]]
    # tane's grammar is MLflow's plus OR and parentheses.
    either = client.search_runs(
        [exp_id],
        "(params.model = 'svm' OR metrics.acc < 0.9) AND tags.kind = 'trial'",
        order_by=["tags.mlflow.runName DESC"],
    )
    assert [r.info.run_name for r in either] == ["c", "a"]
    page = client.search_runs([exp_id], order_by=["attributes.run_name ASC"], max_results=2)
    assert [r.info.run_name for r in page] == ["a", "b"] and page.token
    rest = client.search_runs([exp_id], order_by=["attributes.run_name ASC"], page_token=page.token)
    assert [r.info.run_name for r in rest] == ["c"]

    client.delete_run(runs["c"])
    assert backend.get_run(runs["c"]).deleted
    assert len(client.search_runs([exp_id])) == 2
    deleted = client.search_runs([exp_id], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.lifecycle_stage for r in deleted] == ["deleted"]
    client.restore_run(runs["c"])
    assert len(client.search_runs([exp_id])) == 3
    client.set_terminated(runs["a"], "FAILED")
    assert backend.get_run(runs["a"]).status is RunStatus.FAILED
    client.set_tag(runs["a"], "mlflow.runName", "renamed")
    assert backend.get_run(runs["a"]).name == "renamed"
    client.delete_tag(runs["a"], "fold")
    assert "fold" not in backend.get_run(runs["a"]).tags
    with pytest.raises(MlflowException) as conflict:
        client.log_param(runs["a"], "model", "other")
    assert conflict.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as missing:
        client.get_run("0" * 32)
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    # Statuses MLflow lacks are answered as the closest it has.
    crashed = backend.create_run(exp_id, "crashed")
    backend.update_run(crashed.id, status=RunStatus.CRASHED, end_time=crashed.start_time + 1)
    pruned = backend.create_run(exp_id, "pruned")
    backend.update_run(pruned.id, status=RunStatus.PRUNED, end_time=pruned.start_time + 1)
    assert client.get_run(crashed.id).info.status == "FAILED"
    assert client.get_run(pruned.id).info.status == "KILLED"


# MLflow's own notes while it saves a model, about type hints it cannot check.
@pytest.mark.filterwarnings("ignore:.*type hint:UserWarning")
def test_sklearn_log_model_and_load_model_round_trip(
    tracking: str, backend: SqlStore, tmp_path: Path
) -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]])
    y = np.array([0, 1, 0, 1])
    fitted = LogisticRegression().fit(x, y)
    mlflow.set_experiment("models")
    with mlflow.start_run() as run:
        mlflow.log_param("C", 1.0)
        info = mlflow.sklearn.log_model(fitted, name="model")
    loaded = mlflow.sklearn.load_model(info.model_uri)
    assert (loaded.predict(x) == fitted.predict(x)).all()
    by_run = mlflow.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    assert (by_run.predict(x) == fitted.predict(x)).all()
    # The model is an artifact folder of its tane run.
    names = {a.path for a in backend.list_artifacts(run.info.run_id, "model")}
    assert "model/MLmodel" in names
    stored = backend.get_run(run.info.run_id)
    assert stored.params == {"C": "1.0"} and stored.status is RunStatus.FINISHED
    model = mlflow.MlflowClient().get_logged_model(info.model_id)
    assert model.source_run_id == run.info.run_id and model.status.to_int() == 2  # READY
    assert model.name == "model"
    # A model logged outside any run gets a run of its own.
    alone = mlflow.sklearn.log_model(fitted, name="standalone")
    assert (mlflow.sklearn.load_model(alone.model_uri).predict(x) == fitted.predict(x)).all()
    holder = backend.get_run(mlflow.MlflowClient().get_logged_model(alone.model_id).source_run_id)
    assert holder.name == "standalone" and holder.status is RunStatus.FINISHED
    found = mlflow.MlflowClient().search_logged_models(
        [run.info.experiment_id], filter_string="name = 'standalone'"
    )
    assert [m.model_id for m in found] == [alone.model_id]


@pytest.mark.filterwarnings("ignore:.*type hint:UserWarning")
def test_registered_model_name_registers_versions_in_tanes_registry(
    tracking: str, backend: SqlStore
) -> None:
    import numpy as np
    from mlflow.exceptions import MlflowException
    from sklearn.linear_model import LogisticRegression

    x = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]])
    y = np.array([0, 1, 0, 1])
    first = LogisticRegression().fit(x, y)
    second = LogisticRegression(C=0.01).fit(x, 1 - y)
    # -- the MLflow script, unchanged: each log_model registers the next version --
    mlflow.set_experiment("registry")
    with mlflow.start_run() as run_1:
        info_1 = mlflow.sklearn.log_model(first, name="model", registered_model_name="iris")
    with mlflow.start_run() as run_2:
        info_2 = mlflow.sklearn.log_model(second, name="model", registered_model_name="iris")
    assert (info_1.registered_model_version, info_2.registered_model_version) == ("1", "2")
    client = mlflow.MlflowClient()
    client.set_registered_model_alias("iris", "champion", 1)
    # -- tane's registry holds them, with their runs --
    versions = backend.list_model_versions("iris")
    assert [(v.version, v.run_id) for v in versions] == [
        (2, run_2.info.run_id),
        (1, run_1.info.run_id),
    ]
    assert versions[1].source == f"models:/{info_1.model_id}"
    assert backend.get_model_version("iris", alias="champion").version == 1
    # -- and MLflow loads them through the server --
    champion = mlflow.sklearn.load_model("models:/iris@champion")
    assert (champion.predict(x) == first.predict(x)).all()
    latest = mlflow.pyfunc.load_model("models:/iris/2")
    assert (latest.predict(x) == second.predict(x)).all()
    version = client.get_model_version_by_alias("iris", "champion")
    assert version.version == "1" and version.run_id == run_1.info.run_id
    assert version.aliases == ["champion"] and version.source == f"models:/{info_1.model_id}"
    assert client.get_model_version("iris", "2").source == f"models:/{info_2.model_id}"
    with pytest.warns(FutureWarning):  # deprecated by MLflow, answered all the same
        (newest,) = client.get_latest_versions("iris")
    assert newest.version == "2"
    found = client.search_model_versions("name = 'iris'")
    assert [v.version for v in found] == ["2", "1"]
    by_run = client.search_model_versions(f"run_id = '{run_1.info.run_id}'")
    assert [(v.name, v.version) for v in by_run] == [("iris", "1")]
    model = client.get_registered_model("iris")
    assert model.aliases == {"champion": "1"}
    assert [v.version for v in model.latest_versions] == ["2"]
    assert [m.name for m in client.search_registered_models("name LIKE 'ir%'")] == ["iris"]
    client.delete_registered_model_alias("iris", "champion")
    with pytest.raises(MlflowException) as gone:
        client.get_model_version_by_alias("iris", "champion")
    assert gone.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert backend.get_model_version("iris").version == 2


def test_mlflow_client_renames_deletes_restores_and_tags_experiments(
    tracking: str, backend: SqlStore
) -> None:
    from mlflow.entities import ViewType
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    exp_id = client.create_experiment("before")
    client.create_experiment("taken")
    client.rename_experiment(exp_id, "after")
    assert backend.get_experiment(exp_id).name == "after"
    assert client.get_experiment_by_name("after").experiment_id == exp_id
    with pytest.raises(MlflowException) as taken:
        client.rename_experiment(exp_id, "taken")
    assert taken.value.error_code == "RESOURCE_ALREADY_EXISTS"
    client.set_experiment_tag(exp_id, "owner", "ml")
    assert backend.get_experiment(exp_id).tags == {"owner": "ml"}
    client.delete_experiment(exp_id)
    assert backend.get_experiment(exp_id).deleted
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    deleted = client.search_experiments(view_type=ViewType.DELETED_ONLY)
    assert [e.experiment_id for e in deleted] == [exp_id]
    client.restore_experiment(exp_id)
    assert not backend.get_experiment(exp_id).deleted
    with pytest.raises(MlflowException) as default:
        client.delete_experiment("0")
    assert default.value.error_code == "INVALID_PARAMETER_VALUE"


def test_unimplemented_endpoints_answer_mlflow_errors(tracking: str, backend: SqlStore) -> None:
    import requests
    from mlflow.exceptions import MlflowException

    for method, path in (
        ("POST", "/api/2.0/mlflow/no-such/thing"),
        ("GET", "/api/2.0/mlflow/metrics/get-history-bulk-interval"),
        ("POST", "/api/2.0/mlflow-artifacts/mpu/create/0/x"),
        ("GET", "/api/3.0/mlflow/traces/abc"),
    ):
        answer = requests.request(method, tracking + path, json={}, timeout=30)
        assert answer.status_code == 404, (path, answer.text)
        body = answer.json()
        assert body["error_code"] == "ENDPOINT_NOT_FOUND"
        assert f"{method} {path}" in body["message"]
    bad = requests.post(tracking + "/api/2.0/mlflow/runs/create", data=b"{not json", timeout=30)
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    client = mlflow.MlflowClient()
    # Registry endpoints tane does not implement (stages, renames, tags) too.
    backend.register_model("iris", "runs:/0123/model")
    with pytest.raises(MlflowException, match="registered-models/rename") as refused:
        client.rename_registered_model("iris", "setosa")
    assert refused.value.error_code == "ENDPOINT_NOT_FOUND"
    with pytest.raises(MlflowException) as bad_filter:
        client.search_runs(["0"], "metrics.acc >>> 1")
    assert bad_filter.value.error_code == "INVALID_PARAMETER_VALUE"


def test_filters_translate_names_and_parents_outside_quotes() -> None:
    assert translate_filter("tags.`mlflow.runName` LIKE 'a%'") == "attributes.run_name LIKE 'a%'"
    assert translate_filter("tags.\"mlflow.parentRunId\" = 'x'") == "attributes.parent_id = 'x'"
    text = "tags.note = 'tags.mlflow.runName' and params.a = '1'"
    assert translate_filter(text) == text


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[LiveServer, AuthStore, Any]]:
    store = open_store(str(tmp_path / "store"))
    users = AuthStore(store.uri)
    app = create_app(store=store, auth=True, auth_settings=AuthSettings(default_permission="none"))
    users.add_user("alice", "user", PASSWORD)
    users.add_user("bob", "user", PASSWORD)
    with LiveServer(app=app) as srv:
        yield srv, users, store
    users.close()


def test_mlflow_clients_authenticate_with_tokens_or_passwords(
    secured: tuple[LiveServer, AuthStore, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from mlflow.exceptions import MlflowException

    srv, users, store = secured
    monkeypatch.setenv("MLFLOW_TRACKING_URI", srv.url)
    mlflow.set_tracking_uri(srv.url)
    client = mlflow.MlflowClient()
    # No credentials: refused.
    with pytest.raises(MlflowException, match="401|authentication"):
        client.search_experiments()
    # A tane token as MLFLOW_TRACKING_TOKEN.
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", users.create_token("alice", "mlflow")[1])
    exp_id = client.create_experiment("alices")
    run = client.create_run(exp_id, run_name="secure")
    client.log_metric(run.info.run_id, "acc", 0.5)
    notes = tmp_path / "n.txt"
    notes.write_text("secret")
    client.log_artifact(run.info.run_id, str(notes))
    assert store.open_artifact(run.info.run_id, "n.txt").read() == b"secret"
    # A user name and password.
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    assert client.get_run(run.info.run_id).data.metrics == {"acc": 0.5}
    # bob holds no permission on alice's experiment.
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "bob")
    with pytest.raises(MlflowException) as refused:
        client.get_run(run.info.run_id)
    assert refused.value.error_code == "PERMISSION_DENIED"
    with pytest.raises(MlflowException) as refused:
        client.log_metric(run.info.run_id, "acc", 0.9)
    assert refused.value.error_code == "PERMISSION_DENIED"
    with pytest.raises(MlflowException):
        client.download_artifacts(run.info.run_id, "n.txt", str(tmp_path))
    assert [m.value for m in store.get_metric_history(run.info.run_id, "acc")] == [0.5]


@pytest.mark.filterwarnings("ignore:.*type hint:UserWarning")
def test_registering_needs_edit_on_the_models_run(
    secured: tuple[LiveServer, AuthStore, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np
    from mlflow.exceptions import MlflowException
    from sklearn.linear_model import LogisticRegression

    srv, _users, store = secured
    monkeypatch.setenv("MLFLOW_TRACKING_URI", srv.url)
    mlflow.set_tracking_uri(srv.url)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    fitted = LogisticRegression().fit(np.array([[0.0], [1.0]]), np.array([0, 1]))
    mlflow.set_experiment("alices-models")
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(fitted, name="model", registered_model_name="iris")
    assert info.registered_model_version == "1"
    # bob holds no permission on alice's experiment: he reads the registry, changes nothing.
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "bob")
    client = mlflow.MlflowClient()
    assert client.get_registered_model("iris").aliases == {}
    for attempt in (
        lambda: client.create_model_version("iris", f"models:/{info.model_id}"),
        lambda: client.create_model_version("iris", "s3://bucket/model"),  # no run: admins
        lambda: client.set_registered_model_alias("iris", "champion", 1),
    ):
        with pytest.raises(MlflowException) as refused:
            attempt()
        assert refused.value.error_code == "PERMISSION_DENIED"
    with pytest.raises(MlflowException) as refused:
        client.delete_experiment(store.get_experiment("alices-models").id)
    assert refused.value.error_code == "PERMISSION_DENIED"
    assert [v.version for v in store.list_model_versions("iris")] == [1]
    assert not store.get_experiment("alices-models").deleted


def test_malformed_requests_are_refused_never_500(tracking: str, backend: SqlStore) -> None:
    import requests

    run = backend.create_run("0", "target")
    backend.register_model("5", f"runs:/{run.id}/model", run.id)
    routes = [
        ("POST", "/api/2.0/mlflow/experiments/create"),
        ("GET", "/api/2.0/mlflow/experiments/get"),
        ("GET", "/api/2.0/mlflow/experiments/get-by-name"),
        ("POST", "/api/2.0/mlflow/experiments/search"),
        ("POST", "/api/2.0/mlflow/runs/create"),
        ("GET", "/api/2.0/mlflow/runs/get"),
        ("POST", "/api/2.0/mlflow/runs/update"),
        ("POST", "/api/2.0/mlflow/runs/log-batch"),
        ("POST", "/api/2.0/mlflow/runs/log-metric"),
        ("POST", "/api/2.0/mlflow/runs/log-parameter"),
        ("POST", "/api/2.0/mlflow/runs/set-tag"),
        ("POST", "/api/2.0/mlflow/runs/delete-tag"),
        ("POST", "/api/2.0/mlflow/runs/log-model"),
        ("POST", "/api/2.0/mlflow/runs/log-inputs"),
        ("POST", "/api/2.0/mlflow/runs/search"),
        ("GET", "/api/2.0/mlflow/metrics/get-history"),
        ("POST", "/api/2.0/mlflow/logged-models"),
        ("POST", "/api/2.0/mlflow/logged-models/search"),
        ("GET", "/api/2.0/mlflow/logged-models/m-nothing"),
        ("POST", "/api/2.0/mlflow/experiments/update"),
        ("POST", "/api/2.0/mlflow/experiments/delete"),
        ("POST", "/api/2.0/mlflow/experiments/set-experiment-tag"),
        ("POST", "/api/2.0/mlflow/registered-models/create"),
        ("GET", "/api/2.0/mlflow/registered-models/get"),
        ("GET", "/api/2.0/mlflow/registered-models/search"),
        ("POST", "/api/2.0/mlflow/registered-models/get-latest-versions"),
        ("POST", "/api/2.0/mlflow/model-versions/create"),
        ("GET", "/api/2.0/mlflow/model-versions/get"),
        ("GET", "/api/2.0/mlflow/model-versions/get-download-uri"),
        ("GET", "/api/2.0/mlflow/model-versions/search"),
        ("POST", "/api/2.0/mlflow/registered-models/alias"),
        ("DELETE", "/api/2.0/mlflow/registered-models/alias"),
        ("GET", "/api/2.0/mlflow/registered-models/alias"),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts"),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts/0/x/artifacts/../../etc"),
    ]
    bad_bodies: list[Any] = [
        {},
        {"run_id": {"x": 1}, "experiment_id": [1, 2], "name": 5},
        {
            "run_id": run.id,
            "metrics": "loss",
            "params": {"a": 1},
            "tags": [1],
            "key": "k",
            "value": "not a number",
            "status": "DANCING",
            "model_json": "{oops",
            "datasets": [{"dataset": {}}],
            "filter": "params.a === 1",
            "order_by": ["nonsense DESC ASC"],
            "max_results": -1,
            "page_token": "!!",
            "experiment_ids": ["nope"],
            "view_type": "SIDEWAYS",
            "run_view_type": "SIDEWAYS",
            "source": "models:/m-nothing",
            "version": "first",
            "alias": "@",
            "stages": 3,
        },
        {"name": "5", "version": 99, "alias": "nobody", "source": "runs:/nothing/model"},
    ]
    for method, path in routes:
        for body in bad_bodies:
            if method == "GET":
                flat = {k: v for k, v in body.items() if isinstance(v, str | int)}
                answer = requests.get(tracking + path, params=flat, timeout=30)
            else:
                answer = requests.request(method, tracking + path, json=body, timeout=30)
            assert answer.status_code < 500, (method, path, body, answer.text)
            if answer.status_code >= 400:
                assert answer.json()["error_code"], (method, path, answer.text)


def test_an_upload_over_the_limit_is_refused_in_mlflow_shape(tmp_path: Path) -> None:
    import requests

    store = open_store(str(tmp_path / "store"))
    run = store.create_run("0", "small")
    with LiveServer(store=store, max_upload=1000) as srv:
        url = f"{srv.url}/api/2.0/mlflow-artifacts/artifacts/0/{run.id}/artifacts/big.bin"

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is met mid-stream
            for _ in range(4):
                yield b"x" * 600

        answer = requests.put(url, data=chunks(), timeout=30)
        assert answer.status_code == 413, answer.text
        assert answer.json()["error_code"] == "RESOURCE_LIMIT_EXCEEDED"
        assert "TANE_SERVER_MAX_UPLOAD" in answer.json()["message"]
        small = requests.put(url, data=b"ok", timeout=30)
        assert small.status_code == 200, small.text
    assert store.open_artifact(run.id, "big.bin").read() == b"ok"
