"""A retrieval-augmented chain over MemstoreVectorStore.as_retriever(), offline.

The embedder is the core's deterministic bag-of-words HashingEmbedder (texts sharing words are nearer), so
the retriever must pick the right document; the model is LangChain's GenericFakeChatModel. The vectors
live on the default backend: embedded Chroma next to the SQLite database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompt_values import PromptValue
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough

from langchain_memstore import MemstoreEmbeddings, MemstoreVectorStore
from memstore import HashingEmbedder

KNOWLEDGE = [
    Document("The memstore default database is a SQLite file.", metadata={"topic": "storage"}, id="sqlite"),
    Document(
        "Chroma keeps the vectors in an embedded directory.", metadata={"topic": "vectors"}, id="chroma"
    ),
    Document("Paris is the capital city of France.", metadata={"topic": "geo"}, id="paris"),
    Document("Bananas are a yellow tropical fruit.", metadata={"topic": "food"}, id="banana"),
]


def _rag(
    vs: MemstoreVectorStore, answer: str, seen: list[list[BaseMessage]], **search: Any
) -> Runnable[Any, Any]:
    retriever = vs.as_retriever(search_kwargs={"k": 1, **search})
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer from this context only:\n{context}"), ("human", "{question}")]
    )

    def record(value: PromptValue) -> PromptValue:
        seen.append(value.to_messages())
        return value

    def join(docs: list[Document]) -> str:
        return "\n".join(f"[{doc.id}] {doc.page_content}" for doc in docs)

    model = GenericFakeChatModel(messages=iter([AIMessage(answer)]))
    return (
        {"context": retriever | RunnableLambda(join), "question": RunnablePassthrough()}
        | prompt
        | RunnableLambda(record)
        | model
        | StrOutputParser()
    )


@pytest.fixture
def knowledge(tmp_path: Path) -> Any:
    with MemstoreVectorStore(
        "knowledge", MemstoreEmbeddings(HashingEmbedder(256)), store=f"sqlite:///{tmp_path / 'app.db'}"
    ) as vs:
        assert vs._store.vectors.backend.kind == "chroma"
        vs.add_documents(KNOWLEDGE)
        yield vs


def test_retriever_returns_the_expected_document(knowledge: MemstoreVectorStore) -> None:
    retriever = knowledge.as_retriever(search_kwargs={"k": 1})
    assert [d.id for d in retriever.invoke("What is the capital of France?")] == ["paris"]
    assert [d.id for d in retriever.invoke("Where does Chroma keep the vectors?")] == ["chroma"]
    filtered = knowledge.as_retriever(search_kwargs={"k": 4, "filter": {"topic": "food"}})
    assert filtered.invoke("capital of France") == [KNOWLEDGE[3]]


def test_rag_chain_answers_from_the_retrieved_context(knowledge: MemstoreVectorStore) -> None:
    seen: list[list[BaseMessage]] = []
    chain = _rag(knowledge, "Paris.", seen)
    assert chain.invoke("What is the capital of France?") == "Paris."
    system = str(seen[0][0].content)
    assert "[paris] Paris is the capital city of France." in system
    assert "banana" not in system
    assert str(seen[0][1].content) == "What is the capital of France?"


async def test_rag_chain_async(knowledge: MemstoreVectorStore) -> None:
    seen: list[list[BaseMessage]] = []
    chain = _rag(knowledge, "A SQLite file.", seen, filter={"topic": {"$in": ["storage", "vectors"]}})
    assert await chain.ainvoke("Which database file does memstore use by default?") == "A SQLite file."
    assert "[sqlite] The memstore default database is a SQLite file." in str(seen[0][0].content)
