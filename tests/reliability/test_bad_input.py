"""Bad input: property tests of everything that parses user text, and path traversal.

- The filter language: any text gives runs or InvalidFilter on every backend
  (SQLite, PostgreSQL, a server), and the text a user writes reaches SQL only
  as bound parameters (tests/tracking/test_query.py fuzzes the parser alone and
  checks the SQL's meaning against a model).
- Overrides and sweep spaces: Hydra's grammar through tane, never anything but
  InvalidInput, and a search space within the bounds it was given.
- Catalog round trips: what a dataset saves, it loads, under any name.
- Artifact paths: no request reads or writes outside its run's folder.

Each property is bounded by ``max_examples`` and a test timeout; the counts
tried go to the figures.
"""

from __future__ import annotations

import hashlib
import http.client
import math
import posixpath
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import pandas as hpd
from sqlalchemy.dialects import postgresql, sqlite
from tests.pipeline.test_datasets_types import plain
from tests.reliability.conftest import filter_literal
from tests.reliability.figures import DERANDOMIZE, record
from tests.tracking.test_query import FRAGMENTS

import tane
from tane.config._compose import Composer
from tane.errors import InvalidFilter, InvalidInput
from tane.pipeline.catalog import DataCatalog
from tane.sweep.space import SearchSpace, from_expressions, from_overrides
from tane.testing.server import LiveServer
from tane.tracking.artifacts import safe_artifact_path
from tane.tracking.query import parse_filter, parse_order_by
from tane.tracking.stores import _schema as schema
from tane.tracking.stores._sql_filter import apply_order, filter_clause
from tane.tracking.stores.base import Store
from tane.tracking.stores.sql import SqlStore

