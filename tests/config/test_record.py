"""What a run records of its config: params and config.yaml, with secrets kept out."""

from __future__ import annotations

import doctest
import enum
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from omegaconf import DictConfig, OmegaConf
from omegaconf.basecontainer import BaseContainer

from tane.config import _record, _schema
from tane.config._record import config_params, config_yaml, strip_hydra

SECRET = "hunter2-Pässwörd-秘密"


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TANE_TEST_DB_PASSWORD", SECRET)
    monkeypatch.setenv("TANE_TEST_PORT", "5432")
    monkeypatch.delenv("TANE_TEST_UNSET", raising=False)
    return SECRET


def _cfg(data: Any) -> DictConfig:
    cfg = OmegaConf.create(data)
    assert isinstance(cfg, DictConfig)
    return cfg


def _assert_no_secret(cfg: DictConfig) -> tuple[dict[str, str], str]:
    params = config_params(cfg)
    text = config_yaml(cfg)
    for key, value in params.items():
        assert SECRET not in value, key
        assert "hunter2" not in value, key
    assert SECRET not in text
    assert "hunter2" not in text
    return params, text


# -- flattening ----------------------------------------------------------------------------


class Color(enum.Enum):
    RED = 1
    BLUE = 2


def test_flattening_to_dotted_keys_with_lists_as_json() -> None:
    cfg = _cfg(
        {
            "model": {"alpha": 0.0005, "l1_ratio": 0.9, "opt": {"name": "adam", "lr": 1e-3}},
            "layers": [64, 32],
            "blocks": [{"kind": "conv", "size": 3}],
            "flag": True,
            "nothing": None,
            "empty": {},
            "empty_list": [],
            "seed": 3,
        }
    )
    assert config_params(cfg) == {
        "model.alpha": "0.0005",
        "model.l1_ratio": "0.9",
        "model.opt.name": "adam",
        "model.opt.lr": "0.001",
        "layers": "[64, 32]",
        "blocks": '[{"kind": "conv", "size": 3}]',
        "flag": "True",
        "nothing": "None",
        "empty": "{}",
        "empty_list": "[]",
        "seed": "3",
    }


def test_interpolations_are_resolved_and_missing_is_recorded() -> None:
    cfg = _cfg(
        {
            "base": 2,
            "a": "${base}",
            "b": "x-${base}-y",
            "node": "${sub}",
            "sub": {"k": "${base}"},
            "todo": "???",
            "broken": "${does.not.exist}",
            "literal": "\\${not_an_interpolation}",
        }
    )
    params = config_params(cfg)
    assert params["a"] == "2"
    assert params["b"] == "x-2-y"
    assert params["node.k"] == "2"
    assert params["todo"] == "???"
    assert params["broken"] == "${does.not.exist}"  # recorded as written, not an error
    assert params["literal"] == "${not_an_interpolation}"


def test_unicode_keys_and_values() -> None:
    cfg = _cfg({"モデル": {"名前": "木", "emoji": "🌱"}, "layers": ["ä", "ß"]})
    params = config_params(cfg)
    assert params["モデル.名前"] == "木"
    assert params["モデル.emoji"] == "🌱"
    assert params["layers"] == '["ä", "ß"]'
    text = config_yaml(cfg)
    assert "名前: 木" in text
    assert OmegaConf.to_container(OmegaConf.create(text)) == OmegaConf.to_container(cfg)


@dataclass
class Inner:
    color: Color = Color.BLUE
    path: Path = Path("data/raw")


@dataclass
class Outer:
    inner: Inner = field(default_factory=Inner)
    n: int = 1


def test_structured_configs_enums_and_sub_nodes() -> None:
    cfg = OmegaConf.structured(Outer)
    assert config_params(cfg) == {"inner.color": "BLUE", "inner.path": "data/raw", "n": "1"}
    assert config_params(cfg.inner) == {"color": "BLUE", "path": "data/raw"}


# -- secrets ---------------------------------------------------------------------------------


