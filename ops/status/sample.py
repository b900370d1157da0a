"""One look at the queue's backlog, and how it moved since the previous look.

The counts are the broker's own (queue runtime properties); the age of the
oldest dead letter comes from peeking the DLQ's first message, which locks
nothing. Rates are per second between two samples: positive `drain` means
the active backlog shrinks, positive `dead_letter_growth` means messages are
dead-lettering right now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ops.deadletters.queue import DeadLetterQueue


@dataclass(frozen=True)
class QueueCounts:
    """The broker's message counts of one queue."""

    active: int
    scheduled: int
    dead_letter: int


class QueueCounter(Protocol):
    """Reads a queue's runtime counts (ServiceBusAdministrationClient in ops.status.admin)."""

    def counts(self, queue_name: str) -> QueueCounts:
        """The queue's active, scheduled and dead-letter counts."""
        ...


@dataclass(frozen=True)
class Sample:
    """The backlog at one moment."""

    queue: str
    taken_at: datetime
    counts: QueueCounts
    oldest_dead_letter_age_seconds: float | None

    def row(self) -> dict[str, Any]:
        """The --json object (integers for the counts)."""
        return {
            "queue": self.queue,
            "sampled_at": self.taken_at,
            "active_messages": self.counts.active,
            "scheduled_messages": self.counts.scheduled,
            "dead_letter_messages": self.counts.dead_letter,
            "oldest_dead_letter_age_seconds": self.oldest_dead_letter_age_seconds,
        }


def take_sample(
    counter: QueueCounter, dead_letters: DeadLetterQueue, queue: str, now: Callable[[], datetime]
) -> Sample:
    """Counts, then the oldest dead letter's age (None when the DLQ is empty)."""
    counts = counter.counts(queue)
    taken_at = now()
    age = None
    if counts.dead_letter:
        oldest = dead_letters.peek(1, 1)
        if oldest and oldest[0].enqueued_time is not None:
            age = max(0.0, round((taken_at - oldest[0].enqueued_time).total_seconds(), 1))
    return Sample(queue, taken_at, counts, age)


def rates(previous: Sample, current: Sample) -> dict[str, float | None]:
    """Per-second movement between two samples (None when no time passed)."""
    seconds = (current.taken_at - previous.taken_at).total_seconds()
    if seconds <= 0:
        return {"drain_per_second": None, "dead_letter_growth_per_second": None}
    active = current.counts.active - previous.counts.active
    dead = current.counts.dead_letter - previous.counts.dead_letter
    return {
        "drain_per_second": round(-active / seconds, 2),
        "dead_letter_growth_per_second": round(dead / seconds, 2),
    }
