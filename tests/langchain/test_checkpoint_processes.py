"""A graph interrupted in one process is resumed, replayed and forked from another, on one SQLite file.

The parent runs the graph to its interrupt; a second Python process (a fresh interpreter, sharing nothing but
the database file) resumes it; a third travels back to the review, edits the state and takes the other
branch; the parent then reads the whole history the others wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from checkpoint_graph import build
from langgraph.types import Command

from langchain_memstore import MemstoreCheckpointSaver

HERE = Path(__file__).parent

RESUME = """
import json, sys
from checkpoint_graph import build
from langgraph.types import Command
from langchain_memstore import MemstoreCheckpointSaver

with MemstoreCheckpointSaver(sys.argv[1]) as saver:
    graph = build(saver)
    config = {"configurable": {"thread_id": "review-42"}}
    state = graph.get_state(config)
    question = state.tasks[0].interrupts[0].value
    result = graph.invoke(Command(resume="yes"), config)
    print(json.dumps({"next": list(state.next), "question": question, "messages": result["messages"]}))
"""

TIME_TRAVEL = """
import json, sys
from checkpoint_graph import build
from langgraph.types import Command
from langchain_memstore import MemstoreCheckpointSaver

with MemstoreCheckpointSaver(sys.argv[1]) as saver:
    graph = build(saver)
    config = {"configurable": {"thread_id": "review-42"}}
    history = list(graph.get_state_history(config))
    at_review = next(s for s in history if s.next == ("review",))
    forked = graph.update_state(at_review.config, {"messages": ["edited in process 3"]})
    result = graph.invoke(Command(resume="no"), forked)
    print(json.dumps({"history": len(history), "messages": result["messages"]}))
"""


def _child(code: str, url: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", code, url],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=HERE,
        env={**os.environ, "PYTHONPATH": str(HERE)},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_interrupt_resume_and_time_travel_across_processes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'graph.db'}"
    config = {"configurable": {"thread_id": "review-42"}}
    with MemstoreCheckpointSaver(url) as saver:
        graph = build(saver)
        paused = graph.invoke({"messages": ["hello"], "approved": False, "manual": "m" * 10_000}, config)
        assert paused["messages"] == ["hello", "draft 1"]
        assert graph.get_state(config).next == ("review",)

    resumed = _child(RESUME, url)
    assert resumed["next"] == ["review"]
    assert resumed["question"] == {"question": "publish?", "draft": "draft 1"}
    assert resumed["messages"] == ["hello", "draft 1", "review: yes", "published"]

    forked = _child(TIME_TRAVEL, url)
    assert forked["messages"] == ["hello", "draft 1", "edited in process 3", "review: no", "discarded"]

    with MemstoreCheckpointSaver(url) as saver:
        graph = build(saver)
        final = graph.get_state(config)
        assert final.values["messages"] == forked["messages"]
        assert final.values["manual"] == "m" * 10_000
        history = list(graph.get_state_history(config))
        assert len(history) > int(str(forked["history"]))  # the fork added to what process 3 read
        sources = [snapshot.metadata["source"] for snapshot in history]
        assert "update" in sources
        # Both branches stay: the published run is still reachable by its checkpoint.
        published = [s for s in history if s.values.get("messages", [])[-1:] == ["published"]]
        assert len(published) == 1
        assert graph.get_state(published[0].config).values["approved"] is True
        # The parent chain of the final state leads back to the first input, through the fork.
        chain, snapshot = [], final
        while snapshot.parent_config is not None:
            chain.append(snapshot.metadata["source"])
            snapshot = graph.get_state(snapshot.parent_config)
        assert snapshot.metadata["source"] == "input"
        assert "update" in chain
        assert graph.invoke(Command(resume="ignored"), config)["messages"] == forked["messages"]
