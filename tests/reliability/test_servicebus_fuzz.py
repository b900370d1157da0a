"""Hypothesis against the Service Bus emulator, as an AUTHENTICATED client, with the real SDK.

The frame-level fuzz (tests/integration/servicebus) stops at login. Here every
input comes after a valid put-token: generated message sections (header,
annotations, properties, application-properties of odd types, bodies, footer)
are sent, and whatever the emulator accepts is then received, abandoned,
deferred, dead-lettered, received from the dead-letter queue and replayed.

The SDK builds only well-formed messages, but it sends a batch as data
sections that each hold one encoded message, and the emulator reads a data
section that looks like an encoded message as a batch member: so hand-encoded
sections reach the emulator exactly as a hostile client would send them.

What must hold, for every input: a refusal is a per-message error on a live
link (never a dropped connection); everything accepted can be received,
settled and dead-lettered by the SDK; the queues drain; the emulator never dies.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from azure.servicebus import (
    ServiceBusClient,
    ServiceBusMessage,
    ServiceBusReceivedMessage,
    ServiceBusSubQueue,
)
from azure.servicebus.amqp import AmqpMessageBodyType
from azure.servicebus.exceptions import ServiceBusConnectionError, ServiceBusError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localdev.servicebus.amqp.codec import (
    Array,
    Described,
    Int,
    Symbol,
    Timestamp,
    UByte,
    UInt,
    ULong,
    encode,
)

QUEUE = "fuzz"
QUEUES = {
    QUEUE: {
        "LockDuration": "PT5S",
        "MaxDeliveryCount": 2,
        "RequiresDuplicateDetection": False,
        "DeadLetteringOnMessageExpiration": True,
    }
}
ASCII = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
SYMBOLS = st.text(ASCII, max_size=12).map(Symbol)
NOW_MS = int(time.time() * 1000)
SIMPLE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(0, 255).map(UByte),
    st.integers(0, 2**32 - 1).map(UInt),
    st.integers(-(2**31), 2**31 - 1).map(Int),
    st.integers(0, 2**64 - 1).map(ULong),
    st.floats(),
    st.text(max_size=20),
    SYMBOLS,
    st.binary(max_size=20),
    st.uuids(),
    st.integers(-(2**40), 2**40).map(Timestamp),
)
VALUES = st.recursive(
    SIMPLE,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=6) | SYMBOLS, inner, max_size=4),
        st.builds(Described, st.sampled_from([Symbol("com.microsoft:uri"), ULong(0x77)]), inner),
        # Not empty: pyamqp's decoder leaves an empty array's element constructor unread and
        # then fails on every later section (the real service would pass it on just the same).
        st.lists(st.uuids(), min_size=1, max_size=3).map(lambda items: Array("uuid", tuple(items))),
    ),
    max_leaves=8,
)
MESSAGE_IDS = st.one_of(
    st.text(max_size=40), st.uuids(), st.binary(max_size=16), st.integers(0, 2**64 - 1).map(ULong)
)
ANNOTATION_KEYS = (
    st.sampled_from(
        [
            "x-opt-sequence-number",
            "x-opt-locked-until",
            "x-opt-enqueued-time",
            "x-opt-partition-key",
        ]
    ).map(Symbol)
    | SYMBOLS
)


def section(code: int, value: object) -> bytes:
    return encode(Described(ULong(code), value))


@st.composite
def hand_encoded_messages(draw: st.DrawFn) -> bytes:
    """A message's sections in order, each present or not, mostly right, sometimes not."""
    parts: list[bytes] = []
    if draw(st.booleans()):
        parts.append(section(0x70, draw(st.lists(VALUES, max_size=6) | VALUES)))
    if draw(st.booleans()):
        annotations: Any = draw(st.dictionaries(ANNOTATION_KEYS, VALUES, max_size=3))
        if draw(st.booleans()):  # scheduled in the past: delivered at once
            annotations[Symbol("x-opt-scheduled-enqueue-time")] = Timestamp(NOW_MS - 1000)
        parts.append(section(0x72, annotations if draw(st.integers(0, 9)) else draw(VALUES)))
    if draw(st.booleans()):
        fields = [draw(MESSAGE_IDS | VALUES), *draw(st.lists(VALUES, max_size=13))]
        parts.append(section(0x73, fields))
    if draw(st.booleans()):
        keys = st.text(max_size=10) | SYMBOLS | st.integers(-(2**63), 2**63 - 1)
        props = draw(st.dictionaries(keys, VALUES, max_size=5))
        parts.append(section(0x74, props if draw(st.integers(0, 5)) else draw(VALUES)))
    body = draw(st.sampled_from(["data", "value", "sequence", "odd"]))
    if body == "data":
        parts += [
            section(0x75, draw(st.binary(max_size=60))) for _ in range(draw(st.integers(1, 2)))
        ]
    elif body == "value":
        parts.append(section(0x77, draw(VALUES)))
    elif body == "sequence":
        parts.append(section(0x76, draw(st.lists(VALUES, max_size=3))))
    else:
        parts.append(section(0x75, draw(VALUES)))
    if draw(st.integers(0, 4)) == 0:
        parts.append(section(0x78, draw(st.dictionaries(ANNOTATION_KEYS, VALUES, max_size=2))))
    return b"".join(parts)


