"""LlamaIndex token-limited chat memory over a long conversation: memstore's windowed mode against
``SQLAlchemyChatStore``.

The question: a user keeps one conversation of 100,000 messages (and 10,000, to see whether the cost is flat)
in a SQLite file and asks LlamaIndex for the messages that fit a token limit before each answer. What does
that ``get`` cost?

The contenders, each on its own SQLite file holding the same messages (realistic short chat turns):

- **memstore, windowed** (baseline): ``ChatMemoryBuffer.from_defaults(token_limit=T, chat_store=
  MemstoreChatStore(store, window=k), chat_store_key=key).get()``. ``window=k`` makes ``get_messages`` read
  only the newest ``k`` messages with one indexed query; ``ChatMemoryBuffer`` then trims them to ``T``
  tokens. ``k`` is chosen above what ``T`` holds (checked below), so the answer is a full read's.
- **LlamaIndex ``Memory`` over ``SQLAlchemyChatStore``**: the idiomatic peer. ``ChatMemoryBuffer`` takes a
  ``BaseChatStore`` and ``SQLAlchemyChatStore`` is not one (it is the ``AsyncDBChatStore`` LlamaIndex wrote
  for its newer ``Memory``, which replaces ``ChatMemoryBuffer``), so a user of ``SQLAlchemyChatStore`` gets a
  token-limited window from ``Memory.from_defaults(session_id=key, chat_store=SQLAlchemyChatStore(...),
  token_limit=T)``: ``Memory`` trims on every ``put`` (older messages move to ARCHIVED) and ``aget()`` reads
  the ACTIVE ones. The file is built in the state ``Memory`` leaves it in after the whole conversation went
  through it: the newest messages that fit ``chat_history_token_ratio * T`` tokens ACTIVE, the rest ARCHIVED
  (counted with ``Memory``'s own token estimate). How fast its ``aget()`` is depends on which of its
  single-column indexes SQLite reads the ACTIVE rows by, which depends on chance (see :func:`peer_variants`):
  both are measured. By ``key`` it reads every row of the conversation; by ``status`` every ACTIVE row of
  every conversation in the table (here only this one's: its best case).
- **memstore ``Memory`` over ``MemstoreMemoryChatStore``**: the same ``Memory`` on memstore, same state.
- The first row taken apart: memstore's windowed read alone, and ``ChatMemoryBuffer.get()`` over an in-memory
  ``SimpleChatStore`` holding the same ``k`` messages (the buffer's own token trimming, no I/O).
- Two references, reading the whole history: memstore ``MemstoreChatStore().get_messages(key)`` (what
  ``ChatMemoryBuffer`` reads without a window) and LlamaIndex ``SQLAlchemyChatStore.get_messages(key,
  status=None)``. ``ChatMemoryBuffer`` over a full read is not timed: its trimming loop re-counts the tokens
  of the remaining suffix after each dropped message, quadratic in the history (15 s at 2k messages here,
  minutes at 10k, hours at 100k).

Data is written through each store's own batch API (memstore: ``add_msgs`` / ``add_messages`` in batches of
1,000; LlamaIndex: ``add_messages(key, batch, status=...)``). Before timing, each contender's answer is
checked (the windowed buffer against ``ChatMemoryBuffer`` over a ``SimpleChatStore`` holding the
conversation's tail; the two ``Memory`` contenders against each other). Figures are medians of interleaved
rounds (see benchmarks/_common.py)::

    python benchmarks/bench_llamaindex_buffer.py           # 10k and 100k; a few minutes
    python benchmarks/bench_llamaindex_buffer.py --quick   # 2k and 10k, fewer repetitions

Prints a markdown table with ratios and writes ``benchmarks/results/llamaindex_buffer.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import (
    Contender,
    chat_turns,
    environment,
    fmt_ratio,
    fmt_us,
    markdown_table,
    run_interleaved,
    setup_logging,
    summarise,
    write_results,
)
from llama_index.core.llms import ChatMessage
from llama_index.core.memory import ChatMemoryBuffer, Memory
from llama_index.core.storage.chat_store import SimpleChatStore
from llama_index.core.storage.chat_store.base_db import MessageStatus
from llama_index.core.storage.chat_store.sql import SQLAlchemyChatStore
from tqdm import tqdm

from llamaindex_memstore import MemstoreChatStore, MemstoreMemoryChatStore, to_memstore_message
from memstore import Memstore

log = logging.getLogger("memstore.bench.llamaindex_buffer")

TOKEN_LIMIT = 2000
"""The token limit of every contender: about 90 of these chat turns."""
WINDOW = 128
"""memstore's ``window=``: above what TOKEN_LIMIT holds (checked), so it never changes the answer."""
BATCH = 1000
KEY = "big"
MEMORY_KEY = "big-memory"
"""The same conversation in ``Memory``'s layout (a key of its own: memstore's is in the same file)."""
TABLE = "chat_messages"

