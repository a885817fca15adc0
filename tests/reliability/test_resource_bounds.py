"""Reading the newest messages and streaming a whole conversation keep memory flat as it grows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from memstore import Memstore, Message

MEASURE = """
import json, resource, sys
from memstore import Memstore
with Memstore(sys.argv[1]) as store:
    buffer = store.buffer(sys.argv[2])
    buffer.get_msg(-20)
    next(iter(buffer.get_msgs_forward(page_size=500)))
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(50):
        last = buffer.get_msg(-20)
    after_read = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    streamed = sum(1 for _ in buffer.get_msgs_forward(page_size=500))
    after_stream = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"read_kb": after_read - baseline, "stream_kb": after_stream - baseline,
                  "streamed": streamed, "last": len(last)}))
"""


def _fill(store: Memstore, conversation: str, count: int) -> None:
    buffer = store.buffer(conversation)
    for start in range(0, count, 5000):
        buffer.add_msgs(
            Message(
                role="user" if i % 2 else "assistant", content=f"message number {i} " * 8, metadata={"i": i}
            )
            for i in range(start, min(start + 5000, count))
        )


def _measure(url: str, conversation: str) -> dict[str, int]:
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, url, conversation],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return dict(json.loads(result.stdout))


@pytest.mark.slow
def test_memory_stays_flat_from_10k_to_100k_messages(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'big.db'}"
    with Memstore(url) as store:
        _fill(store, "small", 10_000)
        _fill(store, "large", 100_000)
    small, large = _measure(url, "small"), _measure(url, "large")
    print(f"peak RSS growth, 10k vs 100k messages: {small} vs {large}")
    assert (small["streamed"], large["streamed"]) == (10_000, 100_000)
    assert small["last"] == large["last"] == 20
    bound_kb = 30 * 1024
    assert large["read_kb"] - small["read_kb"] <= bound_kb, (small, large)
    assert large["stream_kb"] - small["stream_kb"] <= bound_kb, (small, large)
