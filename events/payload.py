"""The payload v1 body an Event Streams `user.created` becomes (`source: "event-stream"`).

Field selection follows SEND_FIELDS exactly as the Action applies its secret
of the same name: the required fields and those that identify nobody are
always copied; personal ones only when listed (or `all`). Never copied:
identities, `updated_at`, login counts, IPs (Auth0's user object has no
request), anything else.
"""

from __future__ import annotations

from typing import Any

from shared.events import canonical_json
from shared.ids import canonical_ms

ALWAYS_USER_FIELDS = ("user_id", "created_at", "email_verified", "phone_verified")
OPTIONAL_USER_FIELDS = (
    "email", "phone_number", "username", "name", "given_name", "family_name",
    "nickname", "picture", "user_metadata", "app_metadata",
)  # fmt: skip
SOURCE = "event-stream"


def selected_fields(send_fields: str) -> frozenset[str]:
    """The optional user fields SEND_FIELDS lists (comma or space separated; `all`, `none`)."""
    names = set(send_fields.replace(",", " ").split())
    if "all" in names:
        return frozenset(OPTIONAL_USER_FIELDS)
    return frozenset(name for name in OPTIONAL_USER_FIELDS if name in names)


def registration_payload(
    user: dict[str, Any], tenant_id: str, send_fields: frozenset[str]
) -> dict[str, Any]:
    """Payload v1 for one created user (not yet validated: `validate_event` does that)."""
    fields = [*ALWAYS_USER_FIELDS, *(f for f in OPTIONAL_USER_FIELDS if f in send_fields)]
    body_user = {name: user[name] for name in fields if user.get(name) is not None}
    if isinstance(user.get("created_at"), str):  # as every path sends it: UTC milliseconds
        body_user["created_at"] = canonical_ms(user["created_at"])
    document: dict[str, Any] = {
        "type": "user.registered",
        "schema_version": 1,
        "tenant": {"id": tenant_id},
        "user": body_user,
        "source": SOURCE,
    }
    connection = _connection(user)
    if connection:
        document["connection"] = connection
    return document


def body_of(document: dict[str, Any]) -> str:
    """The message body: canonical JSON (sorted keys, no whitespace)."""
    return canonical_json(document)


def _connection(user: dict[str, Any]) -> dict[str, str]:
    # The first identity is the one the user signed up with: its connection and provider.
    identities = user.get("identities")
    first = identities[0] if isinstance(identities, list) and identities else None
    if not isinstance(first, dict):
        return {}
    connection = {"name": first.get("connection"), "strategy": first.get("provider")}
    return {key: value for key, value in connection.items() if isinstance(value, str)}
