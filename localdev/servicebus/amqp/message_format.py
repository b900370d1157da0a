"""Service Bus messages on the wire: split what a client sent, re-emit what a receiver gets.

A stored payload is the client's message without its header and delivery
annotations: an optional message-annotations section (the client's own keys)
followed by the bare message (properties, application-properties, body,
footer), kept byte for byte so every property and body type round-trips.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass

from localdev.servicebus.amqp.codec import DecodeError, decode, skip
from localdev.servicebus.amqp.validation import check_section
from localdev.servicebus.broker.messages import IncomingMessage, MessageState, StoredMessage

HEADER, DELIVERY_ANNOTATIONS, MESSAGE_ANNOTATIONS, PROPERTIES, APPLICATION_PROPERTIES = (
    0x70,
    0x71,
    0x72,
    0x73,
    0x74,
)
DATA, SEQUENCE, VALUE, FOOTER = 0x75, 0x76, 0x77, 0x78
_SECTION_NAMES = {
    "amqp:header:list": HEADER,
    "amqp:delivery-annotations:map": DELIVERY_ANNOTATIONS,
    "amqp:message-annotations:map": MESSAGE_ANNOTATIONS,
    "amqp:properties:list": PROPERTIES,
    "amqp:application-properties:map": APPLICATION_PROPERTIES,
    "amqp:data:binary": DATA,
    "amqp:amqp-sequence:list": SEQUENCE,
    "amqp:amqp-value:*": VALUE,
    "amqp:footer:map": FOOTER,
}
SCHEDULED_ENQUEUE_TIME = "x-opt-scheduled-enqueue-time"
# Annotations the broker owns: a client's values for these are dropped on the way in.
_BROKER_ANNOTATIONS = frozenset(
    {
        "x-opt-sequence-number",
        "x-opt-enqueued-time",
        "x-opt-locked-until",
        "x-opt-message-state",
        "x-opt-deadletter-source",
        "x-opt-enqueue-sequence-number",
        "x-opt-lock-token",
    }
)
_DEAD_LETTER_PROPERTIES = ("DeadLetterReason", "DeadLetterErrorDescription")


@dataclass(frozen=True, slots=True)
class Section:
    """One section of an encoded message: its code and its byte span."""

    code: int
    start: int
    end: int
    value_start: int  # where the described value (after the descriptor) begins


def split_sections(raw: bytes) -> list[Section]:
    """The sections of an encoded message, in order; DecodeError if it is not one."""
    sections = []
    pos = 0
    previous = -1
    while pos < len(raw):
        if raw[pos] != 0x00:
            raise DecodeError("a message section must be a described value")
        descriptor, value_start = decode(raw, pos + 1)
        code = _SECTION_NAMES.get(descriptor) if isinstance(descriptor, str) else descriptor
        if not isinstance(code, int) or not HEADER <= code <= FOOTER:
            raise DecodeError(f"unknown message section {descriptor!r}")
        if code < previous or (code == previous and code not in (DATA, SEQUENCE)):
            raise DecodeError("message sections out of order")
        end = skip(raw, value_start)
        sections.append(Section(code, pos, end, value_start))
        previous = code
        pos = end
    if not sections:
        raise DecodeError("an empty message")
    return sections


def parse_transfer(raw: bytes) -> list[IncomingMessage]:
    """The messages in one transfer: a single message, or the SDK's batch of encoded messages.

    Proton does not expose the transfer's message-format (0x80013700 marks a
    batch), so a batch is recognised by its body: data sections that are each a
    complete encoded message.
    """
    try:
        sections = split_sections(raw)
        inner = _batch_members(raw, sections)
        if inner is not None:
            return [parse_message(member) for member in inner]
        return [_parse(raw, sections)]
    except (IndexError, struct.error, UnicodeDecodeError, TypeError, RecursionError) as exc:
        raise DecodeError(f"malformed message: {exc}") from None


def _batch_members(raw: bytes, sections: list[Section]) -> list[bytes] | None:
    body = [section for section in sections if section.code >= DATA and section.code != FOOTER]
    if not body or any(section.code != DATA for section in body):
        return None
    members = []
    for section in body:
        content, _ = decode(raw, section.value_start)
        if not (
            len(content) > 3
            and content[0] == 0x00
            and content[1] == 0x53
            and 0x70 <= content[2] <= 0x78
        ):
            return None
        try:
            split_sections(content)
        except DecodeError:
            return None
        members.append(content)
    return members


def parse_message(raw: bytes) -> IncomingMessage:
    """One encoded message (as sent on a link, or inside a management request)."""
    try:
        return _parse(raw, split_sections(raw))
    except (IndexError, struct.error, UnicodeDecodeError, TypeError, RecursionError) as exc:
        raise DecodeError(f"malformed message: {exc}") from None


def _parse(raw: bytes, sections: list[Section]) -> IncomingMessage:
    ttl: float | None = None
    scheduled: float | None = None
    message_id: str | None = None
    annotations = b""
    bare_start = len(raw)
    for section in sections:
        check_section(raw, section.code, section.value_start, section.end)
        if section.code == HEADER:
            header, _ = decode(raw, section.value_start)
            if isinstance(header, list) and len(header) > 2 and isinstance(header[2], int):
                ttl = header[2] / 1000.0
        elif section.code == MESSAGE_ANNOTATIONS:
            annotations, scheduled = _client_annotations(raw, section)
        elif section.code >= PROPERTIES:
            bare_start = min(bare_start, section.start)
            if section.code == PROPERTIES:
                properties, _ = decode(raw, section.value_start)
                if isinstance(properties, list) and properties and properties[0] is not None:
                    message_id = _message_id_text(properties[0])
    payload = annotations + raw[bare_start:]
    return IncomingMessage(
        payload=payload, message_id=message_id, time_to_live=ttl, scheduled_enqueue_time=scheduled
    )


def check_stored_payload(payload: bytes) -> None:
    """Raise DecodeError unless `payload` is a stored message `render` can re-emit.

    Used when a data directory is loaded, so a corrupt record is quarantined
    at start-up instead of failing when a receiver gets it.
    """
    try:
        sections = split_sections(payload)
        if sections[0].code < MESSAGE_ANNOTATIONS:
            raise DecodeError("a stored message has no header or delivery annotations")
        for section in sections:
            check_section(payload, section.code, section.value_start, section.end)
    except (IndexError, struct.error, RecursionError) as exc:
        raise DecodeError(f"malformed message: {exc}") from None


def _message_id_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return "binary:" + value.hex()
    return f"{type(value).__name__}:{value}"


def _client_annotations(raw: bytes, section: Section) -> tuple[bytes, float | None]:
    """The client's message annotations minus broker-owned keys; and the scheduled time."""
    count, pos, end = _map_entries(raw, section.value_start)
    kept: list[bytes] = []
    scheduled: float | None = None
    for _ in range(count // 2):
        key, value_pos = decode(raw, pos)
        value_end = skip(raw, value_pos)
        if key == SCHEDULED_ENQUEUE_TIME:
            value, _ = decode(raw, value_pos)
            if isinstance(value, int):
                scheduled = value / 1000.0
        if key not in _BROKER_ANNOTATIONS:
            kept.append(raw[pos:value_end])
        pos = value_end
    if pos > end:
        raise DecodeError("message annotations overran their size")
    if not kept:
        return b"", scheduled
    return _map_section(MESSAGE_ANNOTATIONS, b"".join(kept), 2 * len(kept)), scheduled


def _map_entries(raw: bytes, pos: int) -> tuple[int, int, int]:
    """For the map at `pos`: its item count, where its items start, and where it ends."""
    code = raw[pos]
    if code == 0xC1:
        return raw[pos + 2], pos + 3, pos + 2 + raw[pos + 1]
    if code == 0xD1:
        size, count = struct.unpack_from(">II", raw, pos + 1)
        return count, pos + 9, pos + 5 + size
    if code == 0x40:
        return 0, pos + 1, pos + 1
    raise DecodeError(f"expected a map, got type code 0x{code:02x}")


def _map_section(code: int, items: bytes, count: int) -> bytes:
    return (
        b"\x00\x53" + bytes((code,)) + b"\xd1" + struct.pack(">II", len(items) + 4, count) + items
    )


def _sym(name: str) -> bytes:
    raw = name.encode("ascii")
    return b"\xa3" + bytes((len(raw),)) + raw


def _str(text: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) < 256:
        return b"\xa1" + bytes((len(raw),)) + raw
    return b"\xb1" + struct.pack(">I", len(raw)) + raw


def _timestamp(seconds: float) -> bytes:
    return b"\x83" + struct.pack(">q", int(seconds * 1000))


def render(message: StoredMessage, *, locked_until: float | None = None) -> bytes:
    """The message as a receiver gets it: header, annotations, then the bare message."""
    ttl = (
        b"\x40"
        if message.time_to_live is None
        else b"\x70" + struct.pack(">I", min(int(message.time_to_live * 1000), 0xFFFFFFFF))
    )
    first = b"\x41" if message.delivery_count == 0 else b"\x42"
    fields = b"\x42\x50\x04" + ttl + first + b"\x70" + struct.pack(">I", message.delivery_count)
    header = b"\x00\x53\x70\xc0" + bytes((len(fields) + 1, 5)) + fields

    items = [
        _sym("x-opt-sequence-number") + b"\x81" + struct.pack(">q", message.sequence_number),
        _sym("x-opt-enqueued-time") + _timestamp(message.enqueued_time),
    ]
    if locked_until is not None:
        items.append(_sym("x-opt-locked-until") + _timestamp(locked_until))
    if message.state is not MessageState.ACTIVE:
        items.append(_sym("x-opt-message-state") + b"\x71" + struct.pack(">i", int(message.state)))
    if message.dead_letter_source:
        items.append(_sym("x-opt-deadletter-source") + _str(message.dead_letter_source))
    payload = message.payload
    if payload[:3] == b"\x00\x53\x72":
        count, start, end = _map_entries(payload, 3)
        items.append(payload[start:end])
        count += 2 * (len(items) - 1)
        bare = payload[end:]
    else:
        count = 2 * len(items)
        bare = payload
    annotations = _map_section(MESSAGE_ANNOTATIONS, b"".join(items), count)
    if message.dead_letter_reason is not None or message.dead_letter_description is not None:
        bare = _with_dead_letter_properties(
            bare, message.dead_letter_reason, message.dead_letter_description
        )
    return header + annotations + bare


def _with_dead_letter_properties(bare: bytes, reason: str | None, description: str | None) -> bytes:
    """The bare message with the DeadLetter* application properties set."""
    added = {"DeadLetterReason": reason, "DeadLetterErrorDescription": description}
    new_items = [_str(key) + _str(value) for key, value in added.items() if value is not None]
    sections = split_sections(bare)
    for section in sections:
        if section.code == APPLICATION_PROPERTIES:
            count, pos, _ = _map_entries(bare, section.value_start)
            kept: list[bytes] = []
            for _ in range(count // 2):
                key, value_pos = decode(bare, pos)
                value_end = skip(bare, value_pos)
                if key not in _DEAD_LETTER_PROPERTIES:
                    kept.append(bare[pos:value_end])
                pos = value_end
            items = kept + new_items
            replaced = _map_section(APPLICATION_PROPERTIES, b"".join(items), 2 * len(items))
            return bare[: section.start] + replaced + bare[section.end :]
    insert_at = next((s.start for s in sections if s.code > APPLICATION_PROPERTIES), len(bare))
    section_bytes = _map_section(APPLICATION_PROPERTIES, b"".join(new_items), 2 * len(new_items))
    return bare[:insert_at] + section_bytes + bare[insert_at:]


def lock_token_tag(token: uuid.UUID) -> bytes:
    """The delivery tag the SDK reads a lock token from (.NET GUID byte order)."""
    return token.bytes_le
