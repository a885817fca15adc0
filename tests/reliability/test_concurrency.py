"""Processes mixing appends, edits, deletes and reads on shared conversations: nothing lost or duplicated.

Each process logs what it did; at the end the database must match the union of the logs exactly.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from reliability_settings import SCALE

from memstore import Memstore, Message

PROCESSES = 4
OPERATIONS = 300 * SCALE
CONVERSATIONS = ["shared-a", "shared-b"]


def _worker(url: str, worker: int, log_path: str, start: Any) -> None:
    rng = random.Random(worker)
    alive: dict[str, str] = {}  # id -> content, of this process's own messages
    deleted: list[str] = []
    reads = 0
    with Memstore(url) as store:
        store.kv.get("warm-up")
        start.wait()
        for step in range(OPERATIONS):
            buffer = store.buffer(rng.choice(CONVERSATIONS))
            action = rng.random()
            if action < 0.45 or not alive:
                batch = [
                    Message(role="user", content=f"w{worker}-s{step}-{i}", metadata={"worker": worker})
                    for i in range(rng.randint(1, 5))
                ]
                for message in buffer.add_msgs(batch):
                    alive[message.id or ""] = message.content  # type: ignore[assignment]
            elif action < 0.65:
                target = rng.choice(sorted(alive))
                content = f"edited-w{worker}-s{step}"
                store.conversations.buffer(store.conversations.get_conversation_by_msg(target).id).edit_msg(
                    target, content=content
                )
                alive[target] = content
            elif action < 0.8:
                target = rng.choice(sorted(alive))
                owner = store.conversations.get_conversation_by_msg(target).id
                store.buffer(owner).delete_msg(target)
                del alive[target]
                deleted.append(target)
            else:
                assert len(buffer.get_msg(-10)) <= 10
                page = buffer.get_msg_by_cursor(None, 5)
                assert all(m.conversation_id == buffer.conversation_id for m in page.messages)
                reads += 1
    Path(log_path).write_text(json.dumps({"alive": alive, "deleted": deleted, "reads": reads}))


@pytest.mark.slow
def test_mixed_workload_matches_the_logs(sql_url: str, tmp_path: Path) -> None:
    Memstore(sql_url).close()
    context = mp.get_context("spawn")
    start = context.Barrier(PROCESSES)
    logs = [tmp_path / f"worker-{w}.json" for w in range(PROCESSES)]
    processes = [
        context.Process(target=_worker, args=(sql_url, w, str(logs[w]), start)) for w in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=600)
        assert process.exitcode == 0, "a worker failed (an unhandled error escaped)"
    expected: dict[str, str] = {}
    deleted: set[str] = set()
    for log in logs:
        entry = json.loads(log.read_text())
        expected.update(entry["alive"])
        deleted.update(entry["deleted"])
    with Memstore(sql_url) as store:
        stored = [m for c in CONVERSATIONS for m in store.buffer(c).get_msgs_forward()]
        for conversation in CONVERSATIONS:
            positions = [m.position for m in store.buffer(conversation).get_msg()]
            assert positions == sorted(set(positions)), "positions unique and ordered"
    ids = Counter(m.id for m in stored)
    assert max(ids.values()) == 1, "nothing duplicated"
    assert {m.id: m.content for m in stored} == expected, "nothing lost, every edit kept"
    assert deleted.isdisjoint(ids), "every delete stuck"
