"""The stand-in's users and the part of Auth0's user search (v3) the reconciler relies on.

Search is eventually consistent, as Auth0 documents: a user becomes searchable
`search_delay` seconds after it was created, while `GET /api/v2/users/{id}`
sees it at once. Only `created_at` range queries are understood (see
`parse_created_at_range`); anything else is refused with a 400 by the server.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

User = dict[str, Any]

# created_at:[A TO B]: `[`/`]` inclusive, `{`/`}` exclusive, `*` open, values maybe quoted.
_RANGE = re.compile(
    r"^\s*created_at\s*:\s*(?P<open>[\[{])\s*(?P<low>\"[^\"]*\"|\S+)\s+TO\s+"
    r"(?P<high>\"[^\"]*\"|\S+?)\s*(?P<close>[\]}])\s*$"
)


class QueryError(ValueError):
    """The `q` parameter is not a query this stand-in understands."""


def format_ms(moment: datetime) -> str:
    """Auth0's timestamp form: UTC, milliseconds, `Z` (`2026-11-26T03:00:00.000Z`)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_ms(text: str) -> int:
    """Epoch milliseconds of an ISO 8601 date or date-time (no zone means UTC)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise QueryError(f"'{text}' is not an ISO 8601 date") from exc
    moment = _aware(moment)
    # Whole seconds are exact as a float; the milliseconds come from the integer field.
    whole = moment.replace(microsecond=0)
    return int(whole.timestamp()) * 1000 + moment.microsecond // 1000


def _aware(moment: datetime) -> datetime:
    """No zone means UTC (never the machine's local time)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class CreatedAtRange:
    """A `created_at` range in epoch ms; None bounds are open (`*`)."""

    low: int | None
    low_inclusive: bool
    high: int | None
    high_inclusive: bool

    def __contains__(self, ms: object) -> bool:
        if not isinstance(ms, int):
            return False
        if self.low is not None and (ms < self.low or (ms == self.low and not self.low_inclusive)):
            return False
        return not (
            self.high is not None
            and (ms > self.high or (ms == self.high and not self.high_inclusive))
        )


def parse_created_at_range(q: str | None) -> CreatedAtRange:
    """Parse `q`: empty means every user; otherwise exactly one `created_at` range."""
    if q is None or not q.strip():
        return CreatedAtRange(None, True, None, True)
    match = _RANGE.match(q)
    if match is None:
        raise QueryError("the stand-in only understands q=created_at:[A TO B] ({ } exclusive, *)")
    low, high = (_bound(match.group(name)) for name in ("low", "high"))
    return CreatedAtRange(low, match.group("open") == "[", high, match.group("close") == "]")


def _bound(text: str) -> int | None:
    text = text.strip('"')
    return None if text == "*" else parse_ms(text)


@dataclass
class _Entry:
    user: User
    created_ms: int
    searchable_at: float  # time.monotonic() from which search sees the user


@dataclass
class Directory:
    """Every user of the stand-in tenant, thread-safe (the admin API and tests write it)."""

    search_delay: float = 0.0
    _entries: dict[str, _Entry] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, fields: User) -> User:
        """Create a user from Auth0-shaped fields; missing ids and times are generated."""
        user = complete_user(fields)
        created_ms = parse_ms(str(user["created_at"]))
        entry = _Entry(user, created_ms, time.monotonic() + self.search_delay)
        with self._lock:
            if user["user_id"] in self._entries:
                raise KeyError(user["user_id"])
            self._entries[user["user_id"]] = entry
        return user

    def delete(self, user_id: str) -> bool:
        """Remove a user; False when there was none."""
        with self._lock:
            return self._entries.pop(user_id, None) is not None

    def get(self, user_id: str) -> User | None:
        """One user by id, consistent at once (not subject to the search delay)."""
        with self._lock:
            entry = self._entries.get(user_id)
        return None if entry is None else entry.user

    def search(self, created: CreatedAtRange, descending: bool = False) -> list[User]:
        """Searchable users in the range, by `created_at` then `user_id` (a deterministic order)."""
        now = time.monotonic()
        with self._lock:
            found = [
                entry
                for entry in self._entries.values()
                if entry.searchable_at <= now and entry.created_ms in created
            ]
        found.sort(key=lambda entry: (entry.created_ms, entry.user["user_id"]), reverse=descending)
        return [entry.user for entry in found]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def complete_user(fields: User) -> User:
    """The user as the Management API returns it, filling what a seed file may leave out."""
    user = dict(fields)
    user.setdefault("user_id", "auth0|" + secrets.token_hex(12))
    provider, _, local_id = str(user["user_id"]).partition("|")
    social = provider not in {"auth0", "email", "sms", "samlp", "waad", "oidc"}
    # A social identity's connection is named after its provider (google-oauth2, apple, ...).
    default_connection = provider if social else "Username-Password-Authentication"
    connection = str(user.pop("connection", default_connection))
    user["created_at"] = format_ms(
        _aware(datetime.fromisoformat(str(user["created_at"]).replace("Z", "+00:00")))
        if "created_at" in user
        else datetime.now(UTC)
    )
    user.setdefault("updated_at", user["created_at"])
    user.setdefault(
        "identities",
        [
            {
                "connection": connection,
                "provider": provider,
                "user_id": local_id or user["user_id"],
                "isSocial": social,
            }
        ],
    )
    user.setdefault("app_metadata", {})
    user.setdefault("user_metadata", {})
    return user
