"""The search filter language: parser, errors, fuzzing and its SQL compilation."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tane.errors import InvalidFilter
from tane.tracking.query import (
    MAX_COMPARISONS,
    MAX_DEPTH,
    And,
    Comparison,
    Expr,
    Or,
    OrderKey,
    Value,
    parse_filter,
    parse_order_by,
)
from tane.tracking.stores import _schema as schema
from tane.tracking.stores._sql_filter import apply_order, filter_clause

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def cmp(entity: Any, key: str, op: Any, value: Any = None) -> Comparison:
    return Comparison(entity, key, op, value)


# ---------------------------------------------------------------------------
# parser


@pytest.mark.parametrize("text", ["", " ", "\t\n  "])
def test_blank_filter_is_none(text: str) -> None:
    assert parse_filter(text) is None


def test_simple_comparison() -> None:
    assert parse_filter("metrics.acc > 0.9") == cmp("metric", "acc", ">", 0.9)


def test_and_binds_tighter_than_or() -> None:
    a, b, c = (cmp("metric", k, ">", 1.0) for k in "abc")
    assert parse_filter("metrics.a > 1 OR metrics.b > 1 AND metrics.c > 1") == Or((a, And((b, c))))
    assert parse_filter("metrics.a > 1 AND metrics.b > 1 OR metrics.c > 1") == Or((And((a, b)), c))


def test_parentheses_override_precedence() -> None:
    a, b, c = (cmp("metric", k, ">", 1.0) for k in "abc")
    assert parse_filter("(metrics.a > 1 OR metrics.b > 1) AND metrics.c > 1") == And(
        (Or((a, b)), c)
    )


def test_nested_same_operator_is_flattened() -> None:
    a, b, c, d = (cmp("metric", k, ">", 1.0) for k in "abcd")
    assert parse_filter("metrics.a > 1 AND (metrics.b > 1 AND metrics.c > 1)") == And((a, b, c))
    assert parse_filter("(metrics.a > 1 OR metrics.b > 1) OR metrics.c > 1") == Or((a, b, c))
    assert parse_filter("((metrics.a > 1))") == a
    assert parse_filter("(metrics.a>1 or metrics.b>1) and (metrics.c>1 or metrics.d>1)") == And(
        (Or((a, b)), Or((c, d)))
    )


def test_keywords_any_case() -> None:
    assert parse_filter(
        "METRICS.a > 1 and Params.b like 'x' Or tags.c not in ('y') oR params.d is NOT null"
    ) == Or(
        (
            And((cmp("metric", "a", ">", 1.0), cmp("param", "b", "LIKE", "x"))),
            cmp("tag", "c", "NOT IN", ("y",)),
            cmp("param", "d", "IS NOT NULL"),
        )
    )


@pytest.mark.parametrize(
    ("prefix", "entity"),
    [
        ("metric", "metric"),
        ("metrics", "metric"),
        ("METRICS", "metric"),
        ("param", "param"),
        ("params", "param"),
        ("parameter", "param"),
        ("Parameters", "param"),
        ("tag", "tag"),
        ("tags", "tag"),
    ],
)
def test_entity_prefixes(prefix: str, entity: str) -> None:
    value: Value = 1.0 if entity == "metric" else "1"
    literal = "1" if entity == "metric" else "'1'"
    assert parse_filter(f"{prefix}.k = {literal}") == cmp(entity, "k", "=", value)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("attributes.run_id = 'x'", "run_id"),
        ("attribute.id = 'x'", "run_id"),
        ("attr.run_name = 'x'", "run_name"),
        ("run.name = 'x'", "run_name"),
        ("attributes.parent_id = 'x'", "parent_id"),
        ("ATTRIBUTES.Name = 'x'", "run_name"),
    ],
)
def test_attribute_aliases(text: str, key: str) -> None:
    assert parse_filter(text) == cmp("attribute", key, "=", "x")


def test_time_attributes_are_numbers() -> None:
    assert parse_filter("attributes.created >= 1700000000000") == cmp(
        "attribute", "start_time", ">=", 1700000000000
    )
    assert parse_filter("attributes.end_time < '5'") == cmp("attribute", "end_time", "<", 5)
    assert parse_filter("attributes.start_time IN (1, 2.5)") == cmp(
        "attribute", "start_time", "IN", (1, 2.5)
    )


def test_status_is_validated_and_upper_cased() -> None:
    assert parse_filter("attributes.status = 'finished'") == cmp(
        "attribute", "status", "=", "FINISHED"
    )
    assert parse_filter("attributes.status NOT IN ('Running', 'pruned')") == cmp(
        "attribute", "status", "NOT IN", ("RUNNING", "PRUNED")
    )
    # a pattern is not a status: kept as written
    assert parse_filter("attributes.status ILIKE 'fin%'") == cmp(
        "attribute", "status", "ILIKE", "fin%"
    )


def test_experiment_id_becomes_int() -> None:
    assert parse_filter("attributes.experiment_id = '3'") == cmp(
        "attribute", "experiment_id", "=", 3
    )
    assert parse_filter("attributes.experiment_id IN (1, '2')") == cmp(
        "attribute", "experiment_id", "IN", (1, 2)
    )


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("params.model.alpha = 'x'", "model.alpha"),
        ("params.a-b/c:d_e = 'x'", "a-b/c:d_e"),
        ("params.`my key` = 'x'", "my key"),
        ("params.\"my key\" = 'x'", "my key"),
        ("params.`a``b` = 'x'", "a`b"),
        ("params.`a = 'b'` = 'x'", "a = 'b'"),
        ("params.`é` = 'x'", "é"),
        ("params.1 = 'x'", "1"),
    ],
)
def test_keys(text: str, key: str) -> None:
    assert parse_filter(text) == cmp("param", key, "=", "x")


def test_key_is_case_sensitive() -> None:
    assert parse_filter("params.LR = 'x'") == cmp("param", "LR", "=", "x")


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("'abc'", "abc"),
        ('"abc"', "abc"),
        ("''", ""),
        ("'it''s'", "it's"),
        ("'it\\'s'", "it's"),
        ('"say ""hi"""', 'say "hi"'),
        ('"say \\"hi\\""', 'say "hi"'),
        ("'a\"b'", 'a"b'),
        ("'a\\\\b'", "a\\b"),
        ("'100\\%'", "100\\%"),  # other backslashes stay, for LIKE escapes
        ("'ends\\\\'", "ends\\"),
        ("'  spaced  '", "  spaced  "),
        ("'AND OR ( )'", "AND OR ( )"),
    ],
)
def test_string_literals(literal: str, value: str) -> None:
    assert parse_filter(f"tags.t = {literal}") == cmp("tag", "t", "=", value)


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("1", 1),
        ("-1", -1),
        ("+2", 2),
        ("1.5", 1.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("-1.5e3", -1500.0),
        ("1E-2", 0.01),
        ("2e+2", 200.0),
        ("007", 7),
        ("123456789012345678901234", 1.2345678901234568e23),
        ("1e999", math.inf),
    ],
)
def test_number_literals(literal: str, value: float) -> None:
    got = parse_filter(f"params.x = {literal}")
    assert got == cmp("param", "x", "=", value)
    assert isinstance(got, Comparison)
    assert type(got.value) is type(value)


