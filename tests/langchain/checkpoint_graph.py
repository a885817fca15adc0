"""A small human-in-the-loop graph for the checkpointer tests: draft -> review (interrupts) -> publish.

A helper module, not a test: the cross-process tests import it in child processes too.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt


class State(TypedDict, total=False):
    messages: Annotated[list[str], operator.add]
    approved: bool
    manual: str  # a large channel written once, by the first input


def draft(state: State) -> dict[str, Any]:
    return {"messages": [f"draft {len(state['messages'])}"]}


def review(state: State) -> dict[str, Any]:
    answer = interrupt({"question": "publish?", "draft": state["messages"][-1]})
    return {"approved": answer == "yes", "messages": [f"review: {answer}"]}


def publish(state: State) -> dict[str, Any]:
    return {"messages": ["published" if state.get("approved") else "discarded"]}


def build(checkpointer: Any) -> Any:
    """The compiled graph on ``checkpointer``."""
    builder = StateGraph(State)
    builder.add_node("draft", draft)
    builder.add_node("review", review)
    builder.add_node("publish", publish)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "review")
    builder.add_edge("review", "publish")
    builder.add_edge("publish", END)
    return builder.compile(checkpointer=checkpointer)
