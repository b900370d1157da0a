"""The processor's deletion handler: failures are recorded and raised, never completed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from processor.service import IncomingMessage
from shared.errors import InvalidEvent, QueueUnavailable
from tests.unit.erasure.memory import T0, ErasurePipeline, creation_body, deletion_body

USER = "auth0|del"


def test_an_unreadable_deletion_is_recorded_and_raised() -> None:
    pipeline = ErasurePipeline()
    message = IncomingMessage(b'{"type": "user.deleted", "tenant": {}}', "del_bad", 4)

    with pytest.raises(InvalidEvent):
        pipeline.deletions.process(message)

    failure = pipeline.failures.get("del_bad")
    assert failure is not None
    assert failure.permanent
    assert failure.delivery_count == 4
    assert "tenant.id" in failure.error_message


def test_a_dead_letter_queue_that_stays_down_is_retried_then_raised() -> None:
    pipeline = ErasurePipeline()
    pipeline.deliver(creation_body(USER, T0))
    attempts = []

    def down(selected: Callable[[bytes], bool]) -> int:
        attempts.append(1)
        raise QueueUnavailable("dead-letter queue unreachable")

    # An outage is injected by replacing the method on this one instance.
    pipeline.dead_letters.remove = down  # type: ignore[method-assign]
    with pytest.raises(QueueUnavailable):
        pipeline.deletions.process(IncomingMessage(deletion_body(USER, T0), "del_1", 1))

    assert len(attempts) == 3  # the retry policy's attempts
    failure = pipeline.failures.get("del_1")
    assert failure is not None
    assert not failure.permanent
    # What could be done is done (tombstone, entity); the redelivery finishes the rest.
    assert pipeline.reader.get(USER) == []
    assert pipeline.tombstones.deleted_at("acme-prod", USER) == T0
