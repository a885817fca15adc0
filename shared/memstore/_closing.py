"""One definition of the context-manager faces of everything that holds connections."""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

__all__ = ["Closing"]

Self = TypeVar("Self", bound="Closing")


class Closing:
    """Gives a class with ``close()`` its ``with`` / ``async with`` forms and ``aclose()``.

    Closing only returns pooled connections and file handles, so ``aclose`` runs it inline.
    """

    def close(self) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        self.close()

    def __enter__(self: Self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self: Self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
