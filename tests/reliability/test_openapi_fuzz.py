"""Fuzz every operation of the OpenAPI spec with schemathesis: no answer is a 5xx.

The app runs in-process (schemathesis' ASGI transport) over a real store, on
SQLite and on PostgreSQL, seeded for each operation with an experiment, runs
(metrics, params, tags) and artifacts. Hooks replace the generated path
parameters and body ids with those real ones two times in three, so that the
routes are fuzzed past their "not found" check, and put one value at the edge of
what a database or file system holds (integers beyond 64 bits, NUL, lone
surrogates, overlong names) in one case in three. Every case must pass
``not_a_server_error`` and ``response_schema_conformance``; an exception the app
lets through (a 500 from a real server) fails it too.

Bounded by count (``MAX_EXAMPLES`` generated cases per operation, plus
schemathesis' coverage cases) and by time (``TIME_LIMIT`` per operation);
derandomized with a fixed seed, so CI fuzzes the same cases on every run. A
line per backend gives the cases tried and the 5xx answers seen, also recorded
as the figures ``openapi-fuzz-<backend>`` of docs/reliability.md.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from tests.reliability.figures import record

from tane.server import create_app
from tane.tracking.stores import open_store
from tane.tracking.stores.base import Store

#: Generated cases per operation (schemathesis adds its coverage cases on top).
MAX_EXAMPLES = 60
#: Seconds one operation may take (about 1-2 s on the 2-CPU CI machine).
TIME_LIMIT = 60
#: Seconds one request may take (schemathesis waits 10 by default; a CI machine
#: busy with other jobs can be slower than that without the server being at fault).
REQUEST_TIMEOUT = 30
SEED = 20_261_126

# The spec needs no store: each operation gets an app over a freshly seeded one.
schema = schemathesis.openapi.from_asgi(
    "/api/v1/openapi.json",
    create_app(store_uri="unused://"),
    config=schemathesis.Config(seed=SEED),
)

#: The ids and names of the seeded store's objects, by parameter name (see _seed).
REAL: dict[str, Any] = {}


class Tally:
    """What the fuzz sent and got, per operation, for the summary and the checks."""

    def __init__(self) -> None:
        self.statuses: dict[str, Counter[int]] = defaultdict(Counter)
        self.server_errors: list[str] = []
        self.started = time.monotonic()

    @property
    def cases(self) -> int:
        return sum(sum(c.values()) for c in self.statuses.values())


def _seed(store: Store, root: Path) -> None:
    exp = store.create_experiment("fuzz", {"team": "a"})
    run = store.create_run(exp.id, "seeded", tags={"t": "1"})
    store.log_batch(
        run.id,
        [("loss", 0.5, 0, 1_700_000_000_000), ("loss", float("nan"), 1, 1_700_000_000_001)],
        {"lr": "0.1"},
        {"stage": "fuzz"},
    )
    model = root / "model.txt"
    model.write_text("weights")
    store.log_artifact(run.id, str(model))
    store.log_artifact(run.id, str(model), "models")
    child = store.create_run(exp.id, "child", parent_id=run.id)
    store.register_model("fuzzmodel", f"runs:/{run.id}/models", run.id)
    store.set_model_alias("fuzzmodel", "champion", 1)
    REAL.clear()
    REAL.update(
        run_id=run.id,
        run_ids=[run.id, child.id],
        experiment_id=exp.id,
        parent_id=run.id,
        id_or_name=exp.name,
        key="loss",
        path="models/model.txt",
        name="fuzzmodel",
        version=1,
        alias="champion",
    )


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def backend(request: pytest.FixtureRequest) -> Iterator[tuple[str, Tally]]:
    """The store backend fuzzed; prints and checks what the fuzz did once it is done."""
    tally = Tally()
    yield request.param, tally
    elapsed = time.monotonic() - tally.started
    record(
        f"openapi-fuzz-{request.param}",
        test=f"tests/reliability/test_openapi_fuzz.py::test_no_operation_answers_5xx[{request.param}]",
        operations=len(tally.statuses),
        cases=tally.cases,
        max_examples_per_operation=MAX_EXAMPLES,
        server_errors_5xx=len(tally.server_errors),
        seconds=round(elapsed, 1),
        seed=SEED,
    )
    line = (
        f"fuzz ({request.param}): {tally.cases} cases over {len(tally.statuses)} operations "
        f"in {elapsed:.1f} s, {len(tally.server_errors)} answered 5xx"
    )
    _show(request, line)
    for error in tally.server_errors[:20]:
        _show(request, "  " + error)
    if tally.server_errors:
        return  # the failing operations say why
    # Not vacuous: every operation was tried many times, and the seeded objects were
    # reached through most routes with path parameters (some need objects the seed
    # has not, such as a pipeline or a sweep).
    assert tally.cases >= 10 * len(tally.statuses), line
    with_ids = [op for op in tally.statuses if "{" in op]
    missed = [op for op in with_ids if not any(200 <= s < 300 for s in tally.statuses[op])]
    assert len(missed) <= len(with_ids) // 3, f"no case of {missed} reached a seeded object"


@pytest.fixture
def fuzzed_app(
    backend: tuple[str, Tally], request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Any]:
    """The app over a freshly seeded store of the backend (one per operation)."""
    name, tally = backend
    if name == "postgres":
        store = open_store(request.getfixturevalue("postgres_url"))
    else:
        store = open_store(str(tmp_path / "store"))
    _seed(store, tmp_path)
    app = create_app(store=store)
    app.state.fuzz_tally = tally
    yield app
    store.close()


def _show(request: pytest.FixtureRequest, line: str) -> None:
    """Print a line to the terminal even while pytest captures output."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        print(line)
        return
    with capture.global_and_fixture_disabled():
        print(line)


