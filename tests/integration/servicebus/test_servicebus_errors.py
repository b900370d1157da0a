"""Errors the SDK must see as its own exceptions: auth, unknown entity, message size."""

from __future__ import annotations

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusMessage
from azure.servicebus.exceptions import (
    MessageSizeExceededError,
    MessagingEntityNotFoundError,
    ServiceBusAuthenticationError,
)

from localdev.servicebus.process import ServiceBusEmulatorProcess
from tests.integration.servicebus.support import assert_receives


def _client(connection_string: str) -> ServiceBusClient:
    return ServiceBusClient.from_connection_string(connection_string, retry_total=0)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("SharedAccessKey=SAS_KEY_VALUE", "SharedAccessKey=wrong-key"),
        ("SharedAccessKeyName=RootManageSharedAccessKey", "SharedAccessKeyName=SomeoneElse"),
    ],
)
def test_wrong_key_or_key_name_is_an_authentication_error(
    shared_emulator: ServiceBusEmulatorProcess, queue_name, old: str, new: str
):
    bad = shared_emulator.connection_string.replace(old, new)
    assert bad != shared_emulator.connection_string
    with _client(bad) as client, pytest.raises(ServiceBusAuthenticationError):  # noqa: SIM117
        with client.get_queue_sender(queue_name()) as sender:
            sender.send_messages(ServiceBusMessage("never"))


def test_unknown_queue_is_entity_not_found(shared_emulator: ServiceBusEmulatorProcess):
    with _client(shared_emulator.connection_string) as client:
        with (
            pytest.raises(MessagingEntityNotFoundError),
            client.get_queue_sender("no-such-queue") as sender,
        ):
            sender.send_messages(ServiceBusMessage("lost"))
        with (
            pytest.raises(MessagingEntityNotFoundError),
            client.get_queue_receiver("no-such-queue") as receiver,
        ):
            receiver.receive_messages(max_wait_time=1)


def test_message_over_256_kb_is_refused(sb_client: ServiceBusClient, queue_name):
    queue = queue_name()
    with sb_client.get_queue_sender(queue) as sender:
        with pytest.raises(MessageSizeExceededError):
            sender.send_messages(ServiceBusMessage(b"x" * (256 * 1024 + 1)))
        sender.send_messages(ServiceBusMessage("small still works"))
    with sb_client.get_queue_receiver(queue) as receiver:
        assert_receives(receiver, "small still works")
