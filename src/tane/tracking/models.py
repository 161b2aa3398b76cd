"""Models as run artifacts: ``tane.log_model`` and ``tane.load_model``.

A model is saved in its library's own format into a folder with a
``tane-model.json`` beside it, which names the flavor (how to load it), the
library and Python versions, the versions of the packages it needs and the
input example::

    model/
      tane-model.json
      model.joblib | model.txt | model.json | model.pt
      requirements.txt
      input_example.json | input_example.parquet

No library is imported here until a model of its flavor is saved or loaded.
"""

from __future__ import annotations

import json
import os
import platform
import posixpath
import tempfile
import time
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from tane.errors import InvalidInput, NoActiveRun, NotFound

MODEL_FILE = "tane-model.json"
FORMAT = 1

# The distributions a flavor's model needs to load, first the library itself.
_PACKAGES = {
    "sklearn": ["scikit-learn", "numpy", "scipy", "joblib"],
    "lightgbm": ["lightgbm", "numpy", "scipy"],
    "xgboost": ["xgboost", "numpy", "scipy"],
    "torch": ["torch", "numpy", "lightning"],
    "pickle": ["joblib"],
}


@dataclass(frozen=True)
class ModelInfo:
    """Where ``log_model`` put a model: ``uri`` is what ``load_model`` takes."""

    uri: str
    run_id: str
    artifact_path: str
    flavor: str
    metadata: dict[str, Any]


def log_model(model: Any, artifact_path: str = "model", *, input_example: Any = None) -> ModelInfo:
    """Save ``model`` in its library's format as the active run's ``artifact_path`` folder.

    Args:
        model: A scikit-learn estimator (any ``BaseEstimator``, LightGBM's and
            XGBoost's scikit-learn models too), a LightGBM or XGBoost
            ``Booster``, a PyTorch ``nn.Module`` (Lightning modules too), or
            any other picklable object (saved with joblib).
        artifact_path: The folder in the run's artifacts.
        input_example: A few rows of input (DataFrame, NumPy array, tensor,
            dict or list), saved beside the model.

    Returns:
        A ModelInfo whose ``uri`` (``runs:/<run id>/<artifact_path>``) loads the model.

    Raises:
        NoActiveRun: No run is active.
    """
    from tane.tracking import fluent

    run = fluent.active_run()
    if run is None:
        raise NoActiveRun("log_model needs an active run: call it inside `with tane.start_run():`")
    rel = artifact_path.strip("/")
    if not rel:
        raise InvalidInput("log_model: artifact_path is empty; name a folder such as 'model'")
    parent, name = posixpath.split(rel)
    with tempfile.TemporaryDirectory(prefix="tane-model-") as tmp:
        folder = Path(tmp) / name
        metadata = save_model(model, folder, input_example=input_example, run_id=run.id)
        run.log_artifact(folder, parent or None)
    return ModelInfo(f"runs:/{run.id}/{rel}", run.id, rel, metadata["flavor"], metadata)


def save_model(
    model: Any, path: str | os.PathLike[str], *, input_example: Any = None, run_id: str = ""
) -> dict[str, Any]:
    """Save ``model`` into the folder ``path`` (created; must be empty); return its metadata."""
    folder = Path(path)
    if folder.exists() and any(folder.iterdir()):
        raise InvalidInput(f"save_model: {folder} is not empty; choose a new folder")
    folder.mkdir(parents=True, exist_ok=True)
    flavor = flavor_of(model)
    model_file, extra = _SAVERS[flavor](model, folder)
    packages = {name: v for name in _PACKAGES[flavor] if (v := _version(name)) is not None}
    metadata: dict[str, Any] = {
        "format": FORMAT,
        "flavor": flavor,
        "file": model_file,
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "library": _PACKAGES[flavor][0],
        "library_version": packages.get(_PACKAGES[flavor][0]),
        "python": platform.python_version(),
        "packages": packages,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **extra,
    }
    if run_id:
        metadata["run_id"] = run_id
    if input_example is not None:
        metadata["input_example"] = _save_example(input_example, folder)
    (folder / "requirements.txt").write_text(
        "".join(f"{name}=={v}\n" for name, v in packages.items()), encoding="utf-8"
    )
    (folder / MODEL_FILE).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    return metadata


