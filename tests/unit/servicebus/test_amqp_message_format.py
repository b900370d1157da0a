"""Message splitting and re-emission, checked with the SDK's own pyamqp encoder and decoder."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.servicebus import ServiceBusMessage
from azure.servicebus._pyamqp._decode import decode_payload
from azure.servicebus._pyamqp._encode import encode_payload
from azure.servicebus._transport._pyamqp_transport import PyamqpTransport
from hypothesis import example, given, settings
from hypothesis import strategies as st

from localdev.servicebus.amqp.auth import TokenRejected, validate_sas_token
from localdev.servicebus.amqp.codec import (
    Array,
    DecodeError,
    Described,
    Symbol,
    Timestamp,
    ULong,
    decode,
    encode,
)
from localdev.servicebus.amqp.message_format import parse_message, parse_transfer, render
from localdev.servicebus.broker import MessageState, StoredMessage


def sdk_bytes(message: ServiceBusMessage) -> bytes:
    outgoing = PyamqpTransport.to_outgoing_amqp_message(message.raw_amqp_message)
    return bytes(encode_payload(bytearray(), outgoing))


def stored(raw: bytes, **extra) -> StoredMessage:
    incoming = parse_message(raw)
    return StoredMessage(
        sequence_number=42,
        payload=incoming.payload,
        message_id=incoming.message_id,
        enqueued_time=1_800_000_000.5,
        time_to_live=incoming.time_to_live,
        expires_at=None,
        **extra,
    )


def test_sdk_message_fields_are_read():
    at = datetime.now(UTC) + timedelta(minutes=5)
    raw = sdk_bytes(
        ServiceBusMessage(
            "x", message_id="m-1", time_to_live=timedelta(seconds=30), scheduled_enqueue_time_utc=at
        )
    )
    incoming = parse_message(raw)
    assert incoming.message_id == "m-1"
    assert incoming.time_to_live == 30
    assert incoming.scheduled_enqueue_time == pytest.approx(at.timestamp(), abs=0.001)


def test_render_is_readable_by_the_sdk_with_broker_annotations_and_dead_letter_properties():
    raw = sdk_bytes(
        ServiceBusMessage("body", subject="s", application_properties={"k": "v", "n": 5})
    )
    message = stored(
        raw, delivery_count=2, dead_letter_reason="Why", dead_letter_description="because"
    )
    decoded = decode_payload(memoryview(render(message, locked_until=1_800_000_060.0)))
    assert decoded.header is not None
    assert decoded.message_annotations is not None
    assert decoded.properties is not None
    assert decoded.header.delivery_count == 2
    assert decoded.message_annotations[b"x-opt-sequence-number"] == 42
    assert decoded.message_annotations[b"x-opt-enqueued-time"] == 1_800_000_000_500
    assert decoded.message_annotations[b"x-opt-locked-until"] == 1_800_000_060_000
    assert decoded.application_properties == {
        b"k": b"v",
        b"n": 5,
        b"DeadLetterReason": b"Why",
        b"DeadLetterErrorDescription": b"because",
    }
    assert decoded.properties.subject == b"s"
    assert decoded.data == [b"body"]


def test_dead_letter_properties_added_when_the_message_had_none():
    message = stored(
        sdk_bytes(ServiceBusMessage("x")), dead_letter_reason="R", state=MessageState.DEFERRED
    )
    decoded = decode_payload(memoryview(render(message)))
    assert decoded.application_properties == {b"DeadLetterReason": b"R"}
    assert decoded.message_annotations is not None
    assert decoded.message_annotations[b"x-opt-message-state"] == 1


def test_batches_split_into_their_messages():
    members = [sdk_bytes(ServiceBusMessage(f"m{n}", message_id=f"id{n}")) for n in range(3)]
    wrapper = encode_payload(
        bytearray(),
        PyamqpTransport.to_outgoing_amqp_message(ServiceBusMessage("w").raw_amqp_message),
    )
    assert len(parse_transfer(bytes(wrapper))) == 1  # one ordinary message
    batch = encode(Described(ULong(0x73), ["id0"])) + b"".join(
        encode(Described(ULong(0x75), m)) for m in members
    )
    assert [m.message_id for m in parse_transfer(batch)] == ["id0", "id1", "id2"]


def test_codec_round_trips_and_rejects_garbage():
    value = {
        "s": "ü",
        Symbol("sym"): [1, -2, None, True, 1.5, b"\x00", uuid.UUID(int=7)],
        "t": Timestamp(123),
        "a": Array("long", (1, 2)),
        "u": Array("uuid", (uuid.UUID(int=1),)),
    }
    decoded, end = decode(encode(value))
    assert end == len(encode(value))
    assert decoded["s"] == "ü"
    assert decoded["sym"] == [1, -2, None, True, 1.5, b"\x00", uuid.UUID(int=7)]
    assert decoded["a"] == [1, 2]
    assert decoded["u"] == [uuid.UUID(int=1)]
    for junk in (
        b"",
        b"\xa1\x05ab",
        b"\xd0\x00\x00\x00\x09\x00\x00\x00\x02\x40",
        b"\x2f",
        b"\xc1\x03\x03\x40\x40\x40",
    ):
        with pytest.raises(DecodeError):
            decode(junk)
    with pytest.raises(DecodeError):
        parse_message(b"\x00\x53\x99\x45")
    with pytest.raises(DecodeError):
        decode(b"\xc0\x02\x01" * 5000 + b"\x40")  # nested deeper than the recursion limit
    with pytest.raises(DecodeError):
        parse_transfer(b"\x00" * 5000)


def test_sas_tokens():
    from azure.servicebus._pyamqp.utils import generate_sas_token

    now = 1_800_000_000
    good = generate_sas_token(
        "sb://localhost:5672/q", "RootManageSharedAccessKey", "SAS_KEY_VALUE", now + 60
    )
    assert validate_sas_token(good, now) == "sb://localhost:5672/q"
    for token in (
        generate_sas_token("sb://localhost:5672/q", "RootManageSharedAccessKey", "wrong", now + 60),
        generate_sas_token("sb://localhost:5672/q", "Other", "SAS_KEY_VALUE", now + 60),
        generate_sas_token(
            "sb://localhost:5672/q", "RootManageSharedAccessKey", "SAS_KEY_VALUE", now - 1
        ),
        "Bearer abc",
        "SharedAccessSignature sr=x",
    ):
        with pytest.raises(TokenRejected):
            validate_sas_token(token, now)


@given(st.binary(max_size=200))
@example(b"s\x00\x11\x00\x00")  # an AMQP char past U+10FFFF
@settings(max_examples=300, deadline=None)
def test_any_bytes_parse_or_raise_decode_error(raw: bytes):
    for candidate in (raw, b"\x00\x53\x75" + raw, b"\x00\x53\x72" + raw, b"\x00\x53\x73" + raw):
        with contextlib.suppress(DecodeError):
            parse_transfer(candidate)


@pytest.mark.parametrize("code_point", [0x110000, 0xD800, 0xFFFFFFFF])
def test_a_char_outside_unicode_is_a_decode_error(code_point: int):
    with pytest.raises(DecodeError):
        decode(b"\x73" + code_point.to_bytes(4, "big"))
    assert decode(b"\x73\x00\x01\xf6\x00") == ("\U0001f600", 5)