# What the SDK itself can encode (it refuses, client side, ints beyond int32, containers and
# non-UTF-8 bytes):
# containers and every other AMQP type reach the emulator through hand-encoded messages.
SDK_PROPERTY_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**31), 2**31 - 1), st.floats(allow_nan=False),
    st.text(max_size=20), st.text(max_size=10).map(str.encode), st.uuids(),
)  # fmt: skip


@st.composite
def sdk_messages(draw: st.DrawFn) -> ServiceBusMessage:
    """What an application can build with the SDK: odd application-property types included."""
    return ServiceBusMessage(
        draw(st.binary(max_size=60) | st.text(max_size=60)),
        message_id=draw(st.none() | st.text(min_size=1, max_size=40)),
        subject=draw(st.none() | st.text(max_size=20)),
        # None values on purpose: the SDK sends them as AMQP null, though its annotation omits None.
        application_properties=draw(  # type: ignore[arg-type]
            st.dictionaries(st.text(min_size=1, max_size=10), SDK_PROPERTY_VALUES, max_size=4)
        ),
    )


INPUTS = st.one_of(hand_encoded_messages().map(ServiceBusMessage), sdk_messages())
# A settlement plan drawn up front (how many messages come back depends on the emulator,
# and hypothesis needs the same draws for the same input): used in turn, round and round.
PLANS = st.lists(
    st.sampled_from(["complete", "abandon", "dead_letter", "defer", "replay", "drop"]),
    min_size=1,
    max_size=6,
)


def touch(message: ServiceBusReceivedMessage) -> None:
    """Read every field the SDK decodes lazily, as a consumer would."""
    _ = (message.body, message.body_type, message.application_properties, message.message_id)
    _ = (message.sequence_number, message.enqueued_time_utc, message.delivery_count)


def replay_copy(dead: ServiceBusReceivedMessage) -> ServiceBusMessage:
    """What an operator's replay sends: the body and properties, without the dead-letter ones."""
    body = b"".join(dead.body) if dead.body_type == AmqpMessageBodyType.DATA else str(dead.body)
    props = {
        (key.decode() if isinstance(key, bytes) else str(key)): sdk_value(value)
        for key, value in (dead.application_properties or {}).items()
        if key not in (b"DeadLetterReason", b"DeadLetterErrorDescription")
    }
    # sdk_value() keeps None, which the SDK sends as AMQP null though its annotation omits it.
    return ServiceBusMessage(body, application_properties=props, message_id=str(uuid.uuid4()))  # type: ignore[arg-type]