FUZZ = settings(
    deadline=None,
    database=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- the filter language: user text is bound, never spliced ------------------------------

#: Put in every text a user writes below: if it shows in the SQL, the text was spliced.
MARK = "Zq9"
user_text = st.text(max_size=12).map(lambda s: MARK + s)
OPS = ["=", "!=", "<", ">", "<=", ">=", "LIKE", "ILIKE", "IN", "NOT IN"]


@st.composite
def user_filters(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A filter of comparisons on keys and values a user typed, and those texts."""
    parts, texts = [], []
    for _ in range(draw(st.integers(1, 3))):
        entity = draw(st.sampled_from(["params", "tags", "metrics", "attributes"]))
        op = draw(st.sampled_from(OPS))
        key = draw(user_text)
        if entity == "attributes":
            key = draw(st.sampled_from(["run_name", "run_id", "parent_id"]))
        else:
            texts.append(key)
        name = (
            f"{entity}.`{key.replace('`', '``')}`" if entity != "attributes" else f"{entity}.{key}"
        )
        if entity == "metrics":
            value = repr(draw(st.floats(allow_nan=False, allow_infinity=False)))
            op = op if op not in ("LIKE", "ILIKE") else "="
        else:
            values = draw(st.lists(user_text, min_size=1, max_size=3))
            if op not in ("IN", "NOT IN"):
                values = values[:1]
            texts += values
            value = "(" + ", ".join(filter_literal(v) for v in values) + ")"
            if op not in ("IN", "NOT IN"):
                value = filter_literal(values[0])
        parts.append(f"{name} {op} {value}")
    joiner = draw(st.sampled_from([" AND ", " OR "]))
    return joiner.join(parts), texts


def _bound_values(compiled: Any) -> list[str]:
    out: list[str] = []
    for value in compiled.params.values():
        out += [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
    return out


@settings(FUZZ, max_examples=300)
@given(user_filters())
def test_user_text_reaches_sql_only_as_bound_parameters(case: tuple[str, list[str]]) -> None:
    text, typed = case
    try:
        expr = parse_filter(text)
    except InvalidFilter:
        return  # e.g. a LIKE pattern ending in a lone backslash: refused, not run
    assert expr is not None
    # Order by the first key typed too: order_by keys are user text as well.
    order = parse_order_by(f"params.`{typed[0].replace('`', '``')}` DESC")
    statement = apply_order(sa.select(schema.runs.c.id).where(filter_clause(expr)), [order])
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        compiled = statement.compile(dialect=dialect)
        assert MARK not in str(compiled), (text, str(compiled))
        bound = _bound_values(compiled)
        for piece in typed:
            # LIKE patterns are bound as written; others exactly; either way bound.
            assert any(piece in value for value in bound), (piece, bound)


def _seed_runs(store: Store) -> int:
    client = tane.Client(store)
    exp = client.get_or_create_experiment("filters")
    for i in range(5):
        run = client.create_run(exp.id, f"run-{i}", tags={"team": "vision" if i % 2 else "nlp"})
        client.log_batch(run.id, [("acc", i / 5, 0, 1)], {"lr": 0.1 * i, "opt": "adam"})
    return 5


filter_texts = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(FRAGMENTS), max_size=12).map(" ".join),
    user_filters().map(lambda case: case[0]),
)


@pytest.mark.timeout(120)
def test_any_filter_gives_runs_or_invalid_filter_on_every_backend(
    any_store: tuple[str, Store],
) -> None:
    name, store = any_store
    seeded = _seed_runs(store)
    client = tane.Client(store)
    outcomes: Counter[str] = Counter()

    @settings(FUZZ, max_examples=150 if name == "sqlite" else 80)
    @given(filter_texts, st.sampled_from(["", "metrics.acc DESC", "params.lr", "bogus order"]))
    def search(text: str, order: str) -> None:
        try:
            found = client.search_runs(text, order_by=order or None, experiment="filters")
        except InvalidFilter as exc:
            position = exc.position  # where the problem is: inside the text given
            outcomes["InvalidFilter"] += 1
            assert position is None or 0 <= position <= max(len(text), len(order))
            return
        assert len(found) <= seeded
        outcomes["runs"] += 1

    search()
    # Whatever was sent, the runs are all still there.
    assert len(client.search_runs("", experiment="filters")) == seeded
    assert outcomes["runs"] > 0 and outcomes["InvalidFilter"] > 0, outcomes
    record(
        f"bad-input-filter-{name}",
        cases=sum(outcomes.values()),
        answered_runs=outcomes["runs"],
        invalid_filter=outcomes["InvalidFilter"],
        other_errors=0,
    )


# -- overrides and sweep spaces -----------------------------------------------------------

OVERRIDE_KEYS = ["a", "b.c", "model", "+x", "++a", "~a", "+new.deep.key", "~b.c", "a.b.c", "1"]
VALUE_FRAGMENTS = [
    ",", "interval(", "range(", "choice(", "tag(log,", "tag(int,", "glob(*)", "sort(",
    "shuffle(", "str(", "int(", "float(", ")", "1", "0", "-1", "0.5", "1e300", "1e-300",
    "nan", "inf", "-inf", "null", "true", "x", "y", "'x'", '"y"', "'", '"', "[", "]", "{", "}",
    ":", " ", "${a}", "${b.c}", "${oc.env:HOME}", "${nope}", "\\", "@", "/", "x y", "é",
]  # fmt: skip
override_texts = st.one_of(
    st.tuples(
        st.sampled_from(OVERRIDE_KEYS),
        st.sampled_from(["=", "=", "", "@", " = "]),
        st.lists(st.sampled_from(VALUE_FRAGMENTS), max_size=8).map("".join),
    ).map("".join),
    st.text(max_size=30),
    # Well-formed sweeps, with numbers at the edges.
    st.tuples(
        st.sampled_from(["a", "b.c", "+x"]),
        st.lists(
            st.sampled_from(["1", "0", "-1", "1e300", "nan", "inf", "0.25", "x"]),
            min_size=3,
            max_size=3,
        ),
        st.sampled_from(["{0},{1}", "range({0},{1})", "range({0},{1},{2})", "choice({0},{1},{2})"]),
    ).map(lambda t: t[0] + "=" + t[2].format(*t[1])),
    st.sampled_from(["model=glob(*)", "model=glob(x*)", "model=x,y", "model=glob(nope*)"]),
)


@pytest.fixture(scope="module")
def composer(tmp_path_factory: pytest.TempPathFactory) -> Composer:
    conf = tmp_path_factory.mktemp("conf")
    (conf / "model").mkdir()
    (conf / "config.yaml").write_text("defaults:\n  - model: x\n  - _self_\na: 1\nb:\n  c: 2\n")
    (conf / "model" / "x.yaml").write_text("size: 1\n")
    (conf / "model" / "y.yaml").write_text("size: 2\n")
    return Composer(str(conf), "config")


@pytest.mark.timeout(180)
def test_any_override_composes_expands_or_is_invalid_input(composer: Composer) -> None:
    outcomes: Counter[str] = Counter()

    @settings(FUZZ, max_examples=300)
    @given(override_texts)
    def parse(text: str) -> None:
        try:
            parsed = composer.parse([text])
            if any(o.is_sweep_override() for o in parsed):
                jobs = composer.expand([text])
                assert len(jobs) >= 1
                composer.compose(jobs[0])  # the first job, as a multirun would
                outcomes["expanded"] += 1
            else:
                composer.compose([text])
                outcomes["composed"] += 1
        except InvalidInput:
            outcomes["InvalidInput"] += 1

    parse()
    assert outcomes["InvalidInput"] and outcomes["composed"] and outcomes["expanded"], outcomes
    record("bad-input-overrides", cases=sum(outcomes.values()), other_errors=0, **outcomes)


def test_a_multirun_range_too_long_to_list_is_refused(composer: Composer) -> None:
    """range(0, 1e300) was listed until the memory ran out; now it is refused at once."""
    for text in ("a=range(0, 1e300)", "a=range(0,inf)", "a=range(nan,1)", "a=range(0.0,1.0,0.0)"):
        with pytest.raises(InvalidInput, match=r"range"):
            composer.expand([text])
    with pytest.raises(InvalidInput, match="more than 100,000 jobs"):
        composer.expand(["a=range(0,400)", "b.c=range(0,400)"])
    assert len(composer.expand(["a=range(0,300)", "b.c=range(0,300)"])) == 90_000
    # A sweep with no value ran no job, silently; a group given a number raised ValueError.
    for text in ("a=range(1,1)", "model=glob(nope*)"):
        with pytest.raises(InvalidInput, match="gives no value"):
            composer.expand([text])
    with pytest.raises(InvalidInput, match="model=1"):
        composer.compose(["model=1"])


@pytest.mark.parametrize(
    ("text", "position"), [("params.a = 'x\x00'", 13), ("tags.`\ud800` = 'x'", 6)]
)
def test_text_no_store_can_hold_is_an_invalid_filter(text: str, position: int) -> None:
    """On PostgreSQL a NUL in a filter was the store's error, not the filter's."""
    with pytest.raises(InvalidFilter) as info:
        parse_filter(text)
    assert info.value.position == position
    str(info.value).encode("utf-8")  # the message itself can be printed and sent


finite = st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: round(x, 3))
edge = st.sampled_from([0.0, 1.0, -1.0, 1e-300, 1e300, math.inf, -math.inf, math.nan, 1e20])
bounds = st.one_of(finite, edge, st.integers(-1000, 1000))


def _num(value: float) -> str:
    return repr(value) if isinstance(value, float) else str(value)


@st.composite
def space_expressions(draw: st.DrawFn) -> tuple[str, str, float, float, float | None]:
    kind = draw(st.sampled_from(["interval", "log", "int", "range"]))
    low, high = draw(bounds), draw(bounds)
    step = draw(st.one_of(st.none(), bounds)) if kind == "range" else None
    inner = f"interval({_num(low)}, {_num(high)})"
    text = {
        "interval": inner,
        "log": f"tag(log, {inner})",
        "int": f"tag(int, {inner})",
        "range": f"range({_num(low)}, {_num(high)}"
        + (f", {_num(step)})" if step is not None else ")"),
    }[kind]
    return text, kind, low, high, step


@pytest.mark.timeout(120)
@pytest.mark.filterwarnings("ignore:The distribution is specified by:UserWarning")
def test_any_sweep_space_is_within_its_bounds_or_invalid_input(composer: Composer) -> None:
    outcomes: Counter[str] = Counter()

    @settings(FUZZ, max_examples=400)
    @given(space_expressions())
    def space(case: tuple[str, str, float, float, float | None]) -> None:
        text, kind, low, high, step = case
        try:
            found = from_overrides(composer.parse([f"a={text}"])).params["a"]
        except InvalidInput:
            outcomes["InvalidInput"] += 1
            return
        lo, hi = (low, high) if kind != "range" or (step or 1) > 0 else (high, low)
        assert lo <= found.low <= found.high <= hi, (text, found)  # type: ignore[attr-defined]
        if kind == "log":
            assert found.log and found.low > 0  # type: ignore[attr-defined]
        outcomes["accepted"] += 1

    space()
    assert outcomes["accepted"] and outcomes["InvalidInput"], outcomes
    record("bad-input-sweep-space", cases=sum(outcomes.values()), other_errors=0, **outcomes)


@pytest.mark.parametrize(
    "text",
    [
        "range(0, inf)",
        "range(nan, 1)",
        "range(0, 1e300)",
        "range(0.0, 1e300, 1e-300)",
        "range(0.0, 1.0, 0.0)",
        "range(0, 1, 0)",
    ],
)
def test_a_non_finite_huge_or_stepless_range_is_invalid_input(
    composer: Composer, text: str
) -> None:
    with pytest.raises(InvalidInput, match="range"):
        from_overrides(composer.parse([f"a={text}"]))


def test_a_range_counting_down_lists_what_multirun_lists(composer: Composer) -> None:
    found = from_overrides(composer.parse(["a=range(10, 1, -3)"])).params["a"]
    # -m lists 10, 7, 4: the same values, searched from the lowest.
    assert (found.low, found.high, found.step) == (4, 10, 3)  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput, match="give a stop below the start"):
        from_overrides(composer.parse(["a=range(0, 1, -3)"]))


def test_an_int_interval_stays_within_its_bounds(composer: Composer) -> None:
    found = from_overrides(composer.parse(["a=tag(int, interval(0.5, 2.5))"])).params["a"]
    assert (found.low, found.high) == (1, 2)  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput, match="no integer lies in"):
        from_overrides(composer.parse(["a=tag(int, interval(0.2, 0.8))"]))


def test_sweep_section_choices_keep_commas(composer: Composer) -> None:
    space = from_expressions({"m": ["a,b", "c"]}, composer.parse)
    assert space.params["m"].choices == ("a,b", "c")  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", ["1", "null", "a,b", "it's", "a\\b", "x y", "plain"])
def test_a_trial_string_value_round_trips(composer: Composer, value: str) -> None:
    (override,) = SearchSpace().overrides({"a": value})
    assert composer.compose([override]).a == value


trial_values = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.booleans(),
    st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,10}", fullmatch=True).filter(
        lambda s: s.lower() not in ("null", "true", "false", "nan", "inf")
    ),
)


@settings(FUZZ, max_examples=200)
@given(trial_values)
def test_a_trial_value_round_trips_through_its_override(composer: Composer, value: Any) -> None:
    (override,) = SearchSpace().overrides({"a": value})
    got = composer.compose([override]).a
    assert got == value and type(got) is type(value), (override, got)


# -- catalog round trips ----------------------------------------------------------------

names = st.text(st.characters(categories=("L", "N")), min_size=1, max_size=12)
frames = hpd.data_frames(
    [
        hpd.column("n", dtype="int64"),
        hpd.column("x", dtype="float64"),
        hpd.column("s", elements=st.text(st.characters(codec="utf-8"), max_size=8)),
        hpd.column("b", dtype="bool"),
    ],
    index=hpd.range_indexes(max_size=8),
)
csv_frames = hpd.data_frames(
    [
        hpd.column("n", dtype="int64"),
        hpd.column("s", elements=st.from_regex(r"[A-Za-zé][A-Za-z é]{0,8}", fullmatch=True)),
    ],
    index=hpd.range_indexes(min_size=1, max_size=8),
)
CASES = {
    "json": ("json.JSONDataset", "json", plain),
    "yaml": ("yaml.YAMLDataset", "yml", plain),
    "pickle": ("pickle.PickleDataset", "pkl", plain | st.tuples(plain, plain)),
    "text": ("text.TextDataset", "txt", st.text(max_size=200)),
    "parquet": ("pandas.ParquetDataset", "parquet", frames),
    "csv": ("pandas.CSVDataset", "csv", csv_frames),
}
TRIED: Counter[str] = Counter()


def _equal(kind: str, saved: Any, loaded: Any) -> None:
    if kind in ("parquet", "csv"):
        import pandas as pd

        pd.testing.assert_frame_equal(loaded, saved, check_dtype=kind == "parquet")
    else:
        assert loaded == saved


@pytest.mark.parametrize("kind", list(CASES))
def test_what_a_catalog_saves_it_loads(tmp_path_factory: pytest.TempPathFactory, kind: str) -> None:
    type_name, suffix, values = CASES[kind]

    @settings(FUZZ, max_examples=40)
    @given(name=names, value=values, versioned=st.booleans())
    def round_trip(name: str, value: Any, versioned: bool) -> None:
        root = tmp_path_factory.mktemp("catalog")
        entry = {"type": type_name, "filepath": f"data/{name} ü.{suffix}", "versioned": versioned}
        catalog = DataCatalog.from_config({name: entry}, base_dir=str(root))
        catalog.save(name, value)
        _equal(kind, value, catalog.load(name))
        # A new catalog on the same files reads the same value back.
        _equal(kind, value, DataCatalog.from_config({name: entry}, base_dir=str(root)).load(name))
        TRIED[kind] += 1

    round_trip()
    record(f"bad-input-catalog-{kind}", dataset=type_name, round_trips=TRIED[kind], mismatches=0)


# -- artifact paths ---------------------------------------------------------------------


@settings(FUZZ, max_examples=500)
@given(
    st.one_of(
        st.text(max_size=40),
        st.lists(st.sampled_from(["..", ".", "a", "/", "\\", "é", "%2e"]), max_size=8).map(
            "/".join
        ),
    )
)
def test_a_safe_artifact_path_never_leaves_the_run(path: str) -> None:
    try:
        rel = safe_artifact_path(path)
    except InvalidInput:
        return
    joined = posixpath.normpath(posixpath.join("/artifacts/exp/run", rel))
    assert joined == "/artifacts/exp/run" or joined.startswith("/artifacts/exp/run/"), (path, rel)
    assert ".." not in rel.split("/") and "\\" not in rel and not rel.startswith("/")


SECRET = b"the secret outside every run"
#: Ways to write "go up" in a URL path: plain, percent-encoded, twice encoded,
#: backslashes, NUL, full-width dots, overlong UTF-8.
UP = [
    "..", "%2e%2e", "%2E%2E", ".%2e", "%252e%252e", "..%5c", "..\\", "．．", "%c0%ae%c0%ae",
    "..%00", "....", "...",
]  # fmt: skip
SEP = ["/", "%2f", "%5c", "\\", "%252f"]
#: A run's folder is <root>/<experiment>/<run>: one level up is another run, three
#: the folder holding the artifact root (and the database), four the test's folder.
LEVELS = (1, 3, 4)


def _escapes(target: str) -> list[str]:
    """Relative paths from a run's folder towards ``target``, written every way."""
    out = []
    for up in UP:
        for sep in SEP:
            for level in LEVELS:
                out.append(sep.join([up] * level) + sep + target)
    out += [f"/{target}", f"%2f{target}", f"a/../../../{target}", f"./{'../' * 4}{target}"]
    return out


def _raw(server: LiveServer, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send a request with the path exactly as written (no client normalises it)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


@pytest.mark.timeout(180)
def test_no_request_reads_or_writes_outside_its_run(
    server: LiveServer, backend: SqlStore, tmp_path: Path
) -> None:
    exp = backend.create_experiment("paths")
    run = backend.create_run(exp.id, "mine")
    other = backend.create_run(exp.id, "theirs")
    backend.log_artifact_bytes(run.id, "mine.txt", b"my own file")
    backend.log_artifact_bytes(other.id, "private.txt", SECRET)
    (tmp_path / "server" / "secret.txt").write_bytes(SECRET)
    (tmp_path / "secret.txt").write_bytes(SECRET)
    run_dir = Path(backend.artifact_root) / exp.id / run.id
    before = {k: v for k, v in _files(tmp_path).items() if not k.startswith("server/tane.db")}
    targets = ["secret.txt", f"{other.id}/private.txt", "tane.db", "etc/passwd"]
    paths = [p for target in targets for p in _escapes(target)]
    exp_run = f"{exp.id}/{run.id}/artifacts"
    routes = [
        ("GET", f"/api/v1/runs/{run.id}/artifacts/{{p}}"),
        ("GET", f"/api/v1/runs/{run.id}/artifacts?path={{p}}"),
        ("PUT", f"/api/v1/runs/{run.id}/artifacts/{{p}}"),
        ("GET", f"/api/2.0/mlflow-artifacts/artifacts/{exp_run}/{{p}}"),
        ("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{exp_run}/{{p}}"),
        ("GET", f"/api/2.0/mlflow-artifacts/artifacts?path={exp_run}/{{p}}"),
        ("GET", f"/api/2.0/mlflow/artifacts/list?run_id={run.id}&path={{p}}"),
        ("GET", "/assets/{p}"),
        ("GET", "/{p}"),
    ]
    statuses: Counter[int] = Counter()
    leaks, server_errors = [], []
    for method, template in routes:
        for path in paths:
            quoted = path if "?" not in template else urllib.parse.quote(path, safe="%/")
            target = template.replace("{p}", urllib.parse.quote(quoted, safe="%/\\.:"))
            status, body = _raw(server, method, target, b"overwritten" if method == "PUT" else b"")
            statuses[status] += 1
            if SECRET in body or body.startswith(b"SQLite format 3") or b"root:x:0:0" in body:
                leaks.append(f"{method} {target} -> {status}")
            if status >= 500:
                server_errors.append(f"{method} {target} -> {status}: {body[:200]!r}")
    assert not leaks, leaks[:10]
    assert not server_errors, server_errors[:10]
    after = {k: v for k, v in _files(tmp_path).items() if not k.startswith("server/tane.db")}
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    inside = str(run_dir.relative_to(tmp_path)) + "/"
    assert all(k.startswith(inside) for k in changed), sorted(changed)[:10]
    assert (run_dir / "mine.txt").read_bytes() == b"my own file"
    record(
        "bad-input-artifact-traversal",
        requests=sum(statuses.values()),
        routes=len(routes),
        statuses=dict(sorted(statuses.items())),
        secrets_read=len(leaks),
        files_written_outside_the_run=len(changed) - sum(k.startswith(inside) for k in changed),
        server_errors=len(server_errors),
    )


@pytest.mark.parametrize("bad", ["../x", "a/../../x", "/etc/x", "..\\x", "a/\x00b", "%2e%2e/x"])
def test_a_client_cannot_name_a_path_outside_the_run(tmp_path: Path, bad: str) -> None:
    client = tane.Client(str(tmp_path / "store"))
    run = client.create_run("0", "r")
    source = tmp_path / "f.txt"
    source.write_text("x")
    if bad == "%2e%2e/x":  # not an escape: a folder literally named "%2e%2e"
        client.log_artifact(run.id, str(source), bad.rsplit("/", 1)[0])
        assert client.read_artifact(run.id, "%2e%2e/f.txt") == b"x"
        return
    with pytest.raises(InvalidInput):
        client.log_artifact(run.id, str(source), bad)
    assert not (tmp_path / "x").exists() and not (tmp_path / "store" / "x").exists()
