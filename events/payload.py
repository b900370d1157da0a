"""The payload v1 body an Event Streams `user.created` becomes (`source: "event-stream"`).

Fields are selected by `shared.send_fields`, as the Action selects them for
the same SEND_FIELDS: the required fields and those that identify nobody
always; personal ones only when listed (or `all`); never identities,
`updated_at`, login counts or anything else.
"""

from __future__ import annotations

from typing import Any

from shared.events import canonical_json
from shared.ids import canonical_ms
from shared.send_fields import signup_connection, user_fields

SOURCE = "event-stream"


def registration_payload(
    user: dict[str, Any], tenant_id: str, send_fields: frozenset[str]
) -> dict[str, Any]:
    """Payload v1 for one created user (not yet validated: `validate_event` does that)."""
    body_user = user_fields(user, send_fields)
    if isinstance(user.get("created_at"), str):  # as every path sends it: UTC milliseconds
        body_user["created_at"] = canonical_ms(user["created_at"])
    document: dict[str, Any] = {
        "type": "user.registered",
        "schema_version": 1,
        "tenant": {"id": tenant_id},
        "user": body_user,
        "source": SOURCE,
    }
    connection = signup_connection(user)
    if connection:
        document["connection"] = connection
    return document


def body_of(document: dict[str, Any]) -> str:
    """The message body: canonical JSON (sorted keys, no whitespace)."""
    return canonical_json(document)
