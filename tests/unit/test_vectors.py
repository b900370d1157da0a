"""Cross-language vectors (tests/vectors/webhooks.json, made by auth0/scripts/generate-vectors.js).

The Auth0 Action signs in JavaScript; the ingest verifies in Python. These tests hold the
Python side to the same bytes: the `standardwebhooks` package and the ingest's
`shared.signing.SignatureVerifier` accept every signature the Action made,
`shared.ids.registration_id` gives the Action's ids, and every body the Action sends parses
as payload v1 with the id it was sent under.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
import standardwebhooks.webhooks as webhooks_module
from standardwebhooks import Webhook, WebhookVerificationError

from shared.errors import SignatureError
from shared.events import parse_event
from shared.ids import registration_id
from shared.signing import SignatureVerifier, signed_headers

VECTORS_PATH = Path(__file__).resolve().parents[1] / "vectors" / "webhooks.json"
VECTORS: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
SIGNATURES: list[dict[str, Any]] = VECTORS["signatures"]
REGISTRATION_IDS: list[dict[str, str]] = VECTORS["registration_ids"]


def _signature_id(vector: dict[str, Any]) -> str:
    return f"{vector['msg_id']}@{vector['timestamp']}"


def _id_id(vector: dict[str, str]) -> str:
    return vector["user_id"][:40]


def _headers(vector: dict[str, Any]) -> dict[str, str]:
    return {
        "webhook-id": vector["msg_id"],
        "webhook-timestamp": str(vector["timestamp"]),
        "webhook-signature": vector["signature"],
    }


class _FrozenDatetime(datetime):
    """`datetime` whose `now()` is fixed, so a vector's timestamp is inside the tolerance."""

    frozen: ClassVar[datetime]

    @classmethod
    def now(cls, tz: Any = None) -> Any:
        return cls.frozen


Clock = Callable[[datetime], None]


@pytest.fixture
def clock_at(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Set the clock `standardwebhooks` verifies against."""

    def set_clock(moment: datetime) -> None:
        _FrozenDatetime.frozen = moment
        monkeypatch.setattr(webhooks_module, "datetime", _FrozenDatetime)

    return set_clock


def test_vectors_cover_the_odd_cases() -> None:
    assert len(SIGNATURES) >= 7
    assert any(not vector["body"].isascii() for vector in SIGNATURES)
    user_ids = {vector["user_id"] for vector in REGISTRATION_IDS}
    assert {"samlp|acme|jdoe", "auth0|a/b#c?d", "custom|😀"} <= user_ids


@pytest.mark.parametrize("vector", SIGNATURES, ids=_signature_id)
def test_python_signs_the_same_bytes(vector: dict[str, Any]) -> None:
    timestamp = datetime.fromtimestamp(vector["timestamp"], tz=UTC)
    signed = Webhook(vector["secret"]).sign(vector["msg_id"], timestamp, vector["body"])
    assert signed == vector["signature"]


@pytest.mark.parametrize("vector", SIGNATURES, ids=_signature_id)
def test_python_verifies_the_actions_signature(vector: dict[str, Any], clock_at: Clock) -> None:
    # Given the moment the Action sent it (plus the network's seconds)
    clock_at(datetime.fromtimestamp(vector["timestamp"] + 3, tz=UTC))
    # When the ingest's library verifies the UTF-8 body bytes
    document = Webhook(vector["secret"]).verify(vector["body"].encode("utf-8"), _headers(vector))
    # Then it accepts them and reads the same JSON
    assert document == json.loads(vector["body"])


@pytest.mark.parametrize("vector", SIGNATURES[:2], ids=_signature_id)
def test_a_stale_or_altered_delivery_is_refused(vector: dict[str, Any], clock_at: Clock) -> None:
    sent_at = datetime.fromtimestamp(vector["timestamp"], tz=UTC)
    clock_at(sent_at + timedelta(minutes=5, seconds=1))
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(vector["secret"]).verify(vector["body"], _headers(vector))
    clock_at(sent_at)
    altered = vector["body"].replace('"schema_version":1', '"schema_version":1 ')
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(vector["secret"]).verify(altered, _headers(vector))
    other_id = {**_headers(vector), "webhook-id": "reg_" + "0" * 32}
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(vector["secret"]).verify(vector["body"], other_id)


@pytest.mark.parametrize("vector", SIGNATURES, ids=_signature_id)
def test_the_ingest_verifier_accepts_the_action_during_a_rotation(
    vector: dict[str, Any], clock_at: Clock
) -> None:
    clock_at(datetime.fromtimestamp(vector["timestamp"], tz=UTC))
    other = "whsec_" + "QUJD" * 8
    # Given the old secret first and the Action's secret second, as during a rotation
    SignatureVerifier([other, vector["secret"]]).verify(vector["body"], _headers(vector))
    # Then without the Action's secret the same request is refused
    with pytest.raises(SignatureError):
        SignatureVerifier([other]).verify(vector["body"], _headers(vector))


@pytest.mark.parametrize("vector", SIGNATURES, ids=_signature_id)
def test_the_python_signer_makes_the_actions_headers(vector: dict[str, Any]) -> None:
    moment = datetime.fromtimestamp(vector["timestamp"], tz=UTC)
    headers = signed_headers(vector["body"], vector["secret"], vector["msg_id"], moment)
    assert headers == _headers(vector)


@pytest.mark.parametrize("vector", REGISTRATION_IDS, ids=_id_id)
def test_registration_id_matches_the_action(vector: dict[str, str]) -> None:
    assert registration_id(vector["tenant_id"], vector["user_id"]) == vector["registration_id"]


@pytest.mark.parametrize("vector", SIGNATURES, ids=_signature_id)
def test_each_body_is_payload_v1_under_its_registration_id(vector: dict[str, Any]) -> None:
    event = parse_event(vector["body"].encode("utf-8"))
    assert event.schema_version == 1
    assert registration_id(event.tenant_id, event.user_id) == vector["msg_id"]
