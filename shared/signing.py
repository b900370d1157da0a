"""Standard Webhooks verification (and signing, for tests and the ops CLI).

Several secrets may be configured during a rotation: a request is accepted
when any of them verifies. Tolerance is the library's 5 minutes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Protocol

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from shared.errors import Misconfigured, SignatureError
from shared.secrets import check_webhook_secrets


class Verifier(Protocol):
    """Raises `SignatureError` (401) or `Misconfigured` (503) unless the request is signed."""

    def verify(self, body: str, headers: Mapping[str, str]) -> None: ...


class SignatureVerifier:
    """Verify `webhook-id` / `webhook-timestamp` / `webhook-signature` against the secrets.

    Raises `SettingsError` when a secret is empty, a placeholder, an unresolved
    Key Vault reference or not `whsec_` + base64 of >= 24 bytes (`shared.secrets`).
    """

    def __init__(self, secrets: list[str]) -> None:
        self._hooks = [Webhook(secret) for secret in check_webhook_secrets(" ".join(secrets))]

    def verify(self, body: str, headers: Mapping[str, str]) -> None:
        """Raise `SignatureError` unless one secret verifies the signature."""
        reason = "no matching signature"
        for hook in self._hooks:
            try:
                hook.verify(body, dict(headers), json_parse=False)
            except WebhookVerificationError as exc:
                reason = str(exc) or reason
            except ValueError:  # malformed signature header (bad base64, no "v1,")
                reason = "malformed webhook-signature header"
            else:
                return
        raise SignatureError(reason)


class RefusingVerifier:
    """Stands in for a verifier whose secret is unusable: verifies nothing, refuses everything."""

    def __init__(self, setting: str) -> None:
        self._setting = setting

    def verify(self, body: str, headers: Mapping[str, str]) -> None:
        raise Misconfigured(f"{self._setting} is not usable")


def signed_headers(
    body: str, secret: str, webhook_id: str, timestamp: datetime | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for `body` (what the Auth0 Action sends)."""
    moment = timestamp or datetime.fromtimestamp(time.time(), tz=UTC)
    signature = Webhook(secret).sign(webhook_id, moment, body)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature,
    }
