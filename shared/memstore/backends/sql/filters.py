"""Translate the core filter language (``memstore.filters``) into a SQL ``WHERE`` clause.

Every value is a bound parameter and every JSON key travels as a bound path argument, never as query text.
The dialects differ only in how they read a typed value out of a JSON column, so each gets a small
:class:`JsonAccess`; the tree walk is shared. Each leaf is wrapped in ``COALESCE(..., false)`` so that a
missing field gives a definite false and ``NOT`` stays plain negation, as in :func:`memstore.filters.matches`.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol, TypeAlias

from sqlalchemy import (
    JSON,
    Float,
    Integer,
    Numeric,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    not_,
    or_,
    true,
)
from sqlalchemy.sql.elements import ColumnElement

from memstore._validate import dumps
from memstore.backends.sql.database import chunks
from memstore.filters import And, Eq, Field, Filter, In, Not, Or, Range, Scalar

__all__ = ["compile_filter", "json_field_equals", "json_from_bytes"]

Comparison: TypeAlias = Callable[[Any, Any], Any]
_OPERATORS: dict[str, Comparison] = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


class JsonAccess(Protocol):
    def kind(self, column: ColumnElement[Any], field: Field) -> ColumnElement[Any]:
        """The JSON type of the field: one of ``string number boolean`` (others: anything else or NULL)."""

    def text(self, column: ColumnElement[Any], field: Field) -> ColumnElement[Any]:
        """The field as SQL text (meaningful for strings)."""

    def string_equals(self, column: ColumnElement[Any], field: Field, value: str) -> ColumnElement[Any]:
        """The field is a JSON string equal to ``value`` (the most common filter: kept cheap)."""

    def compare(
        self, column: ColumnElement[Any], field: Field, op: Comparison, value: int | float
    ) -> ColumnElement[Any]:
        """``field op value`` compared exactly, as Python compares an int and a float; NULL unless the field
        is a JSON number."""

    def number_in(
        self, column: ColumnElement[Any], field: Field, values: list[int | float]
    ) -> ColumnElement[Any]:
        """The field is a JSON number equal to one of ``values`` (as :meth:`compare` with ``==`` would say),
        as one ``IN`` list: an ``OR`` of equalities nests one level per value, and SQLite refuses a tree
        deeper than 1000."""

    def boolean_text(self, value: bool) -> str:
        """How :meth:`text` renders a JSON boolean."""

    def from_bytes(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """A binary column holding UTF-8 JSON text, as a value the other methods can read."""


class _SqliteJson:
    _KIND = {"text": "string", "integer": "number", "real": "number", "true": "boolean", "false": "boolean"}

    @staticmethod
    def _path(field: Field) -> str:
        # SQLite matches a quoted path label against the key as written in the stored JSON text, so the
        # label is the key JSON-escaped exactly as Database's serializer writes it (``_validate.dumps``).
        # A double quote cannot be quoted in a label at all: the filter language rejects it in field names.
        # The path travels as a bound parameter.
        return "$" + "".join(f'."{dumps(key)[1:-1]}"' for key in field)

    def kind(self, column: ColumnElement[Any], field: Field) -> ColumnElement[Any]:
        raw = func.json_type(column, self._path(field))
        return case(*((raw == sqlite_kind, kind) for sqlite_kind, kind in self._KIND.items()), else_=None)

    def text(self, column: ColumnElement[Any], field: Field) -> ColumnElement[Any]:
        raw_kind = func.json_type(column, self._path(field))
        value = func.json_extract(column, self._path(field))
        return case((raw_kind.in_(["true", "false"]), raw_kind), else_=value)

    def string_equals(self, column: ColumnElement[Any], field: Field, value: str) -> ColumnElement[Any]:
        # Two JSON calls per row instead of the generic kind() CASE (up to five): filters on a message's
        # conversation or role run over every row of a collection.
        path = self._path(field)
        return and_(func.json_type(column, path) == "text", func.json_extract(column, path) == value)

    def compare(
        self, column: ColumnElement[Any], field: Field, op: Comparison, value: int | float
    ) -> ColumnElement[Any]:
        # json_extract gives an INTEGER for an integer and a REAL otherwise, and SQLite compares an INTEGER
        # with a REAL exactly: bound as its own type, the value compares exactly too.
        raw_kind = func.json_type(column, self._path(field))
        stored = func.json_extract(column, self._path(field))
        bound = literal(value, Integer if isinstance(value, int) else Float)
        return case((raw_kind.in_(["integer", "real"]), op(stored, bound)), else_=None)

    def number_in(
        self, column: ColumnElement[Any], field: Field, values: list[int | float]
    ) -> ColumnElement[Any]:
        raw_kind = func.json_type(column, self._path(field))
        stored = func.json_extract(column, self._path(field))
        bounds = [literal(value, Integer if isinstance(value, int) else Float) for value in values]
        return and_(raw_kind.in_(["integer", "real"]), stored.in_(bounds))

    def boolean_text(self, value: bool) -> str:
        return "true" if value else "false"

    def from_bytes(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        # The JSON functions read text; a BLOB would be taken for SQLite's binary JSONB (3.45+).
        return cast(column, Text)


_INDEX_LIKE = re.compile(r"\s*[+-]?\d+\s*")
"""Path keys PostgreSQL may read as an array index (it parses them leniently, so signs and spaces too)."""


class _PostgresJson:
    _KIND = {"string": "string", "number": "number", "boolean": "boolean"}

    @staticmethod
    def _objects_on_the_way(column: ColumnElement[Any], field: Field) -> ColumnElement[bool] | None:
        """``json_extract_path`` reads a key such as ``"0"`` as an array index when the value there is an
        array; the filter language only reaches into objects, so each such step requires an object."""
        steps = [
            func.json_typeof(func.json_extract_path(column, *field[:depth])) == "object"
            for depth in range(1, len(field))
            if _INDEX_LIKE.fullmatch(field[depth])
        ]
        return and_(*steps) if steps else None

    def kind(self, column: ColumnElement[Any], field: Field) -> ColumnElement[Any]:
        kind = func.json_typeof(func.json_extract_path(column, *field))
        guard = self._objects_on_the_way(column, field)
        return kind if guard is None else case((guard, kind), else_=None)

    def text(self, column: ColumnElement[Any], field: Field) -> ColumnElement[Any]:
        text = func.json_extract_path_text(column, *field)
        guard = self._objects_on_the_way(column, field)
        return text if guard is None else case((guard, text), else_=None)

    def string_equals(self, column: ColumnElement[Any], field: Field, value: str) -> ColumnElement[Any]:
        return and_(self.kind(column, field) == "string", self.text(column, field) == value)

    def compare(
        self, column: ColumnElement[Any], field: Field, op: Comparison, value: int | float
    ) -> ColumnElement[Any]:
        # ``json`` keeps a number's text as written. An integer's text compares exactly as ``numeric``; other
        # numbers as float8, what they were written from. The value's ``numeric`` form is exact for an int,
        # and for a float it is its shortest repr: no integer lies between a float and its repr, so an
        # integer compares with it as with the float itself.
        text = self.text(column, field)
        is_number = self.kind(column, field) == "number"
        exact = Decimal(value) if isinstance(value, int) or value.is_integer() else Decimal(repr(value))
        integer = and_(is_number, text.regexp_match("^-?[0-9]+$"))
        return case(
            (integer, op(cast(text, Numeric), literal(exact, Numeric))),
            (is_number, _float_compare(cast(text, Float), op, value)),
            else_=None,
        )

    def number_in(
        self, column: ColumnElement[Any], field: Field, values: list[int | float]
    ) -> ColumnElement[Any]:
        text = self.text(column, field)
        is_number = self.kind(column, field) == "number"
        exact = [
            Decimal(value) if isinstance(value, int) or value.is_integer() else Decimal(repr(value))
            for value in values
        ]
        as_floats = [float(value) for value in values if float(value) == value]  # no float equals the rest
        integer = and_(is_number, text.regexp_match("^-?[0-9]+$"))
        return case(
            (integer, cast(text, Numeric).in_([literal(value, Numeric) for value in exact])),
            (is_number, cast(text, Float).in_([literal(value, Float) for value in as_floats])),
            else_=None,
        )

    def boolean_text(self, value: bool) -> str:
        return "true" if value else "false"

    def from_bytes(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        # ``json`` (not ``jsonb``) keeps numbers as written, so they compare as D6 says.
        return cast(func.convert_from(column, "UTF8"), JSON)


def _float_compare(stored: ColumnElement[Any], op: Comparison, value: int | float) -> ColumnElement[Any]:
    """``stored op value`` for a float8 ``stored``, exact even for an int that no float holds (beyond 2**53):
    no float equals it, and a float is above it exactly when it is at or above the next float up."""
    as_float = float(value)
    if as_float == value:
        return op(stored, literal(as_float, Float))  # type: ignore[no-any-return]
    below, above = sorted((as_float, math.nextafter(as_float, math.inf if as_float < value else -math.inf)))
    if op is operator.eq:
        return false()
    if op in (operator.gt, operator.ge):
        return stored >= literal(above, Float)
    return stored <= literal(below, Float)


_ACCESS: dict[str, JsonAccess] = {"sqlite": _SqliteJson(), "postgresql": _PostgresJson()}


def json_from_bytes(column: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """A binary ``column`` of UTF-8 JSON text (a KV value) as a JSON value :func:`compile_filter` can read;
    parsed per row and per JSON call, so no JSON column has to be kept beside it."""
    return _ACCESS[dialect].from_bytes(column)


def json_field_equals(
    column: ColumnElement[Any], field: Field, value: Scalar, dialect: str
) -> ColumnElement[bool]:
    """``column[field] == value`` with the filter language's type-strict equality."""
    access = _ACCESS[dialect]
    if isinstance(value, bool):
        clause = and_(
            access.kind(column, field) == "boolean", access.text(column, field) == access.boolean_text(value)
        )
    elif isinstance(value, int | float):
        clause = access.compare(column, field, operator.eq, value)
    else:
        clause = access.string_equals(column, field, value)
    return func.coalesce(clause, false())


