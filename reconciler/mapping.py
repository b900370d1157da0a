"""A Management API user as the message the Action would have sent for it.

Payload v1 with `source: "reconcile"`, the tenant named by AUTH0_TENANT_ID,
the connection from `identities[0]`, personal fields only as SEND_FIELDS
allows (same names, values and default as the Action's secret), and the
message id from the shared `registration_id(tenant, user_id, created_at)`, so
broker duplicate detection and the processor absorb any overlap with the Action.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from shared.events import canonical_json, validate_event
from shared.ids import canonical_ms, new_correlation_id, registration_id
from shared.publisher import OutgoingMessage

SOURCE = "reconcile"
ALWAYS_USER_FIELDS = ("email_verified", "phone_verified")
OPTIONAL_USER_FIELDS = (
    "email", "phone_number", "username", "name", "given_name", "family_name",
    "nickname", "picture", "user_metadata", "app_metadata",
)  # fmt: skip
OPTIONAL_REQUEST_FIELDS = ("ip", "user_agent")  # the Action's; a reconciled user has no request
KNOWN_FIELDS = frozenset(OPTIONAL_USER_FIELDS + OPTIONAL_REQUEST_FIELDS)


def parse_send_fields(value: str) -> frozenset[str]:
    """SEND_FIELDS: names separated by commas or spaces, `all`, or `none` (the default).

    Unknown names raise ValueError (the Action only warns; a timer can fail loudly).
    """
    names = [name for name in re.split(r"[\s,]+", value) if name]
    unknown = sorted(set(names) - KNOWN_FIELDS - {"all", "none"})
    if unknown:
        raise ValueError(f"SEND_FIELDS names unknown fields: {', '.join(unknown)}")
    return KNOWN_FIELDS if "all" in names else frozenset(names) - {"none"}


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
    fields = ALWAYS_USER_FIELDS + tuple(f for f in OPTIONAL_USER_FIELDS if f in send_fields)
    body_user: dict[str, Any] = {
        "user_id": user["user_id"],
        "created_at": canonical_ms(created_at(user)),
    }
    body_user.update({name: user[name] for name in fields if user.get(name) is not None})
    payload: dict[str, Any] = {
        "type": "user.registered",
        "schema_version": 1,
        "source": SOURCE,
        "tenant": {"id": tenant_id},
        "user": body_user,
    }
    identities = user.get("identities") or []
    if identities and isinstance(identities[0], dict):
        identity = identities[0]
        connection = {"name": identity.get("connection"), "strategy": identity.get("provider")}
        payload["connection"] = {key: value for key, value in connection.items() if value}
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