def test_number_next_to_operator() -> None:
    assert parse_filter("metrics.a>-1") == cmp("metric", "a", ">", -1.0)
    assert parse_filter("metrics.a<=+.5") == cmp("metric", "a", "<=", 0.5)


def test_metric_values_are_floats() -> None:
    assert parse_filter("metrics.a = 1") == cmp("metric", "a", "=", 1.0)
    got = parse_filter("metrics.a IN (1, '2.5', \"-3\")")
    assert got == cmp("metric", "a", "IN", (1.0, 2.5, -3.0))
    assert isinstance(got, Comparison)
    assert isinstance(got.value, tuple)
    assert all(type(v) is float for v in got.value)


def test_param_value_kinds() -> None:
    # = and IN keep quoted strings as strings (text comparison) ...
    assert parse_filter("params.x = '0.1'") == cmp("param", "x", "=", "0.1")
    assert parse_filter("params.x IN ('0.1', 2)") == cmp("param", "x", "IN", ("0.1", 2))
    # ... ordering comparisons take a quoted number as a number
    assert parse_filter("params.x < '0.1'") == cmp("param", "x", "<", 0.1)
    assert parse_filter("params.x >= 'abc'") == cmp("param", "x", ">=", "abc")
    assert parse_filter("params.x > ' 1'") == cmp("param", "x", ">", " 1")


@pytest.mark.parametrize(
    ("symbol", "op"),
    [
        ("=", "="),
        ("==", "="),
        ("!=", "!="),
        ("<>", "!="),
        ("<", "<"),
        (">", ">"),
        ("<=", "<="),
        (">=", ">="),
        ("LIKE", "LIKE"),
        ("ilike", "ILIKE"),
    ],
)
def test_operators(symbol: str, op: str) -> None:
    assert parse_filter(f"tags.t {symbol} 'v'") == cmp("tag", "t", op, "v")


def test_is_null_and_in() -> None:
    assert parse_filter("tags.t IS NULL") == cmp("tag", "t", "IS NULL")
    assert parse_filter("tags.t is not null") == cmp("tag", "t", "IS NOT NULL")
    assert parse_filter("tags.t IN ('a')") == cmp("tag", "t", "IN", ("a",))
    assert parse_filter("tags.t NOT IN ('a','b' , \"c\")") == cmp(
        "tag", "t", "NOT IN", ("a", "b", "c")
    )


def test_no_spaces_needed() -> None:
    assert parse_filter("(metrics.a>1)AND(tags.t='x')") == And(
        (cmp("metric", "a", ">", 1.0), cmp("tag", "t", "=", "x"))
    )


