"""Input checks shared by every store, so all backends accept and reject exactly the same input.

The rules follow the strictest backend: PostgreSQL ``text`` cannot hold NUL, no database stores lone UTF-16
surrogates, and a PostgreSQL b-tree entry must stay well under 2.7 kB. Rejecting such input everywhere (with
:class:`~memstore.errors.ValidationError`, before any write) keeps a store's behaviour independent of the URL.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from memstore.errors import ValidationError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
"""The integers databases store and compare exactly (int keys, integers in filters)."""

MAX_JSON_DEPTH = 100
"""Deepest nesting of lists and objects accepted in JSON values (and of filter trees): deeper values would
overflow the interpreter's recursion (``json.dumps`` included) or SQLite's JSON parser (depth 1000)."""

MAX_IDENTIFIER_BYTES = 1024
"""Longest id, key, role or type accepted, in UTF-8 bytes (well below PostgreSQL's index-row limit)."""


def check_text(value: object, what: str) -> str:
    """Return ``value`` if it is a str that every backend stores byte-identically."""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a str, not {type(value).__name__}")
    if "\x00" in value:
        raise ValidationError(f"{what} must not contain a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(f"{what} is not valid Unicode (lone surrogate?)") from exc
    return value


def check_identifier(value: object, what: str) -> str:
    """Return ``value`` if it is a usable id/key: non-empty text of at most MAX_IDENTIFIER_BYTES."""
    text = check_text(value, what)
    if not text:
        raise ValidationError(f"{what} must not be empty")
    if len(text.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
        raise ValidationError(f"{what} is longer than {MAX_IDENTIFIER_BYTES} UTF-8 bytes")
    return text


def check_count(value: object, what: str, *, minimum: int, maximum: int = INT64_MAX) -> int:
    """Return ``value`` if it is an int in ``[minimum, maximum]`` (bools are not ints); the default bound is
    what every database stores, so a count, cursor or limit fails the same way on every backend."""
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise ValidationError(f"{what} must be an int >= {minimum} and <= {maximum}, not {short_repr(value)}")
    return value


def check_number(
    value: object, what: str, *, positive: bool = False, maximum: float = float(INT64_MAX)
) -> float:
    """Return ``value`` if it is a finite number >= 0 (> 0 if ``positive``; bools are not numbers) and at most
    ``maximum`` (huge ints such as ``10**5000`` included: they would overflow a float or a date)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (isinstance(value, float) and not math.isfinite(value))
    ):
        raise ValidationError(f"{what} must be a finite number, not {short_repr(value)}")
    if value < 0 or (positive and value == 0) or value > maximum:
        bounds = f"{'> 0' if positive else '>= 0'} and <= {maximum:g}"
        raise ValidationError(f"{what} must be {bounds}, not {short_repr(value)}")
    return value


def short_repr(value: object) -> str:
    """``repr(value)`` cut to 40 characters (``repr(10**5000)`` alone would fill a screen, or fail)."""
    try:
        text = repr(value)
    except ValueError:  # an int beyond sys.get_int_max_str_digits()
        return f"an int of {value.bit_length() if isinstance(value, int) else '?'} bits"
    return text if len(text) <= 40 else text[:37] + "..."


def check_json(value: Any, what: str) -> Any:
    """Return ``value`` if it is plain JSON (str keys, finite numbers, valid text): it round-trips exactly."""
    _walk_json(value, what)
    return value


def check_json_object(value: object, what: str) -> dict[str, Any]:
    """Return ``value`` as a dict if it is a JSON object that round-trips exactly."""
    if not isinstance(value, Mapping):
        raise ValidationError(f"{what} must be a JSON object (a dict), not {type(value).__name__}")
    as_dict = dict(value)
    _walk_json(as_dict, what)
    return as_dict


def _walk_json(value: Any, where: str, depth: int = 0) -> None:
    if depth > MAX_JSON_DEPTH:
        raise ValidationError(f"{where[:80]} is nested deeper than {MAX_JSON_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValidationError(f"{where[:80]} holds an int beyond 64 bits, which databases cannot store")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"{where} holds {value!r}, which JSON cannot store")
        return
    if isinstance(value, str):
        check_text(value, where)
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _walk_json(item, f"{where}[{index}]", depth + 1)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValidationError(f"{where} has a non-str key {key!r}; JSON keys are strings")
            check_text(key, f"a key of {where}")
            _walk_json(item, f"{where}[{key!r}]", depth + 1)
        return
    raise ValidationError(f"{where} holds a {type(value).__name__}, which is not JSON-serialisable")


_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*):(?P<secret>[^@/?#\s]*)@")


def mask_password(url: object) -> str:
    """``url`` as text with any password replaced by ``***`` (a SQLAlchemy ``URL`` or a string), for reprs,
    logs and error messages: none of them may show a database password."""
    render = getattr(url, "render_as_string", None)
    if render is not None:
        return str(render(hide_password=True))
    return _URL_PASSWORD.sub(lambda match: f"{match['head']}:***@", str(url))


def dumps(value: Any) -> str:
    """Canonical JSON text for storage (UTF-8 kept as is, no NaN)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
