"""Translate the core filter language (``memstore.filters``) into a SQL ``WHERE`` clause.

Every value is a bound parameter and every JSON key travels as a bound path argument, never as query text.
The dialects differ only in how they read a typed value out of a JSON column, so each gets a small
:class:`JsonAccess`; the tree walk is shared. Each leaf is wrapped in ``COALESCE(..., false)`` so that a
missing field gives a definite false and ``NOT`` stays plain negation, as in :func:`memstore.filters.matches`.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Float, and_, case, cast, false, func, literal, not_, or_, true
from sqlalchemy.sql.elements import ColumnElement

from memstore._validate import dumps
from memstore.filters import And, Eq, Field, Filter, In, Not, Or, Range, Scalar

__all__ = ["compile_filter", "json_field_equals"]


class JsonAccess(Protocol):
    def kind(self, column: ColumnElement[Any], field: Field) -> ColumnElement[Any]:
        """The JSON type of the field: one of ``string number boolean`` (others: anything else or NULL)."""

    def text(self, column: ColumnElement[Any], field: Field) -> ColumnElement[Any]:
        """The field as SQL text (meaningful for strings)."""

    def string_equals(self, column: ColumnElement[Any], field: Field, value: str) -> ColumnElement[Any]:
        """The field is a JSON string equal to ``value`` (the most common filter: kept cheap)."""

    def number(self, column: ColumnElement[Any], field: Field) -> ColumnElement[Any]:
        """The field as a SQL number, NULL unless it is a JSON number."""

    def boolean_text(self, value: bool) -> str:
        """How :meth:`text` renders a JSON boolean."""


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

    def number(self, column: ColumnElement[Any], field: Field) -> ColumnElement[Any]:
        raw_kind = func.json_type(column, self._path(field))
        value = func.json_extract(column, self._path(field))
        return case((raw_kind.in_(["integer", "real"]), value), else_=None)

    def boolean_text(self, value: bool) -> str:
        return "true" if value else "false"


class _PostgresJson:
    _KIND = {"string": "string", "number": "number", "boolean": "boolean"}

    def kind(self, column: ColumnElement[Any], field: Field) -> ColumnElement[Any]:
        return func.json_typeof(func.json_extract_path(column, *field))

    def text(self, column: ColumnElement[Any], field: Field) -> ColumnElement[Any]:
        return func.json_extract_path_text(column, *field)

    def string_equals(self, column: ColumnElement[Any], field: Field, value: str) -> ColumnElement[Any]:
        return and_(self.kind(column, field) == "string", self.text(column, field) == value)

    def number(self, column: ColumnElement[Any], field: Field) -> ColumnElement[Any]:
        return case((self.kind(column, field) == "number", cast(self.text(column, field), Float)), else_=None)

    def boolean_text(self, value: bool) -> str:
        return "true" if value else "false"


_ACCESS: dict[str, JsonAccess] = {"sqlite": _SqliteJson(), "postgresql": _PostgresJson()}


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
        clause = access.number(column, field) == literal(value, Float)
    else:
        clause = access.string_equals(column, field, value)
    return func.coalesce(clause, false())


def compile_filter(node: Filter, column: ColumnElement[Any], dialect: str) -> ColumnElement[bool]:
    """The ``WHERE`` clause selecting rows whose JSON ``column`` matches ``node`` on ``dialect``."""
    if isinstance(node, Eq):
        return json_field_equals(column, node.field, node.value, dialect)
    if isinstance(node, In):
        if not node.values:
            return false()
        return or_(*(json_field_equals(column, node.field, value, dialect) for value in node.values))
    if isinstance(node, Range):
        number = _ACCESS[dialect].number(column, node.field)
        comparisons = {
            ">": lambda v: number > v,
            ">=": lambda v: number >= v,
            "<": lambda v: number < v,
            "<=": lambda v: number <= v,
        }
        clause = and_(*(comparisons[op](literal(value, Float)) for op, value in node.bounds()))
        return func.coalesce(clause, false())
    if isinstance(node, And):
        return and_(true(), *(compile_filter(child, column, dialect) for child in node.filters))
    if isinstance(node, Or):
        return or_(false(), *(compile_filter(child, column, dialect) for child in node.filters))
    assert isinstance(node, Not)
    return not_(compile_filter(node.filter, column, dialect))
