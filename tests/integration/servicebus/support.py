"""Helpers the Service Bus integration tests share: start an emulator, prove a queue still works."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusReceiver

from localdev.servicebus.process import ServiceBusEmulatorProcess

Emulator = TypeVar("Emulator", bound=ServiceBusEmulatorProcess)


@contextmanager
def running(emulator: Emulator) -> Iterator[Emulator]:
    """Start `emulator` for the block and stop it after; fail (never skip) when it cannot start."""
    try:
        emulator.start()
    except Exception as exc:
        pytest.fail(f"the Service Bus emulator could not start: {exc}", pytrace=False)
    try:
        yield emulator
    finally:
        emulator.stop()


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
