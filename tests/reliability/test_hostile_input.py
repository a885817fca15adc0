"""Hostile strings through every identifier and value of the core API: exact round-trip or ValidationError.

Afterwards the schema and every other row are unchanged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from hostile import CORPUS, rejected_as_identifier, rejected_as_text

from memstore import Memstore, Message, ValidationError


def _schema(store: Memstore) -> dict[str, list[str]]:
    assert store.database is not None
    inspector = sa.inspect(store.database.engine)
    return {
        table: sorted(c["name"] for c in inspector.get_columns(table))
        for table in inspector.get_table_names()
    }


def _canaries(store: Memstore) -> tuple[Any, ...]:
    return (
        [(m.id, m.role, m.content, m.metadata) for m in store.buffer("canary").get_msg()],
        store.kv.get("canary"),
        store.kv.namespace_store("canary-ns").get_by_prefix(""),
        [c.id for c in store.conversations.get_conversations(count=1000)],
    )


def _expect(rejected: bool, action: Callable[[], Any], check: Callable[[Any], bool] = lambda _: True) -> str:
    """Run ``action``: it must raise ValidationError iff ``rejected``, and pass ``check`` otherwise."""
    if rejected:
        with pytest.raises(ValidationError):
            action()
        return "rejected"
    result = action()
    assert check(result)
    return "round-trip"


def _probe(store: Memstore, index: int, text: str) -> list[str]:
    """Push ``text`` through every identifier and value; return the outcome of each."""
    bad_id, bad_text = rejected_as_identifier(text), rejected_as_text(text)
    conversation = f"conv-{index}"
    raw = text.encode("utf-8", "surrogatepass")
    outcomes = [
        # conversation ids, platform ids
        _expect(
            bad_id,
            lambda: store.buffer(text).add_msg(Message(role="user", content="x")),
            lambda m: store.buffer(text).get_msg() == [m],
        ),
        _expect(
            bad_id,
            lambda: store.conversations.add_platform("p", id=text),
            lambda p: store.conversations.get_platform(text) == p,
        ),
        # roles and types
        _expect(
            bad_id,
            lambda: store.buffer(conversation).add_msg(Message(role=text, type=text, content="x")),
            lambda m: store.buffer(conversation).get_msg(role_include=[text], type_include=[text]) == [m],
        ),
        # content, metadata keys and values, filter values
        _expect(
            bad_text,
            lambda: store.buffer(conversation).add_msg(
                Message(role="user", content=text, metadata={"v": text, text or "empty": 1})
            ),
            lambda m: (
                store.buffer(conversation).get_msg(filter_meta={"v": text}) == [m]
                and store.buffer(conversation).get_msg_by_id(m.id).content == text
            ),
        ),
        # KV keys (bytes values), str values, namespaces
        _expect(bad_id, lambda: store.kv.set(text, raw), lambda _: store.kv.get(text) == raw),
        _expect(
            bad_text and "\x00" not in text,
            lambda: store.kv.set(f"value-{index}", text),
            lambda _: store.kv.get(f"value-{index}") == text,
        ),
        _expect(
            bad_id,
            lambda: store.kv.namespace_store(text).set("k", "v"),
            lambda _: store.kv.namespace_store(text).keys() == ["k"],
        ),
    ]
    if not bad_text:  # a filter value never reaches another conversation's rows
        assert store.buffer("canary").get_msg(filter_meta={"k": text}) == []
    return outcomes


def test_hostile_strings_round_trip_or_are_rejected(sql_url: str) -> None:
    with Memstore(sql_url) as store:
        store.buffer("canary").add_msg(Message(role="user", content="canary", metadata={"k": "v"}))
        store.kv.set("canary", b"\x00canary")
        store.kv.namespace_store("canary-ns").set("k", "v")
        schema_before, canaries_before = _schema(store), _canaries(store)
        outcomes = Counter(o for index, text in enumerate(CORPUS) for o in _probe(store, index, text))
        assert _schema(store) == schema_before
        assert _canaries(store)[:3] == canaries_before[:3]
        assert set(canaries_before[3]) <= set(_canaries(store)[3])
        assert outcomes["round-trip"] > 0
        assert outcomes["rejected"] > 0
        assert sum(outcomes.values()) == 7 * len(CORPUS)