def test_env_values_are_recorded_as_their_interpolation(secret_env: str) -> None:
    cfg = _cfg(
        {
            "db": {
                "password": "${oc.env:TANE_TEST_DB_PASSWORD}",
                "with_default": "${oc.env:TANE_TEST_DB_PASSWORD,fallback}",
                "url": "postgres://app:${oc.env:TANE_TEST_DB_PASSWORD}@db:5432/x",
                "port": "${oc.env:TANE_TEST_PORT}",
            },
            "hosts": ["a", "${oc.env:TANE_TEST_DB_PASSWORD}"],
        }
    )
    params, text = _assert_no_secret(cfg)
    assert params["db.password"] == "${oc.env:TANE_TEST_DB_PASSWORD}"
    assert params["db.with_default"] == "${oc.env:TANE_TEST_DB_PASSWORD,fallback}"
    assert params["db.url"] == "postgres://app:${oc.env:TANE_TEST_DB_PASSWORD}@db:5432/x"
    assert params["db.port"] == "${oc.env:TANE_TEST_PORT}"  # every env value, not only secrets
    assert params["hosts"] == '["a", "${oc.env:TANE_TEST_DB_PASSWORD}"]'
    assert "password: ${oc.env:TANE_TEST_DB_PASSWORD}" in text
    # the config itself still resolves to the real values
    assert cfg.db.password == SECRET
    assert cfg.db.url == f"postgres://app:{SECRET}@db:5432/x"


def test_env_default_is_not_recorded_either(secret_env: str) -> None:
    cfg = _cfg({"token": "${oc.env:TANE_TEST_UNSET,default-token-value}"})
    params, text = _assert_no_secret(cfg)
    assert params["token"] == "${oc.env:TANE_TEST_UNSET,default-token-value}"
    assert "token: ${oc.env:TANE_TEST_UNSET,default-token-value}" in text
    assert cfg.token == "default-token-value"


def test_derived_values_do_not_leak(secret_env: str) -> None:
    cfg = _cfg(
        {
            "db_password": "${oc.env:TANE_TEST_DB_PASSWORD}",
            "db_url": "postgres://u:${db_password}@h",
            "again": "${db_url}",
            "creds": {"password": "${oc.env:TANE_TEST_DB_PASSWORD}", "user": "app"},
            "creds_copy": "${creds}",
            "selected": "${oc.select:db_password,none}",
            "decoded": "${oc.decode:${oc.env:TANE_TEST_PORT}}",
        }
    )
    params, _ = _assert_no_secret(cfg)
    assert params["db_url"] == "postgres://u:${db_password}@h"
    assert params["again"] == "${db_url}"
    assert params["creds_copy.password"] == "${oc.env:TANE_TEST_DB_PASSWORD}"
    assert params["creds_copy.user"] == "app"  # the rest of the node is resolved
    assert params["selected"] == "${oc.select:db_password,none}"
    assert params["decoded"] == "${oc.decode:${oc.env:TANE_TEST_PORT}}"
    assert cfg.again == f"postgres://u:{SECRET}@h"


def test_values_transformed_by_a_custom_resolver_do_not_leak(secret_env: str) -> None:
    OmegaConf.register_new_resolver("tane_test_upper", lambda s: s.upper(), use_cache=True)
    try:
        cfg = _cfg({"shout": "${tane_test_upper:${oc.env:TANE_TEST_DB_PASSWORD}}"})
        params, _ = _assert_no_secret(cfg)
        assert SECRET.upper() not in params["shout"]
        assert params["shout"] == "${tane_test_upper:${oc.env:TANE_TEST_DB_PASSWORD}}"
        # the resolver's cache was not filled with a placeholder
        assert cfg.shout == SECRET.upper()
    finally:
        OmegaConf.clear_resolver("tane_test_upper")


def test_typed_nodes_holding_env_values(secret_env: str) -> None:
    @dataclass
    class Db:
        port: int = 0
        password: str = ""

    cfg = OmegaConf.merge(
        OmegaConf.structured(Db),
        {"port": "${oc.env:TANE_TEST_PORT}", "password": "${oc.env:TANE_TEST_DB_PASSWORD}"},
    )
    assert isinstance(cfg, DictConfig)
    params, _ = _assert_no_secret(cfg)
    assert params == {
        "port": "${oc.env:TANE_TEST_PORT}",
        "password": "${oc.env:TANE_TEST_DB_PASSWORD}",
    }
    assert cfg.port == 5432


def test_yaml_round_trip_keeps_order_and_reads_env_again(secret_env: str) -> None:
    cfg = _cfg(
        {
            "zeta": 1,
            "alpha": {"b": "${zeta}", "a": "${oc.env:TANE_TEST_DB_PASSWORD}"},
            "mid": "???",
            "text": "\\${literal}",
        }
    )
    text = config_yaml(cfg)
    assert [line.split(":")[0] for line in text.splitlines() if not line.startswith(" ")] == [
        "zeta",
        "alpha",
        "mid",
        "text",
    ]
    loaded = OmegaConf.create(text)
    assert loaded.alpha.b == 1
    assert loaded.alpha.a == SECRET  # read from the environment again
    assert OmegaConf.is_missing(loaded, "mid")
    assert loaded.text == "${literal}"


