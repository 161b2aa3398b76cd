"""tane.log_model / tane.load_model: each library's own format, round-tripped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_diabetes

import tane
from tane.errors import NoActiveRun, NotFound
from tane.tracking.models import flavor_of, load_input_example, save_model


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_diabetes(return_X_y=True)
    return x[:200], y[:200]


def test_a_sklearn_model_round_trips_with_its_metadata(data, tmp_path: Path) -> None:
    from sklearn.linear_model import Ridge

    x, y = data
    model = Ridge(alpha=0.5).fit(x, y)
    with tane.start_run(capture=False) as run:
        info = tane.log_model(model, "model", input_example=x[:3])
    assert info.uri == f"runs:/{run.id}/model" and info.flavor == "sklearn"
    loaded = tane.load_model(info.uri)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    client = tane.Client()
    names = {a.path for a in client.list_artifacts(run.id, "model")}
    assert names >= {"model/tane-model.json", "model/model.joblib", "model/requirements.txt"}
    meta = json.loads(client.read_artifact(run.id, "model/tane-model.json"))
    assert meta["flavor"] == "sklearn" and meta["class"] == "sklearn.linear_model._ridge.Ridge"
    assert meta["library"] == "scikit-learn" and meta["library_version"]
    assert meta["python"].count(".") == 2 and "numpy" in meta["packages"]
    assert meta["run_id"] == run.id and meta["created"].endswith("Z")
    np.testing.assert_array_equal(load_input_example(info.uri), x[:3])
    # runs:/<id> alone means the "model" folder.
    np.testing.assert_array_equal(tane.load_model(f"runs:/{run.id}").predict(x), model.predict(x))


def test_boosters_round_trip_in_their_own_formats(data, tmp_path: Path) -> None:
    import lightgbm
    import xgboost

    x, y = data
    lgb = lightgbm.train(
        {"verbose": -1, "num_leaves": 7, "num_threads": 1},
        lightgbm.Dataset(x, y),
        num_boost_round=5,
    )
    xgb = xgboost.train({"max_depth": 2}, xgboost.DMatrix(x, y), num_boost_round=5)
    xgb_sk = xgboost.XGBRegressor(n_estimators=5, max_depth=2).fit(x, y)
    with tane.start_run(capture=False):
        uris = [
            tane.log_model(lgb, "lgb").uri,
            tane.log_model(xgb, "models/xgb").uri,
            tane.log_model(xgb_sk, "xgb_sk").uri,
        ]
    loaded_lgb, loaded_xgb, loaded_sk = (tane.load_model(u) for u in uris)
    np.testing.assert_allclose(loaded_lgb.predict(x), lgb.predict(x))
    np.testing.assert_allclose(
        loaded_xgb.predict(xgboost.DMatrix(x)), xgb.predict(xgboost.DMatrix(x))
    )
    assert type(loaded_sk) is xgboost.XGBRegressor
    np.testing.assert_allclose(loaded_sk.predict(x), xgb_sk.predict(x))
    folder = tmp_path / "local"
    meta = save_model(lgb, folder)
    assert meta["file"] == "model.txt" and (folder / "model.txt").read_text().startswith("tree")
    np.testing.assert_allclose(tane.load_model(folder).predict(x), lgb.predict(x))


def test_a_torch_module_round_trips_with_a_dataframe_example(data) -> None:
    import pandas as pd
    import torch

    x, _ = data
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(10, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    frame = pd.DataFrame(x[:4], columns=[f"f{i}" for i in range(10)])
    with tane.start_run(capture=False):
        info = tane.log_model(net, "net", input_example=frame)
    assert flavor_of(net) == "torch"
    loaded = tane.load_model(info.uri)
    tensor = torch.tensor(x, dtype=torch.float32)
    with torch.no_grad():
        assert torch.equal(loaded(tensor), net(tensor))
    pd.testing.assert_frame_equal(load_input_example(info.uri), frame)
    assert info.metadata["input_example"] == "input_example.parquet"
    assert "state_dict" in info.metadata


def test_errors_name_the_cause(tmp_path: Path) -> None:
    with pytest.raises(NoActiveRun, match="start_run"):
        tane.log_model({"a": 1})
    with pytest.raises(NotFound, match="tane-model.json"):
        tane.load_model(tmp_path)
    with tane.start_run(capture=False) as run:
        info = tane.log_model({"weights": [1, 2]}, "plain", input_example={"a": 1})
    assert info.flavor == "pickle"
    assert tane.load_model(info.uri) == {"weights": [1, 2]}
    assert load_input_example(info.uri) == {"a": 1}
    with pytest.raises(NotFound):
        tane.load_model(f"runs:/{run.id}/missing")


def test_registered_versions_load_by_number_alias_and_latest(data) -> None:
    from sklearn.linear_model import Ridge

    x, y = data
    models = [Ridge(alpha=a).fit(x, y) for a in (0.1, 10.0)]
    store = tane.Client().store
    for model in models:
        with tane.start_run(capture=False):
            info = tane.log_model(model)
        store.register_model("ridge", info.uri, run_id=info.run_id)
    store.set_model_alias("ridge", "champion", 1)
    for uri, model in [
        ("models:/ridge/1", models[0]),
        ("models:/ridge@champion", models[0]),
        ("models:/ridge", models[1]),
    ]:
        np.testing.assert_array_equal(tane.load_model(uri).predict(x), model.predict(x))
