"""Reading the dead-letter queue: list, show and export, by peeking only (nothing is locked).

The processor's recorded error (FAILURES_TABLE) is an extra: when Table
Storage cannot be read, the rows still come, with `last_error` None and
`last_error_unavailable` True, because the broker's own reason is what an
operator needs first in an outage.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

from ops.deadletters.model import DeadLetter, reason_matches
from ops.deadletters.queue import DeadLetterQueue, FailureLookup
from ops.errors import OpsError
from shared.errors import PipelineError

PEEK_PAGE = 250


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


class RecordedErrors:
    """The processor's recorded error per dead letter; stops asking once the table failed."""

    def __init__(self, failures: FailureLookup | None) -> None:
        self.failures = failures
        self.unavailable = False

    def lookup(self, letter: DeadLetter) -> str | None:
        """ "Type: message" of the last recorded failure, or None (none, or table down)."""
        if self.failures is None or self.unavailable:
            return None
        # A replayed message fails under its replay id; older records sit under the original id.
        try:
            for message_id in dict.fromkeys([letter.message_id, letter.original_message_id]):
                record = self.failures.get(message_id) if message_id else None
                if record is not None:
                    return f"{record.error_type}: {record.error_message}"
        except (PipelineError, OpsError):
            self.unavailable = True  # one timeout is enough: don't pay it per message
        return None

    def require(self, letter: DeadLetter) -> str | None:
        """Like lookup, for a filter on the error: refuse to guess when the table is down."""
        found = self.lookup(letter)
        if self.unavailable:
            raise OpsError("the recorded errors (FAILURES_TABLE) cannot be read: drop --error")
        return found


def summary_row(letter: DeadLetter, errors: RecordedErrors) -> dict[str, Any]:
    """The `dlq list` row (the CLI's --json field names)."""
    last_error = errors.lookup(letter)
    return {
        "sequence_number": letter.sequence_number,
        "message_id": letter.message_id,
        "enqueued_time": letter.enqueued_time,
        "delivery_count": letter.delivery_count,
        "dead_letter_reason": letter.dead_letter_reason,
        "dead_letter_error_description": letter.dead_letter_error_description,
        "last_error": last_error,
        "last_error_unavailable": errors.unavailable,
        "user_id": letter.user_id,
        "replay_count": letter.replay_count,
    }


def list_dead_letters(
    queue: DeadLetterQueue,
    errors: RecordedErrors,
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
        if error is not None and error.casefold() not in (errors.require(letter) or "").casefold():
            continue
        shown += 1
        yield summary_row(letter, errors)


def detail(letter: DeadLetter, errors: RecordedErrors) -> dict[str, Any]:
    """`dlq show` and `dlq export`: everything about one dead letter."""
    row = summary_row(letter, errors)
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


def export_rows(queue: DeadLetterQueue, errors: RecordedErrors) -> Iterator[dict[str, Any]]:
    """`dlq export`: the detail of every dead letter, in order; removes nothing."""
    for letter in iter_dead_letters(queue):
        yield detail(letter, errors)


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
