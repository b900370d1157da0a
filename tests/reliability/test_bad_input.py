"""A corpus of bad input against the real ingest: never a 5xx, never enqueued.

Each case is POSTed to the local host running the real function_app. Most
are signed correctly, so the body itself is what is judged. Afterwards the
queue, the dead-letter queue and the table must be empty and the processor
must never have been invoked. Controls (valid requests in unusual clothes)
are accepted and must then be stored exactly once.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.ids import registration_id
from shared.signing import signed_headers
from tests.reliability.pipeline import (
    Ledger,
    SignedClient,
    audit_table,
    http_post,
    new_event,
    queue_depth,
)

NOT_JSON = "text/plain"


@dataclass(frozen=True)
class Case:
    """One request: the body, how it is signed and sent, and the answers allowed."""

    name: str
    body: bytes
    expected: frozenset[int]
    content_type: str | None = "application/json"
    sign: str = "valid"  # valid | none | wrong-secret | stale | future | other-body | garbage
    key: str = "valid"  # valid | none | wrong | query
    extra_headers: dict[str, str] = field(default_factory=dict)
    event: dict | None = None  # set for controls that may be accepted


def event_body(mutate=None, **user) -> bytes:
    event = new_event(**user)
    if mutate:
        mutate(event)
    return json.dumps(event).encode()


def deep(levels: int) -> str:
    """`{"a": {"a": ... {}}}` as text (json.dumps itself would overflow the stack)."""
    return '{"a": ' * levels + "{}" + "}" * levels


def nested_metadata_body(levels: int) -> bytes:
    text = json.dumps(new_event(user_metadata={"marker": 1}))
    return text.replace('{"marker": 1}', deep(levels)).encode()


BAD_400, BAD_401, BAD_413, BAD_415 = (frozenset({s}) for s in (400, 401, 413, 415))


def corpus() -> list[Case]:
    cases = [
        # malformed JSON
        *(
            Case(f"malformed {raw[:20]!r}", raw, BAD_400)
            for raw in (
                b"",
                b"{",
                b'{"type":',
                b"not json",
                b"{}}",
                b"[1,2",
                b"{'a': 1}",
                b'{"a": 1,}',
                b'{"a": NaN}',
                b"\x00",
                b'{"a": "\\x41"}',
                b'{"a": "\\ud800"}',
                b'"\\uDFFF"',
            )
        ),
        # not an object
        *(
            Case(f"top-level {raw!r}", raw, BAD_400)
            for raw in (b"null", b"[]", b"42", b'"user.registered"', b"true", b"1e999")
        ),
        # deeply nested
        Case("nested arrays 30k", b"[" * 30000 + b"]" * 30000, BAD_400),
        Case("nested objects 5k", deep(5000).encode(), BAD_400),
        Case("nested user_metadata 5k", nested_metadata_body(5000), BAD_400),
        Case("nested user_metadata 40", nested_metadata_body(40), BAD_400),
        # wrong types and missing fields
        *(
            Case(f"wrong type {name}", event_body(mutate), BAD_400)
            for name, mutate in {
                "user_id int": lambda e: e["user"].update(user_id=123),
                "user_id null": lambda e: e["user"].update(user_id=None),
                "user_id empty": lambda e: e["user"].update(user_id=""),
                "user_id 5000 chars": lambda e: e["user"].update(user_id="x" * 5000),
                "created_at epoch": lambda e: e["user"].update(created_at=1700000000),
                "created_at words": lambda e: e["user"].update(created_at="yesterday"),
                "created_at no zone": lambda e: e["user"].update(created_at="2026-01-01T00:00:00"),
                "schema_version text": lambda e: e.update(schema_version="1"),
                "schema_version 2": lambda e: e.update(schema_version=2),
                "schema_version float": lambda e: e.update(schema_version=1.5),
                "schema_version bool": lambda e: e.update(schema_version=True),
                "type other": lambda e: e.update(type="user.deleted"),
                "tenant string": lambda e: e.update(tenant="acme"),
                "tenant id list": lambda e: e.update(tenant={"id": []}),
                "user list": lambda e: e.update(user=[]),
                "email number": lambda e: e["user"].update(email=5),
                "email_verified text": lambda e: e["user"].update(email_verified="yes"),
                "user_metadata text": lambda e: e["user"].update(user_metadata="{}"),
                "no tenant": lambda e: e.pop("tenant"),
                "no user": lambda e: e.pop("user"),
                "no type": lambda e: e.pop("type"),
                "no created_at": lambda e: e["user"].pop("created_at"),
            }.items()
        ),
        # invalid UTF-8 (cannot be signed as text: unsigned, refused before the signature)
        *(
            Case(f"invalid utf-8 {raw!r}", raw, BAD_400, sign="none")
            for raw in (
                b'{"type": "\xff\xfe"}',
                b'{"a": "\x80"}',
                b'{"a": "\xc0\xaf"}',
                b'{"a": "\xed\xa0\x80"}',
                b'{"a": "\xf4\x90\x80\x80"}',
                b"\xef\xbb\xbf\xff",
            )
        ),
        # huge
        Case("body 70 KiB", event_body(nickname="n" * 70_000), BAD_413),
        # Under FUNCTIONS_REQUEST_BODY_SIZE_LIMIT (512 KiB): bigger bodies never reach ingest,
        # the host refuses them as Azure does (tests/integration/host/test_http.py).
        Case("body 200 KiB of spaces", b" " * (200 * 1024), BAD_413),
        # signatures
        *(
            Case(f"signature {how}", event_body(), BAD_401, sign=how)
            for how in (
                "none",
                "wrong-secret",
                "stale",
                "future",
                "other-body",
                "garbage",
                "bad-timestamp",
            )
        ),
        # content types
        *(
            Case(f"content-type {ct}", event_body(), BAD_415, content_type=ct)
            for ct in (
                NOT_JSON,
                "application/x-www-form-urlencoded",
                "multipart/form-data",
                "application/jsonp",
                "application/json-patch+json",
                "",
            )
        ),
        # function key
        Case("no function key", event_body(), BAD_401, key="none"),
        Case("wrong function key", event_body(), BAD_401, key="wrong"),
    ]
    controls: list[tuple[str, dict[str, Any]]] = [
        ("control: charset parameter", {"content_type": "application/json; charset=utf-8"}),
        ("control: key as ?code=", {"key": "query"}),
        ("control: unknown fields", {}),
    ]
    for name, options in controls:
        event = new_event()
        event["future_field"] = {"nested": [1, 2, 3]}
        cases.append(
            Case(name, json.dumps(event).encode(), frozenset({202}), event=event, **options)
        )
    return cases


def headers_for(case: Case, client: SignedClient) -> dict[str, str]:
    headers: dict[str, str] = {}
    if case.content_type is not None:
        headers["content-type"] = case.content_type
    if case.key == "valid":
        headers["x-functions-key"] = client.function_key
    elif case.key == "wrong":
        headers["x-functions-key"] = "not-the-key"
    if case.sign == "none":
        return headers | case.extra_headers
    text = case.body.decode("utf-8")
    webhook_id = f"msg_{uuid.uuid4().hex}"
    if case.event is not None:
        tenant, user = case.event["tenant"], case.event["user"]
        webhook_id = registration_id(tenant["id"], user["user_id"], user["created_at"])
    secret = client.secret
    moment = datetime.now(UTC)
    if case.sign == "wrong-secret":
        secret = "whsec_" + "QUJD" * 8
    elif case.sign == "stale":
        moment -= timedelta(minutes=10)
    elif case.sign == "future":
        moment += timedelta(minutes=10)
    elif case.sign == "other-body":
        text = text + " "
    signed = signed_headers(text, secret, webhook_id, moment)
    if case.sign == "garbage":
        signed["webhook-signature"] = "v1,!!!not-base64!!!"
    elif case.sign == "bad-timestamp":
        signed["webhook-timestamp"] = "soon"
    return headers | signed | case.extra_headers


def other_method(stack, method: str) -> int:
    request = urllib.request.Request(  # noqa: S310 (a local URL)
        stack.ingest_url, data=None if method == "GET" else b"{}", method=method,
        headers={"x-functions-key": stack.function_key, "content-type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_bad_input_corpus_never_5xx_never_enqueued(fault_stack, figures):
    stack = fault_stack()
    client = SignedClient.for_stack(stack)
    ledger = Ledger()
    wrong: list[str] = []
    cases = corpus()
    for case in cases:
        url = stack.ingest_url + (f"?code={client.function_key}" if case.key == "query" else "")
        answer = http_post(url, case.body, headers_for(case, client))
        if case.event is not None:
            ledger.record(case.event, answer)
        if answer.status >= 500:
            figures.add(server_errors=1)
        if answer.status not in case.expected:
            wrong.append(f"{case.name}: {answer.status} (expected {sorted(case.expected)})")
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        status = other_method(stack, method)
        figures.add(server_errors=int(status >= 500))
        if not 400 <= status < 500:
            wrong.append(f"{method}: {status} (expected a 4xx)")
    figures.add(inputs=len(cases) + 4)
    assert not wrong, "\n".join(wrong)
    # Then only the controls reached the table, each exactly once, and nothing else is queued
    ledger.verify(stack, figures, timeout=30)
    time.sleep(1.0)
    assert queue_depth(stack) == 0
    assert queue_depth(stack, dead_letters=True) == 0
    invoked = [
        line for line in stack.host_log_lines()
        if line.get("message") == "invocation" and line.get("trigger") == "servicebus"
    ]  # fmt: skip
    assert len(invoked) == len(ledger.accepted), "only the controls may reach the processor"
    assert len(audit_table(stack).main) == len(ledger.accepted)
