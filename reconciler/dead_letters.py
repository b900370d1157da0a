"""The message ids in the queue's dead-letter sub-queue, peeked once per reconcile run.

Peeking locks nothing and changes nothing. The processor also records a failure
for most dead-lettered messages (`shared.failures`), but a message that died
without one (a host killed mid-delivery ten times, an expired message) is only
visible here.
"""

from __future__ import annotations

from azure.core.exceptions import AzureError
from azure.servicebus import ServiceBusClient, ServiceBusSubQueue

from shared.errors import QueueUnavailable

PEEK_BATCH = 250
PEEK_LIMIT = 100_000  # a dead-letter queue this long needs an operator, not a sweep


class ServiceBusDeadLetterIds:
    """`DeadLetterIds` over a queue's dead-letter sub-queue."""

    def __init__(self, client: ServiceBusClient, queue_name: str, limit: int = PEEK_LIMIT) -> None:
        self._client = client
        self._queue = queue_name
        self._limit = limit

    def __call__(self) -> set[str]:
        ids: set[str] = set()
        try:
            with self._client.get_queue_receiver(
                self._queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER
            ) as receiver:
                next_sequence = 1
                while len(ids) < self._limit:
                    batch = receiver.peek_messages(
                        max_message_count=PEEK_BATCH, sequence_number=next_sequence
                    )
                    if not batch:
                        break
                    ids.update(str(message.message_id) for message in batch)
                    next_sequence = max(int(m.sequence_number or 0) for m in batch) + 1
        except AzureError as exc:
            raise QueueUnavailable(f"{type(exc).__name__} peeking the dead-letter queue") from exc
        return ids
