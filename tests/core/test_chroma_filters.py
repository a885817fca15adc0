"""The Chroma translation of the filter language: exact output, and agreement with the Python reference on a
real Chroma collection (fixed cases and random trees)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
import pytest
from chromadb.api.types import validate_where
from chromadb.config import Settings
from hypothesis import given, settings
from hypothesis import strategies as st

from memstore import DataField, KeyField, RecordDefinition, ValidationError, VectorField
from memstore.backends.chroma import (
    chroma_metadata,
    metadata_key,
    number_order,
    order_number,
    record_data,
    replacing,
    to_chroma_where,
)
from memstore.filters import And, Eq, Filter, In, Not, Or, Range, matches

DEFINITION = RecordDefinition(
    KeyField("id"),
    VectorField("v", dimensions=2),
    [DataField(name, filterable=True) for name in ["lang", "year", "score", "draft", "tags", "note"]]
    + [DataField("hidden")],
)

RECORDS: list[dict[str, Any]] = [
    {"lang": "en", "year": 2020, "score": 0.5, "draft": False, "tags": {"topic": "db"}},
    {"lang": "fr", "year": 2021, "score": 1.5, "draft": True, "tags": {"topic": "ml", "level": 2}},
    {"lang": "en", "year": 2022, "draft": True},
    {"lang": "1", "year": "2020", "score": 1, "tags": {"topic": 5}},
    {"year": 1, "draft": 1, "note": "it's \"quoted\" ' OR 1=1 --"},
    {},
    {"lang": None, "year": True, "tags": "flat"},
    {"lang": ["en"], "year": 2020.0, "tags": {"topic": ["db"], "a.b": "dotted"}},
    {"lang": "EN", "year": -3, "score": -0.0, "tags": {"topic": {"deep": "db"}}},
    {"lang": "", "year": 2**60, "score": 1e300, "draft": False, "tags": {}, "hidden": 2**70 + 1},
    {"year": 0.9999999999999999, "score": 9.999999999999999e-51, "tags": {"level": 2**53 - 1}},
    {"year": 1.0000000000000002, "score": 1e-50, "tags": {"level": 2**53}},
    {"year": -0.0, "score": -1e-300, "tags": {"level": -(2**53)}},
    {"year": 0, "score": 0.1, "draft": 0, "note": "", "tags": {"topic": None}},
]


def test_leaves_translate_to_chroma_operators() -> None:
    one, two = number_order(1), number_order(2)
    assert to_chroma_where(Eq("lang", "en")) == {"lang": {"$eq": "en"}}
    assert to_chroma_where(Eq("draft", True)) == {"draft": {"$eq": True}}
    assert to_chroma_where(Not(Eq("lang", "en"))) == {"lang": {"$ne": "en"}}
    assert to_chroma_where(Eq(("tags", "topic"), 5.0)) == {"tags.topic": {"$eq": number_order(5)}}
    assert to_chroma_where(Not(Eq("year", 0.5))) == {"year": {"$ne": number_order(0.5)}}
    assert to_chroma_where(In("year", [1, "1", True, 1.5, 1.0])) == {
        "$or": [
            {"year": {"$in": [one, number_order(1.5)]}},
            {"year": {"$in": ["1"]}},
            {"year": {"$in": [True]}},
        ]
    }
    assert to_chroma_where(Not(In("year", [1, "1"]))) == {
        "$and": [{"year": {"$nin": [one]}}, {"year": {"$nin": ["1"]}}]
    }
    assert to_chroma_where(Range("year", gt=1, lte=2)) == {
        "$and": [{"year": {"$gt": one}}, {"year": {"$lte": two}}]
    }
    assert to_chroma_where(Range("year", gte=1)) == {"year": {"$gte": one}}


def test_constants_fold_and_single_children_unwrap() -> None:
    assert to_chroma_where(And()) is True
    assert to_chroma_where(Or()) is False
    assert to_chroma_where(In("lang", [])) is False
    assert to_chroma_where(Not(In("lang", []))) is True
    assert to_chroma_where(Not(And())) is False
    assert to_chroma_where(And(Eq("a", "x"))) == {"a": {"$eq": "x"}}
    assert to_chroma_where(And(Eq("a", "x"), Or())) is False
    assert to_chroma_where(Or(Eq("a", "x"), And())) is True
    assert to_chroma_where(Not(Or(Eq("a", "x"), Eq("b", "y")))) == {
        "$and": [{"a": {"$ne": "x"}}, {"b": {"$ne": "y"}}]
    }
    assert to_chroma_where(Not(Not(Eq("a", "x")))) == {"a": {"$eq": "x"}}


def test_metadata_keys_never_collide_with_each_other_or_reserved_keys() -> None:
    paths = [("a.b",), ("a", "b"), ("a\\", "b"), ("a\\.b",), ("memstore:data",), ("#x",), ("$x",), ("a", "")]
    keys = [metadata_key(path) for path in paths]
    assert len(set(keys)) == len(keys)
    assert metadata_key(("a.b", "c:d", "#e", "$f", "g\\h")) == "a\\.b.c\\:d.\\#e.\\$f.g\\\\h"
    assert all(not key.startswith(("#", "$")) and "memstore:" not in key for key in keys)


def test_metadata_holds_the_data_and_the_filterable_scalar_leaves() -> None:
    data = {"lang": "en", "year": 3, "score": 0.5, "tags": {"topic": "db", "n": [1], "x": None}, "hidden": 1}
    stored = '{"lang":"en","year":3,"score":0.5,"tags":{"topic":"db","n":[1],"x":null},"hidden":1}'
    assert chroma_metadata(data, DEFINITION) == {
        "memstore:data": stored,
        "lang": "en",
        "year": number_order(3),
        "score": number_order(0.5),
        "tags.topic": "db",
    }


def test_flat_scalar_data_is_stored_as_its_leaves_only() -> None:
    data = {"lang": "é\u2028", "year": -(2**60), "score": 0.1, "draft": True, "note": ""}
    assert chroma_metadata(data, DEFINITION) == {
        "lang": "é\u2028",
        "year": number_order(-(2**60)),
        "score": number_order(0.1),
        "draft": True,
        "note": "",
    }


@pytest.mark.parametrize(
    "data",
    [
        {"year": 2.0},  # an integral float would read back as an int
        {"score": -0.0},
        {"lang": None},
        {"lang": ["en"]},
        {"tags": {"topic": "db"}},
        {"lang": "en", "hidden": "not filterable"},
        {},  # Chroma refuses empty metadata
    ],
    ids=repr,
)
def test_data_the_leaves_cannot_rebuild_keeps_its_json_copy(data: dict[str, Any]) -> None:
    assert chroma_metadata(data, DEFINITION)["memstore:data"] == json.dumps(data, separators=(",", ":"))


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"))
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(st.sampled_from(DEFINITION.data_names), JSON_VALUES, max_size=7))
def test_record_data_reads_back_exactly_what_chroma_metadata_stored(data: dict[str, Any]) -> None:
    back = record_data(chroma_metadata(data, DEFINITION), DEFINITION)
    assert json.dumps(back, sort_keys=True) == json.dumps(data, sort_keys=True)  # types too: 1 is not 1.0


@settings(max_examples=300, deadline=None)
@given(value=st.floats(allow_nan=False, allow_infinity=False))
def test_order_number_inverts_number_order(value: float) -> None:
    back = order_number(number_order(value))  # type: ignore[arg-type]
    assert back == value
    assert str(back) == str(value if value else 0.0)  # every bit but the sign of zero


def test_replacing_clears_every_old_key_chroma_would_otherwise_keep() -> None:
    old = {"memstore:data": "{}", "lang": "en", "tags.topic": "db"}
    assert replacing({"lang": "fr"}, old) == {"memstore:data": None, "lang": "fr", "tags.topic": None}
    assert replacing({"lang": "fr"}, None) == {"lang": "fr"}


def test_number_images_keep_equality_and_order() -> None:
    assert number_order(2020) == number_order(2020.0)
    assert number_order(0.0) == number_order(-0.0) == 0
    assert number_order(0.9999999999999999) != number_order(1.0)
    values = [-1e300, -1.0, -1e-300, 0.0, 1e-300, 0.5, 0.9999999999999999, 1.0, 2.0**60, 1e300]
    orders = [number_order(value) for value in values]
    assert orders == sorted(orders)  # type: ignore[type-var]
    assert len(set(orders)) == len(orders)
    assert number_order(10**400) is None


@settings(max_examples=300, deadline=None)
@given(a=st.floats(allow_nan=False, allow_infinity=False), b=st.floats(allow_nan=False, allow_infinity=False))
def test_number_order_is_the_float_order(a: float, b: float) -> None:
    order_a, order_b = number_order(a), number_order(b)
    assert order_a is not None
    assert order_b is not None
    assert (order_a < order_b) == (a < b)
    assert (order_a == order_b) == (a == b)


@pytest.mark.parametrize(
    "make",
    [
        lambda: to_chroma_where(Not(Range("year", gte=1))),
        lambda: to_chroma_where(Not(And(Eq("lang", "en"), Range("year", lt=3)))),
        lambda: to_chroma_where(Or(Eq("lang", "en"), Not(Or(Range("year", gt=1))))),
        lambda: to_chroma_where(Eq("year", 2**53 + 1)),
        lambda: to_chroma_where(In("year", [1, 2**60 + 1])),
        lambda: chroma_metadata({"year": 2**53 + 1}, DEFINITION),
        lambda: chroma_metadata({"tags": {"deep": -(2**60) - 1}}, DEFINITION),
        lambda: chroma_metadata({"year": 10**400}, DEFINITION),
    ],
)
def test_what_chroma_cannot_express_is_rejected_naming_it(make: Any) -> None:
    with pytest.raises(ValidationError, match="chroma"):
        make()


def test_exact_large_numbers_and_unfiltered_fields_are_fine() -> None:
    assert chroma_metadata({"year": 2**60}, DEFINITION)["year"] == number_order(2.0**60)
    assert chroma_metadata({"hidden": 2**70 + 1}, DEFINITION) == {
        "memstore:data": '{"hidden":1180591620717411303425}'
    }
    assert to_chroma_where(Eq("year", 2**60)) == {"year": {"$eq": number_order(2**60)}}


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    path: Path = tmp_path_factory.mktemp("chroma-filters")
    client = chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))
    collection = client.create_collection("probe", embedding_function=None)
    collection.add(
        ids=[str(i) for i in range(len(RECORDS))],
        embeddings=np.ones((len(RECORDS), 2), dtype=np.float32),
        metadatas=[chroma_metadata(record, DEFINITION) for record in RECORDS],
    )
    yield collection
    client.close()


def _chroma_ids(collection: Any, node: Filter) -> list[int]:
    where = to_chroma_where(node)
    if where is False:
        return []
    if where is True:
        return list(range(len(RECORDS)))
    validate_where(where)
    return sorted(int(key) for key in collection.get(where=where, include=[])["ids"])


def _reference_ids(node: Filter) -> list[int]:
    return [i for i, record in enumerate(RECORDS) if matches(node, record)]


FILTERS: list[Filter] = [
    Eq("lang", "en"),
    Eq("lang", ""),
    Eq("year", 2020),
    Eq("year", 2020.0),
    Eq("year", 2**60),
    Eq("year", 2.0**60),
    Eq("year", 1),
    Eq("year", 0.9999999999999999),
    Eq("year", 0),
    Eq("year", -0.0),
    Eq("year", "2020"),
    Eq("year", True),
    Eq("year", 0.5),
    Eq("score", 1e-50),
    Eq("score", 1e300),
    Eq(("tags", "level"), 2**53),
    Eq("draft", False),
    Eq("draft", 0),
    Eq("score", 0),
    Eq(("tags", "topic"), "db"),
    Eq(("tags", "a.b"), "dotted"),
    Eq(("tags", "topic", "deep"), "db"),
    Eq("note", ""),
    In("year", [2021, "2020", True, 1.0, 0]),
    In("draft", [False, 1]),
    Range("year", gt=0),
    Range("year", gte=0, lt=2021),
    Range("year", gt=-0.5, lt=0.5),
    Range("year", gt=0.9999999999999999, lt=1.0000000000000002),
    Range("score", gt=0.1, lte=1.5),
    Range("score", gt=9.999999999999999e-51),
    Range(("tags", "level"), gte=2**53),
    Not(Eq("lang", "en")),
    Not(Eq("draft", False)),
    Not(In("year", [2020, "2020", True])),
    Or(Eq("lang", "fr"), Range("score", lt=1)),
    Not(Or(Eq(("tags", "topic"), "db"), Eq("draft", True))),
    And(Not(Eq("lang", "en")), Range("year", gte=2021), Or(Eq("draft", False), Not(Eq("draft", True)))),
]


@pytest.mark.parametrize("node", FILTERS, ids=repr)
def test_chroma_agrees_with_the_reference(probe: Any, node: Filter) -> None:
    assert _chroma_ids(probe, node) == _reference_ids(node)


_fields = st.sampled_from(["lang", "year", "score", "draft", ("tags", "topic"), ("tags", "level"), "note"])
_values = st.one_of(
    st.sampled_from(["en", "fr", "1", "2020", "db", "", "EN"]),
    st.integers(-5, 2023),
    st.booleans(),
    st.floats(-1, 2),
    st.sampled_from([0.5, 1.5, 2020.0, 2**53, 2**60, -0.5, 0.1, 0.9999999999999999, 1.0000000000000002]),
    st.sampled_from([1e-50, 9.999999999999999e-51, -1e-300, 2.0**60, -0.0]),
)
_leaves = st.one_of(
    st.builds(Eq, _fields, _values),
    st.builds(In, _fields, st.lists(_values, max_size=4)),
    st.builds(lambda f, lo: Range(f, gte=lo), _fields, st.integers(-5, 2022)),
    st.builds(lambda f, lo, hi: Range(f, gt=lo, lte=hi), _fields, st.floats(-1, 1), st.floats(0, 3000)),
    st.builds(lambda f, lo: Range(f, lt=lo), _fields, st.sampled_from([1.0, 1e-50, 2.0**53, 0.0, -0.0])),
)
_trees = st.recursive(
    _leaves,
    lambda children: st.one_of(
        st.builds(lambda xs: And(*xs), st.lists(children, max_size=3)),
        st.builds(lambda xs: Or(*xs), st.lists(children, max_size=3)),
        st.builds(Not, children),
    ),
    max_leaves=8,
)


def _negates_a_range(node: Filter, negated: bool = False) -> bool:
    if isinstance(node, Not):
        return _negates_a_range(node.filter, not negated)
    if isinstance(node, And | Or):
        return any(_negates_a_range(child, negated) for child in node.filters)
    return negated and isinstance(node, Range)


@settings(max_examples=150, deadline=None)
@given(node=_trees)
def test_random_filter_trees_agree_with_the_reference(probe: Any, node: Filter) -> None:
    if _negates_a_range(node):
        with pytest.raises(ValidationError, match="chroma does not support the negation of a range"):
            to_chroma_where(node)
        return
    assert _chroma_ids(probe, node) == _reference_ids(node)
