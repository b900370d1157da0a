"""SEND_FIELDS, read as the Action reads its secret, and what payload v1 takes from an Auth0 user.

Every path that builds payload v1 from an Auth0 user object (the Management
API's, for the reconciler; a CloudEvent's `data.object`, for Event Streams)
builds it here (`payload_v1`), so each sends what the Action sends for the
same user and the same setting: the required fields and those that identify
nobody always, a personal field only when SEND_FIELDS names it (or says
`all`), and nothing else (no identities, no login counts, no IPs). The names and the
parsing mirror the Action's (auth0/src/payload.js: OPTIONAL_FIELDS,
parseFieldSelection).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ALWAYS_USER_FIELDS = ("user_id", "created_at", "email_verified", "phone_verified")
OPTIONAL_USER_FIELDS = (
    "email", "phone_number", "username", "name", "given_name", "family_name",
    "nickname", "picture", "user_metadata", "app_metadata",
)  # fmt: skip
# The Action's request fields: known names, though a user object has no request to take them from.
OPTIONAL_REQUEST_FIELDS = ("ip", "user_agent")
OPTIONAL_FIELDS = OPTIONAL_USER_FIELDS + OPTIONAL_REQUEST_FIELDS
DEFAULT = "none"


@dataclass(frozen=True)
class FieldSelection:
    """The optional fields SEND_FIELDS selects, and the names in it that are no field."""

    fields: frozenset[str]
    unknown: tuple[str, ...] = ()


def parse_send_fields(value: str | None) -> FieldSelection:
    """Names separated by commas or spaces, `all`, or `none` (the default, also for empty).

    Unknown names select nothing; they are returned so the caller can warn
    (the Action) or refuse to start (the reconciler).
    """
    fields: set[str] = set()
    unknown: list[str] = []
    for name in (name for name in re.split(r"[\s,]+", value or DEFAULT) if name):
        if name == "all":
            fields.update(OPTIONAL_FIELDS)
        elif name in OPTIONAL_FIELDS:
            fields.add(name)
        elif name != "none":
            unknown.append(name)
    return FieldSelection(frozenset(fields), tuple(unknown))


def user_fields(user: Mapping[str, Any], selected: frozenset[str]) -> dict[str, Any]:
    """The fields of `user` payload v1 carries, values as given; absent and null ones left out.

    `payload_v1` replaces `created_at` by the canonical form its caller reads (sources differ).
    """
    names = (*ALWAYS_USER_FIELDS, *(name for name in OPTIONAL_USER_FIELDS if name in selected))
    return {name: user[name] for name in names if user.get(name) is not None}


def signup_connection(user: Mapping[str, Any]) -> dict[str, str]:
    """Payload v1's `connection`: name and strategy of `identities[0]`, or {} when unknown.

    The first identity is the one the user signed up with (later ones are linked accounts).
    """
    identities = user.get("identities")
    first = identities[0] if isinstance(identities, list) and identities else None
    if not isinstance(first, Mapping):
        return {}
    connection = {"name": first.get("connection"), "strategy": first.get("provider")}
    return {key: value for key, value in connection.items() if isinstance(value, str) and value}


def payload_v1(
    user: Mapping[str, Any],
    tenant_id: str,
    send_fields: frozenset[str],
    source: str,
    created_at: str | None,
) -> dict[str, Any]:
    """Payload v1 for one Auth0 user, as `source` sends it (not validated: `validate_event` is).

    `created_at`, already canonical (`shared.ids.canonical_ms`), replaces the user's own:
    each source receives it in its own form and decides how to read it. With None the
    user's value is kept as given, for the validator to judge.
    """
    body_user = user_fields(user, send_fields)
    if created_at is not None:
        body_user["created_at"] = created_at
    document: dict[str, Any] = {
        "type": "user.registered",
        "schema_version": 1,
        "tenant": {"id": tenant_id},
        "user": body_user,
        "source": source,
    }
    connection = signup_connection(user)
    if connection:
        document["connection"] = connection
    return document
