"""DeadLetterQueue on the azure-servicebus SDK: the only dead-letter module that imports it.

Received and peeked messages become plain `DeadLetter`s here: application
property keys and string values arrive from the SDK as bytes and are decoded
at this boundary. SDK exceptions become ops errors here too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any, cast

from azure.servicebus import (
    ServiceBusClient,
    ServiceBusMessage,
    ServiceBusReceivedMessage,
    ServiceBusReceiveMode,
    ServiceBusReceiver,
    ServiceBusSender,
    ServiceBusSubQueue,
)
from azure.servicebus.exceptions import MessageSizeExceededError, ServiceBusError

from ops.deadletters.model import DeadLetter, OutgoingMessage, PropertyValue
from ops.deadletters.queue import LockedLetter, SendFailed
from ops.errors import OpsError, one_line, sdk_errors


class ServiceBusDeadLetterQueue:
    """The DLQ of `queue_name` (peek, receive, settle) and sending to `queue_name` itself."""

    def __init__(self, client: ServiceBusClient, queue_name: str) -> None:
        self.client = client
        self.queue_name = queue_name
        self._receiver: ServiceBusReceiver | None = None
        self._sender: ServiceBusSender | None = None

    def peek(self, from_sequence_number: int, max_count: int) -> list[DeadLetter]:
        """Browse dead letters from a sequence number on, without locking them."""
        with self._errors():
            peeked = self._dlq().peek_messages(
                max_message_count=max_count, sequence_number=max(from_sequence_number, 1)
            )
        return [to_dead_letter(message) for message in peeked]

    def receive(self, max_count: int, max_wait_seconds: float) -> list[LockedLetter]:
        """Lock up to max_count dead letters (peek-lock)."""
        with self._errors():
            received = self._dlq().receive_messages(
                max_message_count=max_count, max_wait_time=max_wait_seconds
            )
        now = datetime.now(UTC)
        return [
            LockedLetter(to_dead_letter(m), m.locked_until_utc, lock=m, received_at=now)
            for m in received
        ]

    def complete(self, locked: LockedLetter) -> None:
        """Remove the dead letter for good."""
        with self._errors():
            self._dlq().complete_message(_sdk_message(locked))

    def abandon(self, locked: LockedLetter) -> None:
        """Release the lock; the dead letter stays as it was."""
        with self._errors():
            self._dlq().abandon_message(_sdk_message(locked))

    def renew(self, locked: LockedLetter) -> None:
        """Extend the lock."""
        with self._errors():
            locked.locked_until = self._dlq().renew_message_lock(_sdk_message(locked))

    def send(self, messages: Sequence[OutgoingMessage]) -> None:
        """Send to the main queue in ServiceBusMessageBatch-es; SendFailed says how many went."""
        sent = 0
        try:
            with self._errors():
                sender = self._main_queue_sender()
                batch = sender.create_message_batch()
                for message in messages:
                    outgoing = to_sdk_message(message)
                    try:
                        batch.add_message(outgoing)
                    except MessageSizeExceededError:
                        if not len(batch):
                            raise  # one message alone is over the size limit
                        sender.send_messages(batch)
                        sent += len(batch)
                        batch = sender.create_message_batch()
                        batch.add_message(outgoing)
                if len(batch):
                    sender.send_messages(batch)
                    sent += len(batch)
        except OpsError as exc:
            raise SendFailed(one_line(str(exc)), sent=sent) from exc

    def close(self) -> None:
        """Close the links this queue opened (the client stays open)."""
        for handler in (self._receiver, self._sender):
            if handler is not None:
                with suppress(ServiceBusError):  # a broken link: nothing left to release
                    handler.close()
        self._receiver = self._sender = None

    def _dlq(self) -> ServiceBusReceiver:
        if self._receiver is None:
            self._receiver = self.client.get_queue_receiver(
                self.queue_name,
                sub_queue=ServiceBusSubQueue.DEAD_LETTER,
                receive_mode=ServiceBusReceiveMode.PEEK_LOCK,
                prefetch_count=0,
            )
        return self._receiver

    def _main_queue_sender(self) -> ServiceBusSender:
        if self._sender is None:
            self._sender = self.client.get_queue_sender(self.queue_name)
        return self._sender

    @contextmanager
    def _errors(self) -> Iterator[None]:
        with sdk_errors(f"queue {self.queue_name}"):
            yield


def _sdk_message(locked: LockedLetter) -> ServiceBusReceivedMessage:
    message = locked.lock
    if not isinstance(message, ServiceBusReceivedMessage):
        raise TypeError("this LockedLetter was not received by ServiceBusDeadLetterQueue")
    return message


def to_dead_letter(message: ServiceBusReceivedMessage) -> DeadLetter:
    """The plain form of a received or peeked SDK message."""
    return DeadLetter(
        sequence_number=int(message.sequence_number or 0),
        message_id=_text(message.message_id),
        enqueued_time=message.enqueued_time_utc,
        delivery_count=message.delivery_count,
        dead_letter_reason=message.dead_letter_reason,
        dead_letter_error_description=message.dead_letter_error_description,
        body=body_bytes(message.body),
        content_type=_text(message.content_type),
        subject=_text(message.subject),
        correlation_id=_text(message.correlation_id),
        application_properties=decode_properties(message.application_properties),
    )


def to_sdk_message(message: OutgoingMessage) -> ServiceBusMessage:
    """The SDK message for an outgoing replay."""
    return ServiceBusMessage(
        message.body,
        message_id=message.message_id,
        content_type=message.content_type,
        subject=message.subject,
        correlation_id=message.correlation_id,
        # The SDK's annotation omits datetime and None, which its encoder handles.
        application_properties=cast(Any, dict(message.application_properties)),
    )


def body_bytes(body: Any) -> bytes:
    """A message body as bytes: data sections joined; value bodies UTF-8 encoded."""
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    if body is None:
        return b""
    try:
        return b"".join(bytes(section) for section in body)
    except TypeError:
        return str(body).encode("utf-8")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def decode_properties(raw: Mapping[Any, Any] | None) -> dict[str, PropertyValue]:
    """Application properties with str keys and str values (the SDK hands both over as bytes)."""
    decoded: dict[str, PropertyValue] = {}
    for key, value in (raw or {}).items():
        if isinstance(value, bytes):
            # A value that is not UTF-8 stays bytes: it is binary, not text.
            with contextlib.suppress(UnicodeDecodeError):
                value = value.decode("utf-8")
        decoded[_text(key) or ""] = value
    return decoded
