"""Where accepted registrations go: the `RegistrationPublisher` interface, two implementations."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusSender

from shared.errors import SERVICE_BUS_ERRORS, PublishRejected, QueueUnavailable, map_exceptions
from shared.senders import SenderPool

__all__ = [
    "InMemoryPublisher",
    "OutgoingMessage",
    "PublishRejected",
    "RegistrationPublisher",
    "ServiceBusPublisher",
]

# Seconds per send attempt, waiting for a free sender included: the retry budget
# around it is shared.retries.INGEST_PUBLISH_RETRY.
SEND_TIMEOUT = 2.0
MIN_SEND_TIMEOUT = 0.1  # a send that got its sender at the last moment still gets a chance
# Senders (one AMQP connection each) per process: one per concurrent request, up to the
# Functions worker's thread count (infra: PYTHON_THREADPOOL_THREAD_COUNT = 16).
MAX_SENDERS = 16


@dataclass(frozen=True)
class OutgoingMessage:
    """A message as ingest, Event Streams and the reconciler build it (docs/pipeline.md)."""

    body: str
    message_id: str
    correlation_id: str
    application_properties: dict[str, str | int] = field(default_factory=dict)
    subject: str = "user.registered"
    content_type: str = "application/json"


class RegistrationPublisher(Protocol):
    """Enqueue one message. Raises `QueueUnavailable` (retry) or `PublishRejected`."""

    def publish(self, message: OutgoingMessage) -> None: ...


class InMemoryPublisher:
    """A `RegistrationPublisher` for unit tests: keeps messages, can be told to be down."""

    def __init__(self, unavailable_for: int = 0) -> None:
        self.messages: list[OutgoingMessage] = []
        self.unavailable_for = unavailable_for  # the next N publishes raise QueueUnavailable
        self.attempts = 0

    def publish(self, message: OutgoingMessage) -> None:
        self.attempts += 1
        if self.unavailable_for > 0:
            self.unavailable_for -= 1
            raise QueueUnavailable("in-memory queue is down")
        self.messages.append(message)


class ServiceBusPublisher:
    """Send to a Service Bus queue through a bounded pool of senders (see `shared.senders`).

    Concurrent requests each borrow their own sender, so they send in parallel
    instead of queueing behind one link. A send that fails discards its sender;
    the retry (`INGEST_PUBLISH_RETRY`) then gets a fresh one.
    """

    def __init__(
        self, client: ServiceBusClient, queue_name: str, max_senders: int = MAX_SENDERS
    ) -> None:
        self._senders: SenderPool[ServiceBusSender] = SenderPool(
            lambda: client.get_queue_sender(queue_name), max_senders, wait_timeout=SEND_TIMEOUT
        )

    @property
    def senders(self) -> SenderPool[ServiceBusSender]:
        """The pool (its `size` and `idle` counts are for tests and diagnostics)."""
        return self._senders

    def publish(self, message: OutgoingMessage) -> None:
        outgoing = ServiceBusMessage(
            message.body,
            message_id=message.message_id,
            content_type=message.content_type,
            subject=message.subject,
            correlation_id=message.correlation_id,
            application_properties=dict(message.application_properties),  # type: ignore[arg-type]
        )
        started = time.monotonic()
        with map_exceptions(SERVICE_BUS_ERRORS), self._senders.lend() as sender:
            # Waiting for a free sender counts against the attempt's SEND_TIMEOUT.
            remaining = SEND_TIMEOUT - (time.monotonic() - started)
            sender.send_messages(outgoing, timeout=max(remaining, MIN_SEND_TIMEOUT))

    def close(self) -> None:
        """Close every sender (lent ones when their send returns); later publishes fail."""
        self._senders.close()
