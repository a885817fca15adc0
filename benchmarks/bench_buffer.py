"""The buffer store against its peers: read the last 20 messages, append in batches, peak memory of a read.

In one run, on SQLite files: every system gets its own file holding the same data, one 100k-message
conversation plus 9 conversations of 1k (realistic short chat turns, user/assistant alternating, chunks of the
conversations interleaved as a real application writes them). Then it measures

(a) reading the last 20 messages through memstore (``buffer.get_msg(-20)``, and its async twin);
(b) the same through the peers' idiomatic use: LangChain ``SQLChatMessageHistory(...).messages[-20:]``
    (langchain-community) and LlamaIndex ``SQLAlchemyChatStore.get_messages(key)[-20:]`` (what its ``Memory``
    does), plus the cheaper path LlamaIndex offers (``count_messages`` then ``get_messages(limit, offset)``);
(c) a raw ``sqlite3`` indexed query on an equivalent table;
(d) batched appends of 100 messages per call: memstore ``add_msgs``, LangChain ``add_messages``, LlamaIndex
    ``add_messages``, and raw ``sqlite3`` ``executemany`` in one transaction;

and the peak RSS of one read, each in a fresh process, at 10k and at 100k messages::

    python benchmarks/bench_buffer.py            # the acceptance sizes (10k and 100k); a few minutes
    python benchmarks/bench_buffer.py --quick    # 2k and 10k, fewer repetitions: a smoke run

Prints markdown tables with ratios, then which targets are met, and writes ``benchmarks/results/buffer.json``.
A missed target is reported, not raised: this is a benchmark, not a test (exit code 0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import io
import json
import logging
import pstats
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from _common import (
    BIG,
    TIMES,
    Contender,
    build_schedule,
    chat_turns,
    environment,
    fmt_mib,
    fmt_ratio,
    fmt_us,
    markdown_table,
    other_ids,
    run_interleaved,
    setup_logging,
    summarise,
    write_results,
)
from tqdm import tqdm

from memstore import Memstore, Message

log = logging.getLogger("memstore.bench.buffer")

LAST = 20
APPEND_BATCH = 100
LANGCHAIN_TABLE = "message_store"
LLAMAINDEX_TABLE = "chat_messages"
PROBE_WARMUP = other_ids()[0]
"""The conversation a memory probe reads first, so that the measured read pays no first-use costs."""

# Contender names: the rows of the tables.
MS = "memstore `buffer.get_msg(-20)`"
MS_ASYNC = "memstore `await buffer.aget_msg(-20)`"
RAW = "raw `sqlite3` indexed query"
RAW_DECODE = "raw `sqlite3` + decoding rows to dicts (reference)"
LC = "LangChain `SQLChatMessageHistory.messages[-20:]`"
LI = "LlamaIndex `await SQLAlchemyChatStore.get_messages(key)` then `[-20:]`"
LI_OFFSET = "LlamaIndex `count_messages` + `get_messages(limit=20, offset=n-20)` (not what `Memory` does)"
READ_ORDER = [MS, MS_ASYNC, RAW, RAW_DECODE, LC, LI, LI_OFFSET]

MS_APPEND = "memstore `buffer.add_msgs(batch)`"
RAW_APPEND = "raw `sqlite3` `executemany` in one transaction"
LC_APPEND = "LangChain `SQLChatMessageHistory.add_messages(batch)`"
LC_APPEND_WAL = "LangChain, same but on memstore's PRAGMAs (WAL, synchronous=NORMAL) (reference)"
LI_APPEND = "LlamaIndex `await SQLAlchemyChatStore.add_messages(key, batch)` (reference)"
APPEND_ORDER = [MS_APPEND, RAW_APPEND, LC_APPEND, LC_APPEND_WAL, LI_APPEND]

PROBES = {"memstore": MS, "raw": RAW, "langchain": LC, "llamaindex": LI, "llamaindex-offset": LI_OFFSET}

# -- raw sqlite3: a table equivalent to memstore's ----------------------------------------------------------

RAW_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    role TEXT NOT NULL,
    type TEXT NOT NULL,
    content_text TEXT NOT NULL,
    content_parts TEXT,
    metadata TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS ux_messages_position ON messages (conversation_id, position);
CREATE INDEX IF NOT EXISTS ix_messages_created ON messages (conversation_id, created_at);
"""
RAW_LAST = (
    "SELECT id, conversation_id, position, role, type, content_text, content_parts, metadata, created_at"
    " FROM messages WHERE conversation_id = ? ORDER BY position DESC LIMIT ?"
)
RAW_NEXT = "SELECT coalesce(max(position) + 1, 0) FROM messages WHERE conversation_id = ?"
RAW_INSERT = "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"


