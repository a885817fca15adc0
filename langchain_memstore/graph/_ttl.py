"""The TTL sweeper: a daemon thread that calls a sweep every interval until stopped."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable

__all__ = ["Sweeper"]


class Sweeper:
    """Runs ``sweep`` every ``interval`` minutes in one daemon thread; at most one runs at a time.

    A failed sweep is retried at the next interval (the database may be away for a while); its error stays
    on :attr:`last_error` until the next start.
    """

    def __init__(self, sweep: Callable[[], object]) -> None:
        self._sweep = sweep
        self._future: concurrent.futures.Future[None] | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.last_error: BaseException | None = None

    def start(self, interval_minutes: float) -> concurrent.futures.Future[None]:
        """Start the thread (or return the running one's future); the future is done when it stops."""
        with self._lock:
            if self._future is not None and not self._future.done():
                return self._future
            self._stop = stop = threading.Event()
            future: concurrent.futures.Future[None] = concurrent.futures.Future()
            future.set_running_or_notify_cancel()
            self._future = future
        self.last_error = None

        def run() -> None:
            try:
                while not stop.wait(float(interval_minutes) * 60.0):
                    try:
                        self._sweep()
                    except Exception as exc:  # the database may be away for a while: try again later
                        self.last_error = exc
            finally:
                future.set_result(None)

        threading.Thread(target=run, name="memstore-ttl-sweeper", daemon=True).start()
        return future

    def stop(self, timeout: float | None = None) -> bool:
        """Stop the thread; True if it stopped within ``timeout`` seconds (or none was running)."""
        with self._lock:
            future = self._future
            self._stop.set()
        if future is None:
            return True
        try:
            future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            return False
        return True
