"""Peek-lock settlement through the SDK: abandon, dead-letter, lock expiry, MaxDeliveryCount."""

from __future__ import annotations

import time

import pytest
from azure.servicebus import (
    ServiceBusClient,
    ServiceBusMessage,
    ServiceBusReceivedMessage,
    ServiceBusSubQueue,
)
from azure.servicebus.exceptions import MessageLockLostError


def _receive_one(receiver, wait: float = 5):
    got = receiver.receive_messages(max_message_count=1, max_wait_time=wait)
    assert len(got) == 1, "expected one message"
    return got[0]


def test_abandon_redelivers_with_delivery_count_plus_one(sb_client: ServiceBusClient, queue_name):
    queue = queue_name()
    with sb_client.get_queue_sender(queue) as sender:
        sender.send_messages(ServiceBusMessage("retry me"))
    with sb_client.get_queue_receiver(queue) as receiver:
        first = _receive_one(receiver)
        receiver.abandon_message(first)
        second = _receive_one(receiver)
        assert str(second) == "retry me"
        assert (first.delivery_count, second.delivery_count) == (0, 1)
        assert second.sequence_number == first.sequence_number
        assert second.lock_token != first.lock_token
        receiver.complete_message(second)


def test_dead_letter_with_reason_then_read_peek_and_complete_from_dlq(
    sb_client: ServiceBusClient, queue_name
):
    queue = queue_name()
    with sb_client.get_queue_sender(queue) as sender:
        sender.send_messages(
            ServiceBusMessage("poison", message_id="bad-1", application_properties={"k": "v"})
        )
    with sb_client.get_queue_receiver(queue) as receiver:
        message = _receive_one(receiver)
        receiver.dead_letter_message(
            message, reason="SchemaViolation", error_description="user.user_id missing"
        )
        assert receiver.receive_messages(max_wait_time=1) == []
    with sb_client.get_queue_receiver(queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER) as dlq:
        (peeked,) = dlq.peek_messages(max_message_count=5)
        assert peeked.dead_letter_reason == "SchemaViolation"
        dead = _receive_one(dlq)
        assert str(dead) == "poison"
        assert dead.message_id == "bad-1"
        assert dead.dead_letter_reason == "SchemaViolation"
        assert dead.dead_letter_error_description == "user.user_id missing"
        assert dead.application_properties[b"k"] == b"v"
        assert dead.sequence_number == message.sequence_number
        dlq.complete_message(dead)
        assert dlq.peek_messages(max_message_count=5) == []


def test_lock_expiry_redelivers_and_late_settlement_fails(sb_client: ServiceBusClient, queue_name):
    queue = queue_name("fast")  # LockDuration PT2S
    with sb_client.get_queue_sender(queue) as sender:
        sender.send_messages(ServiceBusMessage("slow consumer"))
    with sb_client.get_queue_receiver(queue) as receiver:
        first = _receive_one(receiver)
        time.sleep(2.5)
        with pytest.raises(MessageLockLostError):
            receiver.complete_message(first)
        second = _receive_one(receiver)
        assert second.delivery_count == 1
        assert second.sequence_number == first.sequence_number
        receiver.complete_message(second)


def test_max_delivery_count_moves_to_dlq(sb_client: ServiceBusClient, queue_name):
    queue = queue_name("fast")  # MaxDeliveryCount 3
    with sb_client.get_queue_sender(queue) as sender:
        sender.send_messages(ServiceBusMessage("always fails"))
    counts = []
    with sb_client.get_queue_receiver(queue) as receiver:
        for _ in range(3):
            message = _receive_one(receiver)
            counts.append(message.delivery_count)
            receiver.abandon_message(message)
        assert receiver.receive_messages(max_wait_time=1) == []
    assert counts == [0, 1, 2]
    with sb_client.get_queue_receiver(queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER) as dlq:
        dead = _receive_one(dlq)
        assert dead.dead_letter_reason == "MaxDeliveryCountExceeded"
        assert dead.delivery_count == 3
        dlq.complete_message(dead)


def test_messages_arriving_between_receive_calls_are_not_counted_as_deliveries(
    sb_client: ServiceBusClient, queue_name
):
    queue = queue_name()
    with (
        sb_client.get_queue_receiver(queue) as receiver,
        sb_client.get_queue_sender(queue) as sender,
    ):
        # Given leftover credit from a receive call that returned empty
        assert receiver.receive_messages(max_message_count=5, max_wait_time=0.5) == []
        # When messages arrive while no receive call is active (the SDK releases them)
        sender.send_messages([ServiceBusMessage("late-1"), ServiceBusMessage("late-2")])
        time.sleep(0.5)
        # Then they are received later with no delivery counted
        got: list[ServiceBusReceivedMessage] = []
        deadline = time.monotonic() + 10
        while len(got) < 2 and time.monotonic() < deadline:
            got += receiver.receive_messages(max_message_count=5, max_wait_time=2)
        assert sorted(str(m) for m in got) == ["late-1", "late-2"]
        assert [m.delivery_count for m in got] == [0, 0]
        for message in got:
            receiver.complete_message(message)
