"""Where accepted registrations go: the `RegistrationPublisher` interface, two implementations."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Protocol

from azure.core.exceptions import AzureError
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusSender
from azure.servicebus.exceptions import (
    MessageSizeExceededError,
    MessagingEntityDisabledError,
    MessagingEntityNotFoundError,
    ServiceBusAuthenticationError,
    ServiceBusAuthorizationError,
)

from shared.errors import PermanentError, QueueUnavailable

SEND_TIMEOUT = (
    2.0  # seconds per send attempt: the retry budget is shared.retries.INGEST_PUBLISH_RETRY
)


class PublishRejected(PermanentError):
    """Service Bus refused the message for a reason retrying cannot fix (config, size)."""


@dataclass(frozen=True)
class OutgoingMessage:
    """A registration message as ingest builds it (see DESIGN: the Service Bus message)."""

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


_REJECTED = (
    MessageSizeExceededError,
    MessagingEntityNotFoundError,
    MessagingEntityDisabledError,
    ServiceBusAuthenticationError,
    ServiceBusAuthorizationError,
)


class ServiceBusPublisher:
    """Send to a Service Bus queue with one sender per process (senders are not thread-safe)."""

    def __init__(self, client: ServiceBusClient, queue_name: str) -> None:
        self._client = client
        self._queue_name = queue_name
        self._sender: ServiceBusSender | None = None
        self._lock = threading.Lock()

    def publish(self, message: OutgoingMessage) -> None:
        outgoing = ServiceBusMessage(
            message.body,
            message_id=message.message_id,
            content_type=message.content_type,
            subject=message.subject,
            correlation_id=message.correlation_id,
            application_properties=dict(message.application_properties),  # type: ignore[arg-type]
        )
        with self._lock:
            try:
                if self._sender is None:
                    self._sender = self._client.get_queue_sender(self._queue_name)
                self._sender.send_messages(outgoing, timeout=SEND_TIMEOUT)
            except _REJECTED as exc:
                self._discard_sender()
                raise PublishRejected(f"{type(exc).__name__} from Service Bus") from exc
            except (AzureError, OSError) as exc:
                self._discard_sender()  # a fresh link on the next attempt
                raise QueueUnavailable(f"{type(exc).__name__} from Service Bus") from exc

    def _discard_sender(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            with contextlib.suppress(AzureError):  # the link is broken; closing is best effort
                sender.close()

    def close(self) -> None:
        with self._lock:
            self._discard_sender()