# Each error: the filter, the offset of the offending token, a part of the message.
ERRORS = [
    ("metrics.acc", 11, "expected an operator (=, !=, <, >, <=, >=, LIKE, ILIKE, IN, NOT IN"),
    ("metrics.acc 0.5", 12, "expected an operator"),
    ("metrics.acc >", 13, "expected a value after 'metrics.acc >'"),
    ("metrics.acc > )", 14, "expected a value"),
    ("metrics.acc > 'abc'", 14, "compare it with a number, not 'abc'"),
    ("metrics.acc LIKE '%a'", 12, "LIKE applies to strings"),
    ("metrics.acc IN ()", 16, "needs at least one value"),
    ("metrics.acc IN 1", 15, "expected '('"),
    ("metrics.acc IN (1 2)", 18, "expected ',' or ')'"),
    ("metrics.acc IN (1,", 18, "expected a value"),
    ("metrics.acc = NULL", 14, "IS NULL"),
    ("metrics.acc IS 1", 15, "expected NULL"),
    ("metrics.acc IS NOT 1", 19, "expected NULL"),
    ("metrics.acc NOT 1", 16, "expected IN after NOT"),
    ("metrics.acc ! 1", 12, "did you mean '!='"),
    ("metrics.acc > 1abc", 14, "invalid number '1abc'"),
    ("metrics.acc > 1.2.3", 14, "invalid number '1.2.3'"),
    ("metrics.acc > 1e", 14, "invalid number '1e'"),
    ("metrics.acc > - 1", 14, "a number must follow it"),
    ("metrics.acc > 1 AND", 19, "expected a condition"),
    ("metrics.acc > 1 AND OR metrics.b > 1", 20, "found 'OR'"),
    ("metrics.acc > 1 metrics.b > 2", 16, "expected AND, OR or the end of the filter after '1'"),
    ("metrics.acc > 1)", 15, "unbalanced ')'"),
    ("(metrics.acc > 1", 0, "never closed"),
    ("x AND (metrics.acc > 1", 0, "unknown name 'x'"),
    ("(metrics.acc > 1 tags.x = 'a')", 17, "expected AND, OR or ')'"),
    ("()", 1, "expected a condition"),
    ("AND metrics.a > 1", 0, "expected a condition"),
    ("NOT metrics.a > 1", 0, "NOT only appears in NOT IN and IS NOT NULL"),
    ("acc > 1", 0, "unknown name 'acc': prefix it with metrics."),
    ("status = 'FINISHED'", 0, "write attributes.status"),
    ("metricz.acc > 1", 0, "unknown prefix 'metricz'"),
    ("attributes.foo = 'x'", 11, "unknown attribute 'foo': use one of run_id (or id), run_name"),
    ("attributes.status = 'DONE'", 20, "unknown run status 'DONE': use one of RUNNING, FINISHED"),
    ("attributes.status = 1", 20, "holds strings"),
    ("attributes.status > 'A'", 18, "not >"),
    ("attributes.start_time > 'yesterday'", 24, "a time in ms since the epoch"),
    ("attributes.start_time LIKE '1%'", 22, "LIKE applies to strings"),
    ("attributes.experiment_id = 'abc'", 27, "experiment ids are whole numbers"),
    ("attributes.experiment_id = 1.5", 27, "experiment ids are whole numbers"),
    ("attributes.experiment_id IN (1, 'x')", 32, "experiment ids are whole numbers"),
    ("attributes.experiment_id < 3", 25, "not <"),
    ("attributes.run_name = 5", 22, "quote the value"),
    ("tags.team = 5", 12, "tags.team holds strings"),
    ("tags.team IN ('a', 5)", 19, "holds strings"),
    ("params.x LIKE 5", 14, "LIKE needs a quoted pattern"),
    ("params.x LIKE 'a\\\\'", 14, "ends with a lone backslash"),
    ("params.x = adam", 11, "unquoted value 'adam'"),
    ("params.x = params.y", 11, "found the key 'params.y'"),
    ("params. = 'x'", 7, "expected a key after 'params.'"),
    ("params.`abc = 'x'", 7, "unterminated key"),
    ("params.x = 'abc", 11, "unterminated string"),
    ('params.x = "abc', 11, "unterminated string"),
    ("params.x = 'abc\\'", 11, "unterminated string"),
    ("`params.x` = 'a'", 0, "backticks quote keys"),
    ("params.x = 'a' # comment", 15, "unexpected character '#'"),
    ("params.x = 'a'; DROP TABLE runs", 14, "unexpected character ';'"),
    ("tags.t = 'a' AND params . x = 1", 17, "unknown name 'params'"),
]


@pytest.mark.parametrize(("text", "position", "message"), ERRORS)
def test_errors(text: str, position: int, message: str) -> None:
    with pytest.raises(InvalidFilter) as info:
        parse_filter(text)
    assert info.value.position == position
    assert info.value.text == text
    assert message in str(info.value)
    # the message shows the filter with a caret under the offending token
    assert str(info.value).endswith(f"\n  {text}\n  {' ' * position}^")


def test_error_message_example_from_spec() -> None:
    with pytest.raises(InvalidFilter) as info:
        parse_filter("metrics.acc")
    assert str(info.value).startswith(
        "expected an operator (=, !=, <, >, <=, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, "
        "IS NOT NULL) after 'metrics.acc'"
    )


def test_first_error_from_the_left_wins() -> None:
    # a syntax error before a lexical one is reported first
    with pytest.raises(InvalidFilter) as info:
        parse_filter("metrics.a 1 = 'unterminated")
    assert info.value.position == 10


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    ok = "(" * MAX_DEPTH + "metrics.a > 1" + ")" * MAX_DEPTH
    assert parse_filter(ok) == cmp("metric", "a", ">", 1.0)
    with pytest.raises(InvalidFilter, match="nested more than") as info:
        parse_filter("(" * 10_000)
    assert info.value.position == MAX_DEPTH


def test_too_many_conditions() -> None:
    many = " OR ".join(["metrics.a > 1"] * MAX_COMPARISONS)
    assert isinstance(parse_filter(many), Or)
    with pytest.raises(InvalidFilter, match="too many conditions"):
        parse_filter(many + " OR metrics.a > 1")


