"""SEND_FIELDS and the user fields payload v1 takes: one module for the reconciler and events."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from events.payload import registration_payload as event_stream_payload
from reconciler.mapping import registration_payload as reconcile_payload
from shared import send_fields
from shared.send_fields import FieldSelection, parse_send_fields, signup_connection, user_fields

ACTION_PAYLOAD_JS = Path(__file__).parents[3] / "auth0" / "src" / "payload.js"
USER = {
    "user_id": "google-oauth2|1029",
    "created_at": "2026-11-26T03:00:00.123Z",
    "updated_at": "2026-11-27T03:00:00.000Z",
    "email": "ana@example.com",
    "email_verified": True,
    "phone_number": None,
    "name": "Ana",
    "user_metadata": {"plan": "pro"},
    "logins_count": 4,
    "last_ip": "203.0.113.9",
    "identities": [{"connection": "google-oauth2", "provider": "google-oauth2", "isSocial": True}],
}


def _js_array(name: str) -> tuple[str, ...]:
    source = ACTION_PAYLOAD_JS.read_text(encoding="utf-8")
    found = re.search(rf"const {name} = \[(.*?)\];", source, re.DOTALL)
    assert found is not None, f"{name} not found in {ACTION_PAYLOAD_JS.name}"
    return tuple(re.findall(r"'([a-z_]+)'", found.group(1)))


@pytest.mark.parametrize(
    "name", ["ALWAYS_USER_FIELDS", "OPTIONAL_USER_FIELDS", "OPTIONAL_REQUEST_FIELDS"]
)
def test_the_names_are_the_actions(name: str) -> None:
    assert getattr(send_fields, name) == _js_array(name)


@pytest.mark.parametrize(
    ("value", "fields", "unknown"),
    [
        (None, set(), ()),
        ("", set(), ()),
        ("none", set(), ()),
        ("email, name", {"email", "name"}, ()),
        ("email,,phone_number  ip", {"email", "phone_number", "ip"}, ()),
        ("email password none", {"email"}, ("password",)),
    ],
)
def test_send_fields_parse_as_the_actions_secret(
    value: str | None, fields: set[str], unknown: tuple[str, ...]
) -> None:
    assert parse_send_fields(value) == FieldSelection(frozenset(fields), unknown)


def test_all_selects_every_optional_field() -> None:
    assert parse_send_fields("all").fields == frozenset(send_fields.OPTIONAL_FIELDS)


def test_only_the_required_neutral_and_selected_fields_are_taken() -> None:
    assert user_fields(USER, frozenset()) == {
        "user_id": "google-oauth2|1029",
        "created_at": "2026-11-26T03:00:00.123Z",
        "email_verified": True,
    }
    chosen = user_fields(USER, parse_send_fields("email phone_number ip").fields)
    assert chosen["email"] == "ana@example.com"
    assert "phone_number" not in chosen  # null: left out
    assert {"name", "updated_at", "logins_count", "last_ip", "identities"}.isdisjoint(chosen)


@pytest.mark.parametrize(
    ("identities", "connection"),
    [
        ([{"connection": "google-oauth2", "provider": "google-oauth2"}],
         {"name": "google-oauth2", "strategy": "google-oauth2"}),
        ([{"connection": "db", "provider": ""}, {"connection": "linked", "provider": "x"}],
         {"name": "db"}),
        ([], {}),
        (None, {}),
        (["not an object"], {}),
    ],
)  # fmt: skip
def test_the_connection_is_the_first_identitys(identities: object, connection: dict) -> None:
    assert signup_connection({"identities": identities}) == connection


def test_the_reconciler_and_event_streams_carry_the_same_user() -> None:
    selected = parse_send_fields("all").fields
    reconciled = reconcile_payload(USER, "acme", selected)
    streamed = event_stream_payload(USER, "acme", selected)
    assert reconciled["user"] == streamed["user"]
    assert reconciled["connection"] == streamed["connection"]
    assert (reconciled["source"], streamed["source"]) == ("reconcile", "event-stream")
