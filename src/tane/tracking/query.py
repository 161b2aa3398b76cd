"""The run search filter language: MLflow's grammar, plus OR and parentheses.

A filter is a list of comparisons joined by AND and OR (AND binds tighter),
grouped with parentheses::

    metrics.acc > 0.9 AND (params.optimizer = 'adam' OR tags.team LIKE 'vis%')

Each comparison is ``<entity>.<key> <operator> <value>``:

- entity: ``metrics``, ``params``, ``tags`` or ``attributes`` (singular forms,
  ``parameter(s)``, ``attr`` and ``run`` work too; any case);
- key: letters, digits and ``_ - . / :``, or any text quoted with backticks or
  double quotes (``metrics.`my metric```, ``params."a b"``);
- operator: ``= != <> < > <= >= LIKE ILIKE IN (...) NOT IN (...) IS NULL
  IS NOT NULL`` (keywords in any case);
- value: a number, or a string in single or double quotes (double the quote or
  put a backslash before it to escape it; ``\\\\`` is one backslash, any other
  backslash is kept as is, so ``'100\\%'`` is a LIKE pattern for "100%").

The parser is pure Python and knows nothing of SQL; backends compile its AST
(see :mod:`tane.tracking.stores._sql_filter`). Every problem raises
:class:`~tane.errors.InvalidFilter` carrying the offset of the offending token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, TypeAlias

from tane.errors import InvalidFilter

Entity: TypeAlias = Literal["metric", "param", "tag", "attribute"]
Op: TypeAlias = Literal[
    "=", "!=", "<", ">", "<=", ">=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL"
]
Value: TypeAlias = str | int | float

_SURROGATE = re.compile("[\ud800-\udfff]")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Comparison:
    """One condition: ``<entity>.<key> <op> <value>``.

    ``value`` is None for IS [NOT] NULL, a non-empty tuple for [NOT] IN and a
    single value otherwise. Values are normalised by the parser: metric values
    are floats; a quoted string that reads as a number becomes that number for
    params' ``< > <= >=``, for metrics and for time attributes; run statuses
    are upper case; ``experiment_id`` values are ints. A str value is a quoted
    literal, an int or float an unquoted number (so ``params.x = 1`` compares
    numerically and ``params.x = '1'`` as text).

    Attributes:
        entity: "metric", "param", "tag" or "attribute".
        key: The metric, param or tag key; for attributes one of run_id,
            run_name, status, start_time, end_time, experiment_id, parent_id.
        op: The operator, upper case; ``<>`` is given as ``!=``.
        value: The literal(s) compared with.
    """

    entity: Entity
    key: str
    op: Op
    value: Value | tuple[Value, ...] | None


@dataclass(frozen=True, slots=True)
class And:
    """All of ``items`` hold (two or more when made by the parser)."""

    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """At least one of ``items`` holds (two or more when made by the parser)."""

    items: tuple[Expr, ...]


Expr: TypeAlias = Comparison | And | Or


@dataclass(frozen=True, slots=True)
class OrderKey:
    """One key of an order_by list.

    Attributes:
        entity: "metric", "param", "tag" or "attribute".
        key: The key; for attributes the canonical name (e.g. start_time).
        ascending: False for DESC.
    """

    entity: Entity
    key: str
    ascending: bool = True


# The maximum nesting of parentheses. It keeps the parser and SQLAlchemy's
# compiler (both recursive) far from Python's recursion limit.
MAX_DEPTH = 30
# The maximum number of comparisons in one filter: SQLite refuses expressions
# deeper than 1000 nodes and a long OR chain nests one level per term.
MAX_COMPARISONS = 200
# The maximum number of values in all IN lists together: each is a bound
# parameter and SQLite allows 32766 per statement.
MAX_VALUES = 10_000

_ENTITIES: dict[str, Entity] = {
    "metric": "metric",
    "metrics": "metric",
    "param": "param",
    "params": "param",
    "parameter": "param",
    "parameters": "param",
    "tag": "tag",
    "tags": "tag",
    "attribute": "attribute",
    "attributes": "attribute",
    "attr": "attribute",
    "run": "attribute",
}
_ATTRIBUTES = {
    "run_id": "run_id",
    "id": "run_id",
    "run_name": "run_name",
    "name": "run_name",
    "status": "status",
    "start_time": "start_time",
    "created": "start_time",
    "end_time": "end_time",
    "experiment_id": "experiment_id",
    "parent_id": "parent_id",
}
_ATTRIBUTE_NAMES = (
    "run_id (or id), run_name (or name), status, start_time (or created), end_time, "
    "experiment_id, parent_id"
)
_STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED", "CRASHED", "PRUNED")
_OPERATORS = "=, !=, <, >, <=, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL"
_INT64_DIGITS = 18  # an integer literal this long always fits a signed 64-bit column

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_DIGITS = "0123456789"
_WORD_START = frozenset(_LETTERS + "_")
_WORD_CHARS = frozenset(_LETTERS + _DIGITS + "_")
_KEY_CHARS = frozenset(_LETTERS + _DIGITS + "_-./:")
_DIGIT_SET = frozenset(_DIGITS)

# Token kinds.
_IDENT = "ident"  # entity.key
_WORD = "word"  # a bare word: keyword or name
_STRING = "string"
_NUMBER = "number"
_OP = "op"
_END = "end"


class _Token:
    __slots__ = ("end", "key", "key_pos", "kind", "pos", "value")

    def __init__(
        self,
        kind: str,
        value: Value,
        pos: int,
        end: int,
        *,
        key: str = "",
        key_pos: int = 0,
    ) -> None:
        self.kind = kind
        self.value = value  # entity word, keyword, string, number or operator
        self.pos = pos
        self.end = end
        self.key = key
        self.key_pos = key_pos


def parse_filter(text: str) -> Expr | None:
    """Return the AST of a search filter, or None if ``text`` is empty or blank.

    Args:
        text: A filter such as ``"metrics.acc > 0.9 AND params.opt = 'adam'"``.

    Returns:
        A :class:`Comparison`, :class:`And` or :class:`Or`; None for no filter.

    Raises:
        InvalidFilter: The filter does not parse or compares a key with a value
            of the wrong kind; ``position`` is where the problem is.

    >>> parse_filter("metrics.acc > 0.9")
    Comparison(entity='metric', key='acc', op='>', value=0.9)
    """
    if not text or text.isspace():
        return None
    _check_storable(text)
    parser = _Parser(text)
    expr = parser.parse_or()
    tok = parser.tok
    if tok.kind != _END:
        if tok.kind == ")":
            raise parser.error("unbalanced ')': there is no '(' before it to close", tok.pos)
        raise parser.error(
            f"expected AND, OR or the end of the filter after {parser.previous()}, "
            f"found {parser.describe(tok)}",
            tok.pos,
        )
    return expr


def parse_order_by(clause: str) -> OrderKey:
    """Return the key of one order_by clause such as ``"metrics.acc DESC"``.

    Attribute names may go without a prefix (``"start_time DESC"``, ``"name"``).
    The order is ascending unless the clause ends with DESC.

    Args:
        clause: ``<key> [ASC|DESC]``.

    Returns:
        The key and direction.

    Raises:
        InvalidFilter: The clause does not parse.

    >>> parse_order_by("params.lr desc")
    OrderKey(entity='param', key='lr', ascending=False)
    """
    _check_storable(clause)
    parser = _Parser(clause)
    tok = parser.tok
    if tok.kind == _IDENT:
        entity, key = parser.entity_key(tok)
    elif tok.kind == _WORD and str(tok.value).lower() in _ATTRIBUTES:
        entity, key = "attribute", _ATTRIBUTES[str(tok.value).lower()]
    elif tok.kind == _END:
        raise parser.error(
            "empty order_by clause: give a key such as 'metrics.acc DESC' or 'start_time'",
            tok.pos,
        )
    else:
        raise parser.error(
            f"expected a key to order by, such as metrics.acc, params.lr, tags.team or an "
            f"attribute ({_ATTRIBUTE_NAMES}), found {parser.describe(tok)}",
            tok.pos,
        )
    parser.advance()
    ascending = True
    tok = parser.tok
    if tok.kind == _WORD and str(tok.value).upper() in ("ASC", "DESC"):
        ascending = str(tok.value).upper() == "ASC"
        parser.advance()
        tok = parser.tok
    if tok.kind != _END:
        raise parser.error(
            f"expected ASC, DESC or the end of the order_by clause after "
            f"{parser.previous()}, found {parser.describe(tok)} (give one key per clause)",
            tok.pos,
        )
    return OrderKey(entity, key, ascending)


def _check_storable(text: str) -> None:
    """Refuse a NUL or a lone surrogate: no store holds one, and PostgreSQL cannot take one."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return
    kind = "a NUL character" if found.group() == "\x00" else "a lone surrogate (not Unicode text)"
    raise InvalidFilter(
        f"the filter holds {kind} at position {found.start()}, which no key or value can "
        "hold: remove it",
        # Shown with U+FFFD for surrogates: the message must print and encode.
        _SURROGATE.sub("\ufffd", text),
        found.start(),
    )