def test_typical_filter_is_fast() -> None:
    import time

    text = "metrics.acc > 0.9 AND (params.optimizer = 'adam' OR tags.team LIKE 'vis%')"
    parse_filter(text)
    best = math.inf
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(200):
            parse_filter(text)
        best = min(best, (time.perf_counter() - start) / 200)
    assert best < 100e-6


# ---------------------------------------------------------------------------
# order_by


@pytest.mark.parametrize(
    ("clause", "key"),
    [
        ("metrics.acc DESC", OrderKey("metric", "acc", ascending=False)),
        ("metrics.acc desc", OrderKey("metric", "acc", ascending=False)),
        ("params.lr", OrderKey("param", "lr")),
        ("params.lr ASC", OrderKey("param", "lr")),
        ("  tags.`my tag`  ", OrderKey("tag", "my tag")),
        ("attributes.start_time ASC", OrderKey("attribute", "start_time")),
        ("attributes.created", OrderKey("attribute", "start_time")),
        ("name", OrderKey("attribute", "run_name")),
        ("start_time DESC", OrderKey("attribute", "start_time", ascending=False)),
        ("Status", OrderKey("attribute", "status")),
        ("metrics.model.acc", OrderKey("metric", "model.acc")),
    ],
)
def test_parse_order_by(clause: str, key: OrderKey) -> None:
    assert parse_order_by(clause) == key


@pytest.mark.parametrize(
    ("clause", "position", "message"),
    [
        ("", 0, "empty order_by clause"),
        ("   ", 3, "empty order_by clause"),
        ("acc", 0, "expected a key to order by"),
        ("'name'", 0, "expected a key to order by"),
        ("metrics.acc DOWN", 12, "expected ASC, DESC or the end"),
        ("metrics.acc DESC, params.lr", 16, "give one key per clause"),
        ("attributes.nope", 11, "unknown attribute 'nope'"),
        ("foo.bar", 0, "unknown prefix 'foo'"),
        ("metrics.`acc", 8, "unterminated key"),
    ],
)
def test_parse_order_by_errors(clause: str, position: int, message: str) -> None:
    with pytest.raises(InvalidFilter) as info:
        parse_order_by(clause)
    assert info.value.position == position
    assert message in str(info.value)


# ---------------------------------------------------------------------------
# fuzzing: any text gives an AST or InvalidFilter, never anything else

FRAGMENTS = [
    "metrics.acc", "params.lr", "tags.t", "attributes.status", "attributes.start_time",
    "attributes.experiment_id", "attr.nope", "run.name", "params.`a b`", 'params."x',
    "metrics.", "x.y", "name", "(", ")", ",", "=", "!=", "<>", "<", ">", "<=", ">=", "==",
    "!", "LIKE", "ilike", "IN", "NOT", "IS", "NULL", "AND", "or", "1", "-1.5e3", "1e",
    ".5", "+", "-", "'a'", "'it''s'", "'\\'", "'%a\\\\'", '"b"', "'FINISHED'", "'done'",
    "`", "'", '"', "#", "1e999", "99999999999999999999999", "ASC", "DESC",
]  # fmt: skip


def check_parse(text: str) -> None:
    error: InvalidFilter | None = None
    try:
        result = parse_filter(text)
    except InvalidFilter as exc:
        error = exc
    if error is None:
        assert result is None or isinstance(result, Comparison | And | Or)
    else:
        assert error.position is not None
        assert 0 <= error.position <= len(text)
        assert error.text == text


def check_order_by(text: str) -> None:
    error: InvalidFilter | None = None
    try:
        key = parse_order_by(text)
    except InvalidFilter as exc:
        error = exc
    if error is None:
        assert isinstance(key, OrderKey)
    else:
        assert error.position is not None
        assert 0 <= error.position <= len(text)


@FUZZ
@given(st.text())
def test_fuzz_any_text(text: str) -> None:
    check_parse(text)
    check_order_by(text)


@FUZZ
@given(
    st.lists(st.sampled_from(FRAGMENTS), max_size=12),
    st.sampled_from([" ", "", "  "]),
)
def test_fuzz_fragments(parts: list[str], sep: str) -> None:
    text = sep.join(parts)
    check_parse(text)
    check_order_by(text)


@FUZZ
@given(st.text(alphabet="metricsparamstag.`'\"\\()=<>!,% -+.0123456789eINOTLKUAD", max_size=40))
def test_fuzz_filter_alphabet(text: str) -> None:
    check_parse(text)


# ---------------------------------------------------------------------------
# SQL: a small store and the runs each filter matches

NAN = math.nan
INF = math.inf


@dataclass
class FakeRun:
    id: str
    experiment_id: int
    name: str
    status: str
    start_time: int
    end_time: int | None = None
    parent_id: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


RUNS = [
    FakeRun(
        "r1", 1, "alpha", "FINISHED", 1000, 2000,
        params={"lr": "0.10", "opt": "adam", "model.alpha": "1"},
        metrics={"acc": 0.9, "loss": 0.5},
        tags={"team": "vision", "my tag": "x"},
    ),
    FakeRun(
        "r2", 1, "beta", "FAILED", 2000, 3000, parent_id="r1",
        params={"lr": "0.1", "opt": "sgd", "note": "100%"},
        metrics={"acc": 0.7, "loss": NAN},
        tags={"team": "Vision"},
    ),
    FakeRun(
        "r3", 1, "Gamma", "RUNNING", 3000, None, parent_id="r1",
        params={"lr": "1e-3", "opt": "Adam"},
        metrics={"acc": INF, "loss": -INF},
        tags={"team": "nlp"},
    ),
    FakeRun(
        "r4", 2, "delta", "FINISHED", 4000, 5000,
        params={"lr": "fast", "opt": "adam_w"},
        metrics={"acc": 0.8},
        tags={"team": "vis_ion"},
    ),
    FakeRun("r5", 2, "epsilon", "KILLED", 5000, None),
]  # fmt: skip
ALL = {run.id for run in RUNS}


