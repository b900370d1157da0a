"""Removing chosen dead letters with the azure-servicebus SDK (the erasure's `DeadLetterSweeper`).

Service Bus cannot lock a chosen message of the dead-letter sub-queue by
sequence number, so a sweep first peeks the whole sub-queue (nothing locked)
to find the selected sequence numbers, then receives in peek-lock mode in
order: it completes each selected message and keeps every other one locked
until the sweep ends, then abandons it (so it is not received twice in one
sweep and stays as it was, apart from the broker's delivery count). The sweep
stops when every selected message is gone. The whole sweep, peeking included,
is bounded by `max_seconds` (40 s), inside the one-minute lock: a DLQ too large
to peek in that time fails it with `QueueUnavailable`, so the erasure is
retried and, failing that, its message is dead-lettered with that cause for
an operator (who replays or purges the backlog first). The app's identity
needs Listen on the queue.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress

from azure.core.exceptions import AzureError
from azure.servicebus import (
    ServiceBusClient,
    ServiceBusReceivedMessage,
    ServiceBusReceiveMode,
    ServiceBusReceiver,
    ServiceBusSubQueue,
)
from azure.servicebus.exceptions import ServiceBusError

from shared.errors import QueueUnavailable

PEEK_PAGE = 250
RECEIVE_BATCH = 100
RECEIVE_WAIT_SECONDS = 2.0
MAX_SWEEP_SECONDS = 40.0


class ServiceBusDeadLetterSweeper:
    """Completes the dead letters of one queue whose body a predicate selects."""

    def __init__(
        self, client: ServiceBusClient, queue_name: str, max_seconds: float = MAX_SWEEP_SECONDS
    ) -> None:
        self._client = client
        self._queue_name = queue_name
        self._max_seconds = max_seconds

    def remove(self, selected: Callable[[bytes], bool]) -> int:
        """Complete every selected dead letter; `QueueUnavailable` when Service Bus fails.

        Raises `QueueUnavailable` too when selected letters are still there at
        the end (locked by someone else, or the sweep ran out of time), so the
        caller retries rather than reporting them erased.
        """
        deadline = time.monotonic() + self._max_seconds
        try:
            with self._receiver() as receiver:
                targets = self._find(receiver, selected, deadline)
                if not targets:
                    return 0
                removed = self._complete(receiver, targets, deadline)
        except (AzureError, ServiceBusError, OSError) as exc:
            raise QueueUnavailable(f"{type(exc).__name__} from the dead-letter queue") from exc
        if removed < len(targets):
            raise QueueUnavailable(f"{len(targets) - removed} selected dead letters still there")
        return removed

    def _receiver(self) -> ServiceBusReceiver:
        return self._client.get_queue_receiver(
            self._queue_name,
            sub_queue=ServiceBusSubQueue.DEAD_LETTER,
            receive_mode=ServiceBusReceiveMode.PEEK_LOCK,
            prefetch_count=0,
        )

    @staticmethod
    def _find(
        receiver: ServiceBusReceiver, selected: Callable[[bytes], bool], deadline: float
    ) -> set[int]:
        targets: set[int] = set()
        next_sequence_number = 1
        while True:
            if time.monotonic() > deadline:  # a huge DLQ: retried, then visible as a failure
                raise QueueUnavailable("dead-letter queue too large to sweep within the budget")
            page = receiver.peek_messages(
                max_message_count=PEEK_PAGE, sequence_number=next_sequence_number
            )
            if not page:
                return targets
            for message in page:
                if selected(_body(message)):
                    targets.add(int(message.sequence_number or 0))
            next_sequence_number = max(int(m.sequence_number or 0) for m in page) + 1

    @staticmethod
    def _complete(receiver: ServiceBusReceiver, targets: set[int], deadline: float) -> int:
        held: list[ServiceBusReceivedMessage] = []
        remaining = set(targets)
        try:
            while remaining and time.monotonic() < deadline:
                batch = receiver.receive_messages(
                    max_message_count=RECEIVE_BATCH, max_wait_time=RECEIVE_WAIT_SECONDS
                )
                if not batch:
                    break
                for message in batch:
                    if message.sequence_number in remaining:
                        receiver.complete_message(message)
                        remaining.discard(int(message.sequence_number or 0))
                    else:
                        held.append(message)
        finally:
            for message in held:
                with suppress(AzureError, ServiceBusError):  # the lock runs out by itself anyway
                    receiver.abandon_message(message)
        return len(targets) - len(remaining)


def _body(message: ServiceBusReceivedMessage) -> bytes:
    return b"".join(
        part if isinstance(part, bytes) else str(part).encode("utf-8") for part in message.body
    )
