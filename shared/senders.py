"""A small bounded pool of Service Bus senders, each lent to one thread at a time.

azure-servicebus 7.15 does not guarantee that a `ServiceBusSender` is
thread-safe (its README, "Thread safety"), and one sender behind one lock
serialises every ingest request on one AMQP link. So the publisher keeps up to
`max_size` senders, each with its own connection:

- created lazily: N concurrent callers make (at most) N senders, a quiet
  process keeps one;
- reused most-recently-returned first, so the warm links stay warm;
- a sender whose block raised is closed and forgotten; the next caller gets a
  fresh link instead of a broken one;
- a caller that finds all of them lent waits at most `wait_timeout`, then gets
  `QueueUnavailable` (ingest answers 503), never an unbounded queue.

The pool is generic over anything with `close()` so its logic is unit-tested
without the SDK; `ServiceBusPublisher` fills it with real senders.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Generic, Protocol, TypeVar

from azure.core.exceptions import AzureError

from shared.errors import QueueUnavailable


class Closable(Protocol):
    def close(self) -> None: ...


S = TypeVar("S", bound=Closable)


class SenderPool(Generic[S]):
    """Up to `max_size` senders made by `create`; see the module docstring."""

    def __init__(self, create: Callable[[], S], max_size: int, wait_timeout: float) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._create = create
        self._max_size = max_size
        self._wait_timeout = wait_timeout
        self._idle: list[S] = []
        self._size = 0  # senders alive: idle + lent
        self._closed = False
        self._changed = threading.Condition(threading.Lock())

    @property
    def size(self) -> int:
        """Senders alive now (idle and lent)."""
        with self._changed:
            return self._size

    @property
    def idle(self) -> int:
        """Senders waiting to be lent."""
        with self._changed:
            return len(self._idle)

    @contextlib.contextmanager
    def lend(self) -> Iterator[S]:
        """A sender for this caller alone; discarded if the block raises, else kept for reuse."""
        sender = self._acquire()
        try:
            yield sender
        except BaseException:
            self._discard(sender)
            raise
        self._release(sender)

    def _acquire(self) -> S:
        deadline = time.monotonic() + self._wait_timeout
        with self._changed:
            while True:
                if self._closed:
                    raise QueueUnavailable("the Service Bus publisher is closed")
                if self._idle:
                    return self._idle.pop()
                if self._size < self._max_size:
                    # Under the lock: the client's bookkeeping of its senders is not
                    # thread-safe either. Creating a sender does no I/O (it connects on
                    # its first send), so the lock is held only briefly.
                    sender = self._create()
                    self._size += 1
                    return sender
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise QueueUnavailable(
                        f"all {self._max_size} Service Bus senders busy for {self._wait_timeout} s"
                    )
                self._changed.wait(remaining)

    def _release(self, sender: S) -> None:
        with self._changed:
            if not self._closed:
                self._idle.append(sender)
                self._changed.notify()
                return
            self._size -= 1
        _close_quietly(sender)  # the pool closed while it was lent

    def _discard(self, sender: S) -> None:
        with self._changed:
            self._size -= 1
            self._changed.notify()  # a waiter may now create a fresh one
        _close_quietly(sender)

    def close(self) -> None:
        """Close the idle senders now and lent ones when they come back; later lends fail."""
        with self._changed:
            self._closed = True
            idle, self._idle = self._idle, []
            self._size -= len(idle)
            self._changed.notify_all()
        for sender in idle:
            _close_quietly(sender)


def _close_quietly(sender: Closable) -> None:
    # A sender is discarded because its link broke, so closing it is best effort.
    with contextlib.suppress(AzureError, OSError):
        sender.close()
