"""`--data-dir`: messages, delivery counts, DLQ, sequence numbers survive restarts and kill -9."""

from __future__ import annotations

import pytest
from azure.servicebus import (
    ServiceBusClient,
    ServiceBusMessage,
    ServiceBusReceivedMessage,
    ServiceBusSubQueue,
)
from azure.servicebus.exceptions import MessageLockLostError

QUEUES = {"durable": {"MaxDeliveryCount": 5}}


def _receive(client: ServiceBusClient, count: int, **kwargs):
    with client.get_queue_receiver("durable", **kwargs) as receiver:
        got: list[ServiceBusReceivedMessage] = []
        for _ in range(10):
            got += receiver.receive_messages(max_message_count=count - len(got), max_wait_time=1)
            if len(got) >= count:
                break
        for message in got:
            receiver.complete_message(message)
        return got


@pytest.mark.parametrize("stop", ["stop", "kill"])
def test_state_survives_restart(servicebus_factory, tmp_path, stop: str):
    data = tmp_path / "data"
    emulator = servicebus_factory(QUEUES, data_dir=data)
    with ServiceBusClient.from_connection_string(emulator.connection_string) as client:
        with client.get_queue_sender("durable") as sender:
            sender.send_messages(
                [ServiceBusMessage(f"keep-{n}", message_id=f"id-{n}") for n in range(3)]
            )
            sender.send_messages(ServiceBusMessage("dead", message_id="id-dead"))
        with client.get_queue_receiver("durable") as receiver:
            got = receiver.receive_messages(max_message_count=4, max_wait_time=5)
            by_body = {str(m): m for m in got}
            receiver.abandon_message(by_body["keep-0"])  # delivery count 1
            receiver.dead_letter_message(
                by_body["dead"], reason="Kept", error_description="across restarts"
            )
            receiver.complete_message(by_body["keep-2"])
            # keep-1 stays locked: a restart drops the lock, not the message
    getattr(emulator, stop)()

    restarted = servicebus_factory(QUEUES, data_dir=data)
    with ServiceBusClient.from_connection_string(restarted.connection_string) as client:
        with client.get_queue_sender("durable") as sender:
            sender.send_messages(
                ServiceBusMessage("duplicate", message_id="id-0")
            )  # dedupe survived
            sender.send_messages(ServiceBusMessage("new"))
        got = _receive(client, 3)
        assert sorted(str(m) for m in got) == ["keep-0", "keep-1", "new"]
        counts = {str(m): m.delivery_count for m in got}
        assert counts["keep-0"] == 1
        assert counts["keep-1"] == 0
        numbers = {str(m): m.sequence_number for m in got}
        assert numbers["new"] > max(numbers["keep-0"], numbers["keep-1"])
        assert (
            numbers["new"] == 6
        )  # five sent before the restart (one a duplicate), numbers never reused
        (dead,) = _receive(client, 1, sub_queue=ServiceBusSubQueue.DEAD_LETTER)
        assert (str(dead), dead.dead_letter_reason) == ("dead", "Kept")
        assert dead.dead_letter_error_description == "across restarts"


def test_settling_after_a_restart_is_lock_lost(servicebus_factory, tmp_path):
    """A restart drops every lock: the old lock token is lost, and the message comes back.

    The client lets go of the message before the emulator dies, which leaves its lock held
    (the emulator keeps a lock after its receiver has gone, until it expires). Killing the
    emulator under the client's open links would leak its sockets: azure-servicebus 7.15
    never closes the socket of a connection whose peer has died (`Connection.close()` marks
    the connection ended before `_disconnect()`, which then skips the transport), and the
    garbage collector later finalizes that socket, with a ResourceWarning, in whichever test
    happens to be running then.
    """
    # Given a message whose lock is held by a receiver that has since gone
    data = tmp_path / "data"
    emulator = servicebus_factory(QUEUES, data_dir=data)
    with ServiceBusClient.from_connection_string(emulator.connection_string) as client:
        with client.get_queue_sender("durable") as sender:
            sender.send_messages(ServiceBusMessage("held"))
        with client.get_queue_receiver("durable") as receiver:
            (message,) = receiver.receive_messages(max_wait_time=5)
        with client.get_queue_receiver("durable") as other:
            other.renew_message_lock(message)  # the lock is still held
    # When the emulator is killed and started again on the same data
    emulator.kill()
    restarted = servicebus_factory(QUEUES, data_dir=data)
    # Then the new emulator never issued that lock, and delivers the message again
    with ServiceBusClient.from_connection_string(restarted.connection_string) as fresh:
        with fresh.get_queue_receiver("durable") as other, pytest.raises(MessageLockLostError):
            other.renew_message_lock(message)
        (again,) = _receive(fresh, 1)
        assert str(again) == "held"