def test_the_real_resolver_is_restored(secret_env: str) -> None:
    before = BaseContainer._resolvers["oc.env"]
    config_params(_cfg({"a": "${oc.env:TANE_TEST_DB_PASSWORD}"}))
    assert BaseContainer._resolvers["oc.env"] is before
    assert _cfg({"a": "${oc.env:TANE_TEST_DB_PASSWORD}"}).a == SECRET


def test_other_threads_read_real_values_while_a_config_is_recorded(secret_env: str) -> None:
    inside, release = threading.Event(), threading.Event()

    def block() -> str:
        inside.set()
        assert release.wait(5)
        return "ok"

    OmegaConf.register_new_resolver("tane_test_block", block)
    try:
        recorded: dict[str, Any] = {}
        cfg = _cfg({"wait": "${tane_test_block:}", "pw": "${oc.env:TANE_TEST_DB_PASSWORD}"})
        thread = threading.Thread(target=lambda: recorded.update(config_params(cfg)))
        thread.start()
        try:
            assert inside.wait(5)
            # the recording thread has the probe installed right now
            assert _cfg({"pw": "${oc.env:TANE_TEST_DB_PASSWORD}"}).pw == SECRET
        finally:
            release.set()
            thread.join()
        assert recorded == {"wait": "ok", "pw": "${oc.env:TANE_TEST_DB_PASSWORD}"}
    finally:
        OmegaConf.clear_resolver("tane_test_block")


def test_concurrent_recordings(secret_env: str) -> None:
    cfg = _cfg({"pw": "${oc.env:TANE_TEST_DB_PASSWORD}", "url": "x:${pw}", "n": "${m}", "m": 1})
    before = BaseContainer._resolvers["oc.env"]
    results: list[dict[str, str]] = []
    errors: list[BaseException] = []

    def record() -> None:
        try:
            for _ in range(20):
                results.append(config_params(cfg))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=record) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 80
    assert all(
        r == {"pw": "${oc.env:TANE_TEST_DB_PASSWORD}", "url": "x:${pw}", "n": "1", "m": "1"}
        for r in results
    )
    assert BaseContainer._resolvers["oc.env"] is before


# -- hydra ---------------------------------------------------------------------------------


@pytest.fixture
def hydra_cfg(tmp_path: Path, secret_env: str) -> Iterator[DictConfig]:
    """A config composed by Hydra's compose API, with its hydra node."""
    from hydra import compose, initialize_config_dir

    conf = tmp_path / "conf"
    (conf / "model").mkdir(parents=True)
    (conf / "config.yaml").write_text(
        "defaults:\n  - model: elastic_net\n  - _self_\n"
        "db:\n  password: ${oc.env:TANE_TEST_DB_PASSWORD}\n  url: pg://u:${db.password}@h\n"
        "job: ${hydra:job.name}\n",
        encoding="utf-8",
    )
    (conf / "model" / "elastic_net.yaml").write_text(
        "alpha: 0.0005\nl1_ratio: 0.9\nrandom_state: 3\n", encoding="utf-8"
    )
    with initialize_config_dir(config_dir=str(conf), version_base="1.3", job_name="train"):
        cfg = compose(config_name="config", return_hydra_config=True)
        from hydra.core.hydra_config import HydraConfig

        previous = HydraConfig.instance().cfg
        HydraConfig.instance().set_config(cfg)
        try:
            yield cfg
        finally:
            HydraConfig.instance().cfg = previous


def test_strip_hydra(hydra_cfg: DictConfig) -> None:
    stripped = strip_hydra(hydra_cfg)
    assert "hydra" not in stripped
    assert "hydra" in hydra_cfg  # the original is unchanged
    assert OmegaConf.is_struct(stripped)
    assert list(stripped) == ["model", "db", "job"]


def test_a_composed_config(hydra_cfg: DictConfig) -> None:
    cfg = strip_hydra(hydra_cfg)
    params, text = _assert_no_secret(cfg)
    assert params == {
        "model.alpha": "0.0005",
        "model.l1_ratio": "0.9",
        "model.random_state": "3",
        "db.password": "${oc.env:TANE_TEST_DB_PASSWORD}",
        "db.url": "pg://u:${db.password}@h",
        "job": "train",
    }
    assert text.startswith("model:\n  alpha: 0.0005\n")
    # with the hydra node, recording still works and still hides the secret
    full, _ = _assert_no_secret(hydra_cfg)
    assert full["hydra.job.name"] == "train"


def test_doctests() -> None:
    for module in (_record, _schema):
        failures, tried = doctest.testmod(module)
        assert tried > 0
        assert failures == 0
