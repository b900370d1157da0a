"""Reading the dead-letter queue: list, show and export, by peeking only (nothing is locked)."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TextIO

from ops.dead_letters import DeadLetter, OutgoingMessage, PropertyValue, reason_matches
from ops.errors import OpsError

PEEK_PAGE = 250


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


class FailureRecord(Protocol):
    """What ops reads of the processor's failure record (shared.failures.ProcessingFailure)."""

    error_type: str
    error_message: str


class FailureLookup(Protocol):
    """The processor's failure log, read by message id (shared.failures.FailureLog)."""

    def get(self, message_id: str) -> Any:
        """The last processing failure recorded for this message id, or None."""
        ...


def iter_dead_letters(
    queue: DeadLetterQueue, start: int = 1, page_size: int = PEEK_PAGE
) -> Iterator[DeadLetter]:
    """Every dead letter from sequence number `start` on, in order, paging by sequence number."""
    next_sequence_number = max(start, 1)
    while True:
        page = queue.peek(next_sequence_number, page_size)
        if not page:
            return
        yield from page
        next_sequence_number = max(letter.sequence_number for letter in page) + 1


def find(queue: DeadLetterQueue, sequence_number: int) -> DeadLetter:
    """The dead letter with this sequence number; OpsError when it is not in the DLQ."""
    page = queue.peek(sequence_number, 1)
    if not page or page[0].sequence_number != sequence_number:
        raise OpsError(f"no dead-lettered message with sequence number {sequence_number}")
    return page[0]


def last_error_text(failures: FailureLookup | None, letter: DeadLetter) -> str | None:
    """The processor's recorded error for this message ("Type: message"), if any."""
    if failures is None:
        return None
    # A replayed message fails under its replay id; older records sit under the original id.
    for message_id in dict.fromkeys([letter.message_id, letter.original_message_id]):
        record = failures.get(message_id) if message_id else None
        if record is not None:
            return f"{record.error_type}: {record.error_message}"
    return None


def summary_row(letter: DeadLetter, last_error: str | None) -> dict[str, Any]:
    """The `dlq list` row (DESIGN's --json field names)."""
    return {
        "sequence_number": letter.sequence_number,
        "message_id": letter.message_id,
        "enqueued_time": letter.enqueued_time,
        "delivery_count": letter.delivery_count,
        "dead_letter_reason": letter.dead_letter_reason,
        "dead_letter_error_description": letter.dead_letter_error_description,
        "last_error": last_error,
        "user_id": letter.user_id,
        "replay_count": letter.replay_count,
    }


def list_dead_letters(
    queue: DeadLetterQueue,
    failures: FailureLookup | None,
    reason: str | None = None,
    limit: int | None = None,
    error: str | None = None,
) -> Iterator[dict[str, Any]]:
    """`dlq list`: summary rows filtered by reason and recorded error, at most `limit` of them."""
    shown = 0
    for letter in iter_dead_letters(queue):
        if limit is not None and shown >= limit:
            return
        if reason is not None and not reason_matches(letter, reason):
            continue
        last_error = last_error_text(failures, letter)
        if error is not None and error.casefold() not in (last_error or "").casefold():
            continue
        shown += 1
        yield summary_row(letter, last_error)


def detail(letter: DeadLetter, failures: FailureLookup | None) -> dict[str, Any]:
    """`dlq show` and `dlq export`: everything about one dead letter."""
    row = summary_row(letter, last_error_text(failures, letter))
    event = letter.event
    row.update(
        {
            "content_type": letter.content_type,
            "subject": letter.subject,
            "correlation_id": letter.correlation_id,
            "application_properties": dict(letter.application_properties),
            "body": event if event is not None else body_text(letter.body),
            "body_encoding": "json" if event is not None else body_encoding(letter.body),
        }
    )
    return row


def body_encoding(body: bytes) -> str:
    """How `body_text` rendered a body that is not a JSON object."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "base64"
    return "text"


def body_text(body: bytes) -> str:
    """A body that is not a JSON object: as text when UTF-8, else base64."""
    if body_encoding(body) == "text":
        return body.decode("utf-8")
    return base64.b64encode(body).decode("ascii")


def export_dead_letters(
    queue: DeadLetterQueue,
    failures: FailureLookup | None,
    out: TextIO,
    on_exported: Callable[[int], None] = lambda _: None,
) -> int:
    """`dlq export`: every dead letter as one JSON line (body + all properties); removes nothing."""
    count = 0
    for letter in iter_dead_letters(queue):
        out.write(json.dumps(detail(letter, failures), default=json_default, sort_keys=True) + "\n")
        count += 1
        on_exported(count)
    return count


def json_default(value: object) -> object:
    """JSON for the values dead letters carry: datetimes as ISO 8601, bytes as base64."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def decode_properties(raw: Mapping[Any, Any] | None) -> dict[str, PropertyValue]:
    """Application properties with str keys and str values (the SDK hands both over as bytes)."""
    decoded: dict[str, PropertyValue] = {}
    for key, value in (raw or {}).items():
        name = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
        if isinstance(value, bytes):
            with contextlib.suppress(UnicodeDecodeError):
                value = value.decode("utf-8")
        decoded[name] = value
    return decoded