def _scan_number(text: str, i: int) -> int:
    """Return the end of the number starting at ``i``, or -1 if none starts there."""
    n = len(text)
    j = i
    if j < n and text[j] in "+-":
        j += 1
    start = j
    while j < n and text[j] in _DIGIT_SET:
        j += 1
    digits = j - start
    if j < n and text[j] == ".":
        j += 1
        frac = j
        while j < n and text[j] in _DIGIT_SET:
            j += 1
        digits += j - frac
    if not digits:
        return -1
    if j < n and text[j] in "eE":
        k = j + 1
        if k < n and text[k] in "+-":
            k += 1
        exp = k
        while k < n and text[k] in _DIGIT_SET:
            k += 1
        if k > exp:
            j = k
    return j


def _to_number(literal: str) -> int | float:
    """Return the value of a literal accepted by :func:`_scan_number`."""
    if "." in literal or "e" in literal or "E" in literal:
        return float(literal)  # overflows to +/-inf, never raises
    if len(literal.lstrip("+-")) > _INT64_DIGITS:
        return float(literal)
    return int(literal)


def _string_as_number(value: str) -> int | float | None:
    """Return the number a quoted string spells exactly (no blanks, no NaN), else None."""
    if value and _scan_number(value, 0) == len(value):
        return _to_number(value)
    return None


