"""Shared Access Signature checks for CBS put-token, with the emulator's well-known key."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qs, quote_plus

# The official emulator's published development credentials: not secrets.
SAS_KEY_NAME = "RootManageSharedAccessKey"
SAS_KEY_VALUE = "SAS_KEY_VALUE"


class TokenRejected(Exception):
    """The token is malformed, expired, or not signed with the emulator's key."""


def token_text(body: object) -> str:
    """The put-token request body as text; TokenRejected when it is not a UTF-8 string."""
    if isinstance(body, str):
        return body
    if isinstance(body, bytes):
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise TokenRejected("the token is not UTF-8 text") from None
    raise TokenRejected("the put-token body must be a string")


def validate_sas_token(
    token: str, now: float, key_name: str = SAS_KEY_NAME, key: str = SAS_KEY_VALUE
) -> str:
    """Check a `SharedAccessSignature sr=..&sig=..&se=..&skn=..` token; returns its `sr`."""
    scheme, _, query = token.partition(" ")
    if scheme != "SharedAccessSignature" or not query:
        raise TokenRejected("not a SharedAccessSignature token")
    fields = {name: values[0] for name, values in parse_qs(query, keep_blank_values=True).items()}
    missing = [name for name in ("sr", "sig", "se", "skn") if name not in fields]
    if missing:
        raise TokenRejected(f"token field {missing[0]!r} is missing")
    if fields["skn"] != key_name:
        raise TokenRejected(f"unknown shared access key name {fields['skn']!r}")
    try:
        expiry = int(fields["se"])
    except ValueError:
        raise TokenRejected("token expiry 'se' is not a number") from None
    if expiry <= now:
        raise TokenRejected("token has expired")
    to_sign = f"{quote_plus(fields['sr'])}\n{expiry}".encode()
    expected = base64.b64encode(hmac.new(key.encode(), to_sign, hashlib.sha256).digest()).decode()
    # Bytes, not str: compare_digest refuses non-ASCII str, and a client may send any text.
    if not hmac.compare_digest(expected.encode(), fields["sig"].encode("utf-8", "replace")):
        raise TokenRejected("signature does not match the shared access key")
    return fields["sr"]
