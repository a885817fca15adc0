"""A real LCEL chain with RunnableWithMessageHistory over MemstoreChatMessageHistory, offline (fake model).

``RunnableWithMessageHistory`` is deprecated by LangChain itself (removal in 2.0); its warning is LangChain's,
filtered here so that the suite shows only warnings of ours.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.prompt_values import PromptValue
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.runnables.history import RunnableWithMessageHistory

from langchain_memstore import MemstoreChatMessageHistory
from memstore import Memstore, Message

pytestmark = pytest.mark.filterwarnings("ignore:RunnableWithMessageHistory is deprecated")


def _chain(answers: list[str], seen: list[list[BaseMessage]]) -> Runnable[Any, Any]:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are terse."), MessagesPlaceholder("history"), ("human", "{question}")]
    )

    def record(value: PromptValue) -> PromptValue:
        seen.append(value.to_messages())
        return value

    model = GenericFakeChatModel(messages=iter([AIMessage(answer) for answer in answers]))
    return prompt | RunnableLambda(record) | model


def _with_history(
    chain: Runnable[Any, Any], store: Memstore, window: int | None = None
) -> Runnable[Any, Any]:
    return RunnableWithMessageHistory(
        chain,
        lambda session_id: MemstoreChatMessageHistory(session_id, store=store, window=window),
        input_messages_key="question",
        history_messages_key="history",
    )


def _config(session_id: str) -> Any:
    return {"configurable": {"session_id": session_id}}


def _turns(messages: list[BaseMessage]) -> list[tuple[str, str]]:
    return [(m.type, str(m.content)) for m in messages]


def test_two_turns_keep_four_messages_in_order(mstore: Memstore) -> None:
    seen: list[list[BaseMessage]] = []
    chain = _with_history(_chain(["Paris.", "About 2.1 million."], seen), mstore)
    session = f"chat-{uuid.uuid4().hex}"
    first = chain.invoke({"question": "Capital of France?"}, config=_config(session))
    second = chain.invoke({"question": "Population?"}, config=_config(session))
    assert (first.content, second.content) == ("Paris.", "About 2.1 million.")
    history = MemstoreChatMessageHistory(session, store=mstore).messages
    assert _turns(history) == [
        ("human", "Capital of France?"),
        ("ai", "Paris."),
        ("human", "Population?"),
        ("ai", "About 2.1 million."),
    ]
    assert _turns(seen[1]) == [("system", "You are terse."), *_turns(history[:2]), ("human", "Population?")]
    assert [m.role for m in mstore.buffer(session).get_msg()] == ["user", "assistant", "user", "assistant"]


async def test_two_turns_async(mstore: Memstore) -> None:
    seen: list[list[BaseMessage]] = []
    chain = _with_history(_chain(["one", "two"], seen), mstore)
    session = f"chat-{uuid.uuid4().hex}"
    await chain.ainvoke({"question": "q1"}, config=_config(session))
    await chain.ainvoke({"question": "q2"}, config=_config(session))
    history = await MemstoreChatMessageHistory(session, store=mstore).aget_messages()
    assert _turns(history) == [("human", "q1"), ("ai", "one"), ("human", "q2"), ("ai", "two")]
    assert isinstance(seen[1][1], HumanMessage)
    assert isinstance(seen[0][0], SystemMessage)


async def test_windowed_history_reads_only_the_window(
    mstore: Memstore, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = f"long-{uuid.uuid4().hex}"
    MemstoreChatMessageHistory(session, store=mstore).add_messages(
        [
            HumanMessage(f"old question {i}") if i % 2 == 0 else AIMessage(f"old answer {i}")
            for i in range(100)
        ]
    )
    rows: list[int] = []  # rows each read of the history returns from the backend (sync or async alike)
    backend = mstore.buffer(session)._backend
    real = backend.select

    def spy(conversation_id: str, query: Any) -> list[Message]:
        found = real(conversation_id, query)
        rows.append(len(found))
        return found

    monkeypatch.setattr(backend, "select", spy)
    seen: list[list[BaseMessage]] = []
    chain = _with_history(_chain(["fresh answer", "async answer"], seen), mstore, window=4)
    chain.invoke({"question": "new question"}, config=_config(session))
    await chain.ainvoke({"question": "async question"}, config=_config(session))
    assert rows == [4, 4]
    assert _turns(seen[0][1:-1]) == [
        ("human", "old question 96"),
        ("ai", "old answer 97"),
        ("human", "old question 98"),
        ("ai", "old answer 99"),
    ]
    assert _turns(seen[1][1:-1]) == [
        ("human", "old question 98"),
        ("ai", "old answer 99"),
        ("human", "new question"),
        ("ai", "fresh answer"),
    ]
    assert mstore.buffer(session).length() == 104


def test_message_list_input_without_history_key(mstore: Memstore) -> None:
    # Without history_messages_key, LangChain prepends the history to the input and re-reads it after the run
    # to cut it off again; with a window, both reads return the same window, so nothing is stored twice.
    model = GenericFakeChatModel(messages=iter([AIMessage("a1"), AIMessage("a2"), AIMessage("a3")]))
    session = f"list-{uuid.uuid4().hex}"
    chain = RunnableWithMessageHistory(
        model, lambda session_id: MemstoreChatMessageHistory(session_id, store=mstore, window=2)
    )
    for question in ["q1", "q2", "q3"]:
        chain.invoke([HumanMessage(question)], config=_config(session))
    full = MemstoreChatMessageHistory(session, store=mstore).messages
    assert _turns(full) == [
        ("human", "q1"),
        ("ai", "a1"),
        ("human", "q2"),
        ("ai", "a2"),
        ("human", "q3"),
        ("ai", "a3"),
    ]