def sdk_value(value: object) -> object:
    """A received property value as the SDK can send it again (see SDK_PROPERTY_VALUES)."""
    if value is None or isinstance(value, bool | float | str | uuid.UUID):
        return value
    if isinstance(value, int) and -(2**31) <= value < 2**31:
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return repr(value)


class Drainer:
    """Receives until the queue and its dead-letter queue are empty, settling as drawn."""

    def __init__(self, client: ServiceBusClient) -> None:
        self.client = client
        self.receiver = client.get_queue_receiver(QUEUE, max_wait_time=1)
        self.dead = client.get_queue_receiver(
            QUEUE, sub_queue=ServiceBusSubQueue.DEAD_LETTER, max_wait_time=1
        )
        self.sender = client.get_queue_sender(QUEUE)

    def drain(self, plan: list[str], deadline: float) -> None:
        turn = 0
        replayed = False
        while time.monotonic() < deadline:
            self.receiver.peek_messages(max_message_count=5)
            main = self.receiver.receive_messages(max_message_count=5, max_wait_time=0.1)
            for message in main:
                touch(message)
                self._settle(message, plan[turn % len(plan)])
                turn += 1
            dead = self.dead.receive_messages(max_message_count=5, max_wait_time=0.1)
            for message in dead:
                touch(message)
                _ = (message.dead_letter_reason, message.dead_letter_error_description)
                # One replay per input: a plan like [dead_letter, replay] would ping-pong forever.
                if plan[turn % len(plan)] == "replay" and not replayed:
                    self.sender.send_messages(replay_copy(message))
                    replayed = True
                turn += 1
                self.dead.complete_message(message)
            if not main and not dead and not self._left():
                return
        raise AssertionError("the queue did not drain: something accepted cannot be received")

    def _left(self) -> bool:
        return bool(self.receiver.peek_messages(max_message_count=1)) or bool(
            self.dead.peek_messages(max_message_count=1)
        )

    def _settle(self, message: ServiceBusReceivedMessage, action: str) -> None:
        if action in ("complete", "replay", "drop"):
            self.receiver.complete_message(message)
        elif action == "abandon":
            self.receiver.abandon_message(message)
        elif action == "dead_letter":
            self.receiver.dead_letter_message(message, reason="Fuzz", error_description="é\x00ü")
        else:
            self.receiver.defer_message(message)
            assert message.sequence_number is not None
            (deferred,) = self.receiver.receive_deferred_messages([message.sequence_number])
            touch(deferred)
            self.receiver.complete_message(deferred)


def fuzz_authenticated(servicebus_factory, figures, examples: int) -> None:
    emulator = servicebus_factory(QUEUES)
    client = ServiceBusClient.from_connection_string(emulator.connection_string, retry_total=0)
    counts = {"accepted": 0}
    refusals: list[str] = []
    with client:
        drainer = Drainer(client)
        with drainer.receiver, drainer.dead, drainer.sender:

            @settings(
                max_examples=examples,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            )
            @given(message=INPUTS, plan=PLANS)
            def send_and_drain(message: ServiceBusMessage, plan: list[str]) -> None:
                figures.add(inputs=1)
                try:
                    drainer.sender.send_messages(message)
                    counts["accepted"] += 1
                except ServiceBusConnectionError:
                    raise
                except ServiceBusError as refused:  # a per-message refusal, with its reason
                    refusals.append(str(refused))
                drainer.drain(plan, time.monotonic() + 20)

            send_and_drain()
    assert emulator.process is not None
    assert emulator.process.poll() is None, "the emulator died"
    assert counts["accepted"] > 0, counts
    assert refusals, "the generator never reached a refusal"
    assert all("amqp:" in text for text in refusals), refusals  # each names its AMQP condition
    assert "Traceback" not in emulator.log_path.read_text()


def test_fuzz_authenticated_servicebus_short(servicebus_factory, figures):
    fuzz_authenticated(servicebus_factory, figures, examples=20)


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_fuzz_authenticated_servicebus_long(servicebus_factory, figures):
    fuzz_authenticated(servicebus_factory, figures, examples=300)
