"""LangGraph search filters: translated to the core filter language where it says the same, else in Python.

LangGraph's filter is a dict of item-value fields to conditions, all of which must hold. Each field's
condition is translated on its own by :func:`to_core_filter` into a :mod:`memstore.filters` tree over the KV
entry's document (fields under ``("value",)``), which the core evaluates in SQL (``KVStore.scan_documents``)
or, in memory, with the reference ``matches``. A condition the core cannot express *exactly* stays in
:func:`passes`, the Python matcher below, applied to the entries the core returned (D18):

- ``None`` (LangGraph: the field is null *or missing*), list values (element-wise), ``$eq``/``$ne`` with a
  list, a dict or None: the core has no null and no list/object equality;
- ``$gt $gte $lt $lte`` with a string bound (core ranges compare numbers only) or an infinite bound (the core
  ``Range`` refuses it: D13);
- ``$ne`` below a nested dict (``{"a": {"b": {"$ne": 1}}}`` needs ``a`` to be an object, which a core
  ``Not`` cannot say) and an empty nested dict;
- values the core refuses: integers beyond 64 bits, text with NUL, field names with ``"`` or empty;
- a nested key that reads as an integer (``{"a": {"0": 1}}``): PostgreSQL's ``json_extract_path`` would
  take it as an index into an array, where LangGraph's matcher needs an object.

Everything else (scalar equality, ``$eq``, ``$ne``, finite numeric ranges, nested dicts of those) runs
where the data is, with the same semantics: type-strict equality, comparisons false on a missing field or a
type mismatch.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from langgraph.store.base import Item, MatchCondition

from memstore import ValidationError
from memstore.filters import And, Eq, Filter, Not, Range

__all__ = [
    "COMPARISONS",
    "OPERATORS",
    "is_number",
    "matches_value",
    "namespace_matches",
    "passes",
    "to_core_filter",
]

COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}
OPERATORS = {"$eq", "$ne", *COMPARISONS}
_BOUNDS = {"$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte"}


def to_core_filter(
    conditions: Mapping[str, Any] | None, root: tuple[str, ...]
) -> tuple[Filter | None, dict[str, Any]]:
    """``(core filter, residual)``: the fields whose conditions the core says exactly, as one ``And`` over
    the document (each field under ``root``), and the other fields' conditions, for :func:`passes`."""
    clauses: list[Filter] = []
    residual: dict[str, Any] = {}
    for field, condition in (conditions or {}).items():
        try:
            node = _condition((*root, field), condition, nested=False)
        except ValidationError:  # a value or a field name the core refuses: Python decides
            node = None
        if node is None:
            residual[field] = condition
        else:
            clauses.append(node)
    if not clauses:
        return None, residual
    return (clauses[0] if len(clauses) == 1 else And(*clauses)), residual


def _scalar(value: Any) -> bool:
    return isinstance(value, str | bool) or (is_number(value) and value == value)


def _condition(path: tuple[str, ...], condition: Any, *, nested: bool) -> Filter | None:
    """The core filter saying exactly what ``matches_value(document[path], condition)`` says, or None.

    ``nested`` is True below a nested dict, where the Python matcher also needs every parent to be an
    object: only conditions that fail on a missing field (equality, ranges) imply that, so ``$ne`` is left
    to Python there."""
    if isinstance(condition, Mapping):
        if any(isinstance(key, str) and key.startswith("$") for key in condition):
            return _operators(path, condition, nested=nested)
        if not condition:
            return None  # {} matches any object: the core has no "is an object"
        if any(_index_like(key) for key in condition):
            return None  # PostgreSQL's json_extract_path would index into an array with it
        parts = [_condition((*path, key), sub, nested=True) for key, sub in condition.items()]
        if any(part is None for part in parts):
            return None
        found = [part for part in parts if part is not None]
        return And(*found) if len(found) > 1 else found[0]
    if _scalar(condition):
        return Eq(path, condition)
    return None  # None (null or missing), lists: element-wise and null equality stay in Python


def _index_like(label: str) -> bool:
    """A label PostgreSQL's ``json_extract_path`` would also read as an array index (``"0"``, ``" -1"``)."""
    return label.strip().lstrip("+-").isdigit()


def _operators(path: tuple[str, ...], condition: Mapping[str, Any], *, nested: bool) -> Filter | None:
    clauses: list[Filter] = []
    bounds: dict[str, Any] = {}
    for name, operand in condition.items():
        if name == "$eq" and _scalar(operand):
            clauses.append(Eq(path, operand))
        elif name == "$ne" and _scalar(operand) and not nested:
            clauses.append(Not(Eq(path, operand)))
        elif name in _BOUNDS and is_number(operand) and abs(operand) != float("inf"):
            bounds[_BOUNDS[name]] = operand
        else:
            return None
    if bounds:
        clauses.append(Range(path, **bounds))
    return clauses[0] if len(clauses) == 1 else And(*clauses)


def passes(item: Item, conditions: Mapping[str, Any] | None) -> bool:
    """Whether the item's value satisfies every condition (the Python matcher, LangGraph's semantics)."""
    return not conditions or all(matches_value(item.value.get(k), c) for k, c in conditions.items())


def matches_value(value: Any, condition: Any) -> bool:
    """Whether a stored JSON value satisfies a filter condition (validated by :func:`check_condition`)."""
    if isinstance(condition, Mapping):
        if any(key.startswith("$") for key in condition):
            return all(_apply(value, name, operand) for name, operand in condition.items())
        return isinstance(value, dict) and all(matches_value(value.get(k), c) for k, c in condition.items())
    if isinstance(condition, list | tuple):
        return (
            isinstance(value, list)
            and len(value) == len(condition)
            and all(matches_value(v, c) for v, c in zip(value, condition, strict=True))
        )
    return _json_equal(value, condition)


def _apply(value: Any, name: str, operand: Any) -> bool:
    if name == "$eq":
        return _json_equal(value, operand)
    if name == "$ne":
        return not _json_equal(value, operand)
    comparable = (is_number(value) and is_number(operand)) or (
        isinstance(value, str) and isinstance(operand, str)
    )
    return comparable and COMPARISONS[name](value, operand)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json_equal(stored: Any, wanted: Any) -> bool:
    if isinstance(stored, bool) or isinstance(wanted, bool):
        return isinstance(stored, bool) and isinstance(wanted, bool) and stored == wanted
    if isinstance(stored, dict):
        return (
            isinstance(wanted, Mapping)
            and stored.keys() == wanted.keys()
            and all(_json_equal(stored[key], wanted[key]) for key in stored)
        )
    if isinstance(stored, list):
        return (
            isinstance(wanted, list | tuple)
            and len(stored) == len(wanted)
            and all(_json_equal(s, w) for s, w in zip(stored, wanted, strict=True))
        )
    return not isinstance(wanted, Mapping | list | tuple) and bool(stored == wanted)


def namespace_matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    if condition.match_type == "prefix":
        window = namespace[: len(path)]
    else:
        window = namespace[len(namespace) - len(path) :]
    return all(want in ("*", label) for want, label in zip(path, window, strict=True))
