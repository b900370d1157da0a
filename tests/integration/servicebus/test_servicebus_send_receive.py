"""Sending and receiving through the real azure-servicebus SDK (sync)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusReceivedMessage


def _bodies(messages) -> list[str]:
    return [str(message) for message in messages]


def _sequence_number(message: ServiceBusReceivedMessage) -> int:
    """A received message's sequence number, which the broker always stamps."""
    assert message.sequence_number is not None
    return message.sequence_number


def test_single_list_and_batch_sends_arrive_in_order(sb_client: ServiceBusClient, queue_name):
    queue = queue_name()
    with sb_client.get_queue_sender(queue) as sender:
        sender.send_messages(ServiceBusMessage("one"))
        sender.send_messages([ServiceBusMessage("two"), ServiceBusMessage("three")])
        batch = sender.create_message_batch()
        for body in ("four", "five"):
            batch.add_message(ServiceBusMessage(body))
        sender.send_messages(batch)
    with sb_client.get_queue_receiver(queue) as receiver:
        received: list[ServiceBusReceivedMessage] = []
        while len(received) < 5:
            got = receiver.receive_messages(max_message_count=10, max_wait_time=5)
            assert got, f"only {len(received)} of 5 messages arrived"
            received += got
        for message in received:
            receiver.complete_message(message)
        assert _bodies(received) == ["one", "two", "three", "four", "five"]
        numbers = [_sequence_number(message) for message in received]
        assert numbers == sorted(numbers)
        assert len(set(numbers)) == 5
        assert receiver.peek_messages(max_message_count=10) == []


def test_iteration_receives_and_complete_removes(sb_client: ServiceBusClient, queue_name):
    queue = queue_name()
    with sb_client.get_queue_sender(queue) as sender:
        sender.send_messages([ServiceBusMessage(f"m{i}") for i in range(3)])
    seen = []
    with sb_client.get_queue_receiver(queue, max_wait_time=2) as receiver:
        for message in receiver:
            seen.append(str(message))
            receiver.complete_message(message)
            if len(seen) == 3:
                break
        assert seen == ["m0", "m1", "m2"]
        assert receiver.receive_messages(max_message_count=5, max_wait_time=1) == []


def test_received_metadata_is_right(sb_client: ServiceBusClient, queue_name):
    queue = queue_name()
    before = datetime.now(UTC)
    with sb_client.get_queue_sender(queue) as sender:
        sender.send_messages(ServiceBusMessage("x", message_id="meta-1"))
    with sb_client.get_queue_receiver(queue) as receiver:
        (message,) = receiver.receive_messages(max_wait_time=5)
        assert message.message_id == "meta-1"
        assert message.delivery_count == 0
        enqueued, locked_until = message.enqueued_time_utc, message.locked_until_utc
        assert enqueued is not None
        assert locked_until is not None
        assert before - timedelta(seconds=1) <= enqueued <= datetime.now(UTC)
        lock_left = (locked_until - datetime.now(UTC)).total_seconds()
        assert 50 < lock_left <= 60  # the project's LockDuration is PT1M
        assert message.lock_token is not None
        receiver.complete_message(message)


def test_duplicate_message_ids_are_dropped_within_the_window(
    sb_client: ServiceBusClient, queue_name
):
    queue = queue_name()
    with sb_client.get_queue_sender(queue) as sender:
        sender.send_messages(ServiceBusMessage("first", message_id="same"))
        sender.send_messages(
            ServiceBusMessage("second", message_id="same")
        )  # acknowledged, dropped
        sender.send_messages(
            [
                ServiceBusMessage("third", message_id="other"),
                ServiceBusMessage("x", message_id="same"),
            ]
        )
    with sb_client.get_queue_receiver(queue) as receiver:
        got = receiver.receive_messages(max_message_count=10, max_wait_time=3)
        assert _bodies(got) == ["first", "third"]
        for message in got:
            receiver.complete_message(message)
    # Completing does not reopen the window: real Service Bus keeps the id for the whole window.
    with sb_client.get_queue_sender(queue) as sender:
        sender.send_messages(ServiceBusMessage("again", message_id="same"))
    with sb_client.get_queue_receiver(queue) as receiver:
        assert receiver.receive_messages(max_wait_time=1) == []


def test_without_duplicate_detection_same_ids_all_arrive(sb_client: ServiceBusClient, queue_name):
    queue = queue_name("nodup")
    with sb_client.get_queue_sender(queue) as sender:
        sender.send_messages(
            [ServiceBusMessage("a", message_id="same"), ServiceBusMessage("b", message_id="same")]
        )
    with sb_client.get_queue_receiver(queue) as receiver:
        got = receiver.receive_messages(max_message_count=10, max_wait_time=3)
        assert _bodies(got) == ["a", "b"]


def test_peek_pages_through_messages_without_locking(sb_client: ServiceBusClient, queue_name):
    queue = queue_name()
    with sb_client.get_queue_sender(queue) as sender:
        sender.send_messages([ServiceBusMessage(f"p{i}") for i in range(7)])
    with sb_client.get_queue_receiver(queue) as receiver:
        first = receiver.peek_messages(max_message_count=3)
        second = receiver.peek_messages(max_message_count=3)
        third = receiver.peek_messages(max_message_count=3)
        assert _bodies(first) == ["p0", "p1", "p2"]
        assert _bodies(second) == ["p3", "p4", "p5"]
        assert _bodies(third) == ["p6"]
        assert receiver.peek_messages(max_message_count=3) == []
        again = receiver.peek_messages(
            max_message_count=2, sequence_number=_sequence_number(second[0])
        )
        assert _bodies(again) == ["p3", "p4"]
        # peeking locked nothing: all seven can be received
        got: list[ServiceBusReceivedMessage] = []
        deadline = time.monotonic() + 10
        while len(got) < 7 and time.monotonic() < deadline:
            got += receiver.receive_messages(max_message_count=7, max_wait_time=2)
        assert len(got) == 7


def test_application_properties_round_trip(sb_client: ServiceBusClient, queue_name):
    queue = queue_name()
    with sb_client.get_queue_sender(queue) as sender:
        sender.send_messages(
            ServiceBusMessage(
                "x",
                application_properties={
                    "schema_version": 1,
                    "tenant": "acme",
                    "flag": True,
                    "ratio": 0.5,
                },
            )
        )
    with sb_client.get_queue_receiver(queue) as receiver:
        (message,) = receiver.receive_messages(max_wait_time=5)
        assert message.application_properties == {
            b"schema_version": 1,
            b"tenant": b"acme",
            b"flag": True,
            b"ratio": 0.5,
        }
        receiver.complete_message(message)
