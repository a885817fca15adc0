"""One ``RunnableWithMessageHistory`` turn over a long session: memstore's windowed history vs LangChain's.

One SQLite file per system holding the same session of N messages (realistic short chat turns, user and
assistant alternating; memstore's written through ``MemstoreChatMessageHistory.add_messages``, LangChain's
rows inserted in bulk into ``SQLChatMessageHistory``'s own table with its own serialisation,
``json.dumps(message_to_dict(m))``). Then it times one turn of the same LCEL chain,
``ChatPromptTemplate([system, MessagesPlaceholder("history"), human]) | FakeListChatModel``, wrapped in
``RunnableWithMessageHistory`` over

(a) ``MemstoreChatMessageHistory(session, store=store, window=20)``: reads the last 20 rows (sync, and the
    async ``ainvoke`` path);
(b) LangChain's ``SQLChatMessageHistory(session, connection=engine)`` (langchain-community), which loads the
    whole session every turn;
(c) for reference, ``MemstoreChatMessageHistory`` without a window, which loads the whole session too.

Each turn also appends the user's message and the answer, so the session grows by 2 per turn. Both systems
get one shared connection (a ``Memstore`` / an ``Engine``) made once, their best case::

    python benchmarks/bench_langchain_turn.py            # N = 10k and 100k; a few minutes
    python benchmarks/bench_langchain_turn.py --quick    # N = 2k and 10k, fewer turns: a smoke run

Prints a markdown table (median ms per turn, ratio to memstore's windowed turn) and writes
``benchmarks/results/langchain_turn.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _common import (
    TIMES,
    Contender,
    chat_turns,
    environment,
    fmt_ratio,
    markdown_table,
    run_interleaved,
    setup_logging,
    summarise,
    write_results,
)
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, message_to_dict
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import Runnable
from langchain_core.runnables.history import RunnableWithMessageHistory
from sqlalchemy import Engine, create_engine
from tqdm import tqdm

from langchain_memstore import MemstoreChatMessageHistory
from memstore import Memstore

log = logging.getLogger("memstore.bench.langchain_turn")

SESSION = "big"
WINDOW = 20
BUILD_BATCH = 10_000
QUESTION = "And what about the budget spreadsheet?"

MS = f"memstore `MemstoreChatMessageHistory(window={WINDOW})`"
MS_ASYNC = f"memstore `window={WINDOW}`, `await chain.ainvoke`"
LC = "LangChain `SQLChatMessageHistory` (loads the whole session)"
MS_ALL = "memstore without a window (loads the whole session; reference)"
ORDER = [MS, MS_ASYNC, LC, MS_ALL]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    # LangChain deprecates RunnableWithMessageHistory and langchain-community announces its sunset; the
    # classes measured are still the current ones.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*RunnableWithMessageHistory.*")
        yield


def _messages(turns: list[tuple[str, str]]) -> list[BaseMessage]:
    return [HumanMessage(text) if role == "user" else AIMessage(text) for role, text in turns]


def _batches(turns: list[tuple[str, str]], desc: str) -> Iterator[list[BaseMessage]]:
    for start in tqdm(range(0, len(turns), BUILD_BATCH), desc=desc, unit="batch", disable=None):
        yield _messages(turns[start : start + BUILD_BATCH])


def _langchain_history(engine: Engine) -> Any:
    with _quiet():
        from langchain_community.chat_message_histories import SQLChatMessageHistory

    return SQLChatMessageHistory(session_id=SESSION, connection=engine)


def build(folder: Path, n: int) -> dict[str, Path]:
    """The two files, each holding the same session of ``n`` messages."""
    turns = chat_turns(SESSION, n)
    paths = {"memstore": folder / f"memstore-{n}.db", "langchain": folder / f"langchain-{n}.db"}
    with Memstore(f"sqlite:///{paths['memstore']}") as store:
        history = MemstoreChatMessageHistory(SESSION, store=store)
        for batch in _batches(turns, f"memstore N={n:,}"):
            history.add_messages(batch)
    engine = create_engine(f"sqlite:///{paths['langchain']}")
    try:
        table = _langchain_history(engine).sql_model_class.__table__  # created by the history itself
        with engine.begin() as conn:
            for batch in _batches(turns, f"langchain N={n:,}"):
                rows = [{"session_id": SESSION, "message": json.dumps(message_to_dict(m))} for m in batch]
                conn.execute(table.insert(), rows)
    finally:
        engine.dispose()
    return paths


def _chain() -> Runnable[Any, Any]:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are a helpful assistant."), MessagesPlaceholder("history"), ("human", "{question}")]
    )
    return prompt | FakeListChatModel(responses=["Sure, noted."])


def _with_history(factory: Any) -> Runnable[Any, Any]:
    with _quiet():
        return RunnableWithMessageHistory(
            _chain(), factory, input_messages_key="question", history_messages_key="history"
        )


async def time_turns(paths: dict[str, Path], n: int, reps: dict[str, int], rounds: int) -> dict[str, Any]:
    """Interleaved turns of the chain over each history; checks each contender really ran a turn first."""
    store = Memstore(f"sqlite:///{paths['memstore']}")
    engine = create_engine(f"sqlite:///{paths['langchain']}")
    windowed = _with_history(
        lambda session_id: MemstoreChatMessageHistory(session_id, store=store, window=WINDOW)
    )
    whole = _with_history(lambda session_id: MemstoreChatMessageHistory(session_id, store=store))
    langchain = _with_history(lambda session_id: _langchain_history(engine))
    config: Any = {"configurable": {"session_id": SESSION}}
    question = {"question": QUESTION}

    async def windowed_async() -> Any:
        return await windowed.ainvoke(question, config=config)

    calls: dict[str, Any] = {
        MS: lambda: windowed.invoke(question, config=config),
        MS_ASYNC: windowed_async,
        LC: lambda: langchain.invoke(question, config=config),
        MS_ALL: lambda: whole.invoke(question, config=config),
    }
    try:
        with _quiet():
            for name, call in calls.items():
                answer = await call() if asyncio.iscoroutinefunction(call) else call()
                if answer.content != "Sure, noted.":
                    raise AssertionError(f"{name} did not run a turn")
            read_back = MemstoreChatMessageHistory(SESSION, store=store).get_last(2)
            if [m.content for m in read_back] != [QUESTION, "Sure, noted."]:
                raise AssertionError("the memstore turn did not append the question and the answer")
            if len(_langchain_history(engine).messages) != n + 2:
                raise AssertionError("the LangChain turn did not append the question and the answer")
            contenders = [Contender(name, calls[name], reps=reps[name], warmup=1) for name in ORDER]
            samples = await run_interleaved(contenders, rounds=rounds, progress=f"turns N={n:,}")
    finally:
        engine.dispose()
        store.close()
    return {name: summarise(samples[name]) for name in ORDER}


def report(sizes: tuple[int, ...], turns: dict[int, dict[str, Any]]) -> str:
    rows = []
    for name in ORDER:
        row = [name]
        for n in sizes:
            row.append(f"{turns[n][name]['median_us'] / 1000:,.2f}")
        for n in sizes:
            ratio = turns[n][name]["median_us"] / turns[n][MS]["median_us"]
            row.append("1.00" + TIMES if name == MS else fmt_ratio(ratio))
        row.append(" / ".join(str(turns[n][name]["n"]) for n in sizes))
        rows.append(row)
    headers = ["one `RunnableWithMessageHistory` turn"]
    headers += [f"ms, N={n:,}" for n in sizes]
    headers += [f"vs windowed memstore, N={n:,}" for n in sizes]
    headers.append("turns timed")
    small, big = sizes
    flat = turns[big][MS]["median_us"] / turns[small][MS]["median_us"]
    return (
        f"{markdown_table(headers, rows)}\n\nmemstore's windowed turn at N={big:,} vs N={small:,}: "
        f"{fmt_ratio(flat)}; LangChain's: "
        f"{fmt_ratio(turns[big][LC]['median_us'] / turns[small][LC]['median_us'])}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2k and 10k messages, fewer turns")
    args = parser.parse_args()
    setup_logging()
    started = time.perf_counter()
    sizes = (2_000, 10_000) if args.quick else (10_000, 100_000)
    rounds = 3 if args.quick else 5
    reps = (
        {MS: 150, MS_ASYNC: 150, LC: 6, MS_ALL: 6}
        if args.quick
        else {MS: 300, MS_ASYNC: 300, LC: 10, MS_ALL: 10}
    )
    env = environment(["memstore-ai", "sqlalchemy", "langchain-community", "langchain-core"])
    with tempfile.TemporaryDirectory(prefix="memstore-bench-") as tmp:
        turns: dict[int, dict[str, Any]] = {}
        build_seconds: dict[str, float] = {}
        for n in sizes:
            t0 = time.perf_counter()
            paths = build(Path(tmp), n)
            build_seconds[str(n)] = round(time.perf_counter() - t0, 1)
            log.info("timing turns at N=%s", f"{n:,}")
            turns[n] = asyncio.run(time_turns(paths, n, reps, rounds))
    text = report(sizes, turns)
    elapsed = time.perf_counter() - started
    out = write_results(
        "langchain_turn.json",
        {
            "benchmark": "langchain_turn",
            "quick": args.quick,
            "environment": env,
            "config": {"sizes": list(sizes), "window": WINDOW, "rounds": rounds, "reps": reps},
            "build_seconds": build_seconds,
            "turns_us": {str(n): turns[n] for n in sizes},
            "report_markdown": text,
            "elapsed_s": round(elapsed, 1),
        },
    )
    log.info("wrote %s (%.0f s in all)", out, elapsed)
    print(f"\n{text}\n")


if __name__ == "__main__":
    main()
