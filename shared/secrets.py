"""One check for every secret or token setting, so a bad value is refused the same way everywhere.

A value is refused when it is empty (and required), a placeholder left by a
template (`##WEBHOOK_SECRET##`, `changeme`, `<secret>`, `${TOKEN}`...), or an
unresolved Key Vault reference (`@Microsoft.KeyVault(...)`: App Service
leaves the literal in place when it cannot resolve it, e.g. the identity
lacks access). Webhook secrets must also be `whsec_` + strict base64 of at
least 24 bytes. Errors name the setting, never the value.
"""

from __future__ import annotations

import base64
import binascii
import re

from pydantic import SecretStr

from shared.settings import SettingsError

WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
MIN_WEBHOOK_SECRET_BYTES = 24  # Standard Webhooks secrets are 24-64 random bytes
_KEY_VAULT_REFERENCE = re.compile(r"^\s*@Microsoft\.KeyVault\s*\(", re.IGNORECASE)
_PLACEHOLDER = re.compile(
    r"""^(
        \#\#.*\#\# | <.*> | \$\{.*\} | \{\{.*\}\} | %.*%
      | change[-_ ]?me | replace[-_ ]?me | placeholder | todo | tbd | xxx+ | none | null
      | secret | password | your[-_ ]?\w+ | example | dummy | fixme
    )$""",
    re.IGNORECASE | re.VERBOSE,
)


def problem_with(value: str) -> str | None:
    """Why `value` is not a usable secret (empty, placeholder, Key Vault literal), or None."""
    text = value.strip()
    if not text:
        return "is empty"
    if _KEY_VAULT_REFERENCE.match(text):
        return "is an unresolved Key Vault reference (check the app's identity and the vault)"
    if _PLACEHOLDER.match(text):
        return "is a placeholder, not a secret"
    return None


def check_secret(setting: str, value: str | SecretStr | None, *, required: bool = True) -> str:
    """The secret's value, stripped; `SettingsError` naming `setting` when it is unusable.

    An empty value is allowed (returned as "") only when `required` is False.
    """
    text = (value.get_secret_value() if isinstance(value, SecretStr) else value or "").strip()
    if not text and not required:
        return ""
    reason = problem_with(text)
    if reason is not None:
        raise SettingsError(f"{setting} {reason}")
    return text


def check_secrets(
    setting: str, value: str | SecretStr | None, *, required: bool = True
) -> list[str]:
    """A space-separated list of secrets (several during a rotation), each checked."""
    whole = check_secret(setting, value, required=required)
    return [check_secret(setting, part) for part in whole.split()]


def check_webhook_secrets(value: str | SecretStr | None) -> list[str]:
    """WEBHOOK_SECRET's secrets: each `whsec_` + strict base64 of >= 24 bytes."""
    secrets = check_secrets("WEBHOOK_SECRET", value)
    for secret in secrets:
        _check_webhook_secret(secret)
    return secrets


def _check_webhook_secret(secret: str) -> None:
    if not secret.startswith(WEBHOOK_SECRET_PREFIX):
        raise SettingsError(f"WEBHOOK_SECRET must start with {WEBHOOK_SECRET_PREFIX}")
    try:
        key = base64.b64decode(secret.removeprefix(WEBHOOK_SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise SettingsError("WEBHOOK_SECRET is not valid base64 after whsec_") from None
    if len(key) < MIN_WEBHOOK_SECRET_BYTES:
        raise SettingsError(
            f"WEBHOOK_SECRET holds {len(key)} bytes; at least {MIN_WEBHOOK_SECRET_BYTES} are needed"
        )