class RawSqlite:
    """The floor: the stdlib driver, memstore's PRAGMAs (WAL, synchronous=NORMAL), no abstraction at all."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.execute("PRAGMA journal_mode = WAL")
        self.connection.execute("PRAGMA synchronous = NORMAL")
        self.connection.execute("PRAGMA busy_timeout = 30000")
        self.connection.executescript(RAW_SCHEMA)

    def append(self, conversation_id: str, turns: Sequence[tuple[str, str]]) -> None:
        """One transaction: next position, then ``executemany`` of the rows (ids and time made here)."""
        connection = self.connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            start = connection.execute(RAW_NEXT, (conversation_id,)).fetchone()[0]
            now = datetime.now(timezone.utc).replace(tzinfo=None).isoformat(sep=" ")
            connection.executemany(
                RAW_INSERT,
                [
                    (uuid.uuid4().hex, conversation_id, start + i, role, "text", text, None, "{}", now)
                    for i, (role, text) in enumerate(turns)
                ],
            )
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def last(self, conversation_id: str, n: int = LAST) -> list[tuple[Any, ...]]:
        return self.connection.execute(RAW_LAST, (conversation_id, n)).fetchall()[::-1]

    def last_decoded(self, conversation_id: str, n: int = LAST) -> list[dict[str, Any]]:
        """The same rows decoded as memstore decodes them (JSON columns, UTC datetimes), into plain dicts."""
        return [
            {
                "id": row[0],
                "conversation_id": row[1],
                "position": row[2],
                "role": row[3],
                "type": row[4],
                "content": row[5] if row[6] is None else json.loads(row[6]),
                "metadata": json.loads(row[7]),
                "created_at": datetime.fromisoformat(row[8]).replace(tzinfo=timezone.utc),
            }
            for row in self.last(conversation_id, n)
        ]

    def close(self) -> None:
        self.connection.close()


# -- the peers, imported when used (so that a memory probe loads only its own system) -----------------------


@contextlib.contextmanager
def _quiet_imports() -> Iterator[None]:
    with warnings.catch_warnings():
        # langchain-community announces its sunset on import; the class measured is still its current one.
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def langchain_history(path: Path, session_id: str, *, wal: bool = False) -> Any:
    """The idiomatic history on a URL; with ``wal``, on an engine set up with memstore's PRAGMAs instead.

    LangChain keeps SQLite's defaults (a rollback journal, synchronous=FULL: fsyncs on every commit), memstore
    runs WAL with synchronous=NORMAL; the WAL variant shows how much of an append is that durability setting.
    """
    with _quiet_imports():
        from langchain_community.chat_message_histories import SQLChatMessageHistory
    if not wal:
        return SQLChatMessageHistory(session_id=session_id, connection=f"sqlite:///{path}")
    from sqlalchemy import create_engine, event

    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA journal_mode = WAL")
        dbapi_connection.execute("PRAGMA synchronous = NORMAL")

    return SQLChatMessageHistory(session_id=session_id, connection=engine)


def langchain_messages(turns: Sequence[tuple[str, str]]) -> list[Any]:
    from langchain_core.messages import AIMessage, HumanMessage

    return [HumanMessage(text) if role == "user" else AIMessage(text) for role, text in turns]


def llamaindex_store(path: Path) -> Any:
    from llama_index.core.storage.chat_store.sql import SQLAlchemyChatStore

    return SQLAlchemyChatStore(table_name=LLAMAINDEX_TABLE, async_database_uri=f"sqlite+aiosqlite:///{path}")


def llamaindex_messages(turns: Sequence[tuple[str, str]]) -> list[Any]:
    from llama_index.core.llms import ChatMessage

    return [ChatMessage(role=role, content=text) for role, text in turns]


async def llamaindex_close(store: Any) -> None:
    # The store has no close(); its engine (created from the URI) is a private attribute.
    if store._async_engine is not None:
        await store._async_engine.dispose()


async def llamaindex_last_by_offset(store: Any, key: str, n: int = LAST) -> list[Any]:
    """The cheapest last-n read the store's API allows: it can only page forwards, so count first."""
    total = await store.count_messages(key)
    return list(await store.get_messages(key, limit=n, offset=max(total - n, 0)))