def _real(values: dict[str, Any]) -> dict[str, Any]:
    """The same parameters or body with every id or name the seeded store has replaced."""
    return {k: REAL.get(k, v) for k, v in values.items()}


# Values at the edges of what the stores can hold. Schemathesis draws from the
# spec, which states no limits where the databases have them; these are sent
# where any value is (integers past 64 and 32 bits, NUL characters that
# PostgreSQL refuses, lone surrogates that no database can encode, names longer
# than a file system allows).
_EDGE_TEXT = ["\x00", "a\x00b", "x" * 300, "\u00e9" * 130, "99999999999999999999999"]
_EDGE_VALUES = [2**63, -(2**63) - 1, 2**31, 10**20, "\ud800", *_EDGE_TEXT]
_EDGE_MAPS = [{"\x00": "v"}, {"\ud800": "v"}, {"k" * 300: "v"}]
EDGE = st.sampled_from([*_EDGE_VALUES, *_EDGE_MAPS])
# A URL cannot carry a lone surrogate (it is UTF-8 on the wire).
PATH_EDGE = st.sampled_from([*_EDGE_TEXT, "a/b", "x/" * 40 + "y" * 250])
QUERY_EDGE = st.sampled_from([2**63, -(2**63) - 1, 2**31, 10**20, *_EDGE_TEXT])

#: Where an item is in a JSON document: keys and indexes from the root.
Where = tuple[Any, ...]


def _places(value: Any, at: Where = ()) -> list[Where]:
    """Where a value could go in a JSON document: its root and every item below it."""
    places = [at]
    if isinstance(value, dict):
        for key, item in value.items():
            places += _places(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            places += _places(item, (*at, index))
    return places


def _put(value: Any, at: Where, new: Any) -> Any:
    """A copy of the document with the item ``at`` replaced by ``new``."""
    if not at:
        return new
    head, rest = at[0], at[1:]
    if isinstance(value, dict):
        return {**value, head: _put(value[head], rest, new)}
    items = list(value)
    items[head] = _put(items[head], rest, new)
    return items


def _with_edge(document: Any, edge: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """One item of a JSON document (or the whole) replaced with an edge value."""
    return st.tuples(st.sampled_from(_places(document)), edge).map(
        lambda spot: _put(document, spot[0], spot[1])
    )


def _named_edge(values: Any, edge: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """One parameter of a parameter dict replaced with an edge value."""
    if not isinstance(values, dict) or not values:
        return st.just(values)
    return st.tuples(st.sampled_from(sorted(values)), edge).map(
        lambda spot: {**values, spot[0]: spot[1]}
    )


def _real_or_edge(strategy: st.SearchStrategy[Any], edge: Any) -> st.SearchStrategy[Any]:
    """As generated, with the seeded ids, or with the seeded ids and one edge value."""
    real = strategy.map(lambda v: _real(v) if isinstance(v, dict) else v)
    return st.one_of(strategy, real, real.flatmap(edge))


@schema.hook
def before_generate_path_parameters(context: Any, strategy: st.SearchStrategy[Any]) -> Any:
    """The path names the seeded run, experiment, metric or artifact two times in three."""
    return _real_or_edge(strategy, lambda p: _named_edge(p, PATH_EDGE))


@schema.hook
def before_generate_query(context: Any, strategy: st.SearchStrategy[Any]) -> Any:
    """One query parameter in two has an edge value."""
    return st.one_of(strategy, strategy.flatmap(lambda q: _named_edge(q, QUERY_EDGE)))


@schema.hook
def before_generate_body(context: Any, strategy: st.SearchStrategy[Any]) -> Any:
    """Ids in a body are the seeded ones two times in three, with an edge value in one."""
    return _real_or_edge(strategy, lambda b: _with_edge(b, EDGE))


@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    # One app (and store) serves every case of an operation, on purpose; edge
    # values and real ids make many generated bodies large or slow to draw.
    suppress_health_check=[
        hypothesis.HealthCheck.function_scoped_fixture,
        hypothesis.HealthCheck.too_slow,
        hypothesis.HealthCheck.data_too_large,
        hypothesis.HealthCheck.filter_too_much,
    ],
)
@pytest.mark.timeout(TIME_LIMIT)
def test_no_operation_answers_5xx(case: schemathesis.Case[Any], fuzzed_app: Any) -> None:
    tally: Tally = fuzzed_app.state.fuzz_tally
    try:
        response = case.call(app=fuzzed_app, timeout=REQUEST_TIMEOUT)
    except Exception as exc:
        # In-process, an exception the app does not handle reaches the caller
        # (a real server would have answered 500).
        tally.statuses[case.operation.label][500] += 1
        tally.server_errors.append(f"{case.method} {case.formatted_path} -> raised {exc!r}")
        raise
    tally.statuses[case.operation.label][response.status_code] += 1
    if response.status_code >= 500:
        tally.server_errors.append(
            f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}"
        )
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
