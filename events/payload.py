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
from shared.send_fields import payload_v1

SOURCE = "event-stream"


def registration_payload(
    user: dict[str, Any], tenant_id: str, send_fields: frozenset[str]
) -> dict[str, Any]:
    """Payload v1 for one created user (not yet validated: `validate_event` does that).

    A text `created_at` is put in the form every path sends (UTC milliseconds); any other
    value is left for the validator to reject, so the delivery is kept with that cause.
    """
    created_at = user.get("created_at")
    canonical = canonical_ms(created_at) if isinstance(created_at, str) else None
    return payload_v1(user, tenant_id, send_fields, SOURCE, canonical)


def body_of(document: dict[str, Any]) -> str:
    """The message body: canonical JSON (sorted keys, no whitespace)."""
    return canonical_json(document)
