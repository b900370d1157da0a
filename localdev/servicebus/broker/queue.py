"""One entity's messages: ordered by sequence number, with an index of what can be received.

This is the data structure only; the rules (locks, delivery counts, timers,
dead-lettering) live in `broker.Broker`, which owns every `MessageQueue`.
"""

from __future__ import annotations

import bisect
import heapq
import uuid
from collections.abc import Iterator

from localdev.servicebus.broker.messages import MessageState, StoredMessage


class MessageQueue:
    """The messages of a queue or of its dead-letter sub-queue."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._messages: dict[int, StoredMessage] = {}
        self._order: list[int] = []  # every sequence number, sorted (for peek)
        self._ready: list[int] = []  # heap of receivable sequence numbers; may hold stale entries
        self._locks: dict[uuid.UUID, StoredMessage] = {}

    def __len__(self) -> int:
        return len(self._messages)

    def __iter__(self) -> Iterator[StoredMessage]:
        return (self._messages[seq] for seq in list(self._order))

    def get(self, sequence_number: int) -> StoredMessage | None:
        return self._messages.get(sequence_number)

    def add(self, message: StoredMessage) -> None:
        """Insert a message; it becomes receivable if it is active and unlocked."""
        seq = message.sequence_number
        self._messages[seq] = message
        if not self._order or seq > self._order[-1]:
            self._order.append(seq)
        else:
            bisect.insort(self._order, seq)
        self.mark_ready(message)

    def remove(self, message: StoredMessage) -> None:
        """Take a message out for good (completed, expired, moved to the DLQ)."""
        seq = message.sequence_number
        if self._messages.pop(seq, None) is None:
            return
        index = bisect.bisect_left(self._order, seq)
        if index < len(self._order) and self._order[index] == seq:
            del self._order[index]
        if message.lock_token is not None:
            self._locks.pop(message.lock_token, None)
            message.lock_token = None
            message.locked_until = None

    def mark_ready(self, message: StoredMessage) -> None:
        """Index a message as receivable (it is active and unlocked)."""
        if message.state is MessageState.ACTIVE and message.lock_token is None:
            heapq.heappush(self._ready, message.sequence_number)

    def next_ready(self) -> StoredMessage | None:
        """The receivable message with the lowest sequence number, removed from the index."""
        while self._ready:
            seq = heapq.heappop(self._ready)
            message = self._messages.get(seq)
            if (
                message is not None
                and message.state is MessageState.ACTIVE
                and message.lock_token is None
            ):
                return message
        return None

    def has_ready(self) -> bool:
        """Whether `next_ready` would return a message (drops stale index entries)."""
        while self._ready:
            message = self._messages.get(self._ready[0])
            if (
                message is not None
                and message.state is MessageState.ACTIVE
                and message.lock_token is None
            ):
                return True
            heapq.heappop(self._ready)
        return False

    def lock(self, message: StoredMessage, until: float) -> uuid.UUID:
        token = uuid.uuid4()
        message.lock_token = token
        message.locked_until = until
        self._locks[token] = message
        return token

    def unlock(self, message: StoredMessage) -> None:
        if message.lock_token is not None:
            self._locks.pop(message.lock_token, None)
        message.lock_token = None
        message.locked_until = None

    def locked(self, token: uuid.UUID) -> StoredMessage | None:
        return self._locks.get(token)

    def peek(self, from_sequence_number: int, count: int) -> list[StoredMessage]:
        """Up to `count` messages in any state, from a sequence number on."""
        start = bisect.bisect_left(self._order, from_sequence_number)
        return [self._messages[seq] for seq in self._order[start : start + count]]
