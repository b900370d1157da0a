"""A small AMQP 1.0 type codec (spec part 1): enough to read and write Service Bus messages.

Proton's own `Data` hands binaries back as views into freed buffers and takes
array element types in its private enum; a 200-line codec over `bytes` avoids
both and lets the server split and re-emit messages byte for byte.

Decoding returns plain Python values; `Symbol`, `Timestamp`, `Described` and
`Array` keep the distinctions that matter here. Encoding takes the same types
plus `UInt`/`UByte`/`Int` wrappers for the integer widths the spec requires.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from typing import Any


class DecodeError(ValueError):
    """The bytes are not valid AMQP encoding."""


class Symbol(str):
    """An AMQP symbol (ASCII name)."""


class Timestamp(int):
    """An AMQP timestamp: milliseconds since the Unix epoch."""


class UInt(int):
    """An AMQP uint."""


class UByte(int):
    """An AMQP ubyte."""


class Int(int):
    """An AMQP int (32-bit signed)."""


class ULong(int):
    """An AMQP ulong."""


@dataclass(frozen=True)
class Described:
    """A described value: a descriptor (usually a ulong code) and the value it qualifies."""

    descriptor: Any
    value: Any


@dataclass(frozen=True)
class Array:
    """An AMQP array: every element has one type, named by `element` ("uuid", "long", ...)."""

    element: str
    items: tuple[Any, ...]


_FIXED = {0x4: 0, 0x5: 1, 0x6: 2, 0x7: 4, 0x8: 8, 0x9: 16}


def skip(buf: bytes, pos: int) -> int:
    """The offset just past the encoded value that starts at `pos` (without decoding it)."""
    try:
        code = buf[pos]
        pos += 1
        if code == 0x00:
            pos = skip(buf, pos)
            return skip(buf, pos)
        width = _FIXED.get(code >> 4)
        if width is not None:
            end = pos + width
        elif code >> 4 in (0xA, 0xC, 0xE):
            end = pos + 1 + buf[pos]
        elif code >> 4 in (0xB, 0xD, 0xF):
            end = pos + 4 + int.from_bytes(buf[pos : pos + 4], "big")
        else:
            raise DecodeError(f"invalid AMQP type code 0x{code:02x}")
    except (IndexError, RecursionError):
        raise DecodeError("truncated or absurdly nested AMQP value") from None
    if end > len(buf):
        raise DecodeError("truncated AMQP value")
    return end


def decode(buf: bytes, pos: int = 0) -> tuple[Any, int]:
    """Decode the value at `pos`; returns it and the offset after it."""
    try:
        return _decode(buf, pos)
    except (IndexError, struct.error, UnicodeDecodeError, RecursionError) as exc:
        raise DecodeError(f"malformed AMQP value: {exc}") from None


def _decode(buf: bytes, pos: int) -> tuple[Any, int]:
    code = buf[pos]
    pos += 1
    if code == 0x00:
        descriptor, pos = _decode(buf, pos)
        value, pos = _decode(buf, pos)
        return Described(descriptor, value), pos
    return _decode_body(code, buf, pos)


def _decode_body(code: int, buf: bytes, pos: int) -> tuple[Any, int]:
    if code in _CONSTANTS:
        return _CONSTANTS[code], pos
    if code in _STRUCTS:
        fmt, wrap = _STRUCTS[code]
        size = struct.calcsize(fmt)
        if pos + size > len(buf):
            raise IndexError("truncated")
        return wrap(struct.unpack_from(fmt, buf, pos)[0]), pos + size
    if code == 0x98:
        if pos + 16 > len(buf):
            raise IndexError("truncated")
        return uuid.UUID(bytes=bytes(buf[pos : pos + 16])), pos + 16
    if code in (0xA0, 0xA1, 0xA3, 0xB0, 0xB1, 0xB3):
        wide = code >= 0xB0
        size = int.from_bytes(buf[pos : pos + 4], "big") if wide else buf[pos]
        pos += 4 if wide else 1
        raw = bytes(buf[pos : pos + size])
        if len(raw) != size:
            raise IndexError("truncated")
        pos += size
        if code & 0x0F == 0x0:
            return raw, pos
        if code & 0x0F == 0x1:
            return raw.decode("utf-8"), pos
        return Symbol(raw.decode("ascii")), pos
    if code in (0xC0, 0xD0, 0xC1, 0xD1):
        count, end, pos = _compound_header(buf, pos, wide=code >= 0xD0)
        items = []
        for _ in range(count):
            item, pos = _decode(buf, pos)
            items.append(item)
        if pos > end:
            raise IndexError("compound overran its size")
        if code & 0x0F == 0x0:
            return items, end
        if count % 2:
            raise IndexError("map with an odd number of items")
        return {_hashable(items[i]): items[i + 1] for i in range(0, count, 2)}, end
    if code in (0xE0, 0xF0):
        return _decode_array(code, buf, pos)
    raise DecodeError(f"invalid AMQP type code 0x{code:02x}")


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def _compound_header(buf: bytes, pos: int, wide: bool) -> tuple[int, int, int]:
    """A list's, map's or array's size and count fields (4 bytes each when wide, else 1).

    Returns the item count, where the value ends and where its items start.
    """
    size = int.from_bytes(buf[pos : pos + 4], "big") if wide else buf[pos]
    count = int.from_bytes(buf[pos + 4 : pos + 8], "big") if wide else buf[pos + 1]
    end = pos + (4 if wide else 1) + size
    if end > len(buf):
        raise IndexError("truncated")
    return count, end, pos + (8 if wide else 2)


def _decode_array(code: int, buf: bytes, pos: int) -> tuple[Any, int]:
    count, end, pos = _compound_header(buf, pos, wide=code == 0xF0)
    element = buf[pos]
    pos += 1
    descriptor = None
    if element == 0x00:
        descriptor, pos = _decode(buf, pos)
        element = buf[pos]
        pos += 1
    items = []
    for _ in range(count):
        item, pos = _decode_body(element, buf, pos)
        items.append(Described(descriptor, item) if descriptor is not None else item)
    if pos > end:
        raise IndexError("array overran its size")
    return items, end


def _char(code_point: int) -> str:
    """An AMQP char: one UTF-32 Unicode scalar value."""
    if code_point > 0x10FFFF or 0xD800 <= code_point <= 0xDFFF:
        raise DecodeError(f"invalid AMQP char U+{code_point:X}")
    return chr(code_point)


_CONSTANTS: dict[int, Any] = {0x40: None, 0x41: True, 0x42: False, 0x43: 0, 0x44: 0, 0x45: []}
_STRUCTS: dict[int, tuple[str, Any]] = {
    0x56: (">B", bool),
    0x50: (">B", int),
    0x51: (">b", int),
    0x60: (">H", int),
    0x61: (">h", int),
    0x70: (">I", int),
    0x52: (">B", int),
    0x71: (">i", int),
    0x54: (">b", int),
    0x80: (">Q", int),
    0x53: (">B", int),
    0x81: (">q", int),
    0x55: (">b", int),
    0x72: (">f", float),
    0x82: (">d", float),
    0x73: (">I", _char),
    0x83: (">q", Timestamp),
    0x74: (">4s", bytes),
    0x84: (">8s", bytes),
    0x94: (">16s", bytes),
}


# ---------------------------------------------------------------- encoding
def encode(value: Any) -> bytes:
    """Encode a Python value (see the module docstring for the type mapping)."""
    out = bytearray()
    _encode(value, out)
    return bytes(out)


def _encode(value: Any, out: bytearray) -> None:
    if value is None:
        out.append(0x40)
    elif isinstance(value, bool):
        out.append(0x41 if value else 0x42)
    elif isinstance(value, Timestamp):
        out += b"\x83" + struct.pack(">q", value)
    elif isinstance(value, UInt):
        out += b"\x70" + struct.pack(">I", value)
    elif isinstance(value, UByte):
        out += b"\x50" + struct.pack(">B", value)
    elif isinstance(value, Int):
        out += b"\x71" + struct.pack(">i", value)
    elif isinstance(value, ULong):
        # smallulong when it fits: pyamqp reads section descriptors only in that form
        out += b"\x53" + bytes((value,)) if value < 256 else b"\x80" + struct.pack(">Q", value)
    elif isinstance(value, int):
        out += b"\x81" + struct.pack(">q", value)
    elif isinstance(value, float):
        out += b"\x82" + struct.pack(">d", value)
    elif isinstance(value, uuid.UUID):
        out += b"\x98" + value.bytes
    elif isinstance(value, Symbol):
        _variable(value.encode("ascii"), 0xA3, out)
    elif isinstance(value, str):
        _variable(value.encode("utf-8"), 0xA1, out)
    elif isinstance(value, bytes | bytearray | memoryview):
        _variable(bytes(value), 0xA0, out)
    elif isinstance(value, Described):
        out.append(0x00)
        _encode(value.descriptor, out)
        _encode(value.value, out)
    elif isinstance(value, Array):
        _encode_array(value, out)
    elif isinstance(value, list | tuple):
        _compound([encode(item) for item in value], 0xD0, out)
    elif isinstance(value, dict):
        _compound([encode(part) for pair in value.items() for part in pair], 0xD1, out)
    else:
        raise TypeError(f"cannot AMQP-encode {type(value).__name__}")


def _variable(raw: bytes, code: int, out: bytearray) -> None:
    if len(raw) < 256:
        out += bytes((code, len(raw))) + raw
    else:
        out += bytes((code + 0x10,)) + struct.pack(">I", len(raw)) + raw


def _compound(parts: list[bytes], code32: int, out: bytearray) -> None:
    body = b"".join(parts)
    out += bytes((code32,)) + struct.pack(">II", len(body) + 4, len(parts)) + body


_ARRAY_ELEMENTS: dict[str, tuple[int, str]] = {
    "uuid": (0x98, ""),
    "long": (0x81, ">q"),
    "timestamp": (0x83, ">q"),
    "int": (0x71, ">i"),
    "uint": (0x70, ">I"),
}


def _encode_array(array: Array, out: bytearray) -> None:
    if array.element in ("symbol", "string"):
        code = 0xB3 if array.element == "symbol" else 0xB1
        encoded = [item.encode("ascii" if code == 0xB3 else "utf-8") for item in array.items]
        body = bytes((code,)) + b"".join(struct.pack(">I", len(raw)) + raw for raw in encoded)
    else:
        code, fmt = _ARRAY_ELEMENTS[array.element]
        if code == 0x98:
            body = bytes((code,)) + b"".join(item.bytes for item in array.items)
        else:
            body = bytes((code,)) + b"".join(struct.pack(fmt, item) for item in array.items)
    out += b"\xf0" + struct.pack(">II", len(body) + 4, len(array.items)) + body
