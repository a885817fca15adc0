"""The filter language: SQL translation on SQLite and PostgreSQL agrees with the Python reference."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memstore import Database, ValidationError
from memstore.backends.sql.filters import compile_filter
from memstore.backends.sql.schema import JsonDocument
from memstore.filters import And, Eq, Filter, In, Not, Or, Range, matches, parse_filter

RECORDS: list[dict[str, Any]] = [
    {"lang": "en", "year": 2020, "score": 0.5, "draft": False, "tags": {"topic": "db"}},
    {"lang": "fr", "year": 2021, "score": 1.5, "draft": True, "tags": {"topic": "ml"}},
    {"lang": "en", "year": 2022, "draft": True},
    {"lang": "1", "year": "2020", "score": 1, "tags": {"topic": 5}},
    {"year": 1, "draft": 1, "note": "it's \"quoted\" ' OR 1=1 --"},
    {},
    {"lang": None, "year": True, "tags": "flat"},
    {"\\": "bs", "ünï 🧠": 1, "tab\t": True, "a.b": "dot", "$": "dollar", "x[0]": {"\u2028": "ls"}},
]

FILTERS: list[Filter] = [
    Eq("lang", "en"),
    Eq("lang", "1"),
    Eq("year", 2020),
    Eq("year", 2020.0),
    Eq("year", "2020"),
    Eq("draft", True),
    Eq("draft", False),
    Eq("year", 1),
    Eq("year", True),
    Eq(("tags", "topic"), "db"),
    Eq(("tags", "topic"), 5),
    Eq("note", "it's \"quoted\" ' OR 1=1 --"),
    Eq("missing", "x"),
    In("lang", ["en", "fr"]),
    In("year", [2021, "2020"]),
    In("lang", []),
    Range("year", gte=2021),
    Range("score", gt=0.5, lte=1.5),
    Range("year", lt=2021),
    Not(Eq("lang", "en")),
    Not(Range("year", gte=2021)),
    And(Eq("lang", "en"), Eq("draft", True)),
    And(),
    Or(Eq("lang", "fr"), Range("score", lt=1)),
    Or(),
    Not(Or(Eq(("tags", "topic"), "db"), Eq("draft", True))),
    Eq("\\", "bs"),
    Eq("ünï 🧠", 1),
    Eq("tab\t", True),
    Eq("a.b", "dot"),
    Eq("$", "dollar"),
    Eq(("x[0]", "\u2028"), "ls"),
]


@contextmanager
def _probe_table(sql_url: str, records: list[dict[str, Any]]) -> Iterator[tuple[Database, sa.Table]]:
    """A table of ``records`` as JSON documents, row ids 0, 1, ... in order."""
    database = Database(sql_url, create_tables=False)
    table = sa.Table(
        "filter_probe",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("data", JsonDocument()),
    )
    table.create(database.engine)
    with database.engine.begin() as conn:
        conn.execute(table.insert(), [{"id": i, "data": r} for i, r in enumerate(records)])
    try:
        yield database, table
    finally:
        database.close()


@pytest.fixture
def probe(sql_url: str) -> Iterator[tuple[Database, sa.Table]]:
    with _probe_table(sql_url, RECORDS) as opened:
        yield opened


def _sql_ids(probe: Any, node: Filter) -> list[int]:
    database, table = probe
    query = sa.select(table.c.id).where(compile_filter(node, table.c.data, database.backend_name))
    with database.engine.connect() as conn:
        return sorted(conn.execute(query).scalars())


def _reference_ids(node: Filter) -> list[int]:
    return [i for i, record in enumerate(RECORDS) if matches(node, record)]


@pytest.mark.parametrize("node", FILTERS, ids=repr)
def test_sql_translation_matches_the_reference(probe: Any, node: Filter) -> None:
    assert _sql_ids(probe, node) == _reference_ids(node)


_fields = st.sampled_from(["lang", "year", "score", "draft", ("tags", "topic"), "missing"])
_values = st.one_of(
    st.sampled_from(["en", "fr", "1", "2020", "db"]), st.integers(-1, 2023), st.booleans(), st.floats(0, 2)
)
_leaves = st.one_of(
    st.builds(Eq, _fields, _values),
    st.builds(In, _fields, st.lists(_values, max_size=3)),
    st.builds(lambda f, lo: Range(f, gte=lo), _fields, st.integers(0, 2022)),
)
_trees = st.recursive(
    _leaves,
    lambda children: st.one_of(
        st.builds(lambda xs: And(*xs), st.lists(children, max_size=3)),
        st.builds(lambda xs: Or(*xs), st.lists(children, max_size=3)),
        st.builds(Not, children),
    ),
    max_leaves=6,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(node=_trees)
def test_random_filter_trees_agree_with_the_reference(probe: Any, node: Filter) -> None:
    assert _sql_ids(probe, node) == _reference_ids(node)


# Numbers where float arithmetic would blur the answer: ints beyond 2**53 (snowflake ids), their float
# neighbours, floats whose repr is not their exact value, ints beyond 64 bits in the data.
NUMBERS: list[int | float] = [
    0, 1, -1, 0.5, 1.0, -0.0, 0.1, 0.30000000000000004, 2**53, 2**53 + 1, 2.0**53, 2**60, 2.0**60,
    2**60 + 1, 1_790_000_000_000_000_000, 1_790_000_000_000_000_001, 1_790_000_000_000_000_100,
    2**63 - 1, -(2**63), 1e300, -1e300,
]  # fmt: skip
STORED_NUMBERS: list[int | float] = [*NUMBERS, 2**63, 2**64 + 1, 10**400, -(10**400)]


def test_numbers_compare_exactly_as_python_compares_them(sql_url: str) -> None:
    records = [{"n": value} for value in STORED_NUMBERS]
    nodes: list[Filter] = [In("n", NUMBERS[:5]), In("n", [2**53 + 1, 2**60 + 1])]
    for value in NUMBERS:
        nodes += [Eq("n", value), Range("n", gt=value), Range("n", gte=value), Range("n", lt=value)]
        nodes.append(Range("n", lte=value))
    with _probe_table(sql_url, records) as probe:
        for node in nodes:
            expected = [i for i, record in enumerate(records) if matches(node, record)]
            assert _sql_ids(probe, node) == expected, node


def test_filter_integers_must_fit_in_64_bits() -> None:
    Eq("n", 2**63 - 1)
    for make in (lambda: Eq("n", 2**63), lambda: In("n", [-(2**63) - 1]), lambda: Range("n", gt=10**400)):
        with pytest.raises(ValidationError, match="64 bits"):
            make()


def test_dict_form_parses_to_the_same_tree() -> None:
    spec = {"lang": "en", "year": {"$gte": 2020, "$lt": 2022}, "$or": [{"draft": True}, {"tags": {"$ne": 1}}]}
    assert parse_filter(spec) == And(
        Eq("lang", "en"), Range("year", gte=2020, lt=2022), Or(Eq("draft", True), Not(Eq("tags", 1)))
    )
    assert parse_filter({"lang": {"$nin": ["en"]}}) == Not(In("lang", ["en"]))
    assert parse_filter(None) is None


@pytest.mark.parametrize(
    "spec",
    [
        {"$where": "1=1"},
        {"lang": {"$regex": ".*"}},
        {"year": {"$gt": "2020"}},
        {"lang": float("nan")},
        {"lang": ["a"]},
        {"bad\x00field": 1},
        {'quote"field': 1},
        {"": 1},
        {"$and": "x"},
        "lang = 'en'",
    ],
)
def test_bad_filters_raise_validation_error(spec: Any) -> None:
    with pytest.raises(ValidationError):
        parse_filter(spec)
