"""Listing runs ahead of enqueuing: the next window's pages are fetched while this one is sent.

Without it every second spent comparing and publishing a window is a second
the request ceiling goes unused. The listing thread stays at most `depth`
windows ahead, stops at the next window boundary once closed, and hands any
error it met to the consumer, in order.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")
_DONE = object()
PUT_POLL = 0.2  # seconds between checks for a close while the consumer is behind
JOIN_TIMEOUT = 30.0  # a search in flight finishes within its own 20 s timeout


class Prefetch(Generic[T]):
    """Iterate `source` on a background thread, `depth` items ahead of the consumer."""

    def __init__(self, source: Iterator[T], depth: int = 2) -> None:
        self._source = source
        self._items: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="reconcile-listing", daemon=True)

    def __enter__(self) -> Iterator[T]:
        self._thread.start()
        return self._consume()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._closed.set()
        self._thread.join(timeout=JOIN_TIMEOUT)

    def _produce(self) -> None:
        try:
            for item in self._source:
                if not self._put(item):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(exc)
            return
        self._put(_DONE)

    def _put(self, item: object) -> bool:
        while not self._closed.is_set():
            try:
                self._items.put(item, timeout=PUT_POLL)
            except queue.Full:
                continue
            return True
        return False

    def _consume(self) -> Iterator[T]:
        while True:
            item = self._items.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