def _compile_in(node: In, column: ColumnElement[Any], dialect: str) -> ColumnElement[bool]:
    """``In`` as a handful of clauses whatever its length: strings and numbers each in ``IN`` lists of
    :data:`~memstore.backends.sql.database.IN_LIST_CHUNK`, booleans (two at most) one by one."""
    access = _ACCESS[dialect]
    strings = [value for value in node.values if isinstance(value, str)]
    numbers = [v for v in node.values if isinstance(v, int | float) and not isinstance(v, bool)]
    clauses = [
        json_field_equals(column, node.field, value, dialect)
        for value in dict.fromkeys(v for v in node.values if isinstance(v, bool))
    ]
    for chunk in chunks(strings):
        text = access.text(column, node.field)
        found = and_(access.kind(column, node.field) == "string", text.in_(list(chunk)))
        clauses.append(func.coalesce(found, false()))
    for part in chunks(numbers):
        clauses.append(func.coalesce(access.number_in(column, node.field, list(part)), false()))
    return or_(false(), *clauses)


def compile_filter(node: Filter, column: ColumnElement[Any], dialect: str) -> ColumnElement[bool]:
    """The ``WHERE`` clause selecting rows whose JSON ``column`` matches ``node`` on ``dialect``."""
    if isinstance(node, Eq):
        return json_field_equals(column, node.field, node.value, dialect)
    if isinstance(node, In):
        return _compile_in(node, column, dialect)
    if isinstance(node, Range):
        access = _ACCESS[dialect]
        clause = and_(
            *(access.compare(column, node.field, _OPERATORS[op], value) for op, value in node.bounds())
        )
        return func.coalesce(clause, false())
    if isinstance(node, And):
        return and_(true(), *(compile_filter(child, column, dialect) for child in node.filters))
    if isinstance(node, Or):
        return or_(false(), *(compile_filter(child, column, dialect) for child in node.filters))
    assert isinstance(node, Not)
    return not_(compile_filter(node.filter, column, dialect))