def value_num(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return None if math.isnan(number) else number


@pytest.fixture(scope="module")
def engine() -> Iterator[sa.Engine]:
    eng = sa.create_engine("sqlite://")

    @sa.event.listens_for(eng, "connect")
    def _case_sensitive_like(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA case_sensitive_like=ON")

    schema.metadata.create_all(eng)
    with eng.begin() as conn:
        for exp_id in (1, 2):
            conn.execute(
                schema.experiments.insert().values(
                    id=exp_id, name=f"exp{exp_id}", created=0, last_activity=0, deleted=False
                )
            )
        for run in RUNS:
            conn.execute(
                schema.runs.insert().values(
                    id=run.id,
                    experiment_id=run.experiment_id,
                    name=run.name,
                    parent_id=run.parent_id,
                    status=run.status,
                    start_time=run.start_time,
                    end_time=run.end_time,
                    note="",
                    artifact_uri="",
                    deleted=False,
                )
            )
            for key, text in run.params.items():
                conn.execute(
                    schema.params.insert().values(
                        run_id=run.id, key=key, value=text, value_num=value_num(text)
                    )
                )
            for key, number in run.metrics.items():
                conn.execute(
                    schema.latest_metrics.insert().values(
                        run_id=run.id,
                        key=key,
                        step=0,
                        timestamp=0,
                        value=None if math.isnan(number) else number,
                    )
                )
            for key, text in run.tags.items():
                conn.execute(schema.tags.insert().values(run_id=run.id, key=key, value=text))
    yield eng
    eng.dispose()


def matching(engine: sa.Engine, text: str) -> set[str]:
    expr = parse_filter(text)
    stmt = sa.select(schema.runs.c.id)
    if expr is not None:
        stmt = stmt.where(filter_clause(expr))
    with engine.connect() as conn:
        return set(conn.scalars(stmt))


def ordered(engine: sa.Engine, *clauses: str) -> list[str]:
    stmt = apply_order(sa.select(schema.runs.c.id), [parse_order_by(c) for c in clauses])
    with engine.connect() as conn:
        return list(conn.scalars(stmt))


def test_case_sensitive_like_pragma_is_on(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT 'a' LIKE 'A'")) == 0


FILTERS = [
    ("", ALL),
    # metrics, with NaN (r2 loss) and +/-inf (r3); r5 has none
    ("metrics.acc > 0.75", {"r1", "r3", "r4"}),
    ("metrics.acc >= 0.8", {"r1", "r3", "r4"}),
    ("metrics.acc < 0.8", {"r2"}),
    ("metrics.acc <= 0.7", {"r2"}),
    ("metrics.acc = 0.9", {"r1"}),
    ("metrics.acc != 0.9", {"r2", "r3", "r4"}),
    ("metrics.acc > '0.75'", {"r1", "r3", "r4"}),
    ("metrics.acc > 1e308", {"r3"}),
    ("metrics.acc = 1e999", {"r3"}),
    ("metrics.loss < -1e308", {"r3"}),
    ("metrics.loss > -1", {"r1"}),
    ("metrics.loss = 0.5", {"r1"}),
    ("metrics.loss != 0.5", {"r2", "r3"}),
    ("metrics.loss IN (0.5, 7)", {"r1"}),
    ("metrics.loss NOT IN (0.5)", {"r2", "r3"}),
    ("metrics.acc IN (0.9, 0.7)", {"r1", "r2"}),
    ("metrics.acc NOT IN (0.9, 0.7)", {"r3", "r4"}),
    ("metrics.loss IS NULL", {"r4", "r5"}),
    ("metrics.loss IS NOT NULL", {"r1", "r2", "r3"}),
    ("metrics.nope != 1", set()),
    ("metrics.nope NOT IN (1)", set()),
    ("metrics.nope IS NULL", ALL),
    # params: text with quotes, numbers without
    ("params.lr = 0.1", {"r1", "r2"}),
    ("params.lr = 1e-1", {"r1", "r2"}),
    ("params.lr = '0.1'", {"r2"}),
    ("params.lr = '0.10'", {"r1"}),
    ("params.lr != 0.1", {"r3", "r4"}),
    ("params.lr != '0.1'", {"r1", "r3", "r4"}),
    ("params.lr < 0.05", {"r3"}),
    ("params.lr < '0.05'", {"r3"}),
    ("params.lr > 0", {"r1", "r2", "r3"}),
    ("params.lr >= 0.1", {"r1", "r2"}),
    ("params.lr > 'e'", {"r4"}),
    ("params.lr IN (0.1, 'fast')", {"r1", "r2", "r4"}),
    ("params.lr NOT IN (0.1, 'fast')", {"r3"}),
    ("params.lr IN ('0.1')", {"r2"}),
    ("params.lr NOT IN ('0.1')", {"r1", "r3", "r4"}),
    ("params.lr NOT IN (0.001)", {"r1", "r2", "r4"}),
    ("params.model.alpha = 1", {"r1"}),
    ("params.`model.alpha` = '1'", {"r1"}),
    ("params.nope != 'x'", set()),
    ("params.nope NOT IN ('x')", set()),
    ("params.nope IS NULL", ALL),
    ("params.note IS NOT NULL", {"r2"}),
    # LIKE is case-sensitive, ILIKE not; backslash escapes % and _
    ("params.opt LIKE 'adam%'", {"r1", "r4"}),
    ("params.opt ILIKE 'adam%'", {"r1", "r3", "r4"}),
    ("params.opt LIKE 'Adam'", {"r3"}),
    ("params.opt LIKE 'ada_'", {"r1"}),
    ("params.opt ILIKE 'ADA_'", {"r1", "r3"}),
    ("params.opt LIKE 'adam\\_w'", {"r4"}),
    ("params.note LIKE '100\\%'", {"r2"}),
    ("params.note LIKE '1\\%'", set()),
    ("params.opt NOT IN ('adam', 'sgd')", {"r3", "r4"}),
    # tags
    ("tags.team = 'vision'", {"r1"}),
    ("tags.team != 'nlp'", {"r1", "r2", "r4"}),
    ("tags.team LIKE 'vis%'", {"r1", "r4"}),
    ("tags.team LIKE 'vis\\_%'", {"r4"}),
    ("tags.team ILIKE 'VISION'", {"r1", "r2"}),
    ("tags.team IN ('nlp', 'Vision')", {"r2", "r3"}),
    ("tags.team NOT IN ('nlp', 'Vision')", {"r1", "r4"}),
    ("tags.team IS NULL", {"r5"}),
    ("tags.`my tag` = 'x'", {"r1"}),
    ("tags.team < 'o'", {"r2", "r3"}),
    # attributes
    ("attributes.status = 'finished'", {"r1", "r4"}),
    ("attributes.status != 'RUNNING'", {"r1", "r2", "r4", "r5"}),
    ("attributes.status IN ('FAILED', 'killed')", {"r2", "r5"}),
    ("attributes.status NOT IN ('FAILED', 'killed')", {"r1", "r3", "r4"}),
    ("attributes.status LIKE 'F%'", {"r1", "r2", "r4"}),
    ("attributes.status LIKE 'f%'", set()),
    ("attributes.status ILIKE 'f%'", {"r1", "r2", "r4"}),
    ("attributes.name = 'alpha'", {"r1"}),
    ("attributes.run_name LIKE 'g%'", set()),
    ("attributes.run_name ILIKE 'g%'", {"r3"}),
    ("attributes.run_id = 'r2'", {"r2"}),
    ("attributes.id IN ('r1', 'r3', 'zz')", {"r1", "r3"}),
    ("attributes.start_time >= 3000", {"r3", "r4", "r5"}),
    ("attributes.created < 2500", {"r1", "r2"}),
    ("attributes.start_time = '4000'", {"r4"}),
    ("attributes.end_time > 2500", {"r2", "r4"}),
    ("attributes.end_time != 2000", {"r2", "r4"}),
    ("attributes.end_time IS NULL", {"r3", "r5"}),
    ("attributes.end_time IS NOT NULL", {"r1", "r2", "r4"}),
    ("attributes.experiment_id = 2", {"r4", "r5"}),
    ("attributes.experiment_id = '1'", {"r1", "r2", "r3"}),
    ("attributes.experiment_id IN ('1', 2)", ALL),
    ("attributes.experiment_id NOT IN (1)", {"r4", "r5"}),
    ("attributes.experiment_id != 1", {"r4", "r5"}),
    ("attributes.parent_id = 'r1'", {"r2", "r3"}),
    ("attributes.parent_id IS NULL", {"r1", "r4", "r5"}),
    # a NULL column is like an absent key: only IS NULL matches it
    ("attributes.parent_id != 'r1'", set()),
    ("attributes.parent_id NOT IN ('zz')", {"r2", "r3"}),
    ("attributes.end_time NOT IN (2000)", {"r2", "r4"}),
    # AND, OR, parentheses
    ("metrics.acc > 0.85 OR tags.team = 'nlp'", {"r1", "r3"}),
    ("params.opt = 'adam' OR params.opt = 'sgd' AND metrics.acc > 0.8", {"r1"}),
    ("(params.opt = 'adam' OR params.opt = 'sgd') AND metrics.acc > 0.8", {"r1"}),
    ("(params.opt = 'adam' OR params.opt = 'sgd') AND metrics.acc < 0.8", {"r2"}),
    ("attributes.experiment_id = 2 AND (metrics.acc IS NULL OR tags.team LIKE 'vis%')",
     {"r4", "r5"}),
    ("metrics.acc > 0.75 AND params.lr > 0 AND tags.team ILIKE 'V%'", {"r1"}),
    ("(metrics.acc < 0 OR (params.lr = 0.1 AND (tags.team = 'Vision' OR tags.team = 'x')))",
     {"r2"}),
    # injection attempts match nothing and harm nothing
    ("params.x = 'a'' OR 1=1 --'", set()),
    ("params.opt = 'adam'' OR ''1''=''1'", set()),
    ("tags.team = 'x\\' OR 1=1 --'", set()),
    ("params.`opt' OR 1=1 --` = 'adam'", set()),
    ("params.opt LIKE '%'' OR 1=1; DROP TABLE runs; --'", set()),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), FILTERS)
def test_filter_matches(engine: sa.Engine, text: str, expected: set[str]) -> None:
    assert matching(engine, text) == expected


def test_injection_leaves_tables_alone(engine: sa.Engine) -> None:
    assert matching(engine, "params.opt LIKE '%'' OR 1=1; DROP TABLE runs; --'") == set()
    assert matching(engine, "") == ALL


def test_values_are_bound_parameters() -> None:
    expr = parse_filter("params.`k'ey` = 'v''al' AND tags.t LIKE '%x%' AND metrics.m > 1.5")
    assert expr is not None
    sql = str(sa.select(schema.runs.c.id).where(filter_clause(expr)).compile())
    assert "k'ey" not in sql
    assert "v'al" not in sql
    assert "%x%" not in sql
    assert "1.5" not in sql


def test_filter_correlates_with_runs() -> None:
    expr = parse_filter("metrics.acc > 1")
    assert expr is not None
    sql = str(sa.select(schema.runs.c.id).where(filter_clause(expr)).compile())
    assert "EXISTS (SELECT 1 \nFROM latest_metrics \nWHERE latest_metrics.run_id = runs.id" in sql


def test_hand_made_ast_errors() -> None:
    with pytest.raises(InvalidFilter, match="unknown attribute"):
        filter_clause(cmp("attribute", "nope", "=", "x"))
    with pytest.raises(InvalidFilter, match="whole numbers"):
        filter_clause(cmp("attribute", "experiment_id", "=", "abc"))
    with pytest.raises(InvalidFilter, match="unknown entity"):
        filter_clause(cmp("thing", "x", "=", "x"))
    with pytest.raises(InvalidFilter, match="unknown entity"):
        apply_order(sa.select(schema.runs.c.id), [OrderKey("thing", "x")])  # type: ignore[arg-type]


def test_empty_and_or(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        everything = set(conn.scalars(sa.select(schema.runs.c.id).where(filter_clause(And(())))))
        nothing = set(conn.scalars(sa.select(schema.runs.c.id).where(filter_clause(Or(())))))
    assert everything == ALL
    assert nothing == set()


@pytest.mark.parametrize(
    ("clauses", "expected"),
    [
        ((), ["r5", "r4", "r3", "r2", "r1"]),
        (("metrics.acc DESC",), ["r3", "r1", "r4", "r2", "r5"]),
        (("metrics.acc",), ["r2", "r4", "r1", "r3", "r5"]),
        # NaN (r2) and absent (r4, r5) last either way, then newest first
        (("metrics.loss ASC",), ["r3", "r1", "r5", "r4", "r2"]),
        (("metrics.loss DESC",), ["r1", "r3", "r5", "r4", "r2"]),
        # by number ("0.1" == "0.10"), then text; non-numeric and absent last
        (("params.lr",), ["r3", "r2", "r1", "r4", "r5"]),
        (("params.lr DESC",), ["r1", "r2", "r3", "r4", "r5"]),
        (("tags.team",), ["r2", "r3", "r4", "r1", "r5"]),
        (("name",), ["r3", "r1", "r2", "r4", "r5"]),
        (("attributes.end_time DESC",), ["r4", "r2", "r1", "r5", "r3"]),
        (("attributes.end_time",), ["r1", "r2", "r4", "r5", "r3"]),
        (("attributes.status",), ["r2", "r4", "r1", "r5", "r3"]),
        (("attributes.experiment_id DESC", "metrics.acc"), ["r4", "r5", "r2", "r1", "r3"]),
        (("params.opt", "params.opt DESC"), ["r3", "r1", "r4", "r2", "r5"]),
    ],
)
def test_order(engine: sa.Engine, clauses: tuple[str, ...], expected: list[str]) -> None:
    assert ordered(engine, *clauses) == expected


def test_order_ties_break_by_id(engine: sa.Engine) -> None:
    stmt = apply_order(
        sa.select(schema.runs.c.id).where(schema.runs.c.start_time > 0),
        [],
    )
    # all start times differ in the fixture, so compare the compiled ORDER BY
    assert str(stmt.compile()).endswith("ORDER BY runs.start_time DESC, runs.id ASC")


def test_order_with_filter(engine: sa.Engine) -> None:
    expr = parse_filter("metrics.acc IS NOT NULL AND params.lr > 0")
    assert expr is not None
    stmt = apply_order(
        sa.select(schema.runs.c.id).where(filter_clause(expr)),
        [parse_order_by("metrics.acc DESC")],
    )
    with engine.connect() as conn:
        assert list(conn.scalars(stmt)) == ["r3", "r1", "r2"]


# ---------------------------------------------------------------------------
# property: SQL agrees with a Python model of the semantics on random filters


def like_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def compare(left: Any, op: str, right: Any) -> bool:
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == "<":
        return bool(left < right)
    if op == ">":
        return bool(left > right)
    if op == "<=":
        return bool(left <= right)
    if op == ">=":
        return bool(left >= right)
    if op in ("LIKE", "ILIKE"):
        return like_regex(right, op == "ILIKE").fullmatch(left) is not None
    raise AssertionError(op)


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, tuple) else [value]


def model(run: FakeRun, expr: Expr) -> bool:
    if isinstance(expr, And):
        return all(model(run, item) for item in expr.items)
    if isinstance(expr, Or):
        return any(model(run, item) for item in expr.items)
    op, value = expr.op, expr.value
    if expr.entity == "attribute":
        column = {"run_id": "id", "run_name": "name"}.get(expr.key, expr.key)
        actual = getattr(run, column)
        if op in ("IS NULL", "IS NOT NULL"):
            return (actual is None) == (op == "IS NULL")
        if actual is None:
            return False
        if op == "IN":
            return actual in as_list(value)
        if op == "NOT IN":
            return actual not in as_list(value)
        return compare(actual, op, value)
    stores: dict[str, dict[str, Any]] = {
        "metric": run.metrics,
        "param": run.params,
        "tag": run.tags,
    }
    store = stores[expr.entity]
    if op in ("IS NULL", "IS NOT NULL"):
        return (expr.key not in store) == (op == "IS NULL")
    if expr.key not in store:
        return False
    actual = store[expr.key]
    if expr.entity == "metric":
        # NaN follows IEEE: only != and NOT IN hold
        if op == "IN":
            return actual in as_list(value)
        if op == "NOT IN":
            return actual not in as_list(value)
        return compare(actual, op, value)
    if expr.entity == "param":
        num = value_num(str(actual))
        if op in ("IN", "NOT IN"):
            values = as_list(value)
            hit = any(
                actual == v if isinstance(v, str) else num is not None and num == v for v in values
            )
            return hit if op == "IN" else not hit
        if isinstance(value, str):
            return compare(actual, op, value)
        if num is None:
            return op == "!="
        return compare(num, op, value)
    if op == "IN":
        return actual in as_list(value)
    if op == "NOT IN":
        return actual not in as_list(value)
    return compare(actual, op, value)


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def literal(value: Value) -> str:
    return quote(value) if isinstance(value, str) else repr(value)


STRINGS = [
    "0.1", "0.10", "fast", "adam", "Adam", "adam_w", "sgd", "1e-3", "0.05", "vision", "Vision",
    "nlp", "vis_ion", "x", "100%", "1", "r1", "r2", "alpha", "Gamma", "",
]  # fmt: skip
NUMBERS = [0, 1, 0.1, 0.001, 0.05, 0.5, 0.7, 0.8, 0.9, -1.0, 1e308, -1e308, 1000, 2000, 3000]
PATTERNS = [
    "adam%", "%a%", "A%", "_dam", "0.1%", "%\\_%", "vis%", "%", "100\\%", "%ION", "x", "F%", "%ED",
]  # fmt: skip
OPS = ["=", "!=", "<", ">", "<=", ">="]


@st.composite
def comparisons(draw: st.DrawFn) -> str:
    entity = draw(st.sampled_from(["metrics", "params", "tags", "attributes"]))
    if entity == "metrics":
        key = draw(st.sampled_from(["acc", "acc", "loss", "nope"]))
        kind = "number"
    elif entity == "params":
        key = draw(st.sampled_from(["lr", "lr", "opt", "opt", "note", "nope"]))
        kind = "any"
    elif entity == "tags":
        key = draw(st.sampled_from(["team", "team", "`my tag`", "nope"]))
        kind = "string"
    else:
        key = draw(
            st.sampled_from(
                ["status", "name", "id", "start_time", "end_time", "parent_id", "experiment_id"]
            )
        )
        kinds = {"start_time": "number", "end_time": "number", "experiment_id": "int"}
        kind = "status" if key == "status" else kinds.get(key, "string")
    name = f"{entity}.{key}"
    strings = st.sampled_from(STRINGS)
    if kind == "status":
        strings = st.sampled_from(["FINISHED", "failed", "Running", "KILLED", "PRUNED"])
    choices: dict[str, st.SearchStrategy[Value]] = {
        "number": st.sampled_from(NUMBERS),
        "string": strings,
        "status": strings,
        "any": st.one_of(strings, st.sampled_from(NUMBERS)),
        "int": st.sampled_from([1, 2, 3]),
    }
    values = choices[kind]
    ops = list(OPS)
    if kind in ("status", "int"):
        ops = ["=", "!="]
    if kind in ("string", "status", "any"):
        ops += ["LIKE", "ILIKE"]
    ops += ["IN", "NOT IN", "IS NULL", "IS NOT NULL"]
    op = draw(st.sampled_from(ops))
    if op in ("IS NULL", "IS NOT NULL"):
        return f"{name} {op}"
    if op in ("IN", "NOT IN"):
        items = draw(st.lists(values, min_size=1, max_size=3))
        return f"{name} {op} ({', '.join(literal(v) for v in items)})"
    if op in ("LIKE", "ILIKE"):
        return f"{name} {op} {quote(draw(st.sampled_from(PATTERNS)))}"
    return f"{name} {op} {literal(draw(values))}"


filters = st.recursive(
    comparisons(),
    lambda inner: st.tuples(
        st.lists(inner, min_size=2, max_size=3),
        st.sampled_from([" AND ", " OR ", " or ", " Or "]),  # AND-heavy filters match nothing
    ).map(lambda parts: "(" + parts[1].join(parts[0]) + ")"),
    max_leaves=6,
)


@FUZZ
@given(filters)
def test_sql_agrees_with_model(engine: sa.Engine, text: str) -> None:
    expr = parse_filter(text)
    assert expr is not None
    expected = {run.id for run in RUNS if model(run, expr)}
    assert matching(engine, text) == expected
