"""Standard Webhooks verification (and signing, for tests and the ops CLI).

Several secrets may be configured during a rotation: a request is accepted
when any of them verifies. Tolerance is the library's 5 minutes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from shared.errors import SignatureError
from shared.settings import SettingsError


class SignatureVerifier:
    """Verify `webhook-id` / `webhook-timestamp` / `webhook-signature` against the secrets."""

    def __init__(self, secrets: list[str]) -> None:
        if not secrets:
            raise SettingsError("WEBHOOK_SECRET is empty: set one or more whsec_... secrets")
        try:
            self._hooks = [Webhook(secret) for secret in secrets]
        except Exception as exc:  # the library raises bare ValueErrors for bad base64
            raise SettingsError(
                f"WEBHOOK_SECRET holds an invalid secret ({type(exc).__name__})"
            ) from exc

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