# -- building the files -------------------------------------------------------------------------------------


def memstore_messages(turns: Sequence[tuple[str, str]]) -> list[Message]:
    return [Message(role=role, content=text) for role, text in turns]


def corpus(big_n: int) -> dict[str, list[tuple[str, str]]]:
    return {BIG: chat_turns(BIG, big_n), **{c: chat_turns(c, 1000) for c in other_ids()}}


def build_all(folder: Path, big_n: int) -> dict[str, Path]:
    """One file per system with the same conversations, written through each system's own API."""
    turns = corpus(big_n)
    schedule = build_schedule(big_n)
    paths = {name: folder / f"{name}-{big_n}.db" for name in ("memstore", "raw", "langchain", "llamaindex")}

    def chunks(system: str) -> Iterator[tuple[str, list[tuple[str, str]]]]:
        for conversation, start, stop in tqdm(
            schedule, desc=f"{system} N={big_n:,}", unit="chunk", disable=None
        ):
            yield conversation, turns[conversation][start:stop]

    with Memstore(f"sqlite:///{paths['memstore']}") as store:
        for conversation, part in chunks("memstore"):
            store.buffer(conversation).add_msgs(memstore_messages(part))

    raw = RawSqlite(paths["raw"])
    for conversation, part in chunks("raw sqlite3"):
        raw.append(conversation, part)
    raw.close()

    histories = {c: langchain_history(paths["langchain"], c) for c in turns}
    for conversation, part in chunks("langchain"):
        histories[conversation].add_messages(langchain_messages(part))
    for history in histories.values():
        history.engine.dispose()

    async def build_llamaindex() -> None:
        store = llamaindex_store(paths["llamaindex"])
        for conversation, part in chunks("llamaindex"):
            await store.add_messages(conversation, llamaindex_messages(part))
        await llamaindex_close(store)

    asyncio.run(build_llamaindex())
    return paths


# -- timing -------------------------------------------------------------------------------------------------


def texts_of(result: Sequence[Any]) -> list[str]:
    """The message texts of any system's read result, to check that every contender read the same thing."""
    texts = []
    for item in result:
        if isinstance(item, tuple):
            texts.append(item[5])
        elif isinstance(item, dict):
            texts.append(item["content"])
        else:
            texts.append(item.content)
    return texts


