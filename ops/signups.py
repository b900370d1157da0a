"""`send-test-event`: signed test signups to the local stack (or any ingest URL)."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ops.errors import UsageProblem
from ops.ingest_client import EventPoster, synthetic_event

TEST_TENANT = "local-dev"


def load_event_file(path: Path) -> dict[str, Any]:
    """An event template from a JSON file (one object); UsageProblem when unusable."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageProblem(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise UsageProblem(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise UsageProblem(f"{path} must hold one JSON object (an event)")
    return document


def signup_events(count: int, template: dict[str, Any] | None) -> Iterator[dict[str, Any]]:
    """`count` events: synthetic ones with unique user ids, or copies of the template.

    A template keeps its own tenant and user id (so a file can replay one
    user on purpose, e.g. to watch duplicate detection); when it has no
    `user.user_id`, each copy gets a unique one.
    """
    for _ in range(count):
        user_id = f"auth0|test-{uuid.uuid4().hex[:24]}"
        if template is None:
            yield synthetic_event(TEST_TENANT, user_id, datetime.now(UTC))
            continue
        event = copy.deepcopy(template)
        user = event.setdefault("user", {})
        if isinstance(user, dict) and not user.get("user_id"):
            user["user_id"] = user_id
        yield event


def send_events(
    poster: EventPoster,
    events: Iterator[dict[str, Any]],
    on_sent: Callable[[int], None] = lambda _: None,
) -> Iterator[dict[str, Any]]:
    """POST each event; one result row per event (accepted or not)."""
    for event in events:
        answer = poster.post(event)
        on_sent(1)
        yield {
            "tenant_id": _get(event, "tenant", "id"),
            "user_id": _get(event, "user", "user_id"),
            "status": answer.status,
            "accepted": answer.accepted,
            "id": answer.body.get("id"),
            "trace_id": answer.trace_id,
            "detail": None if answer.accepted else answer.body,
        }


def _get(event: dict[str, Any], part: str, name: str) -> Any:
    section = event.get(part)
    return section.get(name) if isinstance(section, dict) else None
