"""Cross-language vectors (tests/vectors/webhooks.json, made by auth0/scripts/generate-vectors.js).

The Auth0 Action signs in JavaScript; the ingest verifies in Python. These tests hold the
Python side to the same bytes: the `standardwebhooks` package and the ingest's
`shared.signing.SignatureVerifier` accept every signature the Action made (and refuses
secrets shorter than 24 bytes), `shared.ids` gives the Action's registration and deletion
ids and canonical times, and every body the Action sends parses as payload v1 with the id it
was sent under.
"""

from __future__ import annotations

import base64
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
from shared.ids import canonical_ms, deletion_id, registration_id
from shared.secrets import MIN_WEBHOOK_SECRET_BYTES
from shared.settings import SettingsError
from shared.signing import SignatureVerifier, signed_headers

VECTORS_PATH = Path(__file__).resolve().parents[1] / "vectors" / "webhooks.json"
VECTORS: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
SIGNATURES: list[dict[str, Any]] = VECTORS["signatures"]
REGISTRATION_IDS: list[dict[str, str]] = VECTORS["registration_ids"]
DELETION_IDS: list[dict[str, str]] = VECTORS["deletion_ids"]
CANONICAL_MS: list[dict[str, str]] = VECTORS["canonical_ms"]
CANONICAL_MS_INVALID: list[str] = VECTORS["canonical_ms_invalid"]


def _key_bytes(secret: str) -> int:
    return len(base64.b64decode(secret.removeprefix("whsec_")))


# The ingest refuses secrets shorter than Standard Webhooks' 24 bytes; the library does not.
STRONG = [v for v in SIGNATURES if _key_bytes(v["secret"]) >= MIN_WEBHOOK_SECRET_BYTES]
WEAK = [v for v in SIGNATURES if _key_bytes(v["secret"]) < MIN_WEBHOOK_SECRET_BYTES]


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


@pytest.mark.parametrize("vector", STRONG, ids=_signature_id)
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


@pytest.mark.parametrize("vector", WEAK, ids=_signature_id)
def test_the_ingest_refuses_a_secret_shorter_than_24_bytes(vector: dict[str, Any]) -> None:
    with pytest.raises(SettingsError, match="at least 24"):
        SignatureVerifier([vector["secret"]])


@pytest.mark.parametrize("vector", SIGNATURES, ids=_signature_id)
def test_the_python_signer_makes_the_actions_headers(vector: dict[str, Any]) -> None:
    moment = datetime.fromtimestamp(vector["timestamp"], tz=UTC)
    headers = signed_headers(vector["body"], vector["secret"], vector["msg_id"], moment)
    assert headers == _headers(vector)


@pytest.mark.parametrize("vector", REGISTRATION_IDS, ids=_id_id)
def test_registration_id_matches_the_action(vector: dict[str, str]) -> None:
    expected = vector["registration_id"]
    assert registration_id(vector["tenant_id"], vector["user_id"], vector["created_at"]) == expected
    parsed = datetime.fromisoformat(vector["created_at"])  # the same moment as a datetime
    assert registration_id(vector["tenant_id"], vector["user_id"], parsed) == expected


@pytest.mark.parametrize("vector", DELETION_IDS, ids=_id_id)
def test_deletion_id_matches_the_action(vector: dict[str, str]) -> None:
    expected = vector["deletion_id"]
    assert deletion_id(vector["tenant_id"], vector["user_id"], vector["deleted_at"]) == expected


def test_ids_differ_by_kind_and_by_the_millisecond() -> None:
    ids = {vector["deletion_id"] for vector in DELETION_IDS}
    assert len(ids) == len(DELETION_IDS)
    tenant, user, at = "acme-prod", "auth0|same-user", "2026-11-26T05:00:00.000Z"
    assert registration_id(tenant, user, at)[4:] == deletion_id(tenant, user, at)[4:]


@pytest.mark.parametrize("vector", CANONICAL_MS, ids=lambda vector: vector["input"])
def test_canonical_ms_matches_the_action(vector: dict[str, str]) -> None:
    assert canonical_ms(vector["input"]) == vector["canonical"]


@pytest.mark.parametrize("text", CANONICAL_MS_INVALID)
def test_times_the_action_refuses_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        canonical_ms(text)


@pytest.mark.parametrize("vector", SIGNATURES, ids=_signature_id)
def test_each_body_is_payload_v1_under_its_registration_id(vector: dict[str, Any]) -> None:
    event = parse_event(vector["body"].encode("utf-8"))
    assert event.schema_version == 1
    created_at = event.user.created_at
    assert registration_id(event.tenant_id, event.user_id, created_at) == vector["msg_id"]