def load_model(uri: str | os.PathLike[str], *, store: str | None = None) -> Any:
    """Load a model saved by ``log_model``: from ``runs:/<run id>/<path>`` or a local folder.

    Args:
        uri: ``runs:/<run id>/model`` (``runs:/<run id>`` means its ``model``
            folder); a registered version, ``models:/<name>/<version>``,
            ``models:/<name>@<alias>`` or ``models:/<name>`` (the latest); or the
            path of a folder holding ``tane-model.json``.
        store: The store of the run; default TANE_STORE or the project's.

    Raises:
        NotFound: There is no such run, artifact or model folder.
    """
    text = _resolve_registered(os.fspath(uri), store)
    if not text.startswith("runs:/"):
        return _load_folder(Path(text))
    with tempfile.TemporaryDirectory(prefix="tane-model-") as tmp:
        return _load_folder(_download(text, tmp, store))


def load_input_example(uri: str | os.PathLike[str], *, store: str | None = None) -> Any:
    """Return the input example saved with a model (None if it has none)."""
    text = _resolve_registered(os.fspath(uri), store)
    if not text.startswith("runs:/"):
        return _read_example(Path(text))
    with tempfile.TemporaryDirectory(prefix="tane-model-") as tmp:
        return _read_example(_download(text, tmp, store))


def flavor_of(model: Any) -> str:
    """The flavor ``log_model`` saves ``model`` as, judged by its classes (no import)."""
    names = {f"{cls.__module__}.{cls.__qualname__}" for cls in type(model).__mro__}
    if any(n.startswith("lightgbm.") and n.endswith(".Booster") for n in names):
        return "lightgbm"
    if any(n.startswith("xgboost.") and n.endswith((".Booster", ".XGBModel")) for n in names):
        return "xgboost"
    if "torch.nn.modules.module.Module" in names:
        return "torch"
    if "sklearn.base.BaseEstimator" in names:
        return "sklearn"
    return "pickle"


# -- saving -----------------------------------------------------------------------


def _save_joblib(model: Any, folder: Path) -> tuple[str, dict[str, Any]]:
    import joblib  # type: ignore[import-untyped]

    joblib.dump(model, folder / "model.joblib")
    return "model.joblib", {}


def _save_lightgbm(model: Any, folder: Path) -> tuple[str, dict[str, Any]]:
    model.save_model(str(folder / "model.txt"))
    return "model.txt", {}


def _save_xgboost(model: Any, folder: Path) -> tuple[str, dict[str, Any]]:
    model.save_model(str(folder / "model.json"))
    return "model.json", {}


def _save_torch(model: Any, folder: Path) -> tuple[str, dict[str, Any]]:
    import torch

    # The whole module (loads without the user rebuilding it, if its class can be
    # imported) and its state_dict (loads into a module built by hand if not).
    torch.save(model, folder / "model.pt")
    torch.save(model.state_dict(), folder / "state_dict.pt")
    return "model.pt", {"state_dict": "state_dict.pt"}


_SAVERS = {
    "sklearn": _save_joblib,
    "pickle": _save_joblib,
    "lightgbm": _save_lightgbm,
    "xgboost": _save_xgboost,
    "torch": _save_torch,
}


def _save_example(example: Any, folder: Path) -> str:
    module = type(example).__module__
    if module.startswith("pandas") and hasattr(example, "to_parquet"):
        if find_spec("pyarrow") is None:
            text = example.to_json(orient="split", date_format="iso")
            payload = {"type": "dataframe", "data": json.loads(text)}
            return _write_json(folder, payload)
        example.to_parquet(folder / "input_example.parquet")
        return "input_example.parquet"
    if module.startswith("torch"):
        example = example.detach().cpu().numpy()
        module = "numpy"
    if module.startswith("numpy") and hasattr(example, "tolist"):
        payload = {"type": "ndarray", "dtype": str(example.dtype), "data": example.tolist()}
        return _write_json(folder, payload)
    try:
        return _write_json(folder, {"type": "json", "data": example})
    except TypeError as exc:
        raise InvalidInput(
            f"log_model: the input example ({type(example).__name__}) is not a DataFrame, "
            f"an array, a tensor or JSON data: {exc}"
        ) from None


