"""Who an audit row names: the Entra principal in Azure, a visibly self-declared name locally.

In Azure ops reaches Table Storage with a token from DefaultAzureCredential,
so the operator is whoever that token names: its `upn` (a person), or its
`appid` / `azp` (a service principal or managed identity), with the `oid`
that identifies the principal for good. The token is ours, fresh from Entra,
so its claims are read without checking the signature (the storage service
checks it on every request anyway).

With a connection string there is no identity to read: the OS user (or
`--operator`) is recorded as `local:<name>`, so nobody mistakes it for a
verified one.
"""

from __future__ import annotations

import base64
import binascii
import getpass
import json
import socket
from typing import Any, Protocol

from ops.errors import OpsError, one_line

STORAGE_SCOPE = "https://storage.azure.com/.default"


class TokenSource(Protocol):
    """What ops needs of an azure-core TokenCredential."""

    def get_token(self, *scopes: str) -> Any:
        """An AccessToken (`.token` is the JWT)."""
        ...


def local_operator(declared: str | None = None) -> str:
    """`local:<declared>` or `local:<os user>@<host>`: self-declared, and marked so."""
    if declared:
        return f"local:{declared}"
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"local:{user}@{socket.gethostname()}"


def token_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT (no signature check: see the module docstring)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise OpsError("the access token is not a JWT: cannot tell who is operating")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError) as exc:
        raise OpsError("the access token's claims cannot be read") from exc
    if not isinstance(claims, dict):
        raise OpsError("the access token's claims are not an object")
    return claims


def principal(claims: dict[str, Any]) -> str:
    """`entra:<upn or app id> oid=<object id>` from the token's claims."""
    name = next(
        (
            str(claims[key])
            for key in ("upn", "unique_name", "preferred_username", "appid", "azp")
            if claims.get(key)
        ),
        None,
    )
    oid = claims.get("oid")
    if not oid and not name:
        raise OpsError("the access token names no principal (no oid, upn or appid claim)")
    return f"entra:{name or oid} oid={oid or '?'}"


def entra_operator(credential: TokenSource, declared: str | None = None) -> str:
    """The principal the storage token names, with `--operator` kept as a remark."""
    try:
        token = credential.get_token(STORAGE_SCOPE).token
    except Exception as exc:  # azure-identity raises several unrelated types
        raise OpsError(f"cannot get a token to tell who is operating: {one_line(exc)}") from exc
    who = principal(token_claims(token))
    return f"{who} (declared: {declared})" if declared else who
