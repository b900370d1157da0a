"""Every row of the ingest table, through the real HTTP trigger with `func.HttpRequest`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.errors import InvalidEvent
from shared.events import parse_event
from shared.ids import registration_id
from tests.unit.pipeline.conftest import (
    BASE_EVENT,
    OTHER_SECRET,
    SAMPLES,
    PipelineHarness,
    body_of,
    event,
    http_request,
)


def answer(response) -> dict:
    return json.loads(response.get_body())


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_valid_event_is_accepted_and_enqueued_once(harness: PipelineHarness, name: str) -> None:
    document = SAMPLES[name]
    response = harness.post(http_request(body_of(document)))

    assert response.status_code == 202
    user = document["user"]
    expected_id = registration_id(document["tenant"]["id"], user["user_id"], user["created_at"])
    assert answer(response) == {"id": expected_id, "status": "accepted"}
    [message] = harness.publisher.messages
    assert message.message_id == expected_id
    assert message.subject == "user.registered"
    assert message.content_type == "application/json"
    assert message.application_properties["schema_version"] == 1
    assert message.application_properties["tenant"] == "acme-prod"
    assert message.application_properties["correlation_id"] == message.correlation_id
    assert response.headers["x-correlation-id"] == message.correlation_id
    # canonical JSON of the validated event: unknown fields dropped, same event back
    assert "some_future_field" not in message.body
    assert "transaction" not in message.body
    assert parse_event(message.body) == parse_event(body_of(document))


def test_duplicate_gets_the_same_id(harness: PipelineHarness) -> None:
    first = harness.post(http_request(body_of(BASE_EVENT)))
    second = harness.post(http_request(body_of(BASE_EVENT)))
    assert first.status_code == second.status_code == 202
    assert answer(first)["id"] == answer(second)["id"]
    assert harness.publisher.messages[0].message_id == harness.publisher.messages[1].message_id


def test_incoming_correlation_id_is_kept(harness: PipelineHarness) -> None:
    request = http_request(body_of(BASE_EVENT), headers={"x-correlation-id": "order-1234-abcd"})
    response = harness.post(request)
    assert response.headers["x-correlation-id"] == "order-1234-abcd"
    assert (
        harness.publisher.messages[0].application_properties["correlation_id"] == "order-1234-abcd"
    )


def test_traceparent_trace_id_becomes_the_correlation_id(harness: PipelineHarness) -> None:
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    request = http_request(
        body_of(BASE_EVENT), headers={"traceparent": f"00-{trace}-00f067aa0ba902b7-01"}
    )
    assert harness.post(request).headers["x-correlation-id"] == trace


def test_malformed_correlation_header_is_replaced(harness: PipelineHarness) -> None:
    request = http_request(body_of(BASE_EVENT), headers={"x-correlation-id": "ana@example.com\n"})
    correlation = harness.post(request).headers["x-correlation-id"]
    assert "@" not in correlation
    assert len(correlation) == 32


def test_announced_oversize_body_is_413_before_anything_else(harness: PipelineHarness) -> None:
    request = http_request(
        b"{}", sign=False, content_type="text/plain", headers={"content-length": str(64 * 1024 + 1)}
    )
    response = harness.post(request)
    assert response.status_code == 413
    assert harness.publisher.messages == []


def test_actual_oversize_body_is_413(harness: PipelineHarness) -> None:
    document = event(user_metadata={"blob": "x" * (64 * 1024)})
    request = http_request(body_of(document), headers={"content-length": "10"})
    assert harness.post(request).status_code == 413
    assert harness.publisher.messages == []


def test_body_at_the_limit_is_accepted(harness: PipelineHarness) -> None:
    padding = 64 * 1024 - len(body_of(event(user_metadata={"blob": ""})))
    document = event(user_metadata={"blob": "x" * padding})
    assert len(body_of(document)) == 64 * 1024
    assert harness.post(http_request(body_of(document))).status_code == 202


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_not_json_is_415(harness: PipelineHarness, content_type: str) -> None:
    response = harness.post(http_request(body_of(BASE_EVENT), content_type=content_type))
    assert response.status_code == 415
    assert harness.publisher.messages == []


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON"])
def test_json_with_parameters_or_any_case_is_accepted(harness, content_type: str) -> None:
    assert (
        harness.post(http_request(body_of(BASE_EVENT), content_type=content_type)).status_code
        == 202
    )


def test_missing_signature_is_401(harness: PipelineHarness) -> None:
    response = harness.post(http_request(body_of(BASE_EVENT), sign=False))
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert harness.publisher.messages == []


def test_wrong_secret_is_401(harness: PipelineHarness) -> None:
    assert harness.post(http_request(body_of(BASE_EVENT), secret=OTHER_SECRET)).status_code == 401


def test_tampered_body_is_401(harness: PipelineHarness) -> None:
    request = http_request(body_of(BASE_EVENT))
    tampered = body_of(event(email="mallory@example.com"))
    headers = dict(request.headers) | {"content-length": str(len(tampered))}
    forged = http_request(tampered, sign=False, headers=headers)
    assert harness.post(forged).status_code == 401


@pytest.mark.parametrize("skew", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_stale_or_future_signature_is_401(harness: PipelineHarness, skew: timedelta) -> None:
    request = http_request(body_of(BASE_EVENT), timestamp=datetime.now(UTC) + skew)
    assert harness.post(request).status_code == 401


def test_garbage_signature_header_is_401_not_500(harness: PipelineHarness) -> None:
    request = http_request(body_of(BASE_EVENT), headers={"webhook-signature": "v1,!!notbase64"})
    assert harness.post(request).status_code == 401
    request = http_request(body_of(BASE_EVENT), headers={"webhook-signature": "nocomma"})
    assert harness.post(request).status_code == 401


def test_any_of_several_rotation_secrets_verifies(harness: PipelineHarness) -> None:
    from shared.signing import SignatureVerifier
    from tests.unit.pipeline.conftest import SECRET

    harness.ingest_service._verifier = SignatureVerifier([OTHER_SECRET, SECRET])
    assert harness.post(http_request(body_of(BASE_EVENT), secret=SECRET)).status_code == 202
    assert harness.post(http_request(body_of(BASE_EVENT), secret=OTHER_SECRET)).status_code == 202


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({**BASE_EVENT, "type": "user.deleted"}, "type"),
        ({k: v for k, v in BASE_EVENT.items() if k != "schema_version"}, "schema_version"),
        ({**BASE_EVENT, "schema_version": "1"}, "schema_version"),
        ({**BASE_EVENT, "tenant": {}}, "tenant.id"),
        (event(user_id=None), "user.user_id"),
        (event(user_id=""), "user.user_id"),
        (event(created_at=None), "user.created_at"),
        (event(created_at="yesterday"), "user.created_at"),
        (event(created_at="2026-11-26T03:00:00"), "user.created_at"),
        (event(created_at=1764126000), "user.created_at"),
        (event(email=42), "user.email"),
        (event(email_verified="yes"), "user.email_verified"),
    ],
)
def test_schema_violation_is_400_naming_the_field(harness, document, field: str) -> None:
    response = harness.post(http_request(body_of(document)))
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    problem = answer(response)
    assert field in [error["field"] for error in problem["errors"]]
    assert "correlation_id" in problem
    assert harness.publisher.messages == []


def test_400_never_echoes_personal_data(harness: PipelineHarness) -> None:
    document = event(
        email=["ana.silva@example.com"],
        phone_number={"n": "+5511987654321"},
        name=12345678,
        created_at="ana.silva@example.com",
    )
    text = harness.post(http_request(body_of(document))).get_body().decode()
    for secret in ("ana.silva", "5511987654321", "12345678"):
        assert secret not in text


def test_unknown_schema_version_is_400_with_a_clear_message(harness: PipelineHarness) -> None:
    response = harness.post(http_request(body_of({**BASE_EVENT, "schema_version": 2})))
    assert response.status_code == 400
    problem = answer(response)
    assert problem["errors"][0]["field"] == "schema_version"
    assert "newer than this service understands" in problem["detail"]


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'"text"', b"\xff\xfe{}", b"[" * 5000])
def test_malformed_json_is_400(harness: PipelineHarness, body: bytes) -> None:
    request = http_request(body, sign=False)
    if body.isascii():  # signable: prove the 400 is about the body, not the signature
        request = http_request(body)
    response = harness.post(request)
    assert response.status_code == 400
    assert answer(response)["errors"][0]["field"] == "body"


def test_lone_surrogate_is_400(harness: PipelineHarness) -> None:
    body = body_of(BASE_EVENT).replace(b"Ana Silva", b"Ana \\ud800")
    response = harness.post(http_request(body))
    assert response.status_code == 400
    assert answer(response)["errors"][0]["field"] == "user.name"


def test_queue_down_briefly_is_retried_then_accepted(harness: PipelineHarness) -> None:
    harness.publisher.unavailable_for = 2
    assert harness.post(http_request(body_of(BASE_EVENT))).status_code == 202
    assert harness.publisher.attempts == 3
    assert len(harness.sleeps) == 2


def test_queue_unreachable_is_503_with_retry_after(harness: PipelineHarness) -> None:
    harness.publisher.unavailable_for = 100
    response = harness.post(http_request(body_of(BASE_EVENT)))
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert harness.publisher.messages == []
    assert harness.publisher.attempts == 4  # the policy's attempts, no more


def test_unexpected_error_is_500_with_correlation_id_only(harness, caplog) -> None:
    def explode(message):
        raise RuntimeError("secret internals: ana.silva@example.com")

    harness.publisher.publish = explode
    response = harness.post(http_request(body_of(BASE_EVENT)))
    assert response.status_code == 500
    problem = answer(response)
    assert problem["correlation_id"] == response.headers["x-correlation-id"]
    assert "internals" not in response.get_body().decode()
    assert "RuntimeError" in caplog.text  # the details are in the logs


@pytest.mark.parametrize(
    "secret",
    ["", "##WEBHOOK_SECRET##", "@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/w/)",
     "whsec_c2hvcnQ=", "whsec_not*base64*at*all*but*long*enough*to*pass*a*length*check"],
)  # fmt: skip
def test_an_unusable_webhook_secret_is_503_logged_once(harness, secret: str, caplog) -> None:
    from pydantic import SecretStr

    from shared.runtime import AppContext, set_context
    from shared.settings import Settings

    caplog.set_level("INFO")
    context = AppContext(Settings(WEBHOOK_SECRET=SecretStr(secret)))
    context.publisher = harness.publisher
    set_context(context)
    responses = [harness.post(http_request(body_of(BASE_EVENT))) for _ in range(3)]
    assert {response.status_code for response in responses} == {503}
    assert responses[0].mimetype == "application/problem+json"
    assert "secret" not in responses[0].get_body().decode().lower()
    assert harness.publisher.messages == []
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1  # the configuration error, once; request lines are warnings
    assert "WEBHOOK_SECRET" in errors[0].getMessage()


def test_one_structured_log_line_without_personal_data(harness: PipelineHarness, caplog) -> None:
    caplog.set_level("INFO", logger="ingest")
    harness.post(http_request(body_of(BASE_EVENT)))
    [line] = [json.loads(r.getMessage()) for r in caplog.records if r.name == "ingest"]
    assert line["status"] == 202
    assert line["outcome"] == "accepted"
    assert {"message_id", "correlation_id", "duration_ms"} <= set(line)
    assert "ana" not in caplog.text.lower()


def test_parse_event_errors_are_invalid_event() -> None:
    with pytest.raises(InvalidEvent):
        parse_event(b"{}")
