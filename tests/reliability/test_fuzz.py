"""Hypothesis against the real ingest over HTTP: never a 5xx, and what is accepted is stored once.

Inputs are valid events with random mutations (fields replaced by arbitrary
JSON, removed, unknown ones added), or raw bytes; signed correctly most of
the time, sometimes stale or unsigned; with assorted content types. Every
answer must be below 500; every 202 is in the ledger and must end up in the
table exactly once.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.ids import registration_id
from tests.reliability.pipeline import Ledger, SignedClient, http_post, new_event

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
PATHS = [
    ("type",), ("schema_version",), ("tenant",), ("tenant", "id"), ("user",),
    ("user", "user_id"), ("user", "created_at"), ("user", "email"), ("user", "phone_number"),
    ("user", "email_verified"), ("user", "user_metadata"), ("user", "app_metadata"),
    ("connection",), ("connection", "name"), ("request",), ("request", "ip"),
]  # fmt: skip
USER_IDS = st.text(min_size=1, max_size=60) | st.sampled_from(
    ["auth0|x", "google-oauth2|1029", "samlp|acme|jdoe", "sms|+15550100", "a/b\\c#d?e", "ü|ñ|漢"]
)
CONTENT_TYPES = st.sampled_from(
    ["application/json"] * 6
    + ["application/json; charset=utf-8", "text/plain", "", "APPLICATION/JSON"]
)
SIGNING = st.sampled_from(["valid"] * 8 + ["stale", "none"])


@st.composite
def mutated_events(draw) -> dict:
    event = new_event(draw(USER_IDS), tenant_id=draw(st.sampled_from(["t1", "acme-prod", "ü"])))
    event["user"]["user_id"] = f"{event['user']['user_id']}#{uuid.uuid4().hex[:6]}"
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(PATHS))
        parent: object = event
        for part in path[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        if draw(st.booleans()):
            parent[path[-1]] = draw(JSON_VALUES)
        else:
            parent.pop(path[-1], None)
    if draw(st.booleans()):
        event[draw(st.text(min_size=1, max_size=12))] = draw(JSON_VALUES)
    return event


REQUESTS = st.tuples(
    st.one_of(mutated_events(), mutated_events(), st.binary(max_size=300)),
    CONTENT_TYPES,
    SIGNING,
)


def webhook_id(payload: Any) -> str:
    """The id the Action would sign with; a random one when the fuzzed payload has no usable id."""
    try:
        user = payload["user"]
        return registration_id(payload["tenant"]["id"], user["user_id"], user["created_at"])
    except (TypeError, KeyError, AttributeError, ValueError):
        return f"msg_{uuid.uuid4().hex}"


def fuzz_ingest(stack, figures, examples: int) -> None:
    client = SignedClient.for_stack(stack)
    ledger = Ledger()
    server_errors: list[str] = []

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(REQUESTS)
    def post_one(request) -> None:
        payload, content_type, signing = request
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"content-type": content_type, "x-functions-key": client.function_key}
        if signing != "none":
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            if text is not None:
                moment = datetime.now(UTC) - timedelta(minutes=10 if signing == "stale" else 0)
                headers |= client.headers(text, webhook_id(payload), moment)
                headers["content-type"] = content_type
        answer = http_post(client.url, body, headers)
        figures.add(inputs=1)
        if answer.status >= 500 or answer.status == 0:
            figures.add(server_errors=int(answer.status >= 500))
            server_errors.append(f"{answer.status}: {body[:200]!r}")
        assert 0 < answer.status < 500, f"{answer.status} for {body[:300]!r}"
        if answer.status == 202:
            assert isinstance(payload, dict)
            ledger.record(payload, answer)

    post_one()
    assert not server_errors
    ledger.verify(stack, figures, timeout=60)


def test_fuzz_ingest_short(fault_stack, figures):
    fuzz_ingest(fault_stack(), figures, examples=150)


@pytest.mark.slow
def test_fuzz_ingest_long(fault_stack, figures):
    fuzz_ingest(fault_stack(), figures, examples=2000)
