"""MemstoreMemoryRetriever: LangChain's RetrieversIntegrationTests unmodified, plus recall behaviour.

The standard suite runs on a SQLite file and on PostgreSQL (vectors in the same database). No test of it is
overridden, skipped or xfailed. The embedder is the core's deterministic bag-of-words HashingEmbedder (texts
sharing words are nearer), so which message is recalled is predictable; LLM steps use GenericFakeChatModel.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompt_values import PromptValue
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from langchain_tests.integration_tests import RetrieversIntegrationTests

from langchain_memstore import MemstoreChatMessageHistory, MemstoreMemoryRetriever
from memstore import HashingEmbedder, Memstore, Message, ValidationError

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
EMBEDDER = HashingEmbedder(128)

TURNS = [
    ("user", "human", "I adopted a golden retriever puppy named Biscuit"),
    ("assistant", "ai", "Congratulations on the new puppy Biscuit!"),
    ("user", "human", "My sister moved to Lisbon last spring"),
    ("assistant", "ai", "Lisbon is lovely in spring"),
    ("tool", "tool", "weather lookup: Lisbon 21C sunny"),
    ("user", "human", "I am training for a marathon in October"),
]


def _fill(store: Memstore, session_id: str, turns: list[tuple[str, str, str]] = TURNS) -> list[Message]:
    """Store ``turns`` one day apart from T0 through the core memory (as any indexing writer would)."""
    memory = store.memory(None, embedder=EMBEDDER)
    return memory.add(
        Message(role, text, type=type_, conversation_id=session_id, created_at=T0 + timedelta(days=index))
        for index, (role, type_, text) in enumerate(turns)
    )


def _texts(docs: list[Document]) -> list[str]:
    return [doc.page_content for doc in docs]


# -- LangChain's standard suite ---------------------------------------------------------------------------


class _Standard(RetrieversIntegrationTests):
    store: Memstore

    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return MemstoreMemoryRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"session_id": "standard", "store": self.store, "embedding": EMBEDDER}

    @property
    def retriever_query_example(self) -> str:
        return "what is the puppy called?"

    def _open(self, url: str) -> Iterator[None]:
        with Memstore(url, vectors="sql") as store:
            _fill(store, "standard")
            _fill(store, "other")
            self.store = store
            yield


class TestStandardSqlite(_Standard):
    @pytest.fixture(autouse=True)
    def _store(self, sqlite_url: str) -> Iterator[None]:
        yield from self._open(sqlite_url)


@pytest.mark.postgres
class TestStandardPostgresql(_Standard):
    @pytest.fixture(autouse=True)
    def _store(self, postgresql_url: str) -> Iterator[None]:
        yield from self._open(postgresql_url)


# -- behaviour --------------------------------------------------------------------------------------------


@pytest.fixture
def store(sql_url: str) -> Iterator[Memstore]:
    with Memstore(sql_url, vectors="sql") as opened:
        yield opened


def _retriever(store: Memstore, session_id: str | None = "s1", **options: Any) -> MemstoreMemoryRetriever:
    return MemstoreMemoryRetriever(session_id, store=store, embedding=EMBEDDER, **options)


def test_documents_carry_the_message_and_its_score(store: Memstore) -> None:
    stored = _fill(store, "s1")
    docs = _retriever(store, k=3).invoke("the puppy named Biscuit")
    assert len(docs) == 3
    best = docs[0]
    first = stored[0]
    assert best.page_content == "I adopted a golden retriever puppy named Biscuit"
    assert best.id == first.id
    assert {key: value for key, value in best.metadata.items() if key != "score"} == {
        "message_id": first.id,
        "session_id": "s1",
        "role": "user",
        "type": "human",
        "position": 0,
        "created_at": "2024-03-01T12:00:00+00:00",
    }
    scores = [doc.metadata["score"] for doc in docs]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= score <= 1.0 for score in scores)


def test_one_session_or_all(store: Memstore) -> None:
    _fill(store, "s1")
    _fill(store, "s2", [("user", "human", "My puppy is called Pretzel")])
    assert {d.metadata["session_id"] for d in _retriever(store, k=10).invoke("puppy")} == {"s1"}
    everywhere = _retriever(store, None, k=10).invoke("puppy called")
    assert {d.metadata["session_id"] for d in everywhere} == {"s1", "s2"}
    assert len(everywhere) == len(TURNS) + 1
    only_s2 = _retriever(store, k=10).invoke("puppy", session_id="s2")
    assert _texts(only_s2) == ["My puppy is called Pretzel"]
    assert _retriever(store, "nobody").invoke("puppy") == []


def test_role_and_type_filters(store: Memstore) -> None:
    _fill(store, "s1")
    by_role = _retriever(store, k=10, roles="assistant").invoke("puppy Lisbon")
    assert {d.metadata["role"] for d in by_role} == {"assistant"}
    assert len(by_role) == 2
    per_call = _retriever(store, k=10).invoke("Lisbon", roles=["user", "tool"])
    assert {d.metadata["role"] for d in per_call} == {"user", "tool"}
    tools = _retriever(store, k=10, types="tool").invoke("Lisbon weather")
    assert _texts(tools) == ["weather lookup: Lisbon 21C sunny"]
    assert _retriever(store, k=10).invoke("Lisbon", types=["nothing"]) == []


def test_time_filters(store: Memstore) -> None:
    _fill(store, "s1")
    since = T0 + timedelta(days=2)
    recent = _retriever(store, k=10, since=since).invoke("puppy Lisbon marathon")
    assert sorted(d.metadata["position"] for d in recent) == [2, 3, 4, 5]
    window = _retriever(store, k=10).invoke("puppy Lisbon", since=since, until=T0 + timedelta(days=4))
    assert sorted(d.metadata["position"] for d in window) == [2, 3]
    old = _retriever(store, k=10, until=T0 + timedelta(days=1)).invoke("anything at all")
    assert _texts(old) == ["I adopted a golden retriever puppy named Biscuit"]


def test_min_score_and_context(store: Memstore) -> None:
    _fill(store, "s1")
    everything = _retriever(store, k=10).invoke("marathon in October")
    cut = everything[1].metadata["score"]
    strict = _retriever(store, k=10, min_score=cut).invoke("marathon in October")
    assert 0 < len(strict) < len(everything)
    assert all(d.metadata["score"] >= cut for d in strict)
    with_context = _retriever(store, k=3, context=1).invoke("training for a marathon", types="human")
    # The hit (position 5) comes first, then its neighbour (position 4, a tool turn, unfiltered context).
    assert [d.metadata["position"] for d in with_context[:2]] == [5, 4]


async def test_async_matches_sync(store: Memstore) -> None:
    _fill(store, "s1")
    retriever = _retriever(store, k=4)
    sync = retriever.invoke("Lisbon spring", roles="assistant")
    assert await retriever.ainvoke("Lisbon spring", roles="assistant") == sync
    assert await retriever.abatch(["puppy", "marathon"]) == retriever.batch(["puppy", "marathon"])


async def test_add_messages_maps_langchain_messages(store: Memstore) -> None:
    retriever = _retriever(store, k=5)
    ids = retriever.add_messages(
        [
            HumanMessage("Where is my passport?"),
            AIMessage("You left it in the blue drawer."),
            ToolMessage("drawer: blue, contains passport", tool_call_id="call-1"),
        ]
    )
    await retriever.aadd_messages([HumanMessage("Book a flight to Oslo")], session_id="s2")
    docs = retriever.invoke("passport drawer")
    assert {d.id for d in docs} == set(ids)
    assert {d.metadata["type"] for d in docs} == {"human", "ai", "tool"}
    assert [m.role for m in store.buffer("s1").get_msg()] == ["user", "assistant", "tool"]
    assert _texts(retriever.invoke("flight", session_id="s2")) == ["Book a flight to Oslo"]


async def test_a_chat_history_with_recall_feeds_the_retriever(store: Memstore) -> None:
    indexed = MemstoreChatMessageHistory("s1", store=store, recall=True, embedding=EMBEDDER)
    plain = MemstoreChatMessageHistory("s2", store=store)
    indexed.add_messages([HumanMessage("Where is my passport?"), AIMessage("In the blue drawer.")])
    await indexed.aadd_messages([HumanMessage("And my keys?")])
    plain.add_messages([HumanMessage("my passport is at the embassy")])
    # The history reads as usual; the retriever finds what the indexing history wrote, not the plain one's.
    assert [m.content for m in indexed.messages] == [
        "Where is my passport?",
        "In the blue drawer.",
        "And my keys?",
    ]
    retriever = _retriever(store, None, k=10)
    assert {d.metadata["session_id"] for d in retriever.invoke("passport")} == {"s1"}
    assert "And my keys?" in _texts(retriever.invoke("keys"))
    with pytest.raises(ValidationError):
        MemstoreChatMessageHistory("s3", store=store, embedding=EMBEDDER)  # embedding without recall
    assert "recall=True" in repr(indexed)


def test_rag_chain_over_past_turns(store: Memstore) -> None:
    _fill(store, "s1")
    retriever = _retriever(store, k=1)
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Earlier in this conversation:\n{context}"), ("human", "{question}")]
    )
    seen: list[list[BaseMessage]] = []

    def record(value: PromptValue) -> PromptValue:
        seen.append(value.to_messages())
        return value

    def join(docs: list[Document]) -> str:
        return "\n".join(f"{d.metadata['role']}: {d.page_content}" for d in docs)

    chain = (
        {"context": retriever | RunnableLambda(join), "question": RunnablePassthrough()}
        | prompt
        | RunnableLambda(record)
        | GenericFakeChatModel(messages=iter([AIMessage("Your sister lives in Lisbon.")]))
        | StrOutputParser()
    )
    assert chain.invoke("Where did my sister move?") == "Your sister lives in Lisbon."
    assert seen[0][0].content == "Earlier in this conversation:\nuser: My sister moved to Lisbon last spring"


@pytest.mark.parametrize("hostile", ["", "a\x00b", "\ud800", "x" * 1025, 5])
def test_hostile_session_ids_raise_and_write_nothing(store: Memstore, hostile: Any) -> None:
    _fill(store, "s1")
    with pytest.raises((ValidationError, ValueError)) as caught:
        _retriever(store, hostile)
    if not isinstance(hostile, int):
        assert isinstance(caught.value, ValidationError)
        retriever = _retriever(store, "s1")
        with pytest.raises(ValidationError):
            retriever.invoke("puppy", session_id=hostile)
        with pytest.raises(ValidationError):
            retriever.add_messages([HumanMessage("hello")], session_id=hostile)
    assert store.memory(None, embedder=EMBEDDER).stats().messages == len(TURNS)


def test_sql_text_in_a_session_id_is_just_text(store: Memstore) -> None:
    hostile = "s'; DROP TABLE memstore_messages; --"
    _fill(store, hostile)
    _fill(store, "s1")
    docs = _retriever(store, hostile, k=10).invoke("puppy")
    assert {d.metadata["session_id"] for d in docs} == {hostile}
    assert len(docs) == len(TURNS)


@pytest.mark.parametrize(
    "options",
    [{"k": -1}, {"k": True}, {"context": -1}, {"roles": ""}, {"types": ["ok", "\x00"]}, {"min_score": "hi"}],
)
def test_bad_options_raise_at_construction(store: Memstore, options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        _retriever(store, **options)


def test_bad_call_options_raise(store: Memstore) -> None:
    _fill(store, "s1")
    retriever = _retriever(store)
    with pytest.raises(ValidationError, match="unknown retriever option"):
        retriever.invoke("puppy", top_k=3)
    with pytest.raises(ValidationError):
        retriever.invoke("puppy", k=-2)
    with pytest.raises(ValidationError):
        _retriever(store, None).add_messages([HumanMessage("no session")])
    assert store.memory(None, embedder=EMBEDDER).stats().messages == len(TURNS)


def test_langchain_embeddings_and_a_url_store(sqlite_url: str) -> None:
    embedding = DeterministicFakeEmbedding(size=32)
    with MemstoreMemoryRetriever("s1", store=sqlite_url, embedding=embedding, k=2) as retriever:
        retriever.add_messages([HumanMessage("alpha"), AIMessage("beta"), HumanMessage("gamma")])
        assert _texts(retriever.invoke("beta"))[0] == "beta"
    with Memstore(sqlite_url) as reopened:  # the retriever closed the store it opened; the data stayed
        assert [m.text for m in reopened.buffer("s1").get_msg()] == ["alpha", "beta", "gamma"]


def test_default_offline_embedder(store: Memstore) -> None:
    retriever = MemstoreMemoryRetriever("s1", store=store, k=1, collection="minilm-memory")
    retriever.add_messages([HumanMessage("My cat sleeps on the sofa"), HumanMessage("Stocks fell today")])
    assert _texts(retriever.invoke("where does the kitten nap?")) == ["My cat sleeps on the sofa"]
