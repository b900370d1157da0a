"""Receive modes, defer, lock renewal, scheduling, TTL and full property round-trips (sync SDK)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.servicebus import (
    AutoLockRenewer,
    ServiceBusClient,
    ServiceBusMessage,
    ServiceBusMessageState,
    ServiceBusReceivedMessage,
    ServiceBusReceiveMode,
    ServiceBusReceiver,
    ServiceBusSender,
    ServiceBusSubQueue,
)

from tests.unit.servicebus.message_properties import EVERY_STRING_PROPERTY


def _drain(receiver, expected: int, wait: float = 10):
    got: list[ServiceBusReceivedMessage] = []
    deadline = time.monotonic() + wait
    while len(got) < expected and time.monotonic() < deadline:
        got += receiver.receive_messages(max_message_count=expected - len(got), max_wait_time=1)
    return got


def _scheduled_in(seconds: float) -> datetime:
    """A time `seconds` from now, to the millisecond: all an AMQP timestamp carries.

    The emulator enqueues at the time as sent, so a finer time would be up to a millisecond
    later than the moment the message may arrive.
    """
    at = datetime.now(UTC) + timedelta(seconds=seconds)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def test_receive_and_delete_removes_on_delivery(sb_client: ServiceBusClient, queue_name):
    queue = queue_name()
    with sb_client.get_queue_sender(queue) as sender:
        sender.send_messages([ServiceBusMessage("r1"), ServiceBusMessage("r2")])
    with sb_client.get_queue_receiver(
        queue, receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE
    ) as receiver:
        got = _drain(receiver, 2)
        assert [str(m) for m in got] == ["r1", "r2"]
        assert receiver.receive_messages(max_wait_time=1) == []
        assert receiver.peek_messages(max_message_count=5) == []


def test_defer_then_receive_deferred_and_complete(sb_client: ServiceBusClient, queue_name):
    queue = queue_name()
    with sb_client.get_queue_sender(queue) as sender:
        sender.send_messages([ServiceBusMessage("later"), ServiceBusMessage("now")])
    with sb_client.get_queue_receiver(queue) as receiver:
        first, second = _drain(receiver, 2)
        receiver.defer_message(first)
        receiver.complete_message(second)
        assert receiver.receive_messages(max_wait_time=1) == []  # deferred is invisible to receive
        (peeked,) = receiver.peek_messages(
            max_message_count=5, sequence_number=first.sequence_number
        )
        assert peeked.state == ServiceBusMessageState.DEFERRED
        (deferred,) = receiver.receive_deferred_messages([first.sequence_number])
        assert str(deferred) == "later"
        assert deferred.state == ServiceBusMessageState.DEFERRED
        receiver.complete_message(deferred)
        assert receiver.peek_messages(max_message_count=5, sequence_number=1) == []


def test_renew_lock_extends_it(sb_client: ServiceBusClient, queue_name):
    queue = queue_name("fast")  # LockDuration PT2S
    with sb_client.get_queue_sender(queue) as sender:
        sender.send_messages(ServiceBusMessage("hold"))
    with sb_client.get_queue_receiver(queue) as receiver:
        (message,) = _drain(receiver, 1)
        for _ in range(3):
            time.sleep(1)
            new_expiry = receiver.renew_message_lock(message)
            assert new_expiry > datetime.now(UTC) + timedelta(seconds=1.5)
        receiver.complete_message(
            message
        )  # 3 s after receipt: only possible because of the renewals
        assert message.delivery_count == 0


def test_auto_lock_renewer_keeps_the_lock(sb_client: ServiceBusClient, queue_name):
    queue = queue_name("fast")
    with sb_client.get_queue_sender(queue) as sender:
        sender.send_messages(ServiceBusMessage("long job"))
    with (
        AutoLockRenewer(max_lock_renewal_duration=20) as renewer,
        sb_client.get_queue_receiver(queue) as receiver,
    ):
        (message,) = _drain(receiver, 1)
        renewer.register(receiver, message)
        time.sleep(4)  # twice the lock duration
        receiver.complete_message(message)


@pytest.fixture
def sender_and_receiver(
    sb_client: ServiceBusClient, queue_name
) -> Iterator[tuple[ServiceBusSender, ServiceBusReceiver]]:
    """A sender and a receiver, both open, on a fresh queue with the project's defaults."""
    queue = queue_name()
    with (
        sb_client.get_queue_sender(queue) as sender,
        sb_client.get_queue_receiver(queue) as receiver,
    ):
        yield sender, receiver


