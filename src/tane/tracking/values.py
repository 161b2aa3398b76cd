"""Validation and normalisation of keys, metric values, params and tags.

These run in the caller's thread before anything is queued, so a bad value is
reported where it was logged and never reaches the store.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from tane.errors import InvalidInput

MAX_KEY_LENGTH = 250
_KEY_CHARS = re.compile(r"^[\w\-. /:+=@#%,()\[\]]+$")


def check_key(key: object, what: str = "key") -> str:
    """Return ``key`` if it is a valid metric, param or tag key; raise InvalidInput.

    A key is 1-250 characters: letters and digits of any script, spaces and
    ``_ - . / : + = @ # % , ( ) [ ]``. It may not start with ``/`` or contain a
    ``..`` segment, so that no key can name a path outside a run's folder.
    """
    if not isinstance(key, str):
        raise InvalidInput(f"{what} {key!r} is a {type(key).__name__}: keys are strings")
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"{what} {key[:60]!r}{'...' if len(key) > 60 else ''} has {len(key)} characters: "
            f"use 1 to {MAX_KEY_LENGTH}"
        )
    if not _KEY_CHARS.match(key):
        bad = sorted({c for c in key if not _KEY_CHARS.match(c)})
        raise InvalidInput(
            f"{what} {key!r} contains {''.join(bad)!r}: use letters, digits, spaces and _ - . / :"
        )
    if key.startswith("/") or ".." in key.split("/"):
        raise InvalidInput(
            f"{what} {key!r} could name a path outside the run ('/' at the start or a '..' "
            "part): use a relative name such as 'train/loss'"
        )
    return key


def metric_value(key: str, value: object) -> float:
    """Return ``value`` as a float (NaN and inf allowed); raise InvalidInput if not a number."""
    if isinstance(value, float):
        return value
    if isinstance(value, (str, bytes)) or value is None:
        raise InvalidInput(
            f"metric {key!r}: value {value!r} is a {type(value).__name__}, not a number; "
            "log numbers as metrics and text as tags or params"
        )
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(
            f"metric {key!r}: value {value!r} ({type(value).__name__}) cannot be read as a "
            "number; pass a float, an int or a 0-d array"
        ) from None


def param_text(value: Any) -> str:
    """Return a param or tag value as text: lists and dicts as JSON, others by ``str``."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, dict)):
        try:
            return json.dumps(value, default=str, ensure_ascii=False)
        except ValueError:  # circular structure
            return str(value)
    return str(value)


def param_number(text: str) -> float | None:
    """Return the param text as a finite number when it reads as one, else None."""
    if len(text) > 64:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def check_text(text: str, what: str) -> str:
    """Return ``text`` if every store can hold it; raise InvalidInput for a NUL or a lone surrogate.

    SQLite would keep a NUL where PostgreSQL refuses it, and no database (nor
    JSON on its way to a server) takes a lone surrogate: a value is refused
    where it is logged, the same on every backend.
    """
    if "\x00" in text:
        raise InvalidInput(
            f"{what}: the value contains a NUL character, which databases cannot store; "
            "remove it or log the data as an artifact"
        )
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidInput(
                f"{what}: the value holds {text[exc.start : exc.end]!r}, a lone surrogate "
                "(not Unicode text); decode the bytes it came from properly"
            ) from None
    return text


def normalize_mapping(values: Mapping[str, Any] | None, what: str) -> dict[str, str]:
    """Check every key and turn every value into text (no NUL, no lone surrogate)."""
    if not values:
        return {}
    out = {check_key(k, what): param_text(v) for k, v in values.items()}
    for key, text in out.items():
        check_text(text, f"{what.split(maxsplit=1)[0]} {key!r}")
    return out
