"""Helpers the Service Bus integration tests share: start an emulator, prove a queue still works."""

from __future__ import annotations

from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusReceiver

# The one start-or-fail (never skip) for emulators, kept with the emulator fixtures.
from tests.fixtures.servicebus import _start as start_or_fail

__all__ = ["assert_receives", "assert_round_trip", "start_or_fail"]


def assert_receives(receiver: ServiceBusReceiver, body: str) -> None:
    """Receive exactly one message, check its body is `body`, and complete it."""
    (message,) = receiver.receive_messages(max_wait_time=5)
    assert str(message) == body
    receiver.complete_message(message)


def assert_round_trip(client: ServiceBusClient, queue: str, body: str) -> None:
    """Send `body` to `queue` and get it back: the queue and the client still work."""
    with client.get_queue_sender(queue) as sender:
        sender.send_messages(ServiceBusMessage(body))
    with client.get_queue_receiver(queue) as receiver:
        assert_receives(receiver, body)
