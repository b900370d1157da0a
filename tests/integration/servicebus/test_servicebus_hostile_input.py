"""Hostile input from authenticated clients: refused with a reason, and the emulator lives on.

A message whose sections break the AMQP rules (application-properties that are
a list, a data section that is not binary) is refused at send time with
`amqp:invalid-field`; bad put-token input is answered 401; a corrupt record in
the data dir is quarantined at start-up. Each case then proves that the same
client and the other clients still work.

The SDK only builds well-formed messages, but it sends a batch as data
sections that each hold one encoded message, and the emulator reads a data
section that looks like an encoded message as a batch member: so a body of
hand-encoded sections reaches the emulator exactly as a hostile client would
send it, over an authenticated SDK connection.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.credentials import AccessToken
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusSubQueue
from azure.servicebus.exceptions import (
    ServiceBusAuthenticationError,
    ServiceBusConnectionError,
    ServiceBusError,
)

from localdev.servicebus.amqp.auth import SAS_KEY_NAME
from localdev.servicebus.amqp.codec import Described, Symbol, ULong, encode
from localdev.servicebus.process import ServiceBusEmulatorProcess
from tests.integration.servicebus.support import assert_receives, assert_round_trip


def section(code: int, value: object) -> bytes:
    return encode(Described(ULong(code), value))


def raw_message(*sections: bytes) -> ServiceBusMessage:
    """An SDK message whose one data section is these hand-encoded sections (see above)."""
    return ServiceBusMessage(b"".join(sections))


@pytest.mark.parametrize(
    ("sections", "field"),
    [
        ((section(0x73, ["id-1"]), section(0x74, ["a", 1]), section(0x75, b"x")), "must be a map"),
        ((section(0x74, {"k": ["nested"]}), section(0x75, b"x")), "simple value"),
        ((section(0x74, {"k": {"a": 1}}), section(0x75, b"x")), "simple value"),
        ((section(0x74, {Symbol("k"): 1}), section(0x75, b"x")), "keys must be strings"),
        ((section(0x73, [["list-as-id"]]), section(0x75, b"x")), "message-id"),
        ((section(0x72, {"x-string-key": 1}), section(0x75, b"x")), "keys must be symbols"),
        ((section(0x70, {"not": "a list"}), section(0x75, b"x")), "must be a list"),
    ],
)
def test_malformed_sections_are_refused_at_send_and_the_link_lives_on(
    sb_client: ServiceBusClient, queue_name, sections: tuple[bytes, ...], field: str
):
    queue = queue_name()
    with sb_client.get_queue_sender(queue) as sender:
        with pytest.raises(ServiceBusError) as refused:
            sender.send_messages(raw_message(*sections))
        assert not isinstance(refused.value, ServiceBusConnectionError)
        assert "amqp:invalid-field" in str(refused.value)
        assert field in str(refused.value)
        sender.send_messages(ServiceBusMessage("after the refusal"))  # same link, still fine
    with sb_client.get_queue_receiver(queue) as receiver:
        assert_receives(receiver, "after the refusal")


def test_hand_encoded_valid_message_is_accepted_and_dead_letters_cleanly(
    sb_client: ServiceBusClient, queue_name
):
    # Given a well-formed hand-encoded message (the path the malformed ones take)
    queue = queue_name()
    message = raw_message(
        section(0x73, ["hand-1"]), section(0x74, {"k": "v", "n": None}), section(0x75, b"body")
    )
    with sb_client.get_queue_sender(queue) as sender:
        sender.send_messages(message)
    # When it is dead-lettered and received from the dead-letter queue
    with sb_client.get_queue_receiver(queue) as receiver:
        (got,) = receiver.receive_messages(max_wait_time=5)
        assert (got.message_id, b"".join(got.body)) == ("hand-1", b"body")
        receiver.dead_letter_message(got, reason="Bad", error_description="hand made")
    with sb_client.get_queue_receiver(queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER) as dlq:
        (dead,) = dlq.receive_messages(max_wait_time=5)
        # Then it carries its reason next to its own properties
        assert dead.dead_letter_reason == "Bad"
        assert dead.application_properties is not None
        assert dead.application_properties[b"k"] == b"v"
        dlq.complete_message(dead)


class _UndecodedBytes(bytes):
    """Token bytes the SDK's CBS `token.decode()` leaves as bytes: a binary put-token body."""

    def decode(self, *args: object, **kwargs: object) -> bytes:  # type: ignore[override]
        return bytes(self)