class _Parser:
    """A recursive-descent parser over an on-demand tokenizer.

    Tokens are scanned one at a time, so the first problem from the left is the
    one reported, whether lexical or grammatical.
    """

    __slots__ = ("count", "depth", "i", "last", "n_values", "text", "tok")

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.depth = 0
        self.count = 0
        self.n_values = 0
        self.last: _Token | None = None
        self.tok = self.scan()

    # ---- errors ----------------------------------------------------------------

    def error(self, message: str, position: int) -> InvalidFilter:
        return InvalidFilter(message, self.text, position)

    def describe(self, tok: _Token) -> str:
        if tok.kind == _END:
            return "the end of the text"
        return repr(self.text[tok.pos : tok.end])

    def previous(self) -> str:
        last = self.last
        return repr(self.text[last.pos : last.end]) if last is not None else "the start"

    # ---- tokenizer -----------------------------------------------------------------

    def advance(self) -> None:
        self.last = self.tok
        self.tok = self.scan()

    def scan(self) -> _Token:
        text = self.text
        n = len(text)
        i = self.i
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            self.i = n
            return _Token(_END, "", n, n)
        c = text[i]
        if c in _WORD_START:
            j = i + 1
            while j < n and text[j] in _WORD_CHARS:
                j += 1
            if j < n and text[j] == ".":
                tok = self.scan_key(i, j)
            else:
                tok = _Token(_WORD, text[i:j], i, j)
        elif c in "'\"":
            value, j = self.scan_quoted(i, "string")
            tok = _Token(_STRING, value, i, j)
        elif c in "(),":
            tok = _Token(c, c, i, i + 1)
        elif c in "=<>!":
            two = text[i : i + 2]
            if two in ("!=", "<>", "<=", ">=", "=="):
                op = "!=" if two == "<>" else "=" if two == "==" else two
                tok = _Token(_OP, op, i, i + 2)
            elif c == "!":
                raise self.error("unexpected '!': did you mean '!='?", i)
            else:
                tok = _Token(_OP, c, i, i + 1)
        else:
            j = _scan_number(text, i)
            if j < 0:
                if c == "`":
                    raise self.error(
                        "backticks quote keys right after a prefix, e.g. metrics.`my metric`",
                        i,
                    )
                if c in "+-.":
                    raise self.error(
                        f"unexpected {c!r}: a number must follow it directly, e.g. -1.5",
                        i,
                    )
                raise self.error(
                    f"unexpected character {c!r}: quote values that contain it, "
                    f"e.g. 'a{c}b', and keys with backticks, e.g. params.`a{c}b`",
                    i,
                )
            if j < n and (text[j] in _WORD_CHARS or text[j] == "."):
                k = j
                while k < n and (text[k] in _WORD_CHARS or text[k] == "."):
                    k += 1
                raise self.error(
                    f"invalid number {text[i:k]!r}: quote it if it is a string, e.g. '{text[i:k]}'",
                    i,
                )
            tok = _Token(_NUMBER, _to_number(text[i:j]), i, j)
        self.i = tok.end
        return tok

    def scan_key(self, start: int, dot: int) -> _Token:
        """Scan ``entity.key`` whose entity word spans ``start:dot``."""
        text = self.text
        k = dot + 1
        if k < len(text) and text[k] in '`"':
            key, end = self.scan_quoted(k, "key")
        else:
            end = k
            while end < len(text) and text[end] in _KEY_CHARS:
                end += 1
            key = text[k:end]
        if not key:
            raise self.error(
                f"expected a key after '{text[start : dot + 1]}': write e.g. "
                f"{text[start : dot + 1]}acc, or quote keys with other characters in "
                f"backticks, e.g. {text[start : dot + 1]}`my key`",
                k,
            )
        return _Token(_IDENT, text[start:dot], start, end, key=key, key_pos=k)

    def scan_quoted(self, start: int, what: str) -> tuple[str, int]:
        """Return the unescaped text of the quoted item at ``start`` and its end."""
        text = self.text
        quote = text[start]
        n = len(text)
        i = start + 1
        j = text.find(quote, i)
        if j >= 0 and text.find("\\", i, j) < 0 and (j + 1 >= n or text[j + 1] != quote):
            return text[i:j], j + 1  # the common case: no escapes
        parts: list[str] = []
        while True:
            j = i
            while j < n and text[j] != quote and text[j] != "\\":
                j += 1
            parts.append(text[i:j])
            if j >= n:
                raise self.error(f"unterminated {what}: add the closing {quote}", start)
            if text[j] == "\\":
                nxt = text[j + 1 : j + 2]
                if nxt in (quote, "\\"):
                    parts.append(nxt)
                    i = j + 2
                else:
                    parts.append("\\")
                    i = j + 1
            elif j + 1 < n and text[j + 1] == quote:
                parts.append(quote)
                i = j + 2
            else:
                return "".join(parts), j + 1

    # ---- grammar -------------------------------------------------------------------

    def parse_or(self) -> Expr:
        items: list[Expr] = []
        while True:
            item = self.parse_and()
            if isinstance(item, Or):
                items.extend(item.items)
            else:
                items.append(item)
            tok = self.tok
            if tok.kind == _WORD and str(tok.value).upper() == "OR":
                self.advance()
            else:
                break
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> Expr:
        items: list[Expr] = []
        while True:
            item = self.parse_primary()
            if isinstance(item, And):
                items.extend(item.items)
            else:
                items.append(item)
            tok = self.tok
            if tok.kind == _WORD and str(tok.value).upper() == "AND":
                self.advance()
            else:
                break
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_primary(self) -> Expr:
        tok = self.tok
        if tok.kind == _IDENT:
            self.count += 1
            if self.count > MAX_COMPARISONS:
                raise self.error(
                    f"too many conditions (more than {MAX_COMPARISONS}): "
                    "use IN (...) lists or several searches",
                    tok.pos,
                )
            return self.parse_comparison()
        if tok.kind == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.error(f"parentheses nested more than {MAX_DEPTH} deep", tok.pos)
            self.advance()
            expr = self.parse_or()
            close = self.tok
            if close.kind != ")":
                if close.kind == _END:
                    raise self.error("this '(' is never closed: add a ')'", tok.pos)
                raise self.error(
                    f"expected AND, OR or ')' after {self.previous()}, "
                    f"found {self.describe(close)}",
                    close.pos,
                )
            self.depth -= 1
            self.advance()
            return expr
        after = f" after {self.previous()}" if self.last is not None else ""
        if tok.kind == _WORD:
            word = str(tok.value)
            if word.lower() in _ATTRIBUTES:
                raise self.error(
                    f"{word!r} needs a prefix: write attributes.{word}",
                    tok.pos,
                )
            if word.upper() == "NOT":
                raise self.error(
                    "NOT only appears in NOT IN and IS NOT NULL: "
                    "negate a condition with !=, NOT IN or IS NULL instead",
                    tok.pos,
                )
            if word.upper() in ("AND", "OR"):
                raise self.error(
                    f"expected a condition such as metrics.acc > 0.9{after}, found {word!r}",
                    tok.pos,
                )
            raise self.error(
                f"unknown name {word!r}: prefix it with metrics., params., tags. or "
                f"attributes. (e.g. metrics.{word})",
                tok.pos,
            )
        raise self.error(
            f"expected a condition such as metrics.acc > 0.9{after}, found {self.describe(tok)}",
            tok.pos,
        )

    def entity_key(self, tok: _Token) -> tuple[Entity, str]:
        """Return the entity and (for attributes canonical) key of an ident token."""
        prefix = str(tok.value)
        entity = _ENTITIES.get(prefix.lower())
        if entity is None:
            raise self.error(
                f"unknown prefix {prefix!r}: use metrics., params., tags. or attributes.",
                tok.pos,
            )
        key = tok.key
        if entity == "attribute":
            name = _ATTRIBUTES.get(key.lower())
            if name is None:
                raise self.error(
                    f"unknown attribute {key!r}: use one of {_ATTRIBUTE_NAMES}",
                    tok.key_pos,
                )
            key = name
        return entity, key

    def parse_comparison(self) -> Comparison:
        ident = self.tok
        entity, key = self.entity_key(ident)
        name = self.text[ident.pos : ident.end]
        self.advance()
        op_tok = self.tok
        op: Op
        if op_tok.kind == _OP:
            op = _op(str(op_tok.value))
        elif op_tok.kind == _WORD:
            word = str(op_tok.value).upper()
            if word == "LIKE":
                op = "LIKE"
            elif word == "ILIKE":
                op = "ILIKE"
            elif word == "IN":
                op = "IN"
            elif word == "NOT":
                self.advance()
                nxt = self.tok
                if not (nxt.kind == _WORD and str(nxt.value).upper() == "IN"):
                    raise self.error(
                        f"expected IN after NOT, found {self.describe(nxt)}: "
                        f"write {name} NOT IN ('a', 'b')",
                        nxt.pos,
                    )
                op = "NOT IN"
            elif word == "IS":
                self.advance()
                nxt = self.tok
                op = "IS NULL"
                if nxt.kind == _WORD and str(nxt.value).upper() == "NOT":
                    self.advance()
                    nxt = self.tok
                    op = "IS NOT NULL"
                if not (nxt.kind == _WORD and str(nxt.value).upper() == "NULL"):
                    raise self.error(
                        f"expected NULL after {self.previous()}, found "
                        f"{self.describe(nxt)}: write {name} IS NULL or {name} IS NOT NULL",
                        nxt.pos,
                    )
            else:
                raise self.error(self.no_operator(name), op_tok.pos)
        else:
            raise self.error(self.no_operator(name), op_tok.pos)
        self.advance()
        subject = f"{name} {op}"
        value: Value | tuple[Value, ...] | None
        positions: tuple[int, ...]
        if op in ("IS NULL", "IS NOT NULL"):
            value, positions = None, ()
        elif op in ("IN", "NOT IN"):
            example = "(0.1, 0.2)" if entity == "metric" else "('a', 'b')"
            value, positions = self.parse_list(subject, example)
        else:
            value, pos = self.parse_literal(subject)
            positions = (pos,)
        value = self.check(
            entity=entity,
            key=key,
            name=name,
            op=op,
            op_pos=op_tok.pos,
            value=value,
            positions=positions,
        )
        return Comparison(entity, key, op, value)

    def no_operator(self, name: str) -> str:
        return (
            f"expected an operator ({_OPERATORS}) after {name!r}, found {self.describe(self.tok)}"
        )

    def parse_literal(self, subject: str) -> tuple[Value, int]:
        tok = self.tok
        if tok.kind in (_STRING, _NUMBER):
            self.advance()
            return tok.value, tok.pos
        if tok.kind == _WORD:
            word = str(tok.value)
            if word.upper() == "NULL":
                raise self.error(
                    "compare with NULL using IS NULL or IS NOT NULL (a missing key is NULL)",
                    tok.pos,
                )
            raise self.error(
                f"unquoted value {word!r} after {subject!r}: put strings in quotes, e.g. '{word}'",
                tok.pos,
            )
        if tok.kind == _IDENT:
            raise self.error(
                f"expected a value after {subject!r}, found the key "
                f"{self.describe(tok)}: keys can only be compared with values "
                "(quote it if it is a string)",
                tok.pos,
            )
        raise self.error(
            f"expected a value after {subject!r}: a number or a quoted string such as "
            f"'abc', found {self.describe(tok)}",
            tok.pos,
        )

    def parse_list(self, subject: str, example: str) -> tuple[tuple[Value, ...], tuple[int, ...]]:
        tok = self.tok
        if tok.kind != "(":
            raise self.error(
                f"expected '(' after {subject!r}: write e.g. {subject} {example}",
                tok.pos,
            )
        self.advance()
        if self.tok.kind == ")":
            raise self.error(
                f"{subject} needs at least one value: write e.g. {subject} {example}",
                self.tok.pos,
            )
        values: list[Value] = []
        positions: list[int] = []
        while True:
            value, pos = self.parse_literal(f"{subject} (")
            values.append(value)
            positions.append(pos)
            self.n_values += 1
            if self.n_values > MAX_VALUES:
                raise self.error(
                    f"too many values in IN lists (more than {MAX_VALUES}): "
                    "split the search into several",
                    pos,
                )
            tok = self.tok
            if tok.kind == ",":
                self.advance()
            elif tok.kind == ")":
                self.advance()
                return tuple(values), tuple(positions)
            else:
                raise self.error(
                    f"expected ',' or ')' in the list after {subject!r}, "
                    f"found {self.describe(tok)}",
                    tok.pos,
                )

    # ---- types ---------------------------------------------------------------------

    def check(
        self,
        *,
        entity: Entity,
        key: str,
        name: str,
        op: Op,
        op_pos: int,
        value: Value | tuple[Value, ...] | None,
        positions: tuple[int, ...],
    ) -> Value | tuple[Value, ...] | None:
        """Validate a comparison's value for its entity and return it normalised."""
        if value is None:
            return None
        values = value if isinstance(value, tuple) else (value,)
        like = op in ("LIKE", "ILIKE")
        if like:
            pattern = values[0]
            if not isinstance(pattern, str):
                raise self.error(
                    f"{op} needs a quoted pattern, e.g. {name} {op} '%{pattern}%'",
                    positions[0],
                )
            tail = len(pattern) - len(pattern.rstrip("\\"))
            if tail % 2:
                raise self.error(
                    f"the {op} pattern ends with a lone backslash, its escape character: "
                    "write two (four inside the quotes: '\\\\\\\\') to match a backslash",
                    positions[0],
                )
        kind = "number" if entity == "metric" or key in ("start_time", "end_time") else ""
        if entity == "attribute" and key in ("experiment_id", "status"):
            kind = key
        if entity == "tag" or (entity == "attribute" and not kind):
            for v, pos in zip(values, positions, strict=True):
                if not isinstance(v, str):
                    raise self.error(
                        f"{name} holds strings: quote the value, e.g. {name} = '{v}'",
                        pos,
                    )
            return value
        if entity == "param":
            if op in ("<", ">", "<=", ">=") and isinstance(value, str):
                number = _string_as_number(value)
                if number is not None:
                    return number
            return value
        if kind == "number":
            what = "a metric" if entity == "metric" else "a time in ms since the epoch"
            if like:
                raise self.error(f"{op} applies to strings, and {name} is {what}", op_pos)
            out: list[Value] = []
            for v, pos in zip(values, positions, strict=True):
                number = _string_as_number(v) if isinstance(v, str) else v
                if number is None:
                    raise self.error(
                        f"{name} is {what}: compare it with a number, not {v!r} "
                        f"(e.g. {name} > 0.5)",
                        pos,
                    )
                out.append(float(number) if entity == "metric" else number)
            return tuple(out) if isinstance(value, tuple) else out[0]
        if kind == "experiment_id":
            if op not in ("=", "!=", "IN", "NOT IN"):
                raise self.error(
                    f"{name} supports =, !=, IN, NOT IN and IS [NOT] NULL, not {op}",
                    op_pos,
                )
            ids: list[Value] = []
            for v, pos in zip(values, positions, strict=True):
                number = _string_as_number(v) if isinstance(v, str) else v
                if not isinstance(number, int):
                    raise self.error(
                        f"experiment ids are whole numbers, not {v!r}: write e.g. {name} = '1'",
                        pos,
                    )
                ids.append(number)
            return tuple(ids) if isinstance(value, tuple) else ids[0]
        # status
        if op in ("<", ">", "<=", ">="):
            raise self.error(
                f"{name} supports =, !=, IN, NOT IN, LIKE, ILIKE and IS [NOT] NULL, not {op}",
                op_pos,
            )
        statuses: list[Value] = []
        for v, pos in zip(values, positions, strict=True):
            if not isinstance(v, str):
                raise self.error(
                    f"{name} holds strings: quote the value, e.g. {name} = 'FINISHED'", pos
                )
            if like:
                return value
            status = v.upper()
            if status not in _STATUSES:
                raise self.error(
                    f"unknown run status {v!r}: use one of {', '.join(_STATUSES)}",
                    pos,
                )
            statuses.append(status)
        return tuple(statuses) if isinstance(value, tuple) else statuses[0]


def _op(symbol: str) -> Op:
    if symbol == "=":
        return "="
    if symbol == "!=":
        return "!="
    if symbol == "<":
        return "<"
    if symbol == ">":
        return ">"
    if symbol == "<=":
        return "<="
    assert symbol == ">="
    return ">="
