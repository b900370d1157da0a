"""What a client may put in each message section (AMQP 1.0 part 3), checked at send time.

The emulator stores messages byte for byte and re-emits them later, so a
section of the wrong shape (application-properties that are a list, a body
`data` section that is not binary) would only fail when a receiver gets it,
long after the sender was told it was accepted. Checking here lets the
sender's transfer be rejected with `amqp:invalid-field` instead, as Service
Bus does, and keeps every stored message renderable.

Checks work on type codes, not decoded values: the decoder folds ubyte,
uint and long into one `int` and arrays into lists, which the spec tells
apart.
"""

from __future__ import annotations

import struct

from localdev.servicebus.amqp.codec import DecodeError, decode, skip


class InvalidField(DecodeError):
    """A section is well-formed AMQP but holds a value of a type its field does not allow."""


NULL = frozenset({0x40})
BOOLEAN = NULL | {0x41, 0x42, 0x56}
UBYTE = NULL | {0x50}
UINT = NULL | {0x43, 0x52, 0x70}
ULONG = frozenset({0x44, 0x53, 0x80})
BINARY = frozenset({0xA0, 0xB0})
STRING = frozenset({0xA1, 0xB1})
SYMBOL = frozenset({0xA3, 0xB3})
TIMESTAMP = NULL | {0x83}
MESSAGE_ID = NULL | ULONG | BINARY | STRING | {0x98}
LIST = frozenset({0x45, 0xC0, 0xD0})
MAP = frozenset({0xC1, 0xD1})
ARRAY = frozenset({0xE0, 0xF0})
DESCRIBED = 0x00

# Field types of the header and properties lists, in field order.
_HEADER_FIELDS = (
    ("durable", BOOLEAN),
    ("priority", UBYTE),
    ("ttl", UINT),
    ("first-acquirer", BOOLEAN),
    ("delivery-count", UINT),
)
_PROPERTY_FIELDS = (
    ("message-id", MESSAGE_ID),
    ("user-id", NULL | BINARY),
    ("to", NULL | STRING),
    ("subject", NULL | STRING),
    ("reply-to", NULL | STRING),
    ("correlation-id", MESSAGE_ID),
    ("content-type", NULL | SYMBOL | STRING),  # a symbol in the spec; some clients send string
    ("content-encoding", NULL | SYMBOL | STRING),
    ("absolute-expiry-time", TIMESTAMP),
    ("creation-time", TIMESTAMP),
    ("group-id", NULL | STRING),
    ("group-sequence", UINT),
    ("reply-to-group-id", NULL | STRING),
)
_SECTION_NAMES = {
    0x70: "header",
    0x71: "delivery-annotations",
    0x72: "message-annotations",
    0x73: "properties",
    0x74: "application-properties",
    0x75: "data",
    0x76: "amqp-sequence",
    0x77: "amqp-value",
    0x78: "footer",
}


def check_section(raw: bytes, code: int, value_start: int, end: int) -> None:
    """Check one section's value (at `value_start`, ending at `end`) for section `code`.

    Raises DecodeError when the value is not valid AMQP, InvalidField when it
    is valid but not what the section allows.
    """
    if skip(raw, value_start) != end:
        raise DecodeError("a section's value does not fill the section")
    name = _SECTION_NAMES[code]
    value_code = raw[value_start]
    if code == 0x70:
        _check_list_fields(raw, value_start, name, _HEADER_FIELDS)
    elif code == 0x73:
        _check_list_fields(raw, value_start, name, _PROPERTY_FIELDS)
    elif code in (0x71, 0x72, 0x78):
        _check_annotations(raw, value_start, name)
    elif code == 0x74:
        _check_application_properties(raw, value_start)
    elif code == 0x75:
        if value_code not in BINARY:
            raise InvalidField("a data section must hold binary")
    elif code == 0x76 and value_code not in LIST:
        raise InvalidField("an amqp-sequence section must hold a list")
    else:
        decode(raw, value_start)  # amqp-sequence, amqp-value: every nested value must decode


def _check_list_fields(
    raw: bytes, pos: int, name: str, fields: tuple[tuple[str, frozenset[int]], ...]
) -> None:
    if raw[pos] not in LIST:
        raise InvalidField(f"the {name} section must be a list")
    items = _items(raw, pos)
    if len(items) > len(fields):
        raise InvalidField(f"the {name} section has {len(items)} fields, at most {len(fields)}")
    for item, (field, allowed) in zip(items, fields, strict=False):
        if raw[item] not in allowed:
            raise InvalidField(f"{name}.{field} has AMQP type code 0x{raw[item]:02x}")
        check_value(raw, item)


def _check_annotations(raw: bytes, pos: int, name: str) -> None:
    if raw[pos] in NULL:
        return
    if raw[pos] not in MAP:
        raise InvalidField(f"the {name} section must be a map")
    items = _items(raw, pos)
    for key in items[0::2]:
        if raw[key] not in SYMBOL | ULONG:
            raise InvalidField(f"{name} keys must be symbols or ulongs")
    for item in items:
        check_value(raw, item)


def _check_application_properties(raw: bytes, pos: int) -> None:
    if raw[pos] not in MAP:
        raise InvalidField("the application-properties section must be a map")
    items = _items(raw, pos)
    for key, value in zip(items[0::2], items[1::2], strict=True):
        if raw[key] not in STRING:
            raise InvalidField("application-properties keys must be strings")
        check_value(raw, key)
        check_value(raw, value)
        if not _is_simple(raw, value):
            name, _ = decode(raw, key)
            raise InvalidField(
                f"application property {name!r} must be a simple value, not a map, list or array"
            )


def check_value(raw: bytes, pos: int) -> None:
    """DecodeError unless the value at `pos` decodes (the value's size is already known good).

    Strings, symbols and chars are checked in place and other scalars need no
    check, so the common message (string and number properties) costs no full
    decode; compounds, arrays and described values are decoded.
    """
    code = raw[pos]
    if code in STRING or code in SYMBOL:
        wide = code >= 0xB0
        size = int.from_bytes(raw[pos + 1 : pos + 5], "big") if wide else raw[pos + 1]
        start = pos + (5 if wide else 2)
        try:
            raw[start : start + size].decode("utf-8" if code in STRING else "ascii")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"malformed AMQP value: {exc}") from None
    elif code == 0x73 or code in LIST | MAP | ARRAY or code == DESCRIBED:
        decode(raw, pos)


def _is_simple(raw: bytes, pos: int) -> bool:
    """A simple type: not a map, list or array; a described value of a simple one passes
    (Service Bus's own com.microsoft:datetime-offset / timespan / uri are described)."""
    code = raw[pos]
    if code == DESCRIBED:
        descriptor = pos + 1
        if raw[descriptor] not in SYMBOL | ULONG:
            return False
        return _is_simple(raw, skip(raw, descriptor))
    return code not in LIST | MAP | ARRAY


def _items(raw: bytes, pos: int) -> list[int]:
    """Where each item of the list or map at `pos` starts (the value is known to decode)."""
    code = raw[pos]
    if code == 0x45:
        return []
    if code in (0xC0, 0xC1):
        count, start = raw[pos + 2], pos + 3
    else:
        (count,) = struct.unpack_from(">I", raw, pos + 5)
        start = pos + 9
    positions = []
    for _ in range(count):
        positions.append(start)
        start = skip(raw, start)
    return positions