async def time_reads(paths: dict[str, Path], big_n: int, reps: dict[str, int], rounds: int) -> dict[str, Any]:
    """Interleaved reads of the last 20 messages of the big conversation, every system on its own file."""
    store = Memstore(f"sqlite:///{paths['memstore']}")
    buffer = store.buffer(BIG)
    raw = RawSqlite(paths["raw"])
    history = langchain_history(paths["langchain"], BIG)
    chat_store = llamaindex_store(paths["llamaindex"])

    async def ms_async() -> list[Message]:
        return await buffer.aget_msg(-LAST)

    async def li_read() -> list[Any]:
        return list(await chat_store.get_messages(BIG))[-LAST:]

    async def li_offset() -> list[Any]:
        return await llamaindex_last_by_offset(chat_store, BIG)

    calls: dict[str, Any] = {
        MS: lambda: buffer.get_msg(-LAST),
        MS_ASYNC: ms_async,
        RAW: lambda: raw.last(BIG),
        RAW_DECODE: lambda: raw.last_decoded(BIG),
        LC: lambda: history.messages[-LAST:],
        LI: li_read,
        LI_OFFSET: li_offset,
    }
    try:
        expected = [text for _, text in chat_turns(BIG, big_n)[-LAST:]]
        for name, call in calls.items():
            result = await call() if asyncio.iscoroutinefunction(call) else call()
            if texts_of(result) != expected:
                raise AssertionError(f"{name} did not read the last {LAST} messages")
        contenders = [
            Contender(name, calls[name], reps=reps[name], warmup=min(50, max(1, reps[name] // 5)))
            for name in READ_ORDER
        ]
        samples = await run_interleaved(contenders, rounds=rounds, progress=f"reads N={big_n:,}")
    finally:
        await llamaindex_close(chat_store)
        history.engine.dispose()
        raw.close()
        store.close()
    return {name: summarise(samples[name]) for name in READ_ORDER}


async def time_appends(paths: dict[str, Path], reps: dict[str, int], rounds: int) -> dict[str, Any]:
    """Interleaved appends of 100-message batches to the big conversation, each system with its own types."""
    turns = chat_turns("appended", APPEND_BATCH)
    store = Memstore(f"sqlite:///{paths['memstore']}")
    buffer = store.buffer(BIG)
    raw = RawSqlite(paths["raw"])
    history = langchain_history(paths["langchain"], BIG)
    # WAL is a property of the file, so the WAL variant appends to its own copy.
    wal_copy = paths["langchain"].with_name(paths["langchain"].stem + "-wal-copy.db")
    shutil.copyfile(paths["langchain"], wal_copy)
    history_wal = langchain_history(wal_copy, BIG, wal=True)
    chat_store = llamaindex_store(paths["llamaindex"])
    ms_batch = memstore_messages(turns)
    lc_batch = langchain_messages(turns)
    li_batch = llamaindex_messages(turns)

    async def li_append() -> None:
        await chat_store.add_messages(BIG, li_batch)

    calls: dict[str, Any] = {
        MS_APPEND: lambda: buffer.add_msgs(ms_batch),
        RAW_APPEND: lambda: raw.append(BIG, turns),
        LC_APPEND: lambda: history.add_messages(lc_batch),
        LC_APPEND_WAL: lambda: history_wal.add_messages(lc_batch),
        LI_APPEND: li_append,
    }
    try:
        contenders = [Contender(name, calls[name], reps=reps[name], warmup=5) for name in APPEND_ORDER]
        samples = await run_interleaved(contenders, rounds=rounds, progress="appends")
    finally:
        await llamaindex_close(chat_store)
        history.engine.dispose()
        history_wal.engine.dispose()
        raw.close()
        store.close()
    return {name: summarise(samples[name]) for name in APPEND_ORDER}


# -- peak RSS of one read, in a fresh process ---------------------------------------------------------------


def _peak_rss_kib() -> float:
    """This process's peak RSS. On Linux the kernel's VmHWM, which ``_reset_peak_rss`` can reset; not
    ``ru_maxrss``, which after fork + exec starts from the parent's RSS (the benchmark's own, large)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1])
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform == "darwin" else float(peak)  # bytes on macOS, KiB on Linux


def _reset_peak_rss() -> bool:
    """Reset the kernel's high-water mark to the current RSS (Linux >= 4.0): the next peak is the read's."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def probe(system: str, path: Path) -> dict[str, Any]:
    """Run inside a fresh process: open the system, read once to warm up, then measure one read's peak RSS."""
    import psutil

    process = psutil.Process()
    if system == "memstore":
        store = Memstore(f"sqlite:///{path}")

        def read(conversation: str) -> list[Any]:
            return store.buffer(conversation).get_msg(-LAST)
    elif system == "raw":
        raw = RawSqlite(path)

        def read(conversation: str) -> list[Any]:
            return raw.last(conversation)
    elif system == "langchain":
        histories = {c: langchain_history(path, c) for c in (PROBE_WARMUP, BIG)}

        def read(conversation: str) -> list[Any]:
            return histories[conversation].messages[-LAST:]
    elif system in ("llamaindex", "llamaindex-offset"):
        loop = asyncio.new_event_loop()
        chat_store = llamaindex_store(path)

        async def li_read(conversation: str) -> list[Any]:
            if system == "llamaindex":
                return list(await chat_store.get_messages(conversation))[-LAST:]
            return await llamaindex_last_by_offset(chat_store, conversation)

        def read(conversation: str) -> list[Any]:
            return loop.run_until_complete(li_read(conversation))
    else:
        raise SystemExit(f"unknown system {system!r}")
    read(PROBE_WARMUP)
    gc.collect()
    reset = _reset_peak_rss()
    before = process.memory_info().rss / 1024
    result = read(BIG)
    peak = _peak_rss_kib()
    assert len(result) == LAST
    return {"peak_kib": peak, "before_kib": before, "delta_kib": max(peak - before, 0.0), "peak_reset": reset}


def run_probe(system: str, path: Path) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--probe", system, "--db", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory probe {system} on {path.name} failed:\n{done.stderr}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# -- profile (for a missed target) --------------------------------------------------------------------------


def profile_memstore(path: Path, reads: int = 2000, appends: int = 200) -> str:
    """cProfile of memstore's read and append on the big file: where the time goes."""
    out = io.StringIO()
    with Memstore(f"sqlite:///{path}") as store:
        buffer = store.buffer(BIG)
        batch = memstore_messages(chat_turns("profiled", APPEND_BATCH))
        for label, call, count in (
            (f"buffer.get_msg(-{LAST}) x{reads}", lambda: buffer.get_msg(-LAST), reads),
            (f"buffer.add_msgs(100 msgs) x{appends}", lambda: buffer.add_msgs(batch), appends),
        ):
            for _ in range(20):
                call()
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(count):
                call()
            profiler.disable()
            out.write(f"\n==== {label}\n")
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
    return out.getvalue()


# -- the report ---------------------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(
    sizes: Sequence[int],
    reads: dict[int, dict[str, Any]],
    appends: dict[str, Any],
    rss: dict[str, dict[int, dict[str, Any]]],
    read_reps: dict[str, int],
) -> tuple[str, list[dict[str, Any]]]:
    small, big = sizes
    at_big = reads[big]
    ms_read = at_big[MS]["median_us"]
    raw_read = at_big[RAW]["median_us"]
    read_rows = []
    for name in READ_ORDER:
        median = at_big[name]["median_us"]
        read_rows.append(
            [
                name,
                fmt_us(reads[small][name]["median_us"]),
                fmt_us(median),
                str(at_big[name]["n"]),
                fmt_ratio(median / raw_read),
                "1.00" + TIMES if name == MS else fmt_ratio(median / ms_read),
            ]
        )
    read_table = markdown_table(
        [
            "read the last 20",
            f"µs, N={small:,}",
            f"µs, N={big:,}",
            "reads timed",
            f"vs raw sqlite3 (N={big:,})",
            f"memstore faster by (N={big:,})",
        ],
        read_rows,
    )

    ms_append = appends[MS_APPEND]["median_us"]
    append_rows = []
    for name in APPEND_ORDER:
        median = appends[name]["median_us"]
        append_rows.append(
            [
                name,
                f"{median / 1000:,.2f}",
                f"{APPEND_BATCH / median * 1e6:,.0f}",
                str(appends[name]["n"]),
                "1.00" + TIMES if name == MS_APPEND else fmt_ratio(median / ms_append),
            ]
        )
    append_table = markdown_table(
        [
            f"append {APPEND_BATCH} messages per call (N={big:,})",
            "ms per call",
            "messages/s",
            "calls timed",
            "memstore faster by",
        ],
        append_rows,
    )

    rss_rows = []
    for system, label in PROBES.items():
        low, high = rss[system][small], rss[system][big]
        # Below 1 MiB the read's own growth is page-granular noise (0 KiB is common): no ratio then.
        measurable = min(low["delta_kib"], high["delta_kib"]) >= 1024
        rss_rows.append(
            [
                label,
                fmt_mib(low["peak_kib"]),
                fmt_mib(high["peak_kib"]),
                f"{(high['peak_kib'] / low['peak_kib'] - 1) * 100:+.1f}%",
                fmt_mib(low["delta_kib"]),
                fmt_mib(high["delta_kib"]),
                fmt_ratio(high["delta_kib"] / low["delta_kib"]) if measurable else "n/a (< 1 MiB)",
            ]
        )
    rss_table = markdown_table(
        [
            "peak RSS of one read (fresh process)",
            f"peak, N={small:,}",
            f"peak, N={big:,}",
            "peak change",
            f"read's own, N={small:,}",
            f"read's own, N={big:,}",
            "growth of read's own",
        ],
        rss_rows,
    )

    lc_speedup = at_big[LC]["median_us"] / ms_read
    li_speedup = at_big[LI]["median_us"] / ms_read
    li_offset_speedup = at_big[LI_OFFSET]["median_us"] / ms_read
    vs_raw = ms_read / raw_read
    ms_rss = rss["memstore"]
    rss_change = ms_rss[big]["peak_kib"] / ms_rss[small]["peak_kib"] - 1
    append_vs_lc = appends[LC_APPEND]["median_us"] / ms_append
    append_vs_raw = appends[RAW_APPEND]["median_us"] / ms_append
    targets = [
        {
            "target": "read-last-20 >= 1,000x faster than LangChain (idiomatic)",
            "value": lc_speedup,
            "met": lc_speedup >= 1000,
            "shown": f"{fmt_ratio(lc_speedup)} faster",
        },
        {
            "target": "read-last-20 >= 1,000x faster than LlamaIndex (idiomatic)",
            "value": li_speedup,
            "met": li_speedup >= 1000,
            "shown": f"{fmt_ratio(li_speedup)} faster "
            f"(its limit/offset path, not the idiomatic one: {fmt_ratio(li_offset_speedup)})",
        },
        {
            "target": "read-last-20 <= 5x raw sqlite3",
            "value": vs_raw,
            "met": vs_raw <= 5,
            "shown": f"{fmt_ratio(vs_raw)} raw sqlite3 ({fmt_us(ms_read)} µs vs {fmt_us(raw_read)} µs)",
        },
        {
            "target": f"peak RSS of the read flat ({small:,} vs {big:,} within 10%)",
            "value": rss_change,
            "met": abs(rss_change) <= 0.10,
            "shown": f"{fmt_mib(ms_rss[small]['peak_kib'])} vs {fmt_mib(ms_rss[big]['peak_kib'])} "
            f"({rss_change * 100:+.1f}%); the read's own: {fmt_mib(ms_rss[small]['delta_kib'])} vs "
            f"{fmt_mib(ms_rss[big]['delta_kib'])}",
        },
        {
            "target": "batched append >= 5x LangChain",
            "value": append_vs_lc,
            "met": append_vs_lc >= 5,
            "shown": f"{fmt_ratio(append_vs_lc)} faster",
        },
        {
            "target": "batched append >= 0.5x raw sqlite3 executemany",
            "value": append_vs_raw,
            "met": append_vs_raw >= 0.5,
            "shown": f"{fmt_ratio(append_vs_raw)} raw sqlite3's speed",
        },
    ]
    lines = [f"- {_verdict(t['met'])}: {t['target']}: {t['shown']}" for t in targets]
    peers = f"peers' idiomatic reads: median of {read_reps[LC]}; memstore and raw: median of {read_reps[MS]}"
    text = (
        f"Read the last {LAST} of the big conversation (+ 9 x 1k others), each system on its own file; "
        f"{peers}:\n\n{read_table}\n\n{append_table}\n\n{rss_table}\n\nTargets:\n" + "\n".join(lines)
    )
    return text, targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2k and 10k messages, fewer repetitions")
    parser.add_argument("--profile", action="store_true", help="also profile memstore's read and append")
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(args.probe, args.db)))
        return
    setup_logging()
    started = time.perf_counter()
    sizes = (2_000, 10_000) if args.quick else (10_000, 100_000)
    rounds = 3 if args.quick else 5
    fast, slow, medium = (300, 3, 10) if args.quick else (500, 5, 25)
    read_reps = {MS: fast, MS_ASYNC: fast, RAW: fast, RAW_DECODE: fast, LC: slow, LI: slow, LI_OFFSET: medium}
    append_reps = {MS_APPEND: 300, RAW_APPEND: 300, LC_APPEND: 30 if args.quick else 100}
    append_reps[LI_APPEND] = append_reps[LC_APPEND_WAL] = append_reps[LC_APPEND]
    env = environment(
        ["memstore-ai", "sqlalchemy", "langchain-community", "langchain-core", "llama-index-core"]
    )

    with tempfile.TemporaryDirectory(prefix="memstore-bench-") as tmp:
        folder = Path(tmp)
        files: dict[int, dict[str, Path]] = {}
        build_seconds: dict[int, float] = {}
        for n in sizes:
            log.info("building the files for N=%s", f"{n:,}")
            t0 = time.perf_counter()
            files[n] = build_all(folder, n)
            build_seconds[n] = time.perf_counter() - t0
        reads = {}
        for n in sizes:
            log.info("timing reads at N=%s", f"{n:,}")
            reads[n] = asyncio.run(time_reads(files[n], n, read_reps, rounds))
        rss: dict[str, dict[int, dict[str, Any]]] = {system: {} for system in PROBES}
        for n in sizes:
            for system in PROBES:
                rss[system][n] = run_probe(system, files[n][system.removesuffix("-offset")])
                log.info("peak RSS %s N=%s: %s", system, f"{n:,}", rss[system][n])
        log.info("timing batched appends at N=%s", f"{sizes[-1]:,}")
        appends = asyncio.run(time_appends(files[sizes[-1]], append_reps, rounds))
        file_sizes = {n: {s: p.stat().st_size for s, p in files[n].items()} for n in sizes}
        profile = profile_memstore(files[sizes[-1]]["memstore"]) if args.profile else None

    text, targets = report(sizes, reads, appends, rss, read_reps)
    elapsed = time.perf_counter() - started
    missed = [t["target"] for t in targets if not t["met"]]
    out = write_results(
        "buffer.json",
        {
            "benchmark": "buffer",
            "quick": args.quick,
            "environment": env,
            "config": {
                "sizes": list(sizes),
                "others": "9 x 1,000 messages",
                "rounds": rounds,
                "read_reps": read_reps,
                "append_reps": append_reps,
                "append_batch": APPEND_BATCH,
            },
            "build_seconds": {str(n): round(s, 1) for n, s in build_seconds.items()},
            "file_bytes": {str(n): v for n, v in file_sizes.items()},
            "reads_us": {str(n): reads[n] for n in sizes},
            "appends_us": appends,
            "peak_rss_kib": {system: {str(n): v for n, v in by_n.items()} for system, by_n in rss.items()},
            "targets": targets,
            "report_markdown": text,
            "profile": profile,
            "elapsed_s": round(elapsed, 1),
        },
    )
    if profile is not None:
        log.info("profile of memstore:%s", profile)
    log.info("wrote %s (%.0f s in all)", out, elapsed)
    if args.quick:
        text += "\n\n(quick run: the targets are defined at the full sizes, 10k and 100k)"
    if missed:
        text += (
            f"\n\n{len(missed)} target(s) missed: " + "; ".join(missed) + " (run with --profile to see why)"
        )
    print(f"\n{text}\n")


if __name__ == "__main__":
    main()
