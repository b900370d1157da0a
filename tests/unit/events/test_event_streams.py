"""POST /api/auth0-events, decided by the service: every row of its answer table."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from events.service import EventStreamService, respond
from ingest.service import IngestRequest, IngestResponse
from shared.erasure import parse_deletion
from shared.events import parse_event
from shared.ids import deletion_id, registration_id
from shared.rejections import KEPT_RETENTION, RejectionLog
from shared.tablestore import InMemoryTableStore
from shared.tracing import MemorySink, TraceContext, Tracer
from tests.unit.events.conftest import (
    NOW,
    OLD_TOKEN,
    TENANT,
    TOKEN,
    EventsHarness,
    body,
    cloud_event,
    headers,
)

CREATED_AT = datetime(2026, 11, 29, 15, 56, 1, 566000, tzinfo=UTC)
EVENT_TIME = datetime(2026, 11, 29, 15, 56, 1, 573000, tzinfo=UTC)


def post(harness: EventsHarness, payload: bytes, request_headers: dict[str, str]) -> IngestResponse:
    service: EventStreamService = harness.service
    return respond(lambda: service, IngestRequest(payload, request_headers))


@pytest.mark.parametrize("kind", ["user.created", "com.auth0.user.created"])
def test_a_creation_becomes_a_payload_v1_message_with_source_event_stream(
    events: EventsHarness, kind: str
) -> None:
    answer = post(events, body(cloud_event(kind)), headers())

    assert answer.status == 202
    (message,) = events.publisher.messages
    expected_id = registration_id(TENANT, "auth0|679fb1b1e809445f129bc18d", CREATED_AT)
    assert answer.body == {"id": expected_id, "status": "accepted"}
    assert message.message_id == expected_id
    assert message.subject == "user.registered"
    assert json.loads(message.body) == {
        "type": "user.registered",
        "schema_version": 1,
        "source": "event-stream",
        "tenant": {"id": TENANT},
        "connection": {"name": "Username-Password-Authentication", "strategy": "auth0"},
        "user": {
            "user_id": "auth0|679fb1b1e809445f129bc18d",
            "created_at": "2026-11-29T15:56:01.566Z",
            "email_verified": False,
        },  # SEND_FIELDS empty: nothing personal, as the Action's default
    }
    assert parse_event(message.body).user.created_at == CREATED_AT


def test_send_fields_selects_personal_fields_as_the_action_does() -> None:
    harness = EventsHarness(send_fields="email,phone_number")
    post(harness, body(cloud_event()), headers())
    user = json.loads(harness.publisher.messages[0].body)["user"]
    assert user["email"] == "nick@example.com"
    assert "name" not in user
    assert "identities" not in user


@pytest.mark.parametrize("kind", ["user.deleted", "com.auth0.user.deleted"])
def test_a_deletion_becomes_a_user_deleted_message_timed_by_the_event(
    events: EventsHarness, kind: str
) -> None:
    answer = post(
        events, body(cloud_event(kind)), headers(content_type="application/cloudevents+json")
    )

    assert answer.status == 202
    (message,) = events.publisher.messages
    assert message.subject == "user.deleted"
    assert message.message_id == deletion_id(TENANT, "auth0|679fb1b1e809445f129bc18d", EVENT_TIME)
    deletion = parse_deletion(message.body)
    assert deletion.deleted_at == EVENT_TIME
    assert deletion.user.user_id == "auth0|679fb1b1e809445f129bc18d"
    assert "email" not in message.body


def test_the_same_delivery_twice_has_one_message_id(events: EventsHarness) -> None:
    for _ in range(2):
        post(events, body(cloud_event()), headers())
    first, second = events.publisher.messages
    assert first.message_id == second.message_id


@pytest.mark.parametrize("kind", ["user.updated", "com.auth0.user.updated", "org.created"])
def test_other_types_are_acknowledged_and_ignored(events: EventsHarness, kind: str) -> None:
    answer = post(events, body(cloud_event(kind)), headers())
    assert (answer.status, answer.body) == (200, {"status": "ignored"})
    assert events.publisher.messages == []
    assert list(events.rejections.iter_all()) == []


@pytest.mark.parametrize(
    "request_headers",
    [
        headers(token=None),
        headers(token="wrong"),
        headers(token=""),
        {"content-type": "application/json", "authorization": f"Basic {TOKEN}"},
        {"content-type": "application/json", "authorization": TOKEN},
    ],
)
def test_a_missing_or_wrong_token_is_401_and_nothing_is_kept(
    events: EventsHarness, request_headers: dict[str, str]
) -> None:
    answer = post(events, body(cloud_event()), request_headers)
    assert answer.status == 401
    assert answer.content_type == "application/problem+json"
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert events.publisher.messages == []
    assert list(events.rejections.iter_all()) == []


def test_every_token_of_a_rotation_is_accepted(events: EventsHarness) -> None:
    for token in (TOKEN, OLD_TOKEN):
        assert post(events, body(cloud_event()), headers(token=token)).status == 202
    assert (
        post(
            events, body(cloud_event()), {**headers(), "authorization": f"bearer  {TOKEN} "}
        ).status
        == 202
    )


def test_other_media_types_are_415(events: EventsHarness) -> None:
    answer = post(events, body(cloud_event()), headers(content_type="text/plain"))
    assert answer.status == 415
    assert events.publisher.messages == []


@pytest.mark.parametrize(
    ("payload", "cause"),
    [
        (b"{not json", "body is not JSON"),
        (b"\xff\xfe", "body is not UTF-8 text"),
        (b"[1, 2]", "body is not a JSON object"),
        (b'{"type": "user.created", "time": NaN}', "body is not JSON"),
        (body({"time": "2026-11-29T15:56:01Z"}), "no type"),
        (body(cloud_event(user_id=None)), "no data.object.user_id"),
        (body({**cloud_event(), "data": {}}), "no data.object"),
        (body(cloud_event(created_at="yesterday")), "data.object.created_at"),
        (body(cloud_event(created_at="0001-01-01T00:00:00+01:00")), "data.object.created_at"),
        (body({**cloud_event("user.deleted"), "time": "soon"}), "time is not an ISO 8601"),
        (b" " * (256 * 1024 + 1), "body over 262144 bytes"),
        (body(cloud_event("user.deleted", user_id="auth0|\ud800")), "unpaired UTF-16 surrogate"),
        (body(cloud_event(user_id="auth0|\udfff")), "unpaired UTF-16 surrogate"),
    ],
)
def test_unusable_deliveries_are_answered_2xx_and_kept_with_their_cause(
    events: EventsHarness, payload: bytes, cause: str
) -> None:
    answer = post(events, payload, headers())

    assert answer.status == 202
    assert answer.body["status"] == "kept"
    assert cause in str(answer.body["reason"])
    assert events.publisher.messages == []
    (kept,) = events.rejections.iter_all()
    assert kept.rejection_id == answer.body["id"]
    assert cause in kept.cause
    assert kept.body == payload.decode("utf-8", "replace")[: 64 * 1024]


def test_a_kept_delivery_names_its_user_so_erasure_finds_it(events: EventsHarness) -> None:
    post(events, body(cloud_event(created_at="yesterday")), headers())
    post(events, body(cloud_event(created_at="yesterday", user_id="auth0|other")), headers())

    assert events.rejections.erase_user(TENANT, "auth0|679fb1b1e809445f129bc18d") == 1
    assert [kept.user_id for kept in events.rejections.iter_all()] == ["auth0|other"]


@pytest.mark.parametrize(("tokens", "tenant"), [([], TENANT), ([TOKEN], None)])
def test_missing_configuration_is_503_whatever_the_request(
    tokens: list[str], tenant: str | None
) -> None:
    harness = EventsHarness(tokens=tokens, tenant=tenant)
    answer = post(harness, body(cloud_event()), headers())
    assert answer.status == 503
    assert answer.headers["Retry-After"] == "5"


def test_queue_down_is_503_so_auth0_retries(events: EventsHarness) -> None:
    events.publisher.unavailable_for = 10
    answer = post(events, body(cloud_event()), headers())
    assert answer.status == 503
    assert events.publisher.attempts == 3
    assert list(events.rejections.iter_all()) == []


def test_the_callers_trace_is_continued_and_carried_by_the_message() -> None:
    sink = MemorySink()
    harness = EventsHarness()
    harness.service = replace(harness.service, tracer=Tracer(sink))
    caller = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"

    post(harness, body(cloud_event()), {**headers(), "traceparent": caller})

    delivery, publish = sorted(sink.spans, key=lambda span: span.name)
    assert delivery.name == "event-stream"
    assert delivery.context.trace_id == "a" * 32
    assert delivery.parent_span_id == "b" * 16
    assert delivery.attributes["outcome"] == "accepted"
    assert "email" not in json.dumps(delivery.attributes)
    (message,) = harness.publisher.messages
    carried = TraceContext.parse(message.application_properties["traceparent"])
    assert carried == publish.context
    assert message.application_properties["Diagnostic-Id"] == carried.traceparent


def test_kept_deliveries_expire_after_30_days_pruned_at_most_hourly() -> None:
    store = InMemoryTableStore()
    seconds = [0.0]
    log = RejectionLog(store, TENANT, monotonic=lambda: seconds[0])
    log.keep(b"old", "not JSON", NOW)
    later = NOW + KEPT_RETENTION + timedelta(minutes=1)

    log.keep(b"within the hour", "not JSON", later)
    assert len(store) == 2

    seconds[0] = 3601.0
    log.keep(b"next hour", "not JSON", later)
    assert sorted(kept.body for kept in log.iter_all()) == ["next hour", "within the hour"]


def test_created_at_is_sent_as_every_path_sends_it_utc_milliseconds(events: EventsHarness) -> None:
    post(events, body(cloud_event(created_at="2026-11-29T17:56:01.566789+02:00")), headers())

    (message,) = events.publisher.messages
    assert json.loads(message.body)["user"]["created_at"] == "2026-11-29T15:56:01.566Z"
    assert message.message_id == registration_id(
        TENANT, "auth0|679fb1b1e809445f129bc18d", "2026-11-29T15:56:01.566Z"
    )
