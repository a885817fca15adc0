"""Hostile sizes and shapes: every input either works or raises one typed ValidationError, the same on
every backend (issue 16, "hostile input": RecursionError, OverflowError, raw driver errors and ValueError
were seen before).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from memstore import (
    DataField,
    HashingEmbedder,
    KeyField,
    Memstore,
    Message,
    RecordDefinition,
    ValidationError,
    VectorField,
)
from memstore.filters import parse_filter

HUGE = 10**5000
BEYOND_INT64 = 2**63
DEEP = 10_000


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


def _nested_list(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.fixture
def store(store_url: str) -> Iterator[Memstore]:
    with Memstore(store_url, vectors="memory" if store_url == "memory://" else "sql") as opened:
        yield opened


def _rejected(call: Callable[[], Any]) -> None:
    with pytest.raises(ValidationError):
        call()


# -- values nested too deep ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [_nested(DEEP), _nested_list(DEEP)], ids=["dicts", "lists"])
def test_deep_nesting_is_a_validation_error_everywhere(store: Memstore, value: Any) -> None:
    buffer = store.buffer("c1")
    _rejected(lambda: buffer.add_msg(Message("user", "hi", metadata={"deep": value})))
    _rejected(lambda: buffer.add_msg(Message("user", [{"type": "text", "text": "x", "deep": value}])))
    _rejected(lambda: store.conversations.add_conversation(id="c2", metadata={"deep": value}))
    _rejected(lambda: parse_filter({"$and": [value]}))
    collection = store.vectors.get_collection(
        "deep", RecordDefinition(KeyField("id"), VectorField("v", dimensions=2), [DataField("d")])
    )
    collection.create()
    _rejected(lambda: collection.upsert({"id": "k", "v": [1, 0], "d": value}))
    assert buffer.get_msg(-5) == []
    assert collection.count() == 0


def test_moderate_nesting_still_round_trips(store: Memstore) -> None:
    value = _nested(50)
    stored = store.buffer("c1").add_msg(Message("user", "hi", metadata={"deep": value}))
    assert store.buffer("c1").get_msg_by_id(stored.id or "").metadata == {"deep": value}


def test_a_deeply_nested_filter_is_rejected() -> None:
    deep: Any = {"x": 1}
    for _ in range(DEEP):
        deep = {"$not": deep}
    _rejected(lambda: parse_filter(deep))


# -- numbers no database holds -------------------------------------------------------------------------------


def test_ints_beyond_64_bits_as_counts_cursors_and_limits(store: Memstore) -> None:
    buffer = store.buffer("c1")
    buffer.add_msgs([Message("user", f"m{i}") for i in range(3)])
    for bad in (BEYOND_INT64, -BEYOND_INT64 - 1, HUGE):
        _rejected(lambda bad=bad: buffer.get_msg(bad))
        _rejected(lambda bad=bad: buffer.get_msg([1, bad]))
        _rejected(lambda bad=bad: buffer.get_msg([bad, 2]))
        _rejected(lambda bad=bad: buffer.get_msg_by_cursor(None, bad))
        _rejected(lambda bad=bad: store.conversations.get_conversations(count=bad))
        _rejected(lambda bad=bad: store.conversations.list_conversation_ids(limit=bad))
        _rejected(lambda bad=bad: buffer.delete_oldest(bad))
    for cursor in ("p" + "9" * 19, "p" + "9" * 5000, "p\u0661\u0662"):  # > int64, 5000 digits, Arabic
        _rejected(lambda cursor=cursor: buffer.get_msg_by_cursor(cursor, 2))
    assert [m.text for m in buffer.get_msg(-2)] == ["m1", "m2"]


def test_huge_numbers_in_json_and_time_spans(store: Memstore) -> None:
    buffer = store.buffer("c1")
    _rejected(lambda: buffer.add_msg(Message("user", "x", metadata={"n": HUGE})))
    _rejected(lambda: buffer.add_msg(Message("user", "x", metadata={"n": BEYOND_INT64})))
    _rejected(lambda: store.kv.set("k", "v", ttl=HUGE))
    _rejected(lambda: store.kv.exclusive_set("k", "v", expiry=HUGE))
    memory = store.memory("c1", embedder=HashingEmbedder(dimensions=8))
    _rejected(lambda: memory.delete_older_than(HUGE))
    _rejected(lambda: memory.recall("x", BEYOND_INT64))
    _rejected(lambda: memory.recent(HUGE))
    assert store.kv.get("k") is None
    # Large but representable spans work: "forever" in effect, and "older than any date" deletes nothing.
    _rejected(lambda: store.kv.set("k", "v", ttl=1e300))
    store.kv.set("k", "v", ttl=1e15)
    assert store.kv.get("k") == "v"
    assert memory.delete_older_than(1e12) == 0


def test_extreme_datetimes(store: Memstore) -> None:
    memory = store.memory("c1", embedder=HashingEmbedder(dimensions=8))
    memory.add(Message("user", "a note about boats"))
    lowest = datetime.min.replace(tzinfo=timezone.utc)
    highest = datetime.max.replace(tzinfo=timezone.utc)
    assert memory.recall("boats", 3, since=lowest, until=highest)
    assert memory.recall("boats", 3, since=datetime.min, until=datetime.max)  # naive: read as UTC
    assert memory.recall("boats", 3, until=lowest) == []
    stamped = Message("user", "old", created_at=lowest + timedelta(days=1))
    stored = memory.add(stamped)[0]
    assert store.buffer("c1").get_msg_by_id(stored.id or "").created_at == stamped.created_at


# -- sizes that overflow a statement -------------------------------------------------------------------------


def test_large_in_lists_and_key_lists_are_chunked(store: Memstore) -> None:
    definition = RecordDefinition(
        KeyField("id"), VectorField("v", dimensions=2), [DataField("n", filterable=True)]
    )
    collection = store.vectors.get_collection("wide", definition)
    collection.create()
    collection.upsert_batch([{"id": f"k{i}", "v": [1, i], "n": i} for i in range(50)])
    values = list(range(0, 4000, 2))
    assert collection.count(filter={"n": {"$in": values}}) == 25
    assert collection.count(filter={"n": {"$nin": values}}) == 25
    assert len(collection.search([1, 0], 50, filter={"n": {"$in": values}})) == 25
    keys = [f"key{i}" for i in range(70_000)]
    store.kv.mset([(key, "v") for key in keys[:10]])
    found = store.kv.mget(keys)
    assert found[:10] == ["v"] * 10
    assert found[10:] == [None] * (len(keys) - 10)
    assert store.kv.mdelete(keys) == 10


# -- URLs ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///a\x00b.db",
        "postgresql://user@localhost:99999/db",
        "postgresql://user@localhost:port/db",
        "",
        "postgresql://user:pw@[::1/db",
    ],
)
def test_bad_database_urls_are_validation_errors(url: str) -> None:
    _rejected(lambda: Memstore(url).close())


@pytest.mark.parametrize(
    "vectors", ["chroma+http://host:99999", "chroma+http://ho\x00st:8000", "chroma:///a\x00b"]
)
def test_bad_vector_urls_are_validation_errors(vectors: str, tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    _rejected(lambda: Memstore(url, vectors=vectors).vectors.list_collection_names())


# -- the command line ---------------------------------------------------------------------------------------


def test_the_cli_answers_hostile_arguments_without_a_traceback(tmp_path: Any) -> None:
    from memstore.memory.cli import main

    db = tmp_path / "cli.db"
    base = ["--url", f"sqlite:///{db}", "--vectors", "sql", "--embedder", "hashing"]
    assert main([*base, "import", str(tmp_path / "missing.jsonl")]) == 3
    (tmp_path / "bad.jsonl").write_text('{"role": "user", "content": "x", "metadata": ' + "[" * 5000 + "\n")
    cases = [
        ["import", str(tmp_path / "bad.jsonl")],
        ["search", "x", "-k", str(10**30)],
        ["search", "x", "-k", "0"],
        ["search", "x", "--context", "-5"],
        ["search", "x", "--min-score", "nan"],
        ["search", "x" * 100_000],
        ["prune", "--older-than", "1e400"],
        ["prune", "--older-than", "-1"],
        ["prune", "--older-than", "nan"],
        ["export", str(tmp_path)],
        ["export", "/proc/version"],
        ["backup", str(tmp_path)],
        ["restore", str(tmp_path)],
        ["restore", str(tmp_path / "bad.jsonl")],
        ["migrate", "--from", "json", str(tmp_path / "bad.jsonl")],
        ["migrate", "--from", "langchain-sql", "sqlite:///" + str(tmp_path / "none.db")],
        ["-c", "", "stats"],
        ["-c", "a\x00b", "stats"],
        ["--collection", "x", "stats"],
    ]
    for args in cases:
        try:
            code = main([*base, *args])
        except SystemExit as exit_:  # argparse's usage errors
            code = int(exit_.code or 0)
        assert code in {0, 1, 2, 3, 4}, args
