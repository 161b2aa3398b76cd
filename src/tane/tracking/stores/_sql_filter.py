"""Compile search filters (:mod:`tane.tracking.query`) to SQLAlchemy Core.

Each metric, param or tag comparison becomes a correlated
``EXISTS (SELECT 1 FROM <table> WHERE run_id = runs.id AND key = :key AND ...)``,
so a run without the key never matches, not even ``!=`` or ``NOT IN`` (as in
MLflow); ``IS NULL`` means the key is absent. Every user value is a bound
parameter.

Semantics worth knowing:

- Metrics compare their latest value. NaN is stored as NULL and behaves as in
  IEEE arithmetic: it matches ``!=`` and ``NOT IN`` and nothing else.
- Params compare as text with a quoted value (``params.lr = '0.10'``) and as
  numbers with an unquoted one (``params.lr = 0.1`` matches "0.10"); ``< > <=
  >=`` compare numbers whenever the value reads as one, and then skip
  non-numeric params.
- LIKE is case-sensitive and ILIKE is not; both use backslash as the escape
  character on every database (``'100\\%'`` matches "100%").
- Attributes compare the run's own columns; a NULL end_time or parent_id
  matches only IS NULL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tane.errors import InvalidFilter
from tane.tracking.query import And, Comparison, Expr, Or, OrderKey, Value
from tane.tracking.stores._schema import latest_metrics, params, runs, tags

if TYPE_CHECKING:
    from typing_extensions import TypeVarTuple, Unpack

    _Ts = TypeVarTuple("_Ts")

_ATTRIBUTE_COLUMNS = {
    "run_id": "id",
    "run_name": "name",
    "status": "status",
    "start_time": "start_time",
    "end_time": "end_time",
    "experiment_id": "experiment_id",
    "parent_id": "parent_id",
}
_TABLES: dict[str, sa.Table] = {"metric": latest_metrics, "param": params, "tag": tags}


def filter_clause(expr: Expr) -> sa.ColumnElement[bool]:
    """Return a WHERE clause over ``runs`` that holds for the runs ``expr`` matches.

    Args:
        expr: A filter from :func:`tane.tracking.query.parse_filter`.

    Returns:
        A boolean expression for ``select(runs).where(...)``; its EXISTS
        subqueries correlate with the ``runs`` table of the enclosing query.

    Raises:
        InvalidFilter: A hand-made AST names an unknown entity or attribute,
            or an experiment id that is not a whole number.
    """
    if isinstance(expr, Comparison):
        return _comparison(expr)
    if isinstance(expr, And):
        if not expr.items:
            return sa.true()
        return sa.and_(*[filter_clause(item) for item in expr.items])
    if isinstance(expr, Or):
        if not expr.items:
            return sa.false()
        return sa.or_(*[filter_clause(item) for item in expr.items])
    raise InvalidFilter(f"not a filter expression: {expr!r}")


def apply_order(stmt: sa.Select[Unpack[_Ts]], keys: Sequence[OrderKey]) -> sa.Select[Unpack[_Ts]]:
    """Return ``stmt`` ordered by ``keys``, then by start_time DESC and run id.

    A metric, param or tag key adds a LEFT OUTER JOIN of its table (filtered
    by key) to ``runs``; runs without the key, and NaN metrics, sort last in
    both directions. Params sort by their numeric value, then as text.

    Args:
        stmt: A select whose FROM clause includes ``runs``.
        keys: Parsed order_by clauses, most significant first; may be empty.

    Returns:
        The ordered select.

    Raises:
        InvalidFilter: A hand-made key names an unknown entity or attribute.
    """
    order: list[sa.ColumnElement[Any]] = []
    for key in keys:
        columns: list[sa.ColumnElement[Any]]
        if key.entity == "attribute":
            columns = [_attribute_column(key.key)]
        else:
            table = _TABLES.get(key.entity)
            if table is None:
                raise InvalidFilter(f"unknown entity {key.entity!r} in order_by")
            joined = table.alias()
            stmt = stmt.outerjoin_from(
                runs, joined, sa.and_(joined.c.run_id == runs.c.id, joined.c.key == key.key)
            )
            if key.entity == "param":
                columns = [joined.c.value_num, joined.c.value]
            else:
                columns = [joined.c.value]
        for column in columns:
            direction = column.asc() if key.ascending else column.desc()
            order.append(direction.nulls_last())
    order.append(runs.c.start_time.desc())
    order.append(runs.c.id.asc())
    return stmt.order_by(*order)


def metric_lead(
    expr: Expr | None, keys: Sequence[OrderKey]
) -> tuple[sa.FromClause, list[sa.ColumnElement[bool]], sa.ColumnElement[Any], Expr | None] | None:
    """A faster plan for "filter on metric M, order by M": drive the query from M's index.

    When the first order key is a metric that every matching run must have
    (the filter ANDs a comparison on it at the top level), an inner join on
    that metric's ``latest_metrics`` row selects the same runs as the outer
    join ``apply_order`` would add, and lets the database walk the
    ``(key, value)`` index in order and stop at the page's end instead of
    sorting every run of the experiment.

    Returns:
        None when the shortcut does not apply; else the aliased table to start
        the FROM clause with, the conditions on it (its key and the filter's
        comparisons on it, moved to the alias so an index range can be used),
        the ORDER BY term for the first key, and what remains of the filter.
    """
    if not keys or keys[0].entity != "metric" or expr is None:
        return None
    key = keys[0].key
    conjuncts = expr.items if isinstance(expr, And) else (expr,)
    required = [
        c
        for c in conjuncts
        if isinstance(c, Comparison)
        and c.entity == "metric"
        and c.key == key
        and c.op not in ("IS NULL", "IS NOT NULL")
    ]
    if not required:
        return None
    lead = latest_metrics.alias("lead_metric")
    criteria = [lead.c.key == key, *(_metric(c, lead.c.value) for c in required)]
    term = lead.c.value.asc() if keys[0].ascending else lead.c.value.desc()
    rest = tuple(c for c in conjuncts if c not in required)
    remaining: Expr | None = None if not rest else rest[0] if len(rest) == 1 else And(rest)
    return lead, criteria, term.nulls_last(), remaining


def _attribute_column(name: str) -> sa.ColumnElement[Any]:
    column = _ATTRIBUTE_COLUMNS.get(name)
    if column is None:
        raise InvalidFilter(
            f"unknown attribute {name!r}: use one of {', '.join(_ATTRIBUTE_COLUMNS)}"
        )
    return runs.c[column]


def _values(value: Value | tuple[Value, ...] | None) -> list[Value]:
    if value is None:
        return []
    return list(value) if isinstance(value, tuple) else [value]


def _single(comparison: Comparison) -> Value:
    value = comparison.value
    if value is None or isinstance(value, tuple):
        raise InvalidFilter(
            f"{comparison.op} needs a single value, not {value!r} "
            f"({comparison.entity}.{comparison.key})"
        )
    return value


def _compare(column: sa.ColumnElement[Any], op: str, value: Value) -> sa.ColumnElement[bool]:
    """Return ``column <op> value`` with SQL NULL semantics (NULL never matches)."""
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == "<":
        return column < value
    if op == ">":
        return column > value
    if op == "<=":
        return column <= value
    if op == ">=":
        return column >= value
    if op in ("LIKE", "ILIKE"):
        if not isinstance(value, str):
            raise InvalidFilter(f"{op} needs a string pattern, not {value!r}")
        if op == "LIKE":
            return column.like(value, escape="\\")
        return column.ilike(value, escape="\\")
    raise InvalidFilter(f"unknown operator {op!r}")


def _exists(table: sa.Table, key: str, *criteria: sa.ColumnElement[bool]) -> sa.Exists:
    return (
        sa.select(sa.literal_column("1"))
        .select_from(table)
        .where(table.c.run_id == runs.c.id, table.c.key == key, *criteria)
        .exists()
    )


def _comparison(c: Comparison) -> sa.ColumnElement[bool]:
    op = c.op
    if c.entity == "attribute":
        return _attribute(c)
    table = _TABLES.get(c.entity)
    if table is None:
        raise InvalidFilter(
            f"unknown entity {c.entity!r}: use 'metric', 'param', 'tag' or 'attribute'"
        )
    if op == "IS NULL":
        return ~_exists(table, c.key)
    if op == "IS NOT NULL":
        return _exists(table, c.key)
    if c.entity == "metric":
        criterion = _metric(c)
    elif c.entity == "param":
        criterion = _param(c)
    else:
        criterion = _text(table.c.value, c)
    return _exists(table, c.key, criterion)


def _metric(c: Comparison, value: sa.ColumnElement[Any] | None = None) -> sa.ColumnElement[bool]:
    if value is None:
        value = latest_metrics.c.value
    op = c.op
    if op == "IN":
        return value.in_(_values(c.value))
    if op == "NOT IN":
        return sa.or_(value.is_(None), value.not_in(_values(c.value)))
    if op == "!=":
        return sa.or_(value.is_(None), value != _single(c))
    return _compare(value, op, _single(c))


def _param(c: Comparison) -> sa.ColumnElement[bool]:
    text, number = params.c.value, params.c.value_num
    op = c.op
    if op in ("IN", "NOT IN"):
        values = _values(c.value)
        strings = [v for v in values if isinstance(v, str)]
        numbers = [v for v in values if not isinstance(v, str)]
        parts: list[sa.ColumnElement[bool]] = []
        if op == "IN":
            if strings:
                parts.append(text.in_(strings))
            if numbers:
                parts.append(number.in_(numbers))
            return sa.or_(*parts) if parts else sa.false()
        if strings:
            parts.append(text.not_in(strings))
        if numbers:
            parts.append(sa.or_(number.is_(None), number.not_in(numbers)))
        return sa.and_(*parts) if parts else sa.true()
    value = _single(c)
    if isinstance(value, str):
        return _compare(text, op, value)
    if op == "!=":
        return sa.or_(number.is_(None), number != value)
    return _compare(number, op, value)


def _text(column: sa.ColumnElement[Any], c: Comparison) -> sa.ColumnElement[bool]:
    if c.op == "IN":
        return column.in_(_values(c.value))
    if c.op == "NOT IN":
        return column.not_in(_values(c.value))
    return _compare(column, c.op, _single(c))


def _attribute(c: Comparison) -> sa.ColumnElement[bool]:
    column = _attribute_column(c.key)
    if c.op == "IS NULL":
        return column.is_(None)
    if c.op == "IS NOT NULL":
        return column.is_not(None)
    if c.key == "experiment_id":
        ids = [_experiment_id(v) for v in _values(c.value)]
        if c.op in ("IN", "NOT IN"):
            return column.in_(ids) if c.op == "IN" else column.not_in(ids)
        if not ids:
            raise InvalidFilter(f"{c.op} needs a value (attributes.experiment_id)")
        return _compare(column, c.op, ids[0])
    return _text(column, c)


def _experiment_id(value: Value) -> int:
    """Return an experiment id as the integer the column holds."""
    text = str(value)
    if isinstance(value, int) or (text.isascii() and text.isdigit() and len(text) <= 18):
        return int(value)
    raise InvalidFilter(
        f"experiment ids are whole numbers, not {value!r}: write e.g. "
        "attributes.experiment_id = '1'"
    )
