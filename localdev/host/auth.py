"""Function keys, checked the way Azure does for HTTP triggers.

- anonymous: no key.
- function: a function key or the master key, in the `x-functions-key`
  header or the `code` query parameter.
- admin: the master key only.
A missing or wrong key answers 401 before the body is read.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

KEY_HEADER = "x-functions-key"
KEY_QUERY = "code"


@dataclass(frozen=True)
class HostKeys:
    """The keys this host accepts."""

    function_keys: tuple[str, ...]
    master_key: str

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> tuple[HostKeys, bool]:
        """Keys from LOCALDEV_FUNCTION_KEY / LOCALDEV_MASTER_KEY; (keys, master_was_generated)."""
        function_key = settings.get("LOCALDEV_FUNCTION_KEY", "")
        master = settings.get("LOCALDEV_MASTER_KEY", "")
        generated = not master
        if generated:
            master = new_key()
        keys = (function_key,) if function_key else ()
        return cls(function_keys=keys, master_key=master), generated


def new_key() -> str:
    """A fresh key in the shape Azure generates (URL-safe, about 56 characters)."""
    return secrets.token_urlsafe(42)


def presented_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The key a request carries; the header wins over the query parameter, as in Azure."""
    return headers.get(KEY_HEADER) or query.get(KEY_QUERY) or None


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def is_authorized(auth_level: str, key: str | None, keys: HostKeys) -> bool:
    """Whether `key` opens a function of `auth_level`."""
    if auth_level == "anonymous":
        return True
    if not key:
        return False
    if _equal(key, keys.master_key):
        return True
    if auth_level == "admin":
        return False
    return any(_equal(key, candidate) for candidate in keys.function_keys)
