"""Every malformed value is a 400 that names a schema field (issue 12), never a 500.

Each case failed on the code before it: an OverflowError, a `user.user_metadata.<key>`
path echoing a sender's key, `NaN` accepted as a number, a 500 from an unencodable answer.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.pipeline.conftest import BASE_EVENT, PipelineHarness, event, http_request

EMAIL_KEY = "zoe.key@example.org"  # not in BASE_EVENT, so replace() hits the key only


def answer(response: Any) -> dict[str, Any]:
    body = response.get_body()
    body.decode("ascii")  # always encodable, whatever the request held
    return json.loads(body)


def post_text(harness: PipelineHarness, text: str) -> Any:
    return harness.post(http_request(text.encode("utf-8")))


def raw(document: dict[str, Any]) -> str:
    return json.dumps(document)


@pytest.mark.parametrize(
    "created_at",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:30:00-01:00", "2026-11-26 03:00:00Z",
     "2026-11-26T03:00:00.000+24:00", "20261126T030000Z"],
)  # fmt: skip
def test_a_created_at_outside_utc_or_rfc3339_is_400(harness: PipelineHarness, created_at) -> None:
    response = harness.post(http_request(raw(event(created_at=created_at)).encode()))
    assert response.status_code == 400
    assert [e["field"] for e in answer(response)["errors"]] == ["user.created_at"]
    assert harness.publisher.messages == []


@pytest.mark.parametrize(
    ("text", "field"),
    [
        # a lone surrogate in a metadata key that is itself personal data
        (raw(event(user_metadata={EMAIL_KEY: "x"})).replace(EMAIL_KEY, EMAIL_KEY + "\\ud800"),
         "user.user_metadata"),
        # ... in a value under such a key, nested
        (raw(event(app_metadata={EMAIL_KEY: {"a": "\udc00"}})), "user.app_metadata"),
        # ... in an unknown top-level key, and in a known field
        (raw({**BASE_EVENT, EMAIL_KEY: 1}).replace(EMAIL_KEY, "\\udfff" + EMAIL_KEY), "body"),
        (raw(event(nickname="\ud83d")), "user.nickname"),
        (raw({**BASE_EVENT, "tenant": {"id": "acme\udbff"}}), "tenant.id"),
    ],
)  # fmt: skip
def test_lone_surrogates_are_400_naming_schema_fields_only(
    harness: PipelineHarness, text: str, field: str
) -> None:
    response = post_text(harness, text)
    assert response.status_code == 400
    problem = answer(response)
    assert [e["field"] for e in problem["errors"]] == [field]
    assert EMAIL_KEY not in response.get_body().decode("ascii")


def test_too_deep_metadata_names_the_field_not_the_keys(harness: PipelineHarness) -> None:
    nested: dict[str, Any] = {}
    for _ in range(40):
        nested = {EMAIL_KEY: nested}
    response = harness.post(http_request(raw(event(user_metadata=nested)).encode()))
    assert response.status_code == 400
    assert [e["field"] for e in answer(response)["errors"]] == ["user.user_metadata"]
    assert EMAIL_KEY not in response.get_body().decode("ascii")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
def test_non_json_numbers_are_400(harness: PipelineHarness, literal: str) -> None:
    text = raw(event(user_metadata={"score": 0})).replace('"score": 0', f'"score": {literal}')
    response = post_text(harness, text)
    assert response.status_code == 400
    assert answer(response)["errors"][0]["field"] == "body"
    assert harness.publisher.messages == []


def test_an_integer_too_long_to_convert_is_400(harness: PipelineHarness) -> None:
    text = raw(BASE_EVENT).replace('"schema_version": 1', '"schema_version": ' + "9" * 5000)
    response = post_text(harness, text)
    assert response.status_code == 400
    assert answer(response)["errors"][0]["field"] == "body"


def test_source_is_optional_and_checked(harness: PipelineHarness) -> None:
    for source in ("action", "first-login", "event-stream", "reconcile"):
        document = {**BASE_EVENT, "source": source}
        assert harness.post(http_request(raw(document).encode())).status_code == 202
    response = harness.post(http_request(raw({**BASE_EVENT, "source": "mail"}).encode()))
    assert response.status_code == 400
    assert [e["field"] for e in answer(response)["errors"]] == ["source"]
