"""Table key functions (**contract**: documented in docs/table-schema.md with vectors).

Every function here is pure and deterministic so another language can compute
the same keys:

- `encode_key_part(s)`: each character in printable ASCII (U+0020-U+007E)
  except `/ \\ # ? % | ~` stays; every other character becomes its UTF-8
  bytes as `%XX` (uppercase hex). Results longer than `MAX_ENCODED_PART`
  characters are replaced by `"~" + sha256(utf8(s)).hexdigest()`.
  The output is ASCII, never contains a character Table keys forbid, never
  contains `|` (the separator) and starts with `~` only in the hash form.
- `partition_key(user_id) = "u" + sha256(utf8(user_id)).hexdigest()[:2]`
- `row_key(user_id, tenant_id) = encode_key_part(user_id) + "|" + encode_key_part(tenant_id)`
- `index_partition_key(created_at, user_id) = "t" + YYYYMMDDHH(created_at, UTC) + "-" + shard`
  with `shard = int(sha256(utf8(user_id)).hexdigest()[0], 16) % INDEX_SHARDS`
- `index_row_key(created_at, user_id, tenant_id) = iso(created_at) + "|" + row_key(...)`
  with `iso` = `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, always microseconds).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

MAX_ENCODED_PART = 200  # two parts + "|" stay far below the 1 KiB key limit
INDEX_SHARDS = 4
SEPARATOR = "|"
_KEEP = frozenset(chr(code) for code in range(0x20, 0x7F)) - set("/\\#?%|~")


def _utf8(text: str) -> bytes:
    # surrogatepass: total over every Python str, even ones no JSON parser would produce.
    return text.encode("utf-8", "surrogatepass")


def _sha256_hex(text: str) -> str:
    return hashlib.sha256(_utf8(text)).hexdigest()


def encode_key_part(text: str) -> str:
    """Injective, Table-safe encoding of one id (see the module docstring)."""
    out = []
    for char in text:
        if char in _KEEP:
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in _utf8(char))
    encoded = "".join(out)
    if len(encoded) > MAX_ENCODED_PART:
        return "~" + _sha256_hex(text)
    return encoded


def decode_key_part(encoded: str) -> str | None:
    """Invert `encode_key_part`; None for the hash form (read the id column instead)."""
    if encoded.startswith("~"):
        return None
    raw = bytearray()
    index = 0
    while index < len(encoded):
        if encoded[index] == "%":
            raw.append(int(encoded[index + 1 : index + 3], 16))
            index += 3
        else:
            raw.extend(encoded[index].encode("ascii"))
            index += 1
    return raw.decode("utf-8", "surrogatepass")


def partition_key(user_id: str) -> str:
    """The registration's PartitionKey: 256 partitions spread by a hash of the user id."""
    return "u" + _sha256_hex(user_id)[:2]


def row_key(user_id: str, tenant_id: str) -> str:
    """The registration's RowKey: unique per (user id, tenant id) inside its partition."""
    return encode_key_part(user_id) + SEPARATOR + encode_key_part(tenant_id)


def user_row_prefix(user_id: str) -> tuple[str, str]:
    """Half-open RowKey range holding every tenant's row for `user_id`."""
    prefix = encode_key_part(user_id) + SEPARATOR
    return prefix, prefix[:-1] + chr(ord(SEPARATOR) + 1)


def iso(moment: datetime) -> str:
    """Fixed-width UTC ISO 8601 with microseconds: sorts as text in time order."""
    moment = moment.astimezone(UTC)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{moment.microsecond:06d}Z"
    )


def hour_bucket(moment: datetime) -> str:
    """`YYYYMMDDHH` of the UTC hour."""
    moment = moment.astimezone(UTC)
    return f"{moment.year:04d}{moment.month:02d}{moment.day:02d}{moment.hour:02d}"


def index_partition_key(created_at: datetime, user_id: str) -> str:
    """Time-index PartitionKey: the creation hour plus a shard, so no hour is one hot partition."""
    shard = int(_sha256_hex(user_id)[0], 16) % INDEX_SHARDS
    return f"t{hour_bucket(created_at)}-{shard}"


def index_row_key(created_at: datetime, user_id: str, tenant_id: str) -> str:
    """Time-index RowKey: sorts by creation time, unique per registration."""
    return iso(created_at) + SEPARATOR + row_key(user_id, tenant_id)


def failure_partition_key(message_id: str) -> str:
    """FailureLog PartitionKey for a Service Bus message id."""
    return "f" + _sha256_hex(message_id)[:2]


def failure_row_key(message_id: str) -> str:
    """FailureLog RowKey for a Service Bus message id."""
    return encode_key_part(message_id)
