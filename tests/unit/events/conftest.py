"""Event Streams unit helpers: Auth0-shaped CloudEvents and the service over in-memory parts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from events.service import EventStreamService
from shared.publisher import InMemoryPublisher
from shared.rejections import RejectionLog
from shared.retries import RetryPolicy
from shared.tablestore import InMemoryTableStore

TOKEN = "evt-token-0123456789abcdef0123456789abcdef"
OLD_TOKEN = "evt-token-previous-000000000000000000000000"
TENANT = "acme-prod"
NOW = datetime(2026, 11, 29, 16, 0, tzinfo=UTC)
FAST_RETRY = RetryPolicy(
    "test", max_attempts=3, initial_delay=0.0, max_delay=0.0, jitter=0.0, total_budget=5.0
)


def cloud_event(kind: str = "user.created", **user: Any) -> dict[str, Any]:
    """A delivery shaped like Auth0's (extension attributes included, to be ignored)."""
    obj: dict[str, Any] = {
        "user_id": "auth0|679fb1b1e809445f129bc18d",
        "created_at": "2026-11-29T15:56:01.566Z",
        "updated_at": "2026-11-29T15:56:01.566Z",
        "email": "nick@example.com",
        "email_verified": False,
        "name": "Nick Tester",
        "nickname": "nick",
        "identities": [
            {
                "connection": "Username-Password-Authentication",
                "isSocial": False,
                "provider": "auth0",
                "user_id": "679fb1b1e809445f129bc18d",
            }
        ],
    }
    obj.update(user)
    return {
        "id": "evt_6SfwXrtm8nVcjzzNCFFH1L",
        "source": "urn:auth0:acme.eu.auth0.com:users",
        "specversion": "1.0",
        "type": kind,
        "time": "2026-11-29T15:56:01.573Z",
        "dataschema": "https://acme.eu.auth0.com/api/v2/schemas/user.created",
        "a0tenant": "acme",
        "a0stream": "est_123",
        "data": {"object": obj},
    }


def body(document: object) -> bytes:
    return json.dumps(document).encode("utf-8")


def headers(token: str | None = TOKEN, content_type: str = "application/json") -> dict[str, str]:
    result = {"content-type": content_type}
    if token is not None:
        result["Authorization"] = f"Bearer {token}"
    return result


class EventsHarness:
    """The service over an in-memory publisher and rejection table."""

    def __init__(
        self, tokens: list[str] | None = None, tenant: str | None = TENANT, send_fields: str = ""
    ) -> None:
        from shared.send_fields import parse_send_fields

        self.publisher = InMemoryPublisher()
        self.rejections_table = InMemoryTableStore()
        self.rejections = RejectionLog(self.rejections_table, tenant)
        self.service = EventStreamService(
            [TOKEN, OLD_TOKEN] if tokens is None else tokens,
            tenant,
            self.publisher,
            self.rejections,
            parse_send_fields(send_fields).fields,
            FAST_RETRY,
            clock=lambda: NOW,
            sleep=lambda _: None,
        )


@pytest.fixture
def events() -> EventsHarness:
    return EventsHarness()
