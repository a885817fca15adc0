"""Graph-store filters pushed into the core: what is translated, and that pushing changes no result.

Every filter is checked on memory, SQLite and PostgreSQL against the Python matcher (``passes``, the
semantics the graph store had when it filtered everything in Python), over values chosen for the edges:
bools vs ints, int vs float, big ints, null vs missing, arrays where an object is expected, nested dicts.
"""

from __future__ import annotations

from typing import Any

import pytest

from langchain_memstore import MemstoreGraphStore
from langchain_memstore.graph._codec import VALUE_PATH
from langchain_memstore.graph._filter import passes, to_core_filter
from memstore import Memstore
from memstore.filters import And, Eq, Not, Range

VALUES: list[dict[str, Any]] = [
    {"a": 1, "s": "x", "b": True, "n": {"m": 1, "t": "p"}},
    {"a": 1.0, "s": "y", "b": False, "n": {"m": 2}},
    {"a": True, "s": "1", "n": [1, 2], "l": [1, {"k": 1}]},
    {"a": "1", "s": None, "n": {"0": 1}},
    {"a": 2**63 - 1, "s": 'é\\"q', "n": {"m": {"deep": 1}}},
    {"a": 2**63 + 7, "s": "Z", "n": None, "l": [1, {"k": 1, "j": 2}]},
    {"a": -2.5, "n": "str", "x.y": 3},
    {"a": 1.5, "s": "x", "n": {"m": 1, "0": 2}, "": 0},
    {},
]

FILTERS: list[dict[str, Any]] = [
    {"a": 1},
    {"a": True},
    {"a": "1"},
    {"a": {"$eq": 1.0}},
    {"a": {"$ne": 1}},
    {"a": {"$gt": 1}},
    {"a": {"$gte": 1, "$lt": 2}},
    {"a": {"$gt": 2**63 - 2}},
    {"a": {"$gt": float("-inf")}},
    {"a": {"$lt": float("inf"), "$ne": 1}},
    {"a": 2**63 + 7},
    {"s": "x"},
    {"s": {"$gt": "x"}},
    {"s": {"$lte": "1"}},
    {"s": None},
    {"s": {"$ne": None}},
    {"s": {"$ne": "x"}},
    {"s": 'é\\"q'},
    {"b": False},
    {"n": {"m": 1}},
    {"n": {"m": 1, "t": "p"}},
    {"n": {"m": {"$gte": 2}}},
    {"n": {"m": {"$ne": 1}}},
    {"n": {"m": {"deep": 1}}},
    {"n": {"0": 1}},
    {"n": {}},
    {"n": [1, 2]},
    {"n": {"$eq": {"m": 2}}},
    {"l": [1, {"k": 1}]},
    {"x.y": 3},
    {"": 0},
    {"a": 1, "s": {"$gt": "w"}},
    {"a": {"$gte": 1}, "n": {"m": 1}, "b": True},
    {"missing": {"$ne": 1}},
    {"missing": {"$lt": 1}},
]


@pytest.mark.parametrize(
    ("spec", "core", "residual"),
    [
        pytest.param({"a": 1}, Eq(("value", "a"), 1), {}, id="eq"),
        pytest.param({"a": {"$ne": "x"}}, Not(Eq(("value", "a"), "x")), {}, id="ne"),
        pytest.param({"a": {"$gte": 1, "$lt": 2}}, Range(("value", "a"), gte=1, lt=2), {}, id="range"),
        pytest.param({"n": {"m": 1}}, Eq(("value", "n", "m"), 1), {}, id="nested"),
        pytest.param(
            {"a": 1, "b": True},
            And(Eq(("value", "a"), 1), Eq(("value", "b"), True)),
            {},
            id="and",
        ),
        pytest.param({"a": {"$gt": float("-inf")}}, None, {"a": {"$gt": float("-inf")}}, id="inf"),
        pytest.param({"a": {"$gt": "x"}}, None, {"a": {"$gt": "x"}}, id="string-range"),
        pytest.param({"a": None}, None, {"a": None}, id="null"),
        pytest.param({"a": [1]}, None, {"a": [1]}, id="list"),
        pytest.param({"n": {"m": {"$ne": 1}}}, None, {"n": {"m": {"$ne": 1}}}, id="nested-ne"),
        pytest.param({"n": {"0": 1}}, None, {"n": {"0": 1}}, id="index-like"),
        pytest.param({"a": 2**64}, None, {"a": 2**64}, id="beyond-int64"),
        pytest.param({'q"': 1}, None, {'q"': 1}, id="quote-in-field"),
        pytest.param({"a": 1, "s": {"$gt": "w"}}, Eq(("value", "a"), 1), {"s": {"$gt": "w"}}, id="split"),
    ],
)
def test_translation(spec: dict[str, Any], core: object, residual: dict[str, Any]) -> None:
    assert to_core_filter(spec, VALUE_PATH) == (core, residual)


def test_pushed_filters_match_the_python_matcher(mstore: Memstore) -> None:
    store = MemstoreGraphStore(store=mstore, kv_namespace="filters")
    for index, value in enumerate(VALUES):
        store.put(("t", str(index % 3)), f"k{index}", value)
    items = {item.key: item for item in store.search(("t",), limit=100)}
    assert len(items) == len(VALUES)
    for spec in FILTERS:
        expected = {key for key, item in items.items() if passes(item, spec)}
        found = {item.key for item in store.search(("t",), filter=spec, limit=100)}
        assert found == expected, spec