def test_schedule_and_cancel(sender_and_receiver):
    sender, receiver = sender_and_receiver
    at = _scheduled_in(2)
    kept = sender.schedule_messages(ServiceBusMessage("scheduled"), at)
    cancelled = sender.schedule_messages([ServiceBusMessage("c1"), ServiceBusMessage("c2")], at)
    assert len(kept) == 1
    assert len(cancelled) == 2
    sender.cancel_scheduled_messages(cancelled)
    (peeked,) = receiver.peek_messages(max_message_count=5)
    assert peeked.state == ServiceBusMessageState.SCHEDULED
    assert receiver.receive_messages(max_wait_time=0.5) == []  # not yet
    (message,) = _drain(receiver, 1, wait=5)
    assert datetime.now(UTC) >= at
    assert str(message) == "scheduled"
    assert message.sequence_number == kept[0]
    assert abs((message.scheduled_enqueue_time_utc - at).total_seconds()) < 0.01
    assert message.enqueued_time_utc >= at - timedelta(milliseconds=5)
    receiver.complete_message(message)
    assert _drain(receiver, 1, wait=1) == []


def test_scheduled_message_sent_with_a_time_on_the_message(sender_and_receiver):
    sender, receiver = sender_and_receiver
    at = _scheduled_in(1.5)
    sender.send_messages(ServiceBusMessage("via property", scheduled_enqueue_time_utc=at))
    assert receiver.receive_messages(max_wait_time=0.5) == []
    (message,) = _drain(receiver, 1, wait=5)
    assert datetime.now(UTC) >= at
    assert str(message) == "via property"
    receiver.complete_message(message)


def test_ttl_expiry_dead_letters_when_configured(sb_client: ServiceBusClient, queue_name):
    queue = queue_name("ttl")  # DefaultMessageTimeToLive PT2S, DeadLetteringOnMessageExpiration
    with sb_client.get_queue_sender(queue) as sender:
        sender.send_messages(ServiceBusMessage("stale"))
        sender.send_messages(ServiceBusMessage("very stale", time_to_live=timedelta(seconds=0.5)))
    time.sleep(2.5)
    with sb_client.get_queue_receiver(queue) as receiver:
        assert receiver.receive_messages(max_wait_time=0.5) == []
    with sb_client.get_queue_receiver(queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER) as dlq:
        got = _drain(dlq, 2)
        assert sorted(str(m) for m in got) == ["stale", "very stale"]
        assert {m.dead_letter_reason for m in got} == {"TTLExpiredException"}
        for message in got:
            dlq.complete_message(message)


def test_ttl_expiry_drops_without_dead_lettering(sb_client: ServiceBusClient, queue_name):
    queue = queue_name("ttldrop")
    with sb_client.get_queue_sender(queue) as sender:
        sender.send_messages(ServiceBusMessage("gone"))
    time.sleep(2.5)
    with sb_client.get_queue_receiver(queue) as receiver:
        assert receiver.peek_messages(max_message_count=5) == []
    with sb_client.get_queue_receiver(queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER) as dlq:
        assert dlq.peek_messages(max_message_count=5) == []


def test_every_message_property_round_trips(sb_client: ServiceBusClient, queue_name):
    queue = queue_name()
    stamp = datetime(2026, 11, 26, 3, 0, 0, 123000, tzinfo=UTC)
    ident = uuid.uuid4()
    # The SDK's annotation leaves out datetime, which it sends as an AMQP timestamp.
    app: dict[str | bytes, Any] = {
        "int": 7,
        "negative": -3,
        "float": 1.25,
        "bool": False,
        "str": "ünïcode",
        "uuid": ident,
        "when": stamp,
    }
    sent = ServiceBusMessage(
        b"\x00binary body\xff",
        **EVERY_STRING_PROPERTY,
        time_to_live=timedelta(hours=2),
        application_properties=app,
    )
    with sb_client.get_queue_sender(queue) as sender:
        sender.send_messages(sent)
    with sb_client.get_queue_receiver(queue) as receiver:
        (got,) = _drain(receiver, 1)
        assert b"".join(got.body) == b"\x00binary body\xff"
        assert {name: getattr(got, name) for name in EVERY_STRING_PROPERTY} == EVERY_STRING_PROPERTY
        assert got.time_to_live == timedelta(hours=2)
        assert got.expires_at_utc == got.enqueued_time_utc + timedelta(hours=2)
        props = {key.decode(): value for key, value in got.application_properties.items()}
        assert props["int"] == 7
        assert props["negative"] == -3
        assert props["float"] == 1.25
        assert props["bool"] is False
        assert props["str"] == "ünïcode".encode()
        assert props["uuid"] == ident
        assert props["when"] == int(stamp.timestamp() * 1000)
        receiver.complete_message(got)


@pytest.mark.parametrize("body", [b"", b"x" * 200_000])
def test_empty_and_large_bodies(sb_client: ServiceBusClient, queue_name, body: bytes):
    queue = queue_name()
    with sb_client.get_queue_sender(queue) as sender:
        sender.send_messages(ServiceBusMessage(body))
    with sb_client.get_queue_receiver(queue) as receiver:
        (got,) = _drain(receiver, 1)
        assert b"".join(got.body) == body
        receiver.complete_message(got)
