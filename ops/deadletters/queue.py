"""The interfaces the dead-letter feature works against: the queue and the failure log.

`ServiceBusDeadLetterQueue` (ops.deadletters.servicebus) implements
`DeadLetterQueue` on the SDK; unit tests use an in-memory one.
`shared.failures.FailureLog` implements `FailureLookup`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ops.deadletters.model import DeadLetter, OutgoingMessage
from ops.errors import OpsError


@dataclass
class LockedLetter:
    """A dead letter received in peek-lock mode; `lock` is the adapter's own handle."""

    letter: DeadLetter
    locked_until: datetime | None
    lock: object
    received_at: datetime | None = None


class SendFailed(OpsError):
    """Sending to the main queue failed after `sent` of the given messages went out."""

    def __init__(self, message: str, sent: int) -> None:
        super().__init__(message)
        self.sent = sent


class DeadLetterQueue(Protocol):
    """The dead-letter queue of one queue, plus sending to that queue (for replays)."""

    def peek(self, from_sequence_number: int, max_count: int) -> list[DeadLetter]:
        """Up to max_count dead letters with sequence number >= from_sequence_number, in order."""
        ...

    def receive(self, max_count: int, max_wait_seconds: float) -> list[LockedLetter]:
        """Lock and return up to max_count dead letters; [] when none came within the wait."""
        ...

    def complete(self, locked: LockedLetter) -> None:
        """Remove a locked dead letter for good."""
        ...

    def abandon(self, locked: LockedLetter) -> None:
        """Give a locked dead letter back, unchanged."""
        ...

    def renew(self, locked: LockedLetter) -> None:
        """Extend the lock (updates locked.locked_until)."""
        ...

    def send(self, messages: Sequence[OutgoingMessage]) -> None:
        """Send to the main queue, in as few batches as fit; raise SendFailed on failure."""
        ...


class FailureLookup(Protocol):
    """The processor's failure log, read by message id (shared.failures.FailureLog)."""

    def get(self, message_id: str) -> Any:
        """The last processing failure recorded for this message id, or None."""
        ...

    def clear(self, message_id: str) -> None:
        """Forget the failure recorded for this message id (nothing when there is none)."""
        ...
