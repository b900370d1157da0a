"""Deterministic and generated identifiers.

The message ids are a **contract** shared with the Auth0 Actions (JavaScript;
tests/vectors/webhooks.json is the referee):

- `registration_id(tenant_id, user_id, created_at)` = "reg_" + the first 32 hex
  characters of sha256(utf8(tenant_id) 0x00 utf8(user_id) 0x00 utf8(canonical_ms(created_at)));
- `deletion_id(tenant_id, user_id, deleted_at)`: the same with "del_" and the deletion time.

Every path that reports one signup (the Action, the first-login Action, Event
Streams, the reconciler) computes the same id, so Service Bus duplicate
detection and the processor's idempotent write absorb the copies; a user who is
deleted and signs up again gets a new id, because the creation time differs.
The id is the `webhook-id`, the Service Bus `message_id` and the failures
table's key.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime, timedelta, timezone

_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:\-]{8,128}$")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
# RFC 3339 with a mandatory zone, as the Actions parse it (no date-only, no space, no comma).
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$",
    re.ASCII,
)


def canonical_ms(moment: datetime | str) -> str:
    """`moment` in UTC, truncated to milliseconds, as "YYYY-MM-DDTHH:MM:SS.mmmZ".

    Text must be RFC 3339 with a zone ("Z" or "+hh:mm"); a datetime must be aware.
    Raises `ValueError` otherwise, and for times whose UTC form falls outside years 1-9999.

    >>> canonical_ms("2026-11-26T05:30:00.250999+02:30")
    '2026-11-26T03:00:00.250Z'
    """
    parsed = _parse_rfc3339(moment) if isinstance(moment, str) else moment
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("a time needs a time zone")
    try:
        utc = parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is outside years 1-9999 in UTC") from None
    return (  # by hand: strftime's %Y does not pad years below 1000 on every platform
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )


def _parse_rfc3339(text: str) -> datetime:
    match = _RFC3339.match(text)
    if match is None:
        raise ValueError("not an RFC 3339 date-time with a time zone")
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    millis = int((match.group(7) or "").ljust(3, "0")[:3])
    zone = match.group(8)
    offset = timedelta(0)
    if zone != "Z":
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            raise ValueError("not a valid time zone offset")
        offset = (-1 if zone[0] == "-" else 1) * timedelta(hours=hours, minutes=minutes)
    zone_info = timezone(offset)
    return datetime(year, month, day, hour, minute, second, millis * 1000, tzinfo=zone_info)


def _hashed_id(prefix: str, tenant_id: str, user_id: str, moment: datetime | str) -> str:
    digest = hashlib.sha256(
        tenant_id.encode("utf-8", "surrogatepass")
        + b"\x00"
        + user_id.encode("utf-8", "surrogatepass")
        + b"\x00"
        + canonical_ms(moment).encode("ascii")
    )
    return prefix + digest.hexdigest()[:32]


def registration_id(tenant_id: str, user_id: str, created_at: datetime | str) -> str:
    """The message id of the user's creation (see the module docstring). `ValueError` on a bad time.

    >>> registration_id("acme-prod", "auth0|6745a1f09c2b3d4e5f607182", "2026-11-26T03:12:45.118Z")
    'reg_cd0b8dc42a9cfc0cc0db007de447707d'
    """
    return _hashed_id("reg_", tenant_id, user_id, created_at)


def deletion_id(tenant_id: str, user_id: str, deleted_at: datetime | str) -> str:
    """The message id of the user's deletion: "del_" + the same hash over the deletion time."""
    return _hashed_id("del_", tenant_id, user_id, deleted_at)


def new_correlation_id() -> str:
    """A fresh correlation id (32 lowercase hex characters, like a W3C trace id)."""
    return uuid.uuid4().hex


def correlation_id_from_headers(headers: dict[str, str]) -> str | None:
    """The caller's correlation id, if it sent a well-formed one.

    `x-correlation-id` wins (8-128 characters of `[A-Za-z0-9._:-]`, so it is
    safe in logs and message properties); otherwise the trace id of a valid
    W3C `traceparent`. Anything else is ignored, never echoed.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    candidate = lowered.get("x-correlation-id", "").strip()
    if _CORRELATION_ID.match(candidate):
        return candidate
    match = _TRACEPARENT.match(lowered.get("traceparent", "").strip())
    if match and match.group(1) != "0" * 32:
        return match.group(1)
    return None
