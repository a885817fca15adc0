"""The one small filter language every backend understands (pure data, no I/O).

A filter is a tree of :class:`Eq`, :class:`In`, :class:`Range`, :class:`And`, :class:`Or` and :class:`Not`
over fields of a JSON object (message metadata, record data). A field is a key, or a tuple of keys for a
nested value. Each backend translates the tree natively (SQL ``WHERE`` with bound parameters, Chroma
``where``, a Python predicate in memory); what a backend cannot express raises
:class:`~memstore.errors.ValidationError` naming the backend.

Semantics every backend honours:

- comparisons are type-strict: ``True`` is not ``1`` and ``"1"`` is not ``1`` (ints and floats are numbers);
- a comparison on a missing field is false, and ``Not`` is plain negation (so ``Not(Eq("a", 1))`` matches a
  record without ``a``);
- :class:`Range` compares numbers only;
- numbers compare exactly, as Python compares an int with a float (``2**53 + 1`` is not ``2.0**53``), so
  large integer ids filter correctly; integers in a filter must fit in 64 bits.

:func:`parse_filter` also accepts the familiar dict form: ``{"lang": "en", "year": {"$gte": 2020},
"$or": [...]}`` with ``$eq $ne $in $nin $gt $gte $lt $lte $and $or $not``; a dict without operators
reaches into a nested object (``{"user": {"lang": "en"}}`` is ``Eq(("user", "lang"), "en")``).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from memstore._validate import INT64_MAX, INT64_MIN, MAX_JSON_DEPTH, check_identifier, check_text
from memstore.errors import ValidationError

__all__ = [
    "And",
    "Eq",
    "Field",
    "Filter",
    "In",
    "Not",
    "Or",
    "Range",
    "Scalar",
    "matches",
    "parse_filter",
]

Scalar: TypeAlias = str | int | float | bool
Field: TypeAlias = tuple[str, ...]


def _field(field: str | Iterable[str]) -> Field:
    keys = (field,) if isinstance(field, str) else tuple(field)
    if not keys:
        raise ValidationError("a filter field needs at least one key")
    for key in keys:
        check_identifier(key, "filter field")
        if '"' in key:
            raise ValidationError('filter field names must not contain a double quote (")')
    return keys


def _scalar(value: object) -> Scalar:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValidationError(f"filter integer {value} does not fit in 64 bits (databases compare int64)")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"filter value {value!r} is not a finite number")
        return value
    if isinstance(value, str):
        return check_text(value, "filter value")
    raise ValidationError(f"filter values are str, int, float or bool, not {type(value).__name__}")


def _number(value: object) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"range bounds are numbers, not {type(value).__name__}")
    return _scalar(value)  # type: ignore[return-value]


@dataclass(frozen=True, init=False)
class Eq:
    """``field == value``."""

    field: Field
    value: Scalar

    def __init__(self, field: str | Iterable[str], value: Scalar) -> None:
        object.__setattr__(self, "field", _field(field))
        object.__setattr__(self, "value", _scalar(value))


@dataclass(frozen=True, init=False)
class In:
    """``field`` equals one of ``values`` (an empty list matches nothing)."""

    field: Field
    values: tuple[Scalar, ...]

    def __init__(self, field: str | Iterable[str], values: Iterable[Scalar]) -> None:
        if isinstance(values, str | bytes):
            raise ValidationError("In takes a list of values, not a single string")
        object.__setattr__(self, "field", _field(field))
        object.__setattr__(self, "values", tuple(_scalar(v) for v in values))


@dataclass(frozen=True, init=False)
class Range:
    """``gt < field < lt`` (any of ``gt``/``gte``/``lt``/``lte``; at least one). Numbers only."""

    field: Field
    gt: float | int | None = None
    gte: float | int | None = None
    lt: float | int | None = None
    lte: float | int | None = None

    def __init__(
        self,
        field: str | Iterable[str],
        *,
        gt: float | None = None,
        gte: float | None = None,
        lt: float | None = None,
        lte: float | None = None,
    ) -> None:
        bounds = {"gt": gt, "gte": gte, "lt": lt, "lte": lte}
        if all(bound is None for bound in bounds.values()):
            raise ValidationError("Range needs at least one of gt, gte, lt, lte")
        object.__setattr__(self, "field", _field(field))
        for name, bound in bounds.items():
            object.__setattr__(self, name, None if bound is None else _number(bound))

    def bounds(self) -> list[tuple[str, float | int]]:
        """The bounds that are set, as ``(operator, value)`` with operators ``> >= < <=``."""
        pairs = [(">", self.gt), (">=", self.gte), ("<", self.lt), ("<=", self.lte)]
        return [(op, value) for op, value in pairs if value is not None]


@dataclass(frozen=True, init=False)
class And:
    """All of ``filters`` (an empty And matches everything)."""

    filters: tuple[Filter, ...]

    def __init__(self, *filters: Filter) -> None:
        object.__setattr__(self, "filters", tuple(_check_node(f) for f in filters))


@dataclass(frozen=True, init=False)
class Or:
    """Any of ``filters`` (an empty Or matches nothing)."""

    filters: tuple[Filter, ...]

    def __init__(self, *filters: Filter) -> None:
        object.__setattr__(self, "filters", tuple(_check_node(f) for f in filters))


@dataclass(frozen=True)
class Not:
    """The negation of ``filter``."""

    filter: Filter

    def __post_init__(self) -> None:
        _check_node(self.filter)


Filter: TypeAlias = Eq | In | Range | And | Or | Not


def _check_node(node: object) -> Filter:
    if not isinstance(node, Eq | In | Range | And | Or | Not):
        raise ValidationError(f"not a filter: {node!r}")
    return node


_MISSING = object()
_COMPARE = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


def _lookup(record: Mapping[str, Any], field: Field) -> Any:
    value: Any = record
    for key in field:
        if not isinstance(value, Mapping) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _same(stored: Any, wanted: Scalar) -> bool:
    if isinstance(wanted, bool) or isinstance(stored, bool):
        return isinstance(stored, bool) and isinstance(wanted, bool) and stored is wanted
    if isinstance(wanted, int | float):
        return isinstance(stored, int | float) and stored == wanted
    return isinstance(stored, str) and stored == wanted


def matches(node: Filter, record: Mapping[str, Any]) -> bool:
    """Evaluate ``node`` against a JSON object in Python: the reference semantics of the language."""
    if isinstance(node, Eq):
        return _same(_lookup(record, node.field), node.value)
    if isinstance(node, In):
        stored = _lookup(record, node.field)
        return any(_same(stored, value) for value in node.values)
    if isinstance(node, Range):
        stored = _lookup(record, node.field)
        if isinstance(stored, bool) or not isinstance(stored, int | float):
            return False
        return all(_COMPARE[op](stored, value) for op, value in node.bounds())  # Python: int/float exactly
    if isinstance(node, And):
        return all(matches(child, record) for child in node.filters)
    if isinstance(node, Or):
        return any(matches(child, record) for child in node.filters)
    return not matches(node.filter, record)


_RANGE_OPS = {"$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte"}


def parse_filter(spec: Filter | Mapping[str, Any] | None) -> Filter | None:
    """Turn the dict form (or a filter, or None) into a filter tree; bad specs raise ValidationError, and so
    do trees nested deeper than ``MAX_JSON_DEPTH`` (every backend translates a tree recursively)."""
    return _parse(spec, 0)


def _check_depth(node: Filter, depth: int) -> Filter:
    """``node`` if no branch of it, under ``depth`` levels already, goes deeper than MAX_JSON_DEPTH (walked
    without recursion, so a hostile tree cannot exhaust the stack here)."""
    pending = [(node, depth)]
    while pending:
        current, level = pending.pop()
        if level > MAX_JSON_DEPTH:
            raise ValidationError(f"a filter nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(current, And | Or):
            pending.extend((child, level + 1) for child in current.filters)
        elif isinstance(current, Not):
            pending.append((current.filter, level + 1))
    return node


def _parse(spec: Filter | Mapping[str, Any] | None, depth: int) -> Filter | None:
    if spec is None:
        return None
    if isinstance(spec, Eq | In | Range | And | Or | Not):
        return _check_depth(spec, depth)
    if depth > MAX_JSON_DEPTH:
        raise ValidationError(f"a filter nested deeper than {MAX_JSON_DEPTH} levels")
    if not isinstance(spec, Mapping):
        raise ValidationError(f"a filter is a dict or a filter object, not {type(spec).__name__}")
    clauses: list[Filter] = []
    for key, condition in spec.items():
        if key in {"$and", "$or"}:
            if not isinstance(condition, list | tuple):
                raise ValidationError(f"{key} takes a list of filters")
            children = [f for f in (_parse(c, depth + 1) for c in condition) if f is not None]
            clauses.append(And(*children) if key == "$and" else Or(*children))
        elif key == "$not":
            child = _parse(condition, depth + 1)
            if child is None:
                raise ValidationError("$not takes a filter")
            clauses.append(Not(child))
        elif isinstance(key, str) and key.startswith("$"):
            raise ValidationError(f"unknown filter operator {key!r}")
        else:
            clauses.extend(_parse_condition(key, condition))
    return clauses[0] if len(clauses) == 1 else And(*clauses)


def _parse_condition(field: str | Field, condition: Any) -> list[Filter]:
    if not isinstance(condition, Mapping):
        return [Eq(field, condition)]
    path = (field,) if isinstance(field, str) else field
    if len(path) > MAX_JSON_DEPTH:
        raise ValidationError(f"a filter field nested deeper than {MAX_JSON_DEPTH} levels")
    operators = [key for key in condition if isinstance(key, str) and key.startswith("$")]
    if not operators:
        # {"user": {"lang": "en"}} reaches into nested objects: Eq(("user", "lang"), "en").
        if not condition:
            raise ValidationError(f"empty condition on field {field!r}")
        return [clause for key, sub in condition.items() for clause in _parse_condition((*path, key), sub)]
    if len(operators) != len(condition):
        raise ValidationError(f"field {field!r} mixes operators and nested keys")
    clauses: list[Filter] = []
    bounds: dict[str, Any] = {}
    for op, value in condition.items():
        if op == "$eq":
            clauses.append(Eq(path, value))
        elif op == "$ne":
            clauses.append(Not(Eq(path, value)))
        elif op == "$in":
            clauses.append(In(path, value))
        elif op == "$nin":
            clauses.append(Not(In(path, value)))
        elif op in _RANGE_OPS:
            bounds[_RANGE_OPS[op]] = value
        else:
            raise ValidationError(f"unknown filter operator {op!r} on field {field!r}")
    if bounds:
        clauses.append(Range(path, **bounds))
    return clauses
