"""Write each adapter operation once; run it sync or async.

Some LlamaIndex methods take several core calls (read the message at an index, then delete it by id). An
operation is written once as a generator that yields :class:`Call` (or :class:`Collect`) requests for core
methods and receives their results (or their exceptions, thrown back in). :func:`run_sync` performs each
request with the core's sync method; :func:`run_async` awaits the core's ``a``-twin of the same name, so async
callers never block their event loop and the sync and async faces cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Generator, Mapping
from typing import Any, TypeVar

__all__ = ["Call", "Collect", "Plan", "run_async", "run_sync"]

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Call:
    """Call ``target.method(*args, **kwargs)`` (``await target.amethod(...)`` when run async)."""

    target: Any
    method: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Collect:
    """Call a core method that streams (an iterator, or an async iterator for its twin) and collect at most
    ``limit`` items (all if None); the stream is closed after, so no further page is read."""

    target: Any
    method: str
    limit: int | None
    kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)


Plan = Generator["Call | Collect", Any, T]


def run_sync(plan: Plan[T]) -> T:
    """Run ``plan`` with the core's sync methods; returns what the plan returns."""
    try:
        request = next(plan)
        while True:
            try:
                result = _perform(request)
            except Exception as exc:
                request = plan.throw(exc)
            else:
                request = plan.send(result)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def run_async(plan: Plan[T]) -> T:
    """Run ``plan`` with the core's async twins; returns what the plan returns."""
    try:
        request = next(plan)
        while True:
            try:
                result = await _aperform(request)
            except Exception as exc:
                request = plan.throw(exc)
            else:
                request = plan.send(result)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


def _perform(request: Call | Collect) -> Any:
    if isinstance(request, Call):
        return getattr(request.target, request.method)(*request.args, **request.kwargs)
    stream = getattr(request.target, request.method)(**request.kwargs)
    try:
        return list(itertools.islice(stream, request.limit))
    finally:
        stream.close()


async def _aperform(request: Call | Collect) -> Any:
    twin = getattr(request.target, "a" + request.method)
    if isinstance(request, Call):
        return await twin(*request.args, **request.kwargs)
    stream = twin(**request.kwargs)
    items: list[Any] = []
    try:
        if request.limit != 0:
            async for item in stream:
                items.append(item)
                if request.limit is not None and len(items) >= request.limit:
                    break
    finally:
        await stream.aclose()
    return items
