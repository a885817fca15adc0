"""The KVStore contract, on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import pytest

from memstore import BackendError, KVStore, Memstore, ValidationError


@pytest.fixture
def store(store_url: str) -> Iterator[Memstore]:
    with Memstore(store_url) as memstore:
        yield memstore


@pytest.fixture
def kv(store: Memstore) -> KVStore:
    return store.kv


def test_set_get_overwrite_keeps_value_type(kv: KVStore) -> None:
    kv.set("text", "héllo 👋")
    kv.set("blob", b"\x00\xff\x00")
    assert kv.get("text") == "héllo 👋"
    assert kv.get("blob") == b"\x00\xff\x00"
    kv.set("text", b"now bytes")
    assert kv.get("text") == b"now bytes"
    assert kv.get("missing") is None


def test_mget_keeps_order_and_reports_missing_as_none(kv: KVStore) -> None:
    kv.mset({"a": "1", "b": "2", "c": b"3"})
    assert kv.mget(["c", "missing", "a", "a", "b"]) == [b"3", None, "1", "1", "2"]
    assert kv.mget([]) == []


def test_exists_delete_and_mdelete(kv: KVStore) -> None:
    kv.mset([("a", "1"), ("b", "2"), ("c", "3")])
    assert kv.exists("a")
    assert kv.delete("a") is True
    assert kv.delete("a") is False
    assert not kv.exists("a")
    assert kv.mdelete(["b", "c", "nope"]) == 2
    assert kv.keys() == []


def test_mset_last_write_of_a_key_wins(kv: KVStore) -> None:
    kv.mset([("k", "first"), ("k", "second")])
    assert kv.get("k") == "second"


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("a_", ["a_b"]),
        ("a%", ["a%c"]),
        ("a", ["a%c", "a\\d", "a_b", "ab", "axb"]),
        ("A", ["A_b"]),
        ("a\\", ["a\\d"]),
        ("", ["A_b", "a%c", "a\\d", "a_b", "ab", "axb", "b"]),
        ("zzz", []),
    ],
)
def test_prefix_is_literal_and_case_sensitive(kv: KVStore, prefix: str, expected: list[str]) -> None:
    keys = ["a_b", "axb", "ab", "a%c", "a\\d", "A_b", "b"]
    kv.mset({key: key for key in keys if key != "a\\d"})
    kv.set("a\\d", "a\\d")
    assert list(kv.get_by_prefix(prefix)) == expected
    assert kv.keys(prefix) == expected
    assert kv.delete_by_prefix(prefix) == len(expected)
    assert sorted(kv.keys()) == sorted(set(keys) - set(expected))


def test_exclusive_set_one_winner_until_expiry(kv: KVStore) -> None:
    assert kv.exclusive_set("lock", "owner-1", expiry=0.3) is True
    assert kv.exclusive_set("lock", "owner-2", expiry=0.3) is False
    assert kv.get("lock") == "owner-1"
    time.sleep(0.35)
    assert kv.get("lock") is None, "an expired entry reads as absent"
    assert kv.exclusive_set("lock", "owner-3", expiry=0.3) is True
    assert kv.exclusive_set("lock", "owner-4", expiry=0.3) is False
    assert kv.get("lock") == "owner-3"


def test_exclusive_set_without_expiry_holds_until_deleted(kv: KVStore) -> None:
    assert kv.exclusive_set("lock", "a") is True
    assert kv.exclusive_set("lock", "b", expiry=5) is False
    kv.delete("lock")
    assert kv.exclusive_set("lock", "b") is True


def test_exclusive_set_never_takes_a_plain_key(kv: KVStore) -> None:
    kv.set("config", "value")
    assert kv.exclusive_set("config", "other", expiry=1) is False
    assert kv.get("config") == "value"


def test_set_clears_an_expiry(kv: KVStore) -> None:
    assert kv.exclusive_set("k", "lease", expiry=0.2)
    kv.set("k", "permanent")
    time.sleep(0.25)
    assert kv.get("k") == "permanent"


@pytest.mark.parametrize("expiry", [0, -1, float("nan"), "1", True])
def test_exclusive_set_rejects_bad_expiry(kv: KVStore, expiry: object) -> None:
    with pytest.raises(ValidationError):
        kv.exclusive_set("k", "v", expiry=expiry)  # type: ignore[arg-type]
    assert kv.get("k") is None


def test_namespaces_are_isolated(kv: KVStore) -> None:
    other = kv.namespace_store("other-app")
    kv.set("shared-key", "mine")
    other.set("shared-key", "theirs")
    other.set("only-theirs", "x")
    assert kv.get("shared-key") == "mine"
    assert kv.keys() == ["shared-key"]
    assert kv.delete_by_prefix("") == 1
    assert other.keys() == ["only-theirs", "shared-key"]
    assert other.exclusive_set("lock", "x")
    assert kv.exclusive_set("lock", "y")


def test_batch_with_one_invalid_item_writes_nothing(kv: KVStore) -> None:
    with pytest.raises(ValidationError):
        kv.mset([("good", "1"), ("bad\x00key", "2")])
    with pytest.raises(ValidationError):
        kv.mset([("good", "1"), ("also-good", 3)])  # type: ignore[list-item]
    assert kv.keys() == []


HOSTILE_KEYS = [
    "'; DROP TABLE memstore_kv; --",
    'Robert"); DELETE FROM memstore_kv WHERE ("1"="1',
    "' OR '1'='1",
    "%",
    "_",
    "\\",
    "\\'",
    "emoji 🧠🔥",
    "ـ RTL مرحبا",
    "e\u0301\u0301",
    " ",
    "\n\t",
    '{"json": true}',
    "../../etc/passwd",
    "x" * 1024,
]
HOSTILE_VALUES = [
    *HOSTILE_KEYS,
    "",
    "\x00",
    "nul\x00inside",
    b"\x00" * 10,
    "x" * 1_000_000,
    b"\xff" * 1_000_000,
]
REJECTED_KEYS = ["", "nul\x00key", "\ud800 lone surrogate", "x" * 1025, 42, None, b"bytes"]


def test_hostile_keys_and_values_round_trip_byte_identically(kv: KVStore) -> None:
    kv.set("canary", "still here")
    for index, key in enumerate(HOSTILE_KEYS):
        value = HOSTILE_VALUES[index % len(HOSTILE_VALUES)]
        kv.set(key, value)
        assert kv.get(key) == value
        assert type(kv.get(key)) is type(value)
        assert kv.get_by_prefix(key).get(key) == value
    for index, value in enumerate(HOSTILE_VALUES):
        kv.set(f"value-{index}", value)
        assert kv.get(f"value-{index}") == value
    assert kv.get("canary") == "still here"
    assert len(kv.keys()) == len(set(HOSTILE_KEYS)) + len(HOSTILE_VALUES) + 1


@pytest.mark.parametrize("key", REJECTED_KEYS)
def test_unstorable_keys_raise_validation_error(kv: KVStore, key: object) -> None:
    for operation in (lambda: kv.set(key, "v"), lambda: kv.get(key), lambda: kv.exclusive_set(key, "v")):  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            operation()
    assert kv.keys() == []


@pytest.mark.parametrize("value", ["\ud800", 3, None, ["list"]])
def test_unstorable_values_raise_validation_error(kv: KVStore, value: object) -> None:
    with pytest.raises(ValidationError):
        kv.set("k", value)  # type: ignore[arg-type]
    assert kv.get("k") is None


async def test_async_twins_share_the_implementation(kv: KVStore) -> None:
    await kv.aset("a", "1")
    await kv.amset({"b": b"2", "c": "3"})
    assert await kv.aget("a") == "1"
    assert await kv.amget(["c", "x", "b"]) == ["3", None, b"2"]
    assert await kv.aexists("b")
    assert await kv.aget_by_prefix("") == {"a": "1", "b": b"2", "c": "3"}
    assert await kv.akeys("b") == ["b"]
    assert await kv.aexclusive_set("lock", "me", 10) is True
    assert await kv.aexclusive_set("lock", "you", 10) is False
    assert await kv.adelete("a") is True
    assert await kv.amdelete(["b", "c"]) == 2
    assert await kv.adelete_by_prefix("lo") == 1
    results = await asyncio.gather(*(kv.aexclusive_set("race", str(i)) for i in range(16)))
    assert sum(results) == 1


def test_sync_api_works_inside_a_running_event_loop(kv: KVStore) -> None:
    async def main() -> object:
        kv.set("from-loop", "ok")  # a sync call from inside the loop, as in Jupyter
        return kv.get("from-loop")

    assert asyncio.run(main()) == "ok"


def test_ttl_expires_entries_and_purge_removes_them(kv: KVStore) -> None:
    kv.set("short", "a", ttl=0.2)
    kv.mset({"batch-1": "b", "batch-2": b"c"}, ttl=0.2)
    kv.set("forever", "d")
    assert kv.keys() == ["batch-1", "batch-2", "forever", "short"]
    time.sleep(0.3)
    assert kv.keys() == ["forever"]
    assert kv.mget(["short", "batch-1", "forever"]) == [None, None, "d"]
    assert kv.purge_expired() == 3
    assert kv.purge_expired() == 0
    assert kv.exclusive_set("short", "new owner") is True


def test_touch_extends_only_live_keys(kv: KVStore) -> None:
    kv.set("a", "1", ttl=0.3)
    kv.set("b", "2", ttl=0.1)
    kv.set("c", "3")
    time.sleep(0.15)
    assert kv.touch({"a": 5, "b": 5, "c": None, "missing": 5}) == 2, "b had expired; c is made permanent"
    time.sleep(0.25)
    assert kv.keys() == ["a", "c"]
    assert kv.touch({"a": None}) == 1
    with pytest.raises(ValidationError):
        kv.touch({"a": -1})


def test_write_puts_and_deletes_in_one_transaction(kv: KVStore) -> None:
    kv.mset({"old-1": "x", "old-2": "y", "keep": "z"})
    assert kv.write({"new": "n", "old-2": "replaced"}, ["old-1", "old-2", "never-was"]) == 2
    assert kv.get_by_prefix("") == {"keep": "z", "new": "n", "old-2": "replaced"}
    with pytest.raises(ValidationError):
        kv.write({"fine": "v"}, ["bad\x00key"])
    assert kv.get("fine") is None, "validated before anything is written"
    assert kv.write() == 0


def test_keys_reads_no_values(kv: KVStore) -> None:
    kv.mset({f"k{i}": "x" * 1000 for i in range(5)})
    assert kv.keys("k") == [f"k{i}" for i in range(5)]


# -- JSON documents: filters run where the data is ------------------------------------------------------


_DOCS = {
    "d.1": {"value": {"lang": "en", "n": 1, "user": {"tier": "gold"}, "ok": True}},
    "d.2": {"value": {"lang": "fr", "n": 2.5, "user": {"tier": "free"}, "ok": False}},
    "d.3": {"value": {"lang": "en", "n": 1790000000000000001, "tags": ["a"]}},
    "d.4": {"value": {"lang": "1", "n": "1"}},
    "e.1": {"value": {"lang": "en", "n": 1}},
}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(None, ["d.1", "d.2", "d.3", "d.4", "d.text"], id="none"),
        pytest.param({"value": {"lang": "en"}}, ["d.1", "d.3"], id="nested-eq"),
        pytest.param({"value": {"n": {"$eq": 1}}}, ["d.1"], id="number-not-string"),
        pytest.param({"value": {"n": {"$gt": 1, "$lt": 3}}}, ["d.2"], id="range"),
        pytest.param({"value": {"n": {"$gt": 1790000000000000000}}}, ["d.3"], id="big-int-exact"),
        pytest.param({"value": {"ok": {"$eq": True}}}, ["d.1"], id="bool-strict"),
        pytest.param({"value": {"lang": {"$ne": "en"}}}, ["d.2", "d.4"], id="ne"),
        pytest.param({"value": {"user": {"tier": {"$in": ["gold", "x"]}}}}, ["d.1"], id="in"),
        pytest.param({"$not": {"value": {"user": {"tier": "gold"}}}}, ["d.2", "d.3", "d.4"], id="not"),
    ],
)
def test_scan_documents_filters_json_values(
    kv: KVStore, spec: dict[str, object] | None, expected: list[str]
) -> None:
    kv.mset({key: json.dumps(doc) for key, doc in _DOCS.items()})
    kv.set("d.bytes", b'{"value": {"lang": "en"}}')  # bytes entries are never documents
    if spec is None:
        kv.set("d.text", "not json")  # without a filter, any str entry is returned
    found = kv.scan_documents("d.", spec)
    assert list(found) == expected
    assert all(found[key] == json.dumps(_DOCS[key]) for key in found if key in _DOCS)


def test_scan_documents_skips_expired_and_other_namespaces(kv: KVStore) -> None:
    kv.set("a.1", '{"x": 1}', ttl=0.05)
    kv.namespace_store("other").set("a.2", '{"x": 1}')
    kv.set("a.3", '{"x": 1}')
    time.sleep(0.1)
    assert kv.scan_documents("a.", {"x": 1}) == {"a.3": '{"x": 1}'}


def test_scan_documents_filter_over_non_json_text_is_a_backend_error(kv: KVStore) -> None:
    kv.set("a.1", "not json")
    with pytest.raises(BackendError):
        kv.scan_documents("a.", {"x": 1})
    with pytest.raises(ValidationError):
        kv.scan_documents("a.", {"x": {"$bogus": 1}})


async def test_scan_documents_async_twin(kv: KVStore) -> None:
    kv.set("a.1", '{"x": 1}')
    assert await kv.ascan_documents("a.", {"x": 1}) == {"a.1": '{"x": 1}'}