MS_WINDOW = "memstore `ChatMemoryBuffer` + `MemstoreChatStore(window=128)`: `.get()`"
LI_MEMORY = "LlamaIndex `Memory` + `SQLAlchemyChatStore`: `await .aget()`, SQLite reading by `key`"
LI_MEMORY_STATUS = "LlamaIndex, same, SQLite reading by `status`"
MS_MEMORY = "memstore `Memory` + `MemstoreMemoryChatStore`: `await .aget()`"
MS_READ = "part of the first row: `MemstoreChatStore(window=128).get_messages(key)`, the read alone"
TRIM = "part of the first row: `ChatMemoryBuffer` over a `SimpleChatStore` of the same 128 messages (no I/O)"
MS_ALL = "reference: memstore `MemstoreChatStore().get_messages(key)`, the whole history"
LI_ALL = "reference: LlamaIndex `await SQLAlchemyChatStore.get_messages(key, status=None)`, the whole history"
ORDER = [MS_WINDOW, LI_MEMORY, LI_MEMORY_STATUS, MS_MEMORY, MS_READ, TRIM, MS_ALL, LI_ALL]
PEER_QUERY = "SELECT * FROM chat_messages WHERE key = ? AND status = 'active' ORDER BY timestamp, id"
"""What ``SQLAlchemyChatStore.get_messages(key, status=ACTIVE)`` runs (table TABLE)."""


def messages_of(turns: Sequence[tuple[str, str]]) -> list[ChatMessage]:
    return [ChatMessage(role=role, content=text) for role, text in turns]


def sqlalchemy_store(path: Path) -> SQLAlchemyChatStore:
    return SQLAlchemyChatStore(table_name=TABLE, async_database_uri=f"sqlite+aiosqlite:///{path}")


async def sqlalchemy_close(store: SQLAlchemyChatStore) -> None:
    # The store has no close(); its engine (created from the URI) is a private attribute.
    if store._async_engine is not None:
        await store._async_engine.dispose()


