"""Deterministic and generated identifiers.

`registration_id` is a **contract**: the Auth0 Action sends it as `webhook-id`,
ingest uses it as the Service Bus `message_id` (so broker duplicate detection
and the processor's idempotency agree), and the failures table is keyed by it.
"""

from __future__ import annotations

import hashlib
import re
import uuid

_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:\-]{8,128}$")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


def registration_id(tenant_id: str, user_id: str) -> str:
    """`"reg_" + sha256(utf8(tenant_id) + b"\\x00" + utf8(user_id)).hexdigest()[:32]`.

    >>> registration_id("acme-prod", "auth0|6745a1f09c2b3d4e5f607182")
    'reg_a71854ac898dacfeeb2d6b9814102a75'
    """
    digest = hashlib.sha256(
        tenant_id.encode("utf-8", "surrogatepass")
        + b"\x00"
        + user_id.encode("utf-8", "surrogatepass")
    )
    return "reg_" + digest.hexdigest()[:32]


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
