"""Hostile input at the emulator's seams: section checks, the pump guard, put-token, quarantine."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.servicebus import ServiceBusMessage
from azure.servicebus._pyamqp._encode import encode_payload
from azure.servicebus._transport._pyamqp_transport import PyamqpTransport

from localdev.servicebus.amqp.auth import TokenRejected, token_text, validate_sas_token
from localdev.servicebus.amqp.codec import DecodeError, Described, Symbol, Timestamp, ULong, encode
from localdev.servicebus.amqp.consumers import UNRENDERABLE_REASON, Consumers
from localdev.servicebus.amqp.message_format import (
    check_stored_payload,
    parse_message,
    render,
)
from localdev.servicebus.amqp.validation import InvalidField
from localdev.servicebus.broker import (
    Broker,
    IncomingMessage,
    ManualClock,
    MemoryStore,
    QueueSettings,
    SqliteStore,
    StoredMessage,
)
from tests.unit.servicebus.message_properties import EVERY_STRING_PROPERTY


def section(code: int, value: object) -> bytes:
    return encode(Described(ULong(code), value))


BODY = section(0x75, b"body")


@pytest.mark.parametrize(
    "raw",
    [
        section(0x74, ["a", 1]) + BODY,
        section(0x74, {"k": [1]}) + BODY,
        section(0x74, {1: "int key"}) + BODY,
        section(0x74, {"k": Described(Symbol("x"), {"a": 1})}) + BODY,
        section(0x73, [1.5]) + BODY,  # message-id of a disallowed type
        section(0x73, [None] * 14) + BODY,  # too many fields
        section(0x73, [None, None, None, 7]) + BODY,  # subject that is not a string
        section(0x72, ["not a map"]) + BODY,
        section(0x70, [None, "high"]) + BODY,  # priority that is not a ubyte
        section(0x75, "data that is text"),
        section(0x76, {"a": 1}),
        section(0x78, {"footer-string-key": 1}),
    ],
)
def test_sections_of_the_wrong_shape_are_invalid_fields(raw: bytes):
    with pytest.raises(InvalidField):
        parse_message(raw)


def test_every_sdk_message_shape_still_passes():
    sent = ServiceBusMessage(
        b"x",
        **EVERY_STRING_PROPERTY,
        # The SDK's annotation leaves out None, which it encodes as AMQP null: sent on purpose.
        application_properties={"i": 1, "f": 0.5, "b": True, "s": "ü", "n": None, "y": b"\x00"},  # type: ignore[dict-item]
    )
    sent.time_to_live = timedelta(minutes=5)
    outgoing = PyamqpTransport.to_outgoing_amqp_message(sent.raw_amqp_message)
    raw = bytes(encode_payload(bytearray(), outgoing))
    incoming = parse_message(raw)
    check_stored_payload(incoming.payload)
    assert incoming.message_id == EVERY_STRING_PROPERTY["message_id"]


def test_described_simple_values_are_allowed_in_application_properties():
    # Service Bus's own described types (com.microsoft:datetime-offset and friends)
    raw = section(0x74, {"when": Described(Symbol("com.microsoft:datetime-offset"), 5)}) + BODY
    check_stored_payload(parse_message(raw).payload)


@pytest.mark.parametrize(
    "payload",
    [b"", b"\x00\x53\x74\x99", b"\x00\x53\x70\x45" + BODY, section(0x74, ["x"]) + BODY],
)
def test_stored_payloads_that_cannot_be_rendered_are_refused(payload: bytes):
    with pytest.raises(DecodeError):
        check_stored_payload(payload)


# ------------------------------------------------------------------ put-token
def _token(sig: str) -> str:
    expiry = int(time.time()) + 60
    return f"SharedAccessSignature sr=x&sig={sig}&se={expiry}&skn=RootManageSharedAccessKey"


@pytest.mark.parametrize("sig", ["sïg", "%FF", "\u2028", ""])
def test_non_ascii_or_odd_signatures_are_rejected_not_raised(sig: str):
    with pytest.raises(TokenRejected):
        validate_sas_token(_token(sig), time.time())


@pytest.mark.parametrize("body", [b"\xff\xfe", 42, None, ["list"], {"a": 1}])
def test_put_token_bodies_that_are_not_utf8_text_are_rejected(body: object):
    with pytest.raises(TokenRejected):
        token_text(body)


def test_put_token_body_in_binary_utf8_is_read_as_text():
    assert token_text(b"SharedAccessSignature x") == "SharedAccessSignature x"


# ----------------------------------------------------------------- pump guard
class _Link:
    """The attributes of a proton sender link the pump reads."""

    def __init__(self, receive_and_delete: bool = False) -> None:
        self.credit = 5
        self.receive_and_delete = receive_and_delete
        self.drain_mode = False
        self.sent: list[StoredMessage] = []

    def drained(self) -> None:
        self.credit = 0


def _sender(bad_body: bytes) -> Callable[[Any, StoredMessage], None]:
    """Render like the connection does; the message with `bad_body` fails to render."""

    def send(link: Any, message: StoredMessage) -> None:
        if bad_body in message.payload:
            raise DecodeError("expected a map, got type code 0xd0")
        render(message)
        link.credit -= 1
        link.sent.append(message)

    return send


def _broker() -> Broker:
    return Broker([QueueSettings("q")], clock=ManualClock(), store=MemoryStore())


def test_an_unrenderable_message_is_dead_lettered_and_the_pump_goes_on(caplog):
    broker = _broker()
    consumers = Consumers(broker, _sender(b"poison"))
    broker.on_available = consumers.available
    link = _Link()
    consumers.add("q", link)
    broker.send("q", [IncomingMessage(payload=BODY + b"poison", message_id="bad")])
    broker.send("q", [IncomingMessage(payload=BODY, message_id="good")])

    with caplog.at_level(logging.ERROR, logger="localdev.servicebus"):
        consumers.pump()

    assert [m.message_id for m in link.sent] == ["good"]
    (dead,) = broker.peek("q/$deadletterqueue", 1, 10)
    assert (dead.message_id, dead.dead_letter_reason) == ("bad", UNRENDERABLE_REASON)
    assert "cannot be rendered" in caplog.text
    assert "dead-lettered" in caplog.text


def test_an_unrenderable_dead_letter_is_dropped_with_a_log_line(caplog):
    broker = _broker()
    consumers = Consumers(broker, _sender(b"poison"))
    broker.on_available = consumers.available
    broker.send("q", [IncomingMessage(payload=BODY + b"poison", message_id="bad")])
    locked = broker.receive("q")
    assert locked is not None
    assert locked.lock_token is not None
    broker.dead_letter("q", locked.lock_token, "Because", None)
    link = _Link()
    consumers.add("q/$deadletterqueue", link)

    with caplog.at_level(logging.ERROR, logger="localdev.servicebus"):
        consumers.pump()

    assert link.sent == []
    assert broker.peek("q/$deadletterqueue", 1, 10) == []
    assert "dropped" in caplog.text


# ---------------------------------------------------------------- quarantine
def _stored(seq: int, payload: bytes) -> StoredMessage:
    return StoredMessage(seq, payload, f"id-{seq}", time.time(), None, None)


def test_corrupt_rows_are_quarantined_and_the_rest_loads(tmp_path: Path, caplog):
    store = SqliteStore(tmp_path, payload_check=check_stored_payload)
    for seq, payload in ((1, BODY), (2, b"\x00\x53\x74\x99"), (3, BODY), (4, BODY)):
        store.save("q", _stored(seq, payload))
    store.commit()
    store.close()
    with sqlite3.connect(tmp_path / SqliteStore.FILENAME) as db:
        db.execute("UPDATE messages SET state = 7 WHERE sequence_number = 3")
        db.execute("UPDATE messages SET enqueued_time = 'yesterday' WHERE sequence_number = 4")
    db.close()

    with caplog.at_level(logging.WARNING, logger="localdev.servicebus"):
        reopened = SqliteStore(tmp_path, payload_check=check_stored_payload)
        saved = reopened.load()
    assert [m.sequence_number for m in saved.messages["q"]] == [1]
    assert caplog.text.count("corrupt message record") == 3
    quarantined = reopened._db.execute(
        "SELECT sequence_number, reason FROM quarantined_messages ORDER BY sequence_number"
    ).fetchall()
    assert [seq for seq, _ in quarantined] == [2, 3, 4]
    assert "enqueued_time" in quarantined[2][1]
    # A second start finds nothing more to quarantine: the rows moved, they were not copied.
    reopened.close()
    again = SqliteStore(tmp_path, payload_check=check_stored_payload).load()
    assert [m.sequence_number for m in again.messages["q"]] == [1]


def test_timestamps_survive_the_type_checks(tmp_path: Path):
    store = SqliteStore(tmp_path, payload_check=check_stored_payload)
    message = _stored(1, BODY)
    message.expires_at = float(Timestamp(10))
    store.save("q", message)
    store.commit()
    assert SqliteStore(tmp_path).load().messages["q"][0].expires_at == 10.0
