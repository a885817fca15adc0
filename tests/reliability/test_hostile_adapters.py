"""The hostile corpus through the vector layer and both adapters: exact round-trip or ValidationError.

Collection names (strict and sanitising stores), vector filter values, LangChain session ids and LlamaIndex
chat-store keys. Afterwards the SQL schema and a canary of each kind are unchanged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from hostile import CORPUS, rejected_as_identifier, rejected_as_text
from langchain_core.messages import HumanMessage
from llama_index.core.llms import ChatMessage

from langchain_memstore import MemstoreChatMessageHistory
from llamaindex_memstore import MemstoreChatStore
from memstore import (
    DataField,
    Eq,
    KeyField,
    Memstore,
    RecordDefinition,
    ValidationError,
    VectorCollection,
    VectorField,
    VectorStore,
)

DEFINITION = RecordDefinition(
    KeyField("id"), VectorField("v", dimensions=4), [DataField("tag", filterable=True)]
)


def _outcome(action: Callable[[], Any]) -> str:
    try:
        action()
    except ValidationError:
        return "rejected"
    return "round-trip"


def _probe(
    store: Memstore, canary: VectorCollection[Any], llama: MemstoreChatStore, index: int, text: str
) -> list[str]:
    """Push ``text`` through the vector layer and both adapters; return the outcome of each."""
    bad_id, bad_text = rejected_as_identifier(text), rejected_as_text(text)
    probe = [0.0, 1.0, 0.0, 0.0]

    def collection_name() -> None:  # a sanitising store takes any usable name and keeps it distinct
        collection = VectorStore(store.vectors.backend, names="sanitize").get_collection(text, DEFINITION)
        collection.create_if_not_exists()
        collection.upsert({"id": f"r{index}", "v": probe, "tag": text})
        assert [r.record["tag"] for r in collection.search(probe, 5)] == [text]
        collection.delete_collection()

    def filter_value() -> None:
        assert canary.search(probe, 5, filter=Eq("tag", text)) == []

    def langchain_session() -> None:
        MemstoreChatMessageHistory(text, store=store).add_messages([HumanMessage(f"m{index}")])
        history = MemstoreChatMessageHistory(text, store=store)
        assert [m.content for m in history.messages] == [f"m{index}"]
        history.clear()

    def llamaindex_key() -> None:  # keys under the reserved archive prefix: none in the corpus
        llama.add_message(text, ChatMessage(role="user", content=f"m{index}"))
        assert [m.content for m in llama.get_messages(text)] == [f"m{index}"]
        llama.delete_messages(text)

    outcomes = []
    for action, rejected in (
        (collection_name, bad_id),
        (filter_value, bad_text),
        (langchain_session, bad_id),
        (llamaindex_key, bad_id),
    ):
        outcome = _outcome(action)
        assert outcome == ("rejected" if rejected else "round-trip"), (action.__name__, text[:40])
        outcomes.append(outcome)
    return outcomes


def test_hostile_strings_through_vectors_and_adapters(sql_url: str) -> None:
    with Memstore(sql_url, vectors="sql") as store:
        assert store.database is not None
        canary = store.vectors.get_collection("canary", DEFINITION)
        canary.create()
        canary.upsert({"id": "c", "v": [1.0, 0.0, 0.0, 0.0], "tag": "canary"})
        langchain_canary = MemstoreChatMessageHistory("lc-canary", store=store)
        langchain_canary.add_messages([HumanMessage("canary")])
        llama = MemstoreChatStore(store)
        llama.add_message("li-canary", ChatMessage(role="user", content="canary"))
        tables_before = sorted(sa.inspect(store.database.engine).get_table_names())

        outcomes = Counter(
            o for index, text in enumerate(CORPUS) for o in _probe(store, canary, llama, index, text)
        )

        assert sorted(sa.inspect(store.database.engine).get_table_names()) == tables_before
        assert [r.record["tag"] for r in canary.search([1.0, 0.0, 0.0, 0.0], 5)] == ["canary"]
        assert [m.content for m in langchain_canary.messages] == ["canary"]
        assert [m.content for m in llama.get_messages("li-canary")] == ["canary"]
        assert outcomes["rejected"] > 0
        assert outcomes["round-trip"] > 0
        assert sum(outcomes.values()) == 4 * len(CORPUS)
