"""A Management API user as the message the Action would have sent for it.

Payload v1 with `source: "reconcile"`, the tenant named by AUTH0_TENANT_ID,
the connection from `identities[0]`, personal fields only as SEND_FIELDS
allows (`shared.send_fields`: the Action's names, values and default), and the
message id from the shared `registration_id(tenant, user_id, created_at)`, so
broker duplicate detection and the processor absorb any overlap with the Action.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.events import canonical_json, validate_event
from shared.ids import canonical_ms, new_correlation_id, registration_id
from shared.publisher import OutgoingMessage
from shared.send_fields import payload_v1

SOURCE = "reconcile"


def created_at(user: dict[str, Any]) -> datetime:
    """The user's `created_at` as an aware datetime (the SDK parses it; JSON gives text)."""
    value = user["created_at"]
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def message_id(tenant_id: str, user: dict[str, Any]) -> str:
    """The id the Action would have used for this user's signup."""
    return registration_id(tenant_id, str(user["user_id"]), created_at(user))


def registration_payload(
    user: dict[str, Any], tenant_id: str, send_fields: frozenset[str]
) -> dict[str, Any]:
    """Payload v1 for `user` (validated: a user Auth0 returns malformed raises InvalidEvent)."""
    canonical = canonical_ms(created_at(user))
    payload = payload_v1(user, tenant_id, send_fields, SOURCE, canonical)
    validate_event(payload)
    return payload


def registration_message(
    user: dict[str, Any], tenant_id: str, send_fields: frozenset[str]
) -> OutgoingMessage:
    """The Service Bus message for `user`, shaped like the one ingest sends."""
    payload = registration_payload(user, tenant_id, send_fields)
    correlation_id = new_correlation_id()
    return OutgoingMessage(
        body=canonical_json(payload),
        message_id=message_id(tenant_id, user),
        correlation_id=correlation_id,
        application_properties={
            "schema_version": 1,
            "tenant": tenant_id,
            "correlation_id": correlation_id,
            "source": SOURCE,
        },
    )