class _FixedToken:
    """A credential that hands the SDK one fixed token (str or bytes) for put-token."""

    def __init__(self, token: object) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)  # type: ignore[arg-type]


def _sas(sig: str) -> str:
    expiry = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    return f"SharedAccessSignature sr=sb%3A%2F%2Flocalhost&sig={sig}&se={expiry}&skn={SAS_KEY_NAME}"


@pytest.mark.parametrize(
    "token",
    [
        _sas("sïgnätüre"),  # non-ASCII signature
        _sas("%E2%82%AC"),  # percent-encoded non-ASCII
        _UndecodedBytes(b"\xff\xfe\x00 not utf-8"),  # a binary body that is not UTF-8
        _UndecodedBytes(_sas("abc").encode()),  # binary, UTF-8, but a wrong signature
        "SharedAccessSignature sr=x&sig=y&se=99999999999999999999999999&skn=k",
        "\u2028",
    ],
    ids=["non-ascii-sig", "escaped-sig", "not-utf8", "binary", "huge-expiry", "blank"],
)
def test_bad_put_token_input_is_answered_401_not_a_dropped_connection(
    shared_emulator: ServiceBusEmulatorProcess, sb_client: ServiceBusClient, queue_name, token
):
    queue = queue_name()
    client = ServiceBusClient(
        f"localhost:{shared_emulator.port}", _FixedToken(token), use_tls=False, retry_total=0
    )
    with (
        client,
        pytest.raises(ServiceBusAuthenticationError),
        client.get_queue_sender(queue) as sender,
    ):
        sender.send_messages(ServiceBusMessage("never stored"))
    assert_round_trip(sb_client, queue, "others unaffected")
    assert shared_emulator.process is not None
    assert shared_emulator.process.poll() is None


def test_corrupt_records_are_quarantined_at_start_and_the_rest_loads(servicebus_factory, tmp_path):
    # Given a data dir holding three messages, two of which we then corrupt on disk
    data = tmp_path / "data"
    queues: dict[str, dict[str, object]] = {"q": {}}
    emulator = servicebus_factory(queues, data_dir=data)
    client = ServiceBusClient.from_connection_string(emulator.connection_string)
    with client, client.get_queue_sender("q") as sender:
        sender.send_messages([ServiceBusMessage(f"m{n}", message_id=f"id-{n}") for n in range(3)])
    emulator.stop()
    with sqlite3.connect(data / "servicebus.sqlite3") as db:
        db.execute("UPDATE messages SET payload = x'00537499' WHERE message_id = 'id-0'")
        db.execute("UPDATE messages SET state = 42 WHERE message_id = 'id-1'")
    db.close()

    # When the emulator starts again on it
    restarted = servicebus_factory(queues, data_dir=data)

    # Then the intact message is served, and the corrupt ones are set aside and logged
    client = ServiceBusClient.from_connection_string(restarted.connection_string)
    with client, client.get_queue_receiver("q") as receiver:
        got = receiver.receive_messages(max_message_count=3, max_wait_time=3)
        assert [str(m) for m in got] == ["m2"]
        receiver.complete_message(got[0])
    with sqlite3.connect(data / "servicebus.sqlite3") as db:
        rows = db.execute("SELECT message_id, reason FROM quarantined_messages").fetchall()
    db.close()
    assert sorted(message_id for message_id, _ in rows) == ["id-0", "id-1"]
    log = restarted.log_path.read_text()
    assert log.count("corrupt message record") == 2
    assert "quarantined_messages" in log