def peer_plan(path: Path) -> str:
    """The index SQLite reads ``Memory``'s ACTIVE query by (``EXPLAIN QUERY PLAN`` of the store's query)."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        detail = connection.execute(f"EXPLAIN QUERY PLAN {PEER_QUERY}", (MEMORY_KEY,)).fetchall()[0][3]
    return next(column for column in ("key", "status") if f"ix_{TABLE}_{column} " in detail)


def peer_variants(path: Path) -> dict[str, Path]:
    """The peer's file as SQLite plans it by ``key`` and by ``status``.

    ``SQLAlchemyChatStore`` indexes ``key``, ``status`` and ``timestamp`` separately. Without statistics
    SQLite breaks the tie between the ``key`` and ``status`` indexes by taking the one created last, and
    SQLAlchemy creates a table's indexes in set order, which changes from process to process: a user's file
    gets either plan by chance. So both are measured: a copy of the file with the other index dropped and
    re-created (same definition) gets the other plan.
    """
    variants = {peer_plan(path): path}
    other = "status" if "key" in variants else "key"
    copy = path.with_name(f"{path.stem}-{other}.db")
    shutil.copyfile(path, copy)
    with contextlib.closing(sqlite3.connect(copy)) as connection:
        name = f"ix_{TABLE}_{other}"
        (ddl,) = connection.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()
        connection.execute(f"DROP INDEX {name}")
        connection.execute(ddl)
        connection.commit()
    variants[peer_plan(copy)] = copy
    assert set(variants) == {"key", "status"}, variants
    return variants


def memory_split(messages: list[ChatMessage]) -> int:
    """How many of the newest messages ``Memory`` keeps ACTIVE at TOKEN_LIMIT (its own token estimate)."""
    probe = Memory.from_defaults(session_id="probe", token_limit=TOKEN_LIMIT)
    budget = probe.token_limit * probe.chat_history_token_ratio
    used, active = 0, 0
    for message in reversed(messages):
        used += probe._estimate_token_count(message)
        if used > budget:
            break
        active += 1
    while active > 1 and messages[-active].role != "user":  # Memory keeps whole turns: start on a user turn
        active -= 1
    return active


def build(folder: Path, n: int) -> tuple[dict[str, Path], int]:
    """One SQLite file per system with the same ``n`` messages; returns the paths and the ACTIVE count."""
    messages = messages_of(chat_turns(KEY, n))
    active = memory_split(messages)
    archived = n - active
    paths = {"memstore": folder / f"memstore-{n}.db", "llamaindex": folder / f"llamaindex-{n}.db"}

    with Memstore(f"sqlite:///{paths['memstore']}") as store:
        buffer = store.buffer(KEY)
        memory_store = MemstoreMemoryChatStore(store)
        for start in tqdm(range(0, n, BATCH), desc=f"memstore {n:,}", leave=False):
            buffer.add_msgs([to_memstore_message(m) for m in messages[start : start + BATCH]])

        async def fill_memory() -> None:
            for start in range(0, archived, BATCH):
                part = messages[start : min(start + BATCH, archived)]
                await memory_store.add_messages(MEMORY_KEY, part, status=MessageStatus.ARCHIVED)
            await memory_store.add_messages(MEMORY_KEY, messages[archived:])

        asyncio.run(fill_memory())

    async def fill_sqlalchemy() -> None:
        store = sqlalchemy_store(paths["llamaindex"])
        for start in tqdm(range(0, archived, BATCH), desc=f"SQLAlchemyChatStore {n:,}", leave=False):
            part = messages[start : min(start + BATCH, archived)]
            await store.add_messages(MEMORY_KEY, part, status=MessageStatus.ARCHIVED)
        await store.add_messages(MEMORY_KEY, messages[archived:])
        await sqlalchemy_close(store)

    asyncio.run(fill_sqlalchemy())
    return paths, active


def texts(messages: Sequence[ChatMessage]) -> list[str]:
    return [str(m.content) for m in messages]


async def time_gets(paths: dict[str, Path], n: int, active: int, reps: dict[str, int], rounds: int) -> Any:
    store = Memstore(f"sqlite:///{paths['memstore']}")
    window_store = MemstoreChatStore(store, window=WINDOW)
    windowed = ChatMemoryBuffer.from_defaults(
        token_limit=TOKEN_LIMIT, chat_store=window_store, chat_store_key=KEY
    )
    in_memory = ChatMemoryBuffer.from_defaults(
        token_limit=TOKEN_LIMIT,
        chat_store=SimpleChatStore(store={KEY: window_store.get_messages(KEY)}),
        chat_store_key=KEY,
    )
    whole = MemstoreChatStore(store)
    ours = Memory.from_defaults(
        session_id=MEMORY_KEY, chat_store=MemstoreMemoryChatStore(store), token_limit=TOKEN_LIMIT
    )
    peer_stores = {plan: sqlalchemy_store(path) for plan, path in peer_variants(paths["llamaindex"]).items()}
    peer_store = peer_stores["key"]
    peers = {
        plan: Memory.from_defaults(session_id=MEMORY_KEY, chat_store=chat_store, token_limit=TOKEN_LIMIT)
        for plan, chat_store in peer_stores.items()
    }
    try:
        # The answers are right before anything is timed.
        got = windowed.get()
        assert len(got) < WINDOW, "WINDOW must exceed what TOKEN_LIMIT holds"
        tail = messages_of(chat_turns(KEY, n))[-3 * WINDOW :]
        reference = ChatMemoryBuffer.from_defaults(
            token_limit=TOKEN_LIMIT, chat_store=SimpleChatStore(store={KEY: tail}), chat_store_key=KEY
        )
        assert texts(got) == texts(reference.get()) == texts(in_memory.get())
        ours_got = await ours.aget()
        assert len(ours_got) == active
        for peer in peers.values():
            assert texts(await peer.aget()) == texts(ours_got)
        assert len(whole.get_messages(KEY)) == n
        assert len(await peer_store.get_messages(MEMORY_KEY, status=None)) == n

        async def li_all() -> list[ChatMessage]:
            return await peer_store.get_messages(MEMORY_KEY, status=None)

        calls: dict[str, Any] = {
            MS_WINDOW: windowed.get,
            LI_MEMORY: peers["key"].aget,
            LI_MEMORY_STATUS: peers["status"].aget,
            MS_MEMORY: ours.aget,
            MS_READ: lambda: window_store.get_messages(KEY),
            TRIM: in_memory.get,
            MS_ALL: lambda: whole.get_messages(KEY),
            LI_ALL: li_all,
        }
        contenders = [Contender(name, calls[name], reps=reps[name], warmup=2) for name in ORDER]
        samples = await run_interleaved(contenders, rounds=rounds, progress=f"N={n:,}")
    finally:
        for chat_store in peer_stores.values():
            await sqlalchemy_close(chat_store)
        store.close()
    return {name: summarise(samples[name]) for name in ORDER}, len(got)


def report(sizes: Sequence[int], results: dict[int, dict[str, dict[str, float]]]) -> str:
    headers = ["`get` of a token-limited window (2,000 tokens)"]
    for n in sizes:
        headers += [f"ms at {n:,}", f"vs windowed at {n:,}"]
    rows = []
    for name in ORDER:
        row = [name]
        for n in sizes:
            median = results[n][name]["median_us"]
            row += [fmt_us(median / 1000), fmt_ratio(median / results[n][MS_WINDOW]["median_us"])]
        rows.append(row)
    lines = [markdown_table(headers, rows), ""]
    small, big = sizes[0], sizes[-1]
    for name in (MS_WINDOW, LI_MEMORY, LI_MEMORY_STATUS, MS_MEMORY):
        growth = results[big][name]["median_us"] / results[small][name]["median_us"]
        lines.append(f"- {name}: {fmt_ratio(growth)} from {small:,} to {big:,} messages")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2k and 10k messages, fewer repetitions")
    args = parser.parse_args()
    setup_logging()
    started = time.perf_counter()
    sizes = (2_000, 10_000) if args.quick else (10_000, 100_000)
    rounds = 3 if args.quick else 5
    fast, slow = (30, 3) if args.quick else (100, 5)
    reps = {name: fast for name in ORDER} | {MS_ALL: slow, LI_ALL: slow}
    env = environment(["memstore-ai", "sqlalchemy", "aiosqlite", "llama-index-core"])
    results: dict[int, dict[str, dict[str, float]]] = {}
    details: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="memstore-bench-li-") as tmp:
        for n in sizes:
            log.info("building the files for N=%s", f"{n:,}")
            t0 = time.perf_counter()
            paths, active = build(Path(tmp), n)
            built = time.perf_counter() - t0
            log.info("timing get() at N=%s", f"{n:,}")
            results[n], returned = asyncio.run(time_gets(paths, n, active, reps, rounds))
            details[str(n)] = {
                "build_seconds": round(built, 1),
                "memory_active_messages": active,
                "buffer_returned_messages": returned,
                "file_bytes": {system: path.stat().st_size for system, path in paths.items()},
            }
    text = report(sizes, results)
    elapsed = time.perf_counter() - started
    out = write_results(
        "llamaindex_buffer.json",
        {
            "benchmark": "llamaindex_buffer",
            "quick": args.quick,
            "environment": env,
            "config": {
                "sizes": list(sizes),
                "token_limit": TOKEN_LIMIT,
                "window": WINDOW,
                "rounds": rounds,
                "reps": reps,
            },
            "details": details,
            "gets_us": {str(n): results[n] for n in sizes},
            "report_markdown": text,
            "elapsed_s": round(elapsed, 1),
        },
    )
    log.info("wrote %s (%.0f s in all)", out, elapsed)
    print(f"\n{text}\n")


if __name__ == "__main__":
    main()
