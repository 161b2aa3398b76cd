"""LightGBM, XGBoost and Lightning callbacks, with the real libraries and in real sweeps."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_diabetes

import tane


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, y = load_diabetes(return_X_y=True)
    return x[:300], y[:300], x[300:], y[300:]


def _steps(run_id: str, key: str) -> list[int]:
    return [int(p.step) for p in tane.Client().get_metric_history(run_id, key)]


def test_lightgbm_logs_each_round_the_params_and_the_booster(data) -> None:
    import lightgbm

    from tane.integrations.lightgbm import callback

    x, y, xv, yv = data
    train = lightgbm.Dataset(x, y)
    valid = lightgbm.Dataset(xv, yv, reference=train)
    params = {
        "objective": "regression",
        "metric": ["l2", "l1"],
        "verbose": -1,
        "num_leaves": 7,
        "num_threads": 1,
    }
    with tane.start_run(capture=False) as run:
        booster = lightgbm.train(
            params,
            train,
            num_boost_round=8,
            valid_sets=[train, valid],
            valid_names=["training", "valid"],
            callbacks=[callback()],
        )
    stored = tane.Client().get_run(run.id)
    assert _steps(run.id, "valid/l2") == list(range(8))
    assert {"training/l2", "training/l1", "valid/l1"} <= set(stored.metrics)
    assert stored.params["num_leaves"] == "7" and stored.params["objective"] == "regression"
    loaded = tane.load_model(f"runs:/{run.id}/model")
    np.testing.assert_allclose(loaded.predict(xv), booster.predict(xv))


def test_lightgbm_without_a_run_starts_and_ends_its_own(data) -> None:
    import lightgbm

    from tane.integrations.lightgbm import callback

    x, y, xv, yv = data
    train = lightgbm.Dataset(x, y)
    lightgbm.train(
        {"verbose": -1, "num_threads": 1},
        train,
        num_boost_round=3,
        valid_sets=[lightgbm.Dataset(xv, yv, reference=train)],
        callbacks=[callback(log_model=False)],
    )
    assert tane.active_run() is None
    (run,) = tane.Client().search_runs()
    assert run.status.value == "FINISHED" and "valid_0/l2" in run.metrics


def test_lightgbm_metrics_drive_the_pruner_of_a_sweep(data, tmp_path: Path) -> None:
    import lightgbm

    from tane.integrations.lightgbm import callback

    x, y, xv, yv = data

    def objective(trial: tane.sweep.define.Trial) -> float:
        lr = trial.suggest_float("learning_rate", 0.001, 0.5, log=True)
        train = lightgbm.Dataset(x, y)
        booster = lightgbm.train(
            {"learning_rate": lr, "verbose": -1, "num_leaves": 7, "num_threads": 1},
            train,
            num_boost_round=15,
            valid_sets=[lightgbm.Dataset(xv, yv, reference=train)],
            callbacks=[callback(trial=trial, log_model=False)],
        )
        return float(np.mean((booster.predict(xv) - yv) ** 2))

    best = tane.sweep(
        objective, n_trials=12, seed=0, pruner="median", store=str(tmp_path / "store")
    )
    statuses = {t.status for t in best.trials}
    assert statuses == {"PRUNED", "FINISHED"}
    client = tane.Client(str(tmp_path / "store"))
    pruned = next(t for t in best.trials if t.status == "PRUNED")
    run = client.get_run(pruned.run_id)
    assert run.status.value == "PRUNED"
    assert len(client.get_metric_history(run.id, "valid_0/l2")) < 15
    assert run.params["learning_rate"] == str(pruned.params["learning_rate"])


def test_xgboost_logs_each_round_the_params_and_the_booster(data) -> None:
    import xgboost

    from tane.integrations.xgboost import TaneCallback

    x, y, xv, yv = data
    dtrain, dvalid = xgboost.DMatrix(x, y), xgboost.DMatrix(xv, yv)
    with tane.start_run(capture=False) as run:
        booster = xgboost.train(
            {"max_depth": 2, "eta": 0.3, "eval_metric": ["rmse", "mae"], "nthread": 1},
            dtrain,
            num_boost_round=6,
            evals=[(dtrain, "train"), (dvalid, "valid")],
            callbacks=[TaneCallback()],
            verbose_eval=False,
        )
    stored = tane.Client().get_run(run.id)
    assert _steps(run.id, "valid/mae") == list(range(6))
    assert {"train/rmse", "valid/rmse"} <= set(stored.metrics)
    assert stored.params["max_depth"] == "2" and stored.params["objective"] == "reg:squarederror"
    loaded = tane.load_model(f"runs:/{run.id}/model")
    np.testing.assert_allclose(loaded.predict(dvalid), booster.predict(dvalid))


def test_xgboost_metrics_drive_the_pruner_of_a_sweep(data, tmp_path: Path) -> None:
    import xgboost

    from tane.integrations.xgboost import TaneCallback

    x, y, xv, yv = data
    dtrain, dvalid = xgboost.DMatrix(x, y), xgboost.DMatrix(xv, yv)

    def objective(trial: tane.sweep.define.Trial) -> float:
        params = {
            "eta": trial.suggest_float("eta", 0.001, 0.5, log=True),
            "max_depth": 2,
            "nthread": 1,
        }
        booster = xgboost.train(
            params,
            dtrain,
            num_boost_round=15,
            evals=[(dvalid, "valid")],
            callbacks=[TaneCallback(params=params, trial=trial, log_model=False)],
            verbose_eval=False,
        )
        return float(np.sqrt(np.mean((booster.predict(dvalid) - yv) ** 2)))

    best = tane.sweep(
        objective, n_trials=12, seed=0, pruner="median", store=str(tmp_path / "store")
    )
    assert {t.status for t in best.trials} == {"PRUNED", "FINISHED"}


def _lightning_module() -> type:
    import lightning
    import torch

    class Regressor(lightning.LightningModule):
        def __init__(self, lr: float = 0.01, hidden: int = 8) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(10, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)
            )

        def training_step(self, batch, batch_idx):  # type: ignore[no-untyped-def]
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x).squeeze(-1), y)
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch, batch_idx):  # type: ignore[no-untyped-def]
            x, y = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self.net(x).squeeze(-1), y))

        def configure_optimizers(self):  # type: ignore[no-untyped-def]
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    return Regressor


def _loaders(data) -> tuple:  # type: ignore[no-untyped-def]
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    x, y, xv, yv = data
    scale = float(np.std(y))

    def ds(a, b):  # type: ignore[no-untyped-def]
        return TensorDataset(
            torch.tensor(a, dtype=torch.float32) * 10, torch.tensor(b / scale, dtype=torch.float32)
        )

    return DataLoader(ds(x, y), batch_size=100), DataLoader(ds(xv, yv), batch_size=200)


def _trainer(epochs: int, **kwargs):  # type: ignore[no-untyped-def]
    import lightning

    warnings.filterwarnings("ignore", module="lightning")
    warnings.filterwarnings("ignore", module="pytorch_lightning")
    return lightning.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        num_sanity_val_steps=0,
        log_every_n_steps=1,
        **kwargs,
    )


@pytest.mark.filterwarnings("ignore")
def test_the_lightning_logger_records_hyperparams_and_metrics_with_steps(data) -> None:
    from tane.integrations.lightning import TaneLogger

    train, valid = _loaders(data)
    logger = TaneLogger()
    with tane.start_run(capture=False) as run:
        _trainer(3, logger=logger).fit(_lightning_module()(lr=0.05), train, valid)
        assert logger.version == run.id
    stored = tane.Client().get_run(run.id)
    assert stored.params["lr"] == "0.05" and stored.params["hidden"] == "8"
    assert _steps(run.id, "train_loss") == list(range(9))  # 3 batches an epoch
    assert _steps(run.id, "val_loss") == [2, 5, 8]
    assert stored.status.value == "FINISHED"


@pytest.mark.filterwarnings("ignore")
def test_the_lightning_logger_starts_and_ends_a_run_of_its_own(data) -> None:
    from tane.integrations.lightning import TaneLogger

    train, valid = _loaders(data)
    _trainer(1, logger=TaneLogger()).fit(_lightning_module()(), train, valid)
    assert tane.active_run() is None
    (run,) = tane.Client().search_runs()
    assert run.status.value == "FINISHED" and "val_loss" in run.metrics


@pytest.mark.filterwarnings("ignore")
def test_lightning_pruning_in_a_sweep(data, tmp_path: Path) -> None:
    import torch

    from tane.integrations.lightning import TaneLogger, TanePruning

    train, valid = _loaders(data)

    def objective(trial: tane.sweep.define.Trial) -> float:
        torch.manual_seed(0)
        lr = trial.suggest_float("lr", 1e-5, 0.1, log=True)
        trainer = _trainer(
            4, logger=TaneLogger(), callbacks=[TanePruning(monitor="val_loss", trial=trial)]
        )
        trainer.fit(_lightning_module()(lr=lr), train, valid)
        return float(trainer.callback_metrics["val_loss"])

    best = tane.sweep(
        objective, n_trials=10, seed=0, pruner="median", store=str(tmp_path / "store")
    )
    assert {t.status for t in best.trials} == {"PRUNED", "FINISHED"}
    client = tane.Client(str(tmp_path / "store"))
    finished = next(t for t in best.trials if t.status == "FINISHED")
    assert len(client.get_metric_history(finished.run_id, "val_loss")) == 4
