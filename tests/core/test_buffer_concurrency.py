"""Several OS processes appending to one conversation: positions never collide, never gap."""

from __future__ import annotations

import multiprocessing as mp
import threading
from typing import Any

import pytest

from memstore import Memstore, Message

PROCESSES = 4
APPENDS = 2_500


def _append(url: str, worker: int, start: Any, results: Any) -> None:
    with Memstore(url) as store:
        buffer = store.buffer("shared")
        buffer.length()
        start.wait()
        for i in range(APPENDS):
            buffer.add_msg(Message(role="user", content=f"{worker}:{i}", metadata={"worker": worker, "i": i}))
    results.put(worker)


@pytest.mark.slow
def test_concurrent_appends_keep_positions_unique_and_contiguous(sql_url: str) -> None:
    Memstore(sql_url).close()
    context = mp.get_context("spawn")
    start = context.Barrier(PROCESSES)
    results = context.Queue()
    processes = [context.Process(target=_append, args=(sql_url, w, start, results)) for w in range(PROCESSES)]
    for process in processes:
        process.start()
    finished = sorted(results.get(timeout=600) for _ in processes)
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert finished == list(range(PROCESSES))
    with Memstore(sql_url) as store:
        messages = list(store.buffer("shared").get_msgs_forward(page_size=1000))
    assert len(messages) == PROCESSES * APPENDS
    assert [m.position for m in messages] == list(range(PROCESSES * APPENDS))
    for worker in range(PROCESSES):
        own = [m.metadata["i"] for m in messages if m.metadata["worker"] == worker]
        assert own == list(range(APPENDS)), "each process's messages are all there, in its order"


def test_inserts_racing_appends_lose_nothing(sql_url: str) -> None:
    """Inserts at the front (which renumber every message) racing appenders in other threads, each on its
    own connection: every message lands once, positions stay unique, and each writer's order holds."""
    with Memstore(sql_url) as store:
        buffer = store.buffer("race")
        buffer.add_msg(Message(role="user", content="seed"))
        errors: list[BaseException] = []

        def appender() -> None:
            try:
                for i in range(40):
                    buffer.add_msg(Message(role="user", content=f"a{i}"))
            except BaseException as exc:
                errors.append(exc)

        def inserter() -> None:
            try:
                for i in range(40):
                    buffer.insert_msg(0, Message(role="user", content=f"i{i}"))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=appender), threading.Thread(target=inserter)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        found = buffer.get_msg()
        texts = [m.text for m in found]
        assert sorted(texts) == sorted(["seed", *(f"a{i}" for i in range(40)), *(f"i{i}" for i in range(40))])
        assert [t for t in texts if t.startswith("a")] == [f"a{i}" for i in range(40)]
        assert [t for t in texts if t.startswith("i")] == [f"i{i}" for i in range(39, -1, -1)]
        positions = [m.position for m in found]
        assert len(set(positions)) == len(positions)
