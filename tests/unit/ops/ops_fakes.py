"""In-memory implementations of ops' own interfaces (DeadLetterQueue, AuditStore) and a clock.

They follow the broker's rules that ops relies on: peek ignores locks,
receive locks in sequence order and skips locked messages, settling needs a
live lock, abandoned messages come back, duplicate message ids are dropped.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ops.audit.record import AuditEntry
from ops.deadletters.model import DeadLetter, OutgoingMessage
from ops.deadletters.queue import LockedLetter, SendFailed
from ops.deadletters.settle import Clock
from ops.errors import OpsError
from shared.failures import ProcessingFailure

START = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


class FakeClock:
    """A clock that moves only when told to (or when slept on)."""

    def __init__(self, start: datetime = START) -> None:
        self.moment = start
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.moment

    def monotonic(self) -> float:
        return (self.moment - START).total_seconds()

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)

    def as_clock(self) -> Clock:
        return Clock(now=self.now, monotonic=self.monotonic, sleep=self.sleep)


def failure(
    message_id: str, error_type: str, error_message: str, **fields: Any
) -> ProcessingFailure:
    """The processor's record of why `message_id` failed; what the test leaves out is filler."""
    filler: dict[str, Any] = {
        "delivery_count": 10,
        "permanent": False,
        "correlation_id": "c",
        "failed_at": START,
    }
    return ProcessingFailure(
        message_id=message_id,
        error_type=error_type,
        error_message=error_message,
        **(filler | fields),
    )


def letter(sequence_number: int, **overrides: Any) -> DeadLetter:
    """A dead letter as ingest would have produced it, dead-lettered by the broker."""
    user_id = overrides.pop("user_id", f"auth0|user{sequence_number}")
    body = overrides.pop(
        "body",
        (
            '{"schema_version":1,"tenant":{"id":"acme"},"type":"user.registered",'
            f'"user":{{"created_at":"2026-11-26T03:00:00.000Z","user_id":"{user_id}"}}}}'
        ).encode(),
    )
    properties = {
        "schema_version": 1,
        "tenant": "acme",
        "correlation_id": f"corr{sequence_number}",
        "DeadLetterReason": overrides.get("dead_letter_reason", "MaxDeliveryCountExceeded"),
        "DeadLetterErrorDescription": "Message could not be consumed after 10 delivery attempts.",
    }
    properties.update(overrides.pop("properties", {}))
    values: dict[str, Any] = {
        "sequence_number": sequence_number,
        "message_id": f"reg_{sequence_number:032d}",
        "enqueued_time": START - timedelta(days=1),
        "delivery_count": 10,
        "dead_letter_reason": "MaxDeliveryCountExceeded",
        "dead_letter_error_description": properties["DeadLetterErrorDescription"],
        "body": body,
        "content_type": "application/json",
        "subject": "user.registered",
        "correlation_id": f"corr{sequence_number}",
        "application_properties": properties,
    }
    values.update(overrides)
    return DeadLetter(**values)


@dataclass
class _Lock:
    token: int
    until: datetime


@dataclass
class InMemoryDeadLetterQueue:
    """A DLQ plus its main queue, in memory."""

    clock: FakeClock
    lock_seconds: float = 60.0
    queue_name: str = "registrations"
    letters: dict[int, DeadLetter] = field(default_factory=dict)
    main_queue: list[OutgoingMessage] = field(default_factory=list)
    seen_ids: set[str] = field(default_factory=set)
    log: list[tuple[str, Any]] = field(default_factory=list)
    fail_send_after: int | None = None
    receive_cost_seconds: float = 0.0
    locked_elsewhere: set[int] = field(default_factory=set)
    _locks: dict[int, _Lock] = field(default_factory=dict)
    _tokens: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add(self, *letters: DeadLetter) -> None:
        for item in letters:
            self.letters[item.sequence_number] = item

    def peek(self, from_sequence_number: int, max_count: int) -> list[DeadLetter]:
        self.log.append(("peek", from_sequence_number))
        numbers = sorted(n for n in self.letters if n >= from_sequence_number)
        return [self.letters[n] for n in numbers[:max_count]]

    def receive(self, max_count: int, max_wait_seconds: float) -> list[LockedLetter]:
        self.clock.advance(self.receive_cost_seconds)
        available = [
            n
            for n in sorted(self.letters)
            if not self._locked(n) and n not in self.locked_elsewhere
        ]
        if not available:
            self.clock.advance(max_wait_seconds)
            return []
        taken = []
        for number in available[:max_count]:
            lock = _Lock(
                next(self._tokens), self.clock.now() + timedelta(seconds=self.lock_seconds)
            )
            self._locks[number] = lock
            current = self.letters[number]
            self.letters[number] = replace(
                current, delivery_count=(current.delivery_count or 0) + 1
            )
            taken.append(
                LockedLetter(self.letters[number], lock.until, lock.token, self.clock.now())
            )
        self.log.append(("receive", [m.letter.sequence_number for m in taken]))
        return taken

    def complete(self, locked: LockedLetter) -> None:
        number = self._check(locked)
        del self.letters[number]
        del self._locks[number]
        self.log.append(("complete", number))

    def abandon(self, locked: LockedLetter) -> None:
        number = self._check(locked)
        del self._locks[number]
        self.log.append(("abandon", number))

    def renew(self, locked: LockedLetter) -> None:
        number = self._check(locked)
        self._locks[number].until = self.clock.now() + timedelta(seconds=self.lock_seconds)
        locked.locked_until = self._locks[number].until
        self.log.append(("renew", number))

    def send(self, messages: Sequence[OutgoingMessage]) -> None:
        for index, message in enumerate(messages):
            if self.fail_send_after is not None and len(self.main_queue) >= self.fail_send_after:
                raise SendFailed("the queue is unreachable", sent=index)
            if message.message_id not in self.seen_ids:  # the broker's duplicate detection
                self.seen_ids.add(message.message_id)
                self.main_queue.append(message)
            self.log.append(("send", message.message_id))

    def _locked(self, number: int) -> bool:
        lock = self._locks.get(number)
        return lock is not None and lock.until > self.clock.now()

    def _check(self, locked: LockedLetter) -> int:
        number = locked.letter.sequence_number
        lock = self._locks.get(number)
        if lock is None or lock.token != locked.lock or lock.until <= self.clock.now():
            raise OpsError(f"lock lost on {number}")
        return number


class InMemoryAuditStore:
    """AuditStore in memory, newest first like the table's inverted keys."""

    def __init__(self) -> None:
        self.entries: dict[str, AuditEntry] = {}
        self.items: dict[str, dict[int, list[dict[str, Any]]]] = {}
        self.saves: list[str] = []

    def save(self, entry: AuditEntry) -> None:
        self.entries[entry.row_key] = replace(entry, items=[])
        self.saves.append(entry.outcome)

    def add_items(self, action_id: str, chunk: int, items: Sequence[Mapping[str, Any]]) -> None:
        assert len(items) <= 100
        self.items.setdefault(action_id, {})[chunk] = [dict(i) for i in items]

    def recent(self, limit: int) -> list[AuditEntry]:
        newest = [self.entries[key] for key in sorted(self.entries)[:limit]]
        result = []
        for entry in newest:
            chunks = self.items.get(entry.action_id, {})
            items = [item for n in sorted(chunks) for item in chunks[n]]
            result.append(replace(entry, items=items))
        return result
