"""Values at the edges: huge params, tags and keys, and Unicode everywhere, on every backend.

Each test runs on SQLite, on PostgreSQL and through a real server (the
``any_store`` fixture), with the public ``tane.Client``: what it accepts it
reads back exactly, and what it refuses it refuses with InvalidInput, leaving
nothing half written.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.reliability.conftest import filter_literal
from tests.reliability.figures import DERANDOMIZE, record

import tane
from tane.errors import InvalidInput, StoreError
from tane.testing.server import LiveServer
from tane.tracking.stores import open_store
from tane.tracking.stores.base import Store
from tane.tracking.stores.rest import RestStore
from tane.tracking.stores.sql import SqlStore
from tane.tracking.values import MAX_KEY_LENGTH, check_key

MIB = 1024 * 1024


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.timeout(180)
def test_huge_values_round_trip_and_overlong_keys_are_refused(
    any_store: tuple[str, Store],
) -> None:
    name, store = any_store
    client = tane.Client(store)
    exp = client.get_or_create_experiment("huge")
    run = client.create_run(exp.id, "r" * 250)
    began = time.monotonic()
    big = {"param": "p" * (16 * MIB), "tag": "t" * MIB, "note": "ü" * MIB}
    client.log_param(run.id, "big", big["param"])
    client.set_tag(run.id, "big", big["tag"])
    client.set_note(run.id, big["note"])
    key = "k" * MAX_KEY_LENGTH
    client.log_batch(run.id, [(key, 1.0, 2**63 - 1, 1)], {key: "v"}, {key: "v"})
    many_params = {f"p{i:05d}": str(i) for i in range(10_000)}
    many_tags = {f"t{i:05d}": "v" * 10 for i in range(10_000)}
    client.log_batch(run.id, params=many_params, tags=many_tags)
    points = [("series", float(i), i, i) for i in range(100_000)]
    client.log_batch(run.id, points)
    got = client.get_run(run.id)
    assert _digest(got.params["big"]) == _digest(big["param"])
    assert _digest(got.tags["big"]) == _digest(big["tag"])
    assert _digest(got.note) == _digest(big["note"])
    assert got.name == "r" * 250
    assert got.params[key] == got.tags[key] == "v" and got.metrics[key] == 1.0
    assert client.get_metric_history(run.id, key)[0].step == 2**63 - 1
    assert {k: got.params[k] for k in many_params} == many_params
    assert len([k for k in got.tags if k.startswith("t")]) == 10_000
    assert len(client.get_metric_history(run.id, "series")) == 100_000
    seconds = time.monotonic() - began
    # Beyond the limits: refused, naming the limit; nothing of the batch is written.
    refused = {
        "metric key": lambda: client.log_metric(run.id, "k" * 251, 1.0),
        "param key": lambda: client.log_batch(run.id, params={"k" * 251: "v", "ok": "v"}),
        "tag key": lambda: client.set_tag(run.id, "k" * 251, "v"),
        "run name": lambda: client.create_run(exp.id, "r" * 251),
        "experiment name": lambda: client.create_experiment("e" * 501),
        "step": lambda: client.log_metric(run.id, "s", 1.0, step=2**63),
    }
    for what, call in refused.items():
        with pytest.raises(InvalidInput) as info:
            call()
        assert any(
            limit in str(info.value)
            for limit in ("250", "500", "64 bits", "2**63", "9223372036854775808")
        ), (what, str(info.value))
    after = client.get_run(run.id)
    assert "ok" not in after.params and "s" not in after.metrics
    record(
        f"values-huge-{name}",
        largest_param_bytes=16 * MIB,
        largest_tag_bytes=MIB,
        note_bytes=len(big["note"].encode()),
        params_in_one_batch=10_000,
        tags_in_one_batch=10_000,
        points_in_one_batch=100_000,
        key_length_accepted=MAX_KEY_LENGTH,
        refusals=len(refused),
        seconds=round(seconds, 2),
    )


def test_a_request_over_the_servers_body_limit_is_refused_clearly(
    server: LiveServer, backend: SqlStore
) -> None:
    client = tane.Client(RestStore(server.url))
    run = client.create_run("0", "r")
    with pytest.raises(InvalidInput, match="TANE_SERVER_MAX_BODY") as info:
        client.log_param(run.id, "too_big", "x" * (40 * MIB))
    assert "413" in str(info.value)
    assert "too_big" not in backend.get_run(run.id).params
    record("values-over-body-limit-rest", param_bytes=40 * MIB, error=str(info.value)[:140])


# -- Unicode everywhere ---------------------------------------------------------------------

#: Any Unicode text a database can hold: no NUL, no lone surrogate.
texts = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40)
names = texts.filter(lambda s: s.strip() != "")
#: Keys: letters and digits of any script, and the punctuation keys allow.
key_chars = st.characters(categories=("L", "N")) | st.sampled_from(list("_-. /:+=@#%,()[]"))
keys = st.text(key_chars, min_size=1, max_size=30).filter(
    lambda k: not k.startswith("/") and ".." not in k.split("/")
)
path_parts = st.text(
    st.characters(categories=("L", "N", "Zs")) | st.sampled_from("-_.~"), min_size=1, max_size=12
).filter(lambda p: p.strip(". ") != "" and p not in (".", ".."))


@pytest.mark.timeout(180)
def test_unicode_is_stored_and_read_back_everywhere(
    any_store: tuple[str, Store], tmp_path: Path
) -> None:
    name, store = any_store
    client = tane.Client(store)
    tried = 0

    @settings(
        max_examples=40 if name == "sqlite" else 20,
        deadline=None,
        database=None,
        derandomize=DERANDOMIZE,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        experiment=names,
        run_name=names.map(lambda s: s[:250]),
        param=st.tuples(keys, texts),
        tag=st.tuples(keys, texts),
        metric=keys,
        note=texts,
        folder=path_parts,
        file=path_parts,
        content=texts,
    )
    def round_trip(
        experiment: str,
        run_name: str,
        param: tuple[str, str],
        tag: tuple[str, str],
        metric: str,
        note: str,
        folder: str,
        file: str,
        content: str,
    ) -> None:
        nonlocal tried
        for key in (param[0], tag[0], metric):
            check_key(key)  # the strategy makes valid keys only
        exp = client.get_or_create_experiment(experiment)
        assert client.get_experiment(exp.id).name == experiment
        run = client.create_run(exp.id, run_name, tags={tag[0]: tag[1]})
        client.log_batch(run.id, [(metric, 0.5, 1, 2)], {param[0]: param[1]})
        client.set_note(run.id, note)
        local = Path(tempfile.mkdtemp(dir=tmp_path)) / file
        local.write_text(content, encoding="utf-8")
        client.log_artifact(run.id, str(local), folder)
        got = client.get_run(run.id)
        assert (got.name, got.note) == (run_name, note)
        assert got.params == {param[0]: param[1]}
        assert got.tags[tag[0]] == tag[1]
        assert got.metrics == {metric: 0.5}
        assert client.read_artifact(run.id, f"{folder}/{file}").decode("utf-8") == content
        assert [a.path for a in client.list_artifacts(run.id, folder)] == [f"{folder}/{file}"]
        # The filter language finds it by the same text, quoted.
        key = param[0].replace("`", "``")
        found = client.search_runs(
            f"params.`{key}` = {filter_literal(param[1])}", experiment=exp.id
        )
        assert run.id in [r.id for r in found]
        tried += 1

    round_trip()
    assert tried > 0
    record(f"values-unicode-{name}", round_trips=tried, fields_per_round_trip=10, mismatches=0)


@pytest.mark.parametrize(
    ("what", "value"),
    [("NUL", "a\x00b"), ("lone surrogate", "a\ud800b")],
)
def test_text_no_database_holds_is_refused_on_every_backend(
    any_store: tuple[str, Store], what: str, value: str
) -> None:
    _, store = any_store
    client = tane.Client(store)
    run = client.create_run("0", "r")
    calls = {
        "param": lambda: client.log_batch(run.id, params={"p": value, "fine": "1"}),
        "tag": lambda: client.log_batch(run.id, tags={"t": value, "fine": "1"}),
        "note": lambda: client.set_note(run.id, value),
        "run name": lambda: client.create_run("0", value),
    }
    for field, call in calls.items():
        with pytest.raises(InvalidInput):
            call()
        assert "fine" not in client.get_run(run.id).params, field
    assert client.get_run(run.id).note == ""


def test_a_store_in_a_unicode_folder_works_and_a_question_mark_is_refused(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "données 実験 #1"
    store = open_store(str(folder))
    run = store.create_run("0", "r")
    store.log_batch(run.id, [("m", 1.0, 0, 1)])
    assert (folder / "tane.db").is_file()
    assert tane.Client(str(folder)).get_run(run.id).metrics == {"m": 1.0}
    with pytest.raises(StoreError, match=r"has a '\?' in its path"):
        open_store(str(tmp_path / "what?"))
    assert not (tmp_path / "what").exists()


def test_experiment_names_that_look_like_numbers_or_paths_are_names(
    any_store: tuple[str, Store],
) -> None:
    """Names are names: str.isdigit holds for "²" (int() refused it) and "٣" (read as id
    3), and a server was asked for "team/vision" at /experiments/team/vision."""
    _, store = any_store
    client = tane.Client(store)
    while int(client.create_experiment(f"filler-{time.monotonic_ns()}").id) < 3:
        pass  # experiment 3 exists: "٣" must not find it
    names = ("²", "٣", "9223372036854775808", "1" * 30, "team/vision", "/", ".", "..", "a/../b")
    for name in names:
        made = client.get_or_create_experiment(name)
        assert client.get_experiment(name).id == made.id
        assert client.get_or_create_experiment(name).id == made.id
        run = client.create_run(made.id, "r")
        assert [r.id for r in client.search_runs(experiment=name)] == [run.id]
