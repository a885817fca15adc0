"""Re-measure the sync/async table of docs/architecture.md on this machine.

One SQLite file, one conversation of 100k messages written through memstore; every path reads its last 20
messages with the same indexed query on memstore's own table (``memstore_messages``)::

    python benchmarks/bench_bridge.py [--messages 100000] [--reps 1000]

Prints a markdown table (median µs per read, and the ratio to raw ``sqlite3`` measured in the same run) and
writes ``benchmarks/results/bridge.json``. The paths run interleaved in one event loop, so load from other
processes on the machine spreads over all of them; trust the ratios more than the absolute figures.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sqlite3
import tempfile
import time
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
from sqlalchemy import bindparam, column, create_engine, select, table
from sqlalchemy.ext.asyncio import create_async_engine
from tqdm import tqdm

from memstore import Memstore, Message

log = logging.getLogger("memstore.bench.bridge")

CONVERSATION = "c"
LAST = 20
COLUMNS = (
    "id",
    "conversation_id",
    "position",
    "role",
    "type",
    "content_text",
    "content_parts",
    "metadata",
    "created_at",
)
RAW_QUERY = (
    "SELECT id, conversation_id, position, role, type, content_text, content_parts, metadata, created_at"
    " FROM memstore_messages WHERE conversation_id = ? ORDER BY position DESC LIMIT 20"
)
_MESSAGES = table("memstore_messages", *(column(name) for name in COLUMNS))
SA_QUERY = (
    select(*_MESSAGES.c)
    .where(_MESSAGES.c.conversation_id == bindparam("cid"))
    .order_by(_MESSAGES.c.position.desc())
    .limit(LAST)
)
"""The same query as SQLAlchemy Core (untyped columns: no result processing, like the raw query)."""

RAW = "raw `sqlite3`, indexed query"
SA_HELD = "SQLAlchemy Core, sync engine, held connection"
SA_CONNECT = "SQLAlchemy Core, sync engine, connect per call"
MEMSTORE = "memstore `buffer.get_msg(-20)` (sync)"
RAW_THREAD = "`asyncio.to_thread` over raw `sqlite3`"
MEMSTORE_ASYNC = "memstore `await buffer.aget_msg(-20)` (`to_thread` twin)"
SA_ASYNC = "SQLAlchemy async engine + aiosqlite, in the loop, held connection"
ORDER = [RAW, SA_HELD, SA_CONNECT, MEMSTORE, RAW_THREAD, MEMSTORE_ASYNC, SA_ASYNC]
REFERENCE_ONLY = {SA_CONNECT, RAW_THREAD}
"""Rows beyond the five the architecture decision compares: they split the costs apart."""


def build(path: Path, n: int, batch: int = 1000) -> None:
    """One conversation of ``n`` messages, written through memstore in batches."""
    turns = chat_turns(CONVERSATION, n)
    with Memstore(f"sqlite:///{path}") as store:
        buffer = store.buffer(CONVERSATION)
        for start in tqdm(range(0, n, batch), desc="memstore add_msgs", unit="batch", disable=None):
            buffer.add_msgs([Message(role=role, content=text) for role, text in turns[start : start + batch]])


async def measure(path: Path, reps: int, rounds: int) -> dict[str, list[float]]:
    raw = sqlite3.connect(path)
    raw_threaded = sqlite3.connect(path, check_same_thread=False)
    engine = create_engine(f"sqlite:///{path}")
    held = engine.connect()
    async_engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    async_held = await async_engine.connect()
    store = Memstore(f"sqlite:///{path}")
    buffer = store.buffer(CONVERSATION)
    params = {"cid": CONVERSATION}

    def raw_read(connection: sqlite3.Connection = raw) -> list[Any]:
        return connection.execute(RAW_QUERY, (CONVERSATION,)).fetchall()[::-1]

    def sa_held() -> list[Any]:
        return held.execute(SA_QUERY, params).fetchall()[::-1]

    def sa_connect() -> list[Any]:
        with engine.connect() as connection:
            return connection.execute(SA_QUERY, params).fetchall()[::-1]

    async def raw_thread() -> list[Any]:
        return await asyncio.to_thread(raw_read, raw_threaded)

    async def memstore_async() -> list[Message]:
        return await buffer.aget_msg(-LAST)

    async def sa_async() -> list[Any]:
        return (await async_held.execute(SA_QUERY, params)).fetchall()[::-1]

    calls: dict[str, Any] = {
        RAW: raw_read,
        SA_HELD: sa_held,
        SA_CONNECT: sa_connect,
        MEMSTORE: lambda: buffer.get_msg(-LAST),
        RAW_THREAD: raw_thread,
        MEMSTORE_ASYNC: memstore_async,
        SA_ASYNC: sa_async,
    }
    try:
        expected = [row[0] for row in raw_read()]
        assert len(expected) == LAST, "the conversation is shorter than the read"
        for name, call in calls.items():
            result = await call() if asyncio.iscoroutinefunction(call) else call()
            ids = [m.id for m in result] if name in (MEMSTORE, MEMSTORE_ASYNC) else [row[0] for row in result]
            assert ids == expected, f"{name} read different messages"
        contenders = [Contender(name, calls[name], reps=reps, warmup=50) for name in ORDER]
        return await run_interleaved(contenders, rounds=rounds, progress="bridge")
    finally:
        await async_held.close()
        await async_engine.dispose()
        held.close()
        engine.dispose()
        store.close()
        raw.close()
        raw_threaded.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000, help="conversation length (100000)")
    parser.add_argument("--reps", type=int, default=1000, help="timed reads per path (1000)")
    parser.add_argument("--rounds", type=int, default=10, help="interleaving rounds (10)")
    args = parser.parse_args()
    setup_logging()
    env = environment(["memstore-ai", "sqlalchemy", "aiosqlite"])
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="memstore-bench-") as tmp:
        path = Path(tmp) / "bench.db"
        log.info("building one conversation of %d messages in %s", args.messages, path)
        build(path, args.messages)
        log.info("timing %d reads per path, %d rounds, interleaved", args.reps, args.rounds)
        samples = asyncio.run(measure(path, args.reps, args.rounds))
    stats = {name: summarise(samples[name]) for name in ORDER}
    raw_median = stats[RAW]["median_us"]
    rows = []
    results = []
    for name in ORDER:
        s = stats[name]
        ratio = s["median_us"] / raw_median
        label = f"{name} (reference)" if name in REFERENCE_ONLY else name
        rows.append(
            [
                label,
                fmt_us(s["median_us"]),
                f"{fmt_us(s['p25_us'])} - {fmt_us(s['p75_us'])}",
                fmt_ratio(ratio),
            ]
        )
        results.append({"path": name, "reference_only": name in REFERENCE_ONLY, **s, "ratio_to_raw": ratio})
    table_md = markdown_table(["path", "µs per read (median)", "p25 - p75 µs", "vs raw sqlite3"], rows)
    elapsed = time.perf_counter() - started
    out = write_results(
        "bridge.json",
        {
            "benchmark": "bridge",
            "description": f"read the last {LAST} of a {args.messages}-message conversation, SQLite file",
            "environment": env,
            "config": {"messages": args.messages, "reps": args.reps, "rounds": args.rounds, "warmup": 50},
            "results": results,
            "table_markdown": table_md,
            "elapsed_s": round(elapsed, 1),
        },
    )
    log.info("wrote %s (%.0f s in all)", out, elapsed)
    print(
        f"\nRead the last {LAST} of a {args.messages:,}-message conversation (SQLite file), "
        f"median of {args.reps} per path:\n\n{table_md}\n"
    )


if __name__ == "__main__":
    main()
