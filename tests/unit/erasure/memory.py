"""In-memory wiring of the erasure path: the project's own interfaces, no SDK."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from processor.deletions import DeletionProcessor, TombstoneAwareWriter
from processor.service import IncomingMessage, RegistrationProcessor
from shared.erasure import Eraser, UserDeletion, message_type
from shared.failures import FailureLog
from shared.registrations import RegistrationReader
from shared.retries import RetryPolicy
from shared.tablestore import InMemoryTableStore
from shared.tombstones import TombstoneStore

FAST_RETRY = RetryPolicy(
    "test", max_attempts=3, initial_delay=0.0, max_delay=0.0, jitter=0.0, total_budget=5.0
)
TENANT = "acme-prod"
T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


class InMemoryDeadLetters:
    """A `DeadLetterSweeper` over a list of message bodies."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def remove(self, selected: Callable[[bytes], bool]) -> int:
        kept = [body for body in self.bodies if not selected(body)]
        removed = len(self.bodies) - len(kept)
        self.bodies = kept
        return removed


def creation_body(user_id: str, created_at: datetime, source: str = "action", **user: Any) -> bytes:
    document = {
        "type": "user.registered",
        "schema_version": 1,
        "tenant": {"id": TENANT},
        "user": {"user_id": user_id, "created_at": created_at.isoformat(), **user},
        "source": source,
    }
    return json.dumps(document).encode("utf-8")


def deletion_body(user_id: str, deleted_at: datetime) -> bytes:
    return UserDeletion.of(TENANT, user_id, deleted_at, "event-stream").canonical_json().encode()


class ErasurePipeline:
    """The processor (creations and deletions) over in-memory tables and dead letters."""

    def __init__(self) -> None:
        self.registrations = InMemoryTableStore()
        self.tombstone_table = InMemoryTableStore()
        self.failures_table = InMemoryTableStore()
        self.audit = InMemoryTableStore()
        self.dead_letters = InMemoryDeadLetters()
        self.failures = FailureLog(self.failures_table)
        self.tombstones = TombstoneStore(self.tombstone_table, clock=lambda: T0)
        self.reader = RegistrationReader(self.registrations)
        self.eraser = Eraser(self.registrations, self.tombstones, self.failures, self.dead_letters)
        writer = TombstoneAwareWriter(self.registrations, self.tombstones)
        self.creations = RegistrationProcessor(writer, self.failures, FAST_RETRY, sleep=no_sleep)
        self.deletions = DeletionProcessor(
            self.eraser, self.audit, self.failures, FAST_RETRY, sleep=no_sleep
        )
        self.received = 0

    def deliver(self, body: bytes, message_id: str = "msg") -> object:
        """Dispatch on the body's type, as the processor's trigger does."""
        self.received += 1
        message = IncomingMessage(
            body=body,
            message_id=message_id,
            delivery_count=1,
            application_properties={
                "received_at": (T0 + timedelta(seconds=self.received)).isoformat()
            },
        )
        if message_type(body) == "user.deleted":
            return self.deletions.process(message)
        return self.creations.process(message)


def no_sleep(_: float) -> None:
    return None
