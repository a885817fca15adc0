"""Several OS processes appending to one conversation: positions never collide, never gap."""

from __future__ import annotations

import multiprocessing as mp
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
