"""Building the main-queue copy of a dead letter, and reading what a body says."""

from __future__ import annotations

from ops.deadletters.model import (
    DEAD_LETTER_PROPERTIES,
    ORIGINAL_MESSAGE_ID,
    REPLAY_COUNT,
    build_replay,
    replay_message_id,
)
from ops.deadletters.servicebus import decode_properties
from tests.unit.ops.ops_fakes import letter


def test_a_replay_keeps_body_and_properties_and_drops_dead_letter_marks() -> None:
    original = letter(7, properties={"custom": "kept", "x-count": 4})
    replayed = build_replay(original)
    assert replayed.body == original.body
    assert replayed.content_type == "application/json"
    assert replayed.subject == "user.registered"
    assert replayed.correlation_id == "corr7"
    properties = dict(replayed.application_properties)
    assert not DEAD_LETTER_PROPERTIES & properties.keys()
    assert properties["custom"] == "kept"
    assert properties["x-count"] == 4
    assert properties["tenant"] == "acme"
    assert properties["schema_version"] == 1
    assert properties[REPLAY_COUNT] == 1
    assert properties[ORIGINAL_MESSAGE_ID] == original.message_id


def test_the_replay_id_is_new_deterministic_and_rooted_in_the_original() -> None:
    first = build_replay(letter(7))
    assert first.message_id == f"{letter(7).message_id}:replay:1"
    assert build_replay(letter(7)).message_id == first.message_id  # a retried replay dedupes
    # the replayed copy dead-letters again and is replayed a second time
    again = letter(
        9,
        message_id=first.message_id,
        properties=dict(first.application_properties),
    )
    second = build_replay(again)
    assert second.message_id == replay_message_id(letter(7).message_id or "", 2)
    assert second.application_properties[ORIGINAL_MESSAGE_ID] == letter(7).message_id
    assert second.application_properties[REPLAY_COUNT] == 2


def test_replay_count_reads_ints_and_digit_strings_and_ignores_junk() -> None:
    assert letter(1).replay_count == 0
    assert letter(1, properties={REPLAY_COUNT: 2}).replay_count == 2
    assert letter(1, properties={REPLAY_COUNT: "3"}).replay_count == 3
    assert letter(1, properties={REPLAY_COUNT: "many"}).replay_count == 0
    assert letter(1, properties={REPLAY_COUNT: True}).replay_count == 0


def test_user_id_tolerates_bodies_that_are_not_events() -> None:
    assert letter(1, user_id="samlp|acme|jdoe").user_id == "samlp|acme|jdoe"
    assert letter(1, body=b"\xff\xfe not json").user_id is None
    assert letter(1, body=b"[1, 2]").user_id is None
    assert letter(1, body=b'{"user": "nobody"}').user_id is None
    assert letter(1, body=b'{"user": {"user_id": 42}}').user_id is None


def test_a_message_without_id_gets_a_stable_original_id() -> None:
    assert build_replay(letter(12, message_id=None)).message_id == "seq-12:replay:1"


def test_sdk_property_bytes_are_decoded_at_the_boundary() -> None:
    decoded = decode_properties(
        {b"DeadLetterReason": b"MaxDeliveryCountExceeded", b"schema_version": 1, "raw": b"\xff"}
    )
    assert decoded == {
        "DeadLetterReason": "MaxDeliveryCountExceeded",
        "schema_version": 1,
        "raw": b"\xff",
    }
