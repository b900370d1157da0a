"""The HTTP trigger as the Functions host calls it: it adapts types, nothing else."""

from __future__ import annotations

import json
from collections.abc import Iterator

import azure.functions as func
import pytest

from shared.runtime import AppContext, set_context
from shared.settings import Settings
from tests.unit.events.conftest import EventsHarness, body, cloud_event, headers

# The app is indexed once per process, as the host does it (the pipeline tests' index).
from tests.unit.pipeline.conftest import user_function


@pytest.fixture
def events_context() -> Iterator[EventsHarness]:
    harness = EventsHarness()
    context = AppContext(Settings())
    context.event_stream_service = harness.service
    set_context(context)
    yield harness
    set_context(None)


def test_the_trigger_adapts_the_request_and_the_answer(events_context: EventsHarness) -> None:
    payload = body(cloud_event())
    request = func.HttpRequest(
        "POST", "http://localhost/api/auth0-events", headers=headers(), body=payload
    )

    response = user_function("receive_auth0_event")(request)

    assert response.status_code == 202
    assert json.loads(response.get_body())["status"] == "accepted"
    assert response.headers["x-correlation-id"]
    assert len(events_context.publisher.messages) == 1
