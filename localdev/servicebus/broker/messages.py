"""Messages as the broker keeps them: an opaque payload plus the broker's own bookkeeping.

The payload is whatever the wire layer needs to re-emit the message (for AMQP:
the encoded sections after the header); the broker never looks inside it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import IntEnum


class MessageState(IntEnum):
    """Where a message is in its life; the values are Service Bus's `x-opt-message-state`."""

    ACTIVE = 0
    DEFERRED = 1
    SCHEDULED = 2


@dataclass(slots=True)
class IncomingMessage:
    """A message a client sent, as the wire layer decoded it."""

    payload: bytes
    message_id: str | None = None
    time_to_live: float | None = None  # seconds, as the sender asked
    scheduled_enqueue_time: float | None = None  # epoch seconds


@dataclass(slots=True)
class StoredMessage:
    """One message inside a queue or its dead-letter sub-queue."""

    sequence_number: int
    payload: bytes
    message_id: str | None
    enqueued_time: float
    time_to_live: float | None
    expires_at: float | None
    state: MessageState = MessageState.ACTIVE
    scheduled_enqueue_time: float | None = None
    delivery_count: int = 0
    dead_letter_reason: str | None = None
    dead_letter_description: str | None = None
    dead_letter_source: str | None = None
    lock_token: uuid.UUID | None = None
    locked_until: float | None = None

    @property
    def locked(self) -> bool:
        """Whether a receiver holds a lock on it right now."""
        return self.lock_token is not None
