"""Dead-lettered messages as plain data, which ones an operator selected, and their replays.

The bottom layer of `ops.deadletters`: plain data, no I/O, no SDK.

Why a replay gets a new message id: the ingest sets `message_id` to the
registration id (tenant + user) and the queue drops any message whose id it
saw within the duplicate-detection window (PT1H). A replay that kept the
original id inside that window would be acknowledged and silently dropped,
so the message would vanish from the DLQ and never be processed. A replay
therefore carries `<original id>:replay:<n>`, where n is the new
`replay_count`, and keeps the original id in the application property
`original_message_id`:

- the id is deterministic, so a replay that crashed after sending but
  before completing the DLQ copy sends the same id again on the next run,
  and the broker drops that second copy as a duplicate;
- past the window, the processor's idempotency absorbs it: one entity per
  (tenant, user_id), written conditionally, keyed on the body, never on the
  message id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

PropertyValue = str | int | float | bool | bytes | datetime | None

REPLAY_COUNT = "replay_count"
ORIGINAL_MESSAGE_ID = "original_message_id"
# Service Bus writes these into the application properties when it
# dead-letters; a replay must not carry them back into the main queue.
DEAD_LETTER_PROPERTIES = frozenset({"DeadLetterReason", "DeadLetterErrorDescription"})


@dataclass(frozen=True)
class DeadLetter:
    """One message in the dead-letter queue, as peeked or received, with decoded properties."""

    sequence_number: int
    message_id: str | None
    enqueued_time: datetime | None
    delivery_count: int | None
    dead_letter_reason: str | None
    dead_letter_error_description: str | None
    body: bytes
    content_type: str | None = None
    subject: str | None = None
    correlation_id: str | None = None
    application_properties: Mapping[str, PropertyValue] = field(default_factory=dict)

    @property
    def event(self) -> dict[str, Any] | None:
        """The body parsed as a JSON object, or None when it is not one."""
        try:
            parsed = json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None
        return parsed if isinstance(parsed, dict) else None

    @property
    def user_id(self) -> str | None:
        """The event's `user.user_id`, or None when the body does not carry one."""
        user = (self.event or {}).get("user")
        value = user.get("user_id") if isinstance(user, dict) else None
        return value if isinstance(value, str) else None

    @property
    def replay_count(self) -> int:
        """How often ops replayed this message already (0 when never, or unreadable)."""
        value = self.application_properties.get(REPLAY_COUNT)
        if isinstance(value, bool):
            return 0
        if isinstance(value, int):
            return value
        if isinstance(value, str | bytes) and value.strip().isdigit():
            return int(value)
        return 0

    @property
    def original_message_id(self) -> str:
        """The id the message had before any replay (the registration id for ingest's messages)."""
        original = self.application_properties.get(ORIGINAL_MESSAGE_ID)
        if isinstance(original, str) and original:
            return original
        return self.message_id or f"seq-{self.sequence_number}"


@dataclass(frozen=True)
class OutgoingMessage:
    """A message to send to the main queue."""

    body: bytes
    message_id: str
    content_type: str | None
    subject: str | None
    correlation_id: str | None
    application_properties: Mapping[str, PropertyValue]


def replay_message_id(original_message_id: str, replay_count: int) -> str:
    """The id of the n-th replay: deterministic, so a retried replay is deduplicated."""
    return f"{original_message_id}:replay:{replay_count}"


def build_replay(letter: DeadLetter) -> OutgoingMessage:
    """The main-queue copy of a dead letter: same body and properties, dead-letter marks dropped."""
    count = letter.replay_count + 1
    original = letter.original_message_id
    properties: dict[str, PropertyValue] = {
        key: value
        for key, value in letter.application_properties.items()
        if key not in DEAD_LETTER_PROPERTIES
    }
    properties[REPLAY_COUNT] = count
    properties[ORIGINAL_MESSAGE_ID] = original
    return OutgoingMessage(
        body=letter.body,
        message_id=replay_message_id(original, count),
        content_type=letter.content_type,
        subject=letter.subject,
        correlation_id=letter.correlation_id,
        application_properties=properties,
    )


@dataclass(frozen=True)
class Selection:
    """Which dead letters a replay or purge touches; filters combine with AND."""

    everything: bool = False
    sequence_numbers: frozenset[int] = frozenset()
    reason: str | None = None
    older_than: timedelta | None = None
    error: str | None = None

    @property
    def is_empty(self) -> bool:
        """True when no filter was given at all (a command must refuse that)."""
        return not (
            self.everything
            or self.sequence_numbers
            or self.reason is not None
            or self.older_than is not None
            or self.error is not None
        )

    def matches(self, letter: DeadLetter, now: datetime, last_error: str | None = None) -> bool:
        """Whether this letter is selected, judged at `now` (and on its recorded error)."""
        if self.everything:
            return True
        if self.sequence_numbers and letter.sequence_number not in self.sequence_numbers:
            return False
        if self.reason is not None and not reason_matches(letter, self.reason):
            return False
        if self.older_than is not None:
            enqueued = letter.enqueued_time
            if enqueued is None or now - enqueued < self.older_than:
                return False
        return self.error is None or self.error.casefold() in (last_error or "").casefold()

    def describe(self) -> str:
        """A short text for confirmations and the audit log."""
        if self.everything:
            return "all"
        parts = []
        if self.sequence_numbers:
            parts.append("seq " + ",".join(str(n) for n in sorted(self.sequence_numbers)))
        if self.reason is not None:
            parts.append(f"reason ~ {self.reason!r}")
        if self.older_than is not None:
            parts.append(f"older than {self.older_than}")
        if self.error is not None:
            parts.append(f"error ~ {self.error!r}")
        return " and ".join(parts)


def reason_matches(letter: DeadLetter, text: str) -> bool:
    """Case-insensitive substring match on the dead-letter reason."""
    return text.casefold() in (letter.dead_letter_reason or "").casefold()
