"""What the management API reports about a queue: its settings, counts, size and times."""

from __future__ import annotations

from dataclasses import dataclass

from localdev.servicebus.broker.config import QueueSettings
from localdev.servicebus.broker.messages import MessageState
from localdev.servicebus.broker.queue import MessageQueue


@dataclass(frozen=True)
class QueueRuntime:
    """One queue's runtime properties, as Service Bus counts them.

    `active` counts every message in the queue that is not scheduled: waiting,
    locked by a receiver, or deferred (Service Bus leaves locked and deferred
    messages in the active count). `total` adds the scheduled ones and the
    dead-letter sub-queue. Transfer counts are always 0 (no forwarding here).
    """

    settings: QueueSettings
    active: int
    scheduled: int
    dead_letter: int
    size_in_bytes: int
    created_at: float
    updated_at: float
    accessed_at: float

    @property
    def total(self) -> int:
        """Service Bus's `MessageCount`: everything, dead letters included."""
        return self.active + self.scheduled + self.dead_letter

    @classmethod
    def of(
        cls,
        settings: QueueSettings,
        active: MessageQueue,
        dead_letter: MessageQueue,
        *,
        created_at: float,
        accessed_at: float,
    ) -> QueueRuntime:
        """Count the two sub-queues of one queue."""
        scheduled = sum(1 for m in active if m.state is MessageState.SCHEDULED)
        size = sum(len(m.payload) for m in active) + sum(len(m.payload) for m in dead_letter)
        return cls(
            settings=settings,
            active=len(active) - scheduled,
            scheduled=scheduled,
            dead_letter=len(dead_letter),
            size_in_bytes=size,
            created_at=created_at,
            updated_at=created_at,
            accessed_at=accessed_at,
        )