def _write_json(folder: Path, payload: dict[str, Any]) -> str:
    text = json.dumps(payload)
    (folder / "input_example.json").write_text(text, encoding="utf-8")
    return "input_example.json"


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


# -- loading ----------------------------------------------------------------------


def _resolve_registered(uri: str, store: str | None) -> str:
    """The source of a registered model version (``models:/...``); other URIs as they are."""
    if not uri.startswith("models:/"):
        return uri
    from tane.tracking.client import Client

    rest = uri[len("models:/") :].strip("/")
    name, _, alias = rest.partition("@")
    number: int | None = None
    if not alias and "/" in rest:
        name, _, text = rest.rpartition("/")
        if not (text.isascii() and text.isdigit()):
            raise InvalidInput(
                f"model URI {uri!r}: the version {text!r} is not a number; use "
                "models:/<name>/<version>, models:/<name>@<alias> or models:/<name>"
            )
        number = int(text)
    found = Client(store).store.get_model_version(name, version=number, alias=alias or None)
    return found.source


def _download(uri: str, dst: str, store: str | None) -> Path:
    from tane.tracking.client import Client

    rest = uri[len("runs:/") :].strip("/")
    run_id, _, path = rest.partition("/")
    if not run_id:
        raise InvalidInput(f"model URI {uri!r} names no run: use runs:/<run id>/<path>")
    client = Client(store)
    return Path(client.download_artifacts(run_id, path or "model", dst))


def _metadata(folder: Path) -> dict[str, Any]:
    meta_file = folder / MODEL_FILE
    if not meta_file.is_file():
        raise NotFound(f"{folder} holds no {MODEL_FILE}: it is not a model saved by tane.log_model")
    data: dict[str, Any] = json.loads(meta_file.read_text(encoding="utf-8"))
    return data


def _load_folder(folder: Path) -> Any:
    meta = _metadata(folder)
    flavor = meta.get("flavor")
    loader = _LOADERS.get(str(flavor))
    if loader is None:
        raise InvalidInput(
            f"{folder / MODEL_FILE}: unknown flavor {flavor!r}; a newer tane saved it?"
        )
    return loader(folder / meta["file"], meta)


def _load_joblib(path: Path, meta: dict[str, Any]) -> Any:
    import joblib

    return joblib.load(path)


def _load_lightgbm(path: Path, meta: dict[str, Any]) -> Any:
    import lightgbm

    return lightgbm.Booster(model_file=str(path))


def _load_xgboost(path: Path, meta: dict[str, Any]) -> Any:
    model = _import_class(meta["class"])()
    model.load_model(str(path))
    return model


def _load_torch(path: Path, meta: dict[str, Any]) -> Any:
    import torch

    # The whole pickled module: only load models you trust (as with any pickle).
    return torch.load(path, weights_only=False, map_location="cpu")


_LOADERS = {
    "sklearn": _load_joblib,
    "pickle": _load_joblib,
    "lightgbm": _load_lightgbm,
    "xgboost": _load_xgboost,
    "torch": _load_torch,
}


def _import_class(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(import_module(module), name)


def _read_example(folder: Path) -> Any:
    name = _metadata(folder).get("input_example")
    if not name:
        return None
    if name.endswith(".parquet"):
        import pandas as pd

        return pd.read_parquet(folder / name)
    payload = json.loads((folder / name).read_text(encoding="utf-8"))
    if payload["type"] == "ndarray":
        import numpy as np

        return np.asarray(payload["data"], dtype=payload["dtype"])
    if payload["type"] == "dataframe":
        import pandas as pd

        data = payload["data"]
        return pd.DataFrame(data["data"], index=data["index"], columns=data["columns"])
    return payload["data"]
