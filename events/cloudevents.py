"""Reading one Auth0 Event Streams delivery: a CloudEvents 1.0 JSON object.

Only what the pipeline needs is read: `type`, `time`, `data.object` (the
user). `id`, `source`, `specversion` and the extension attributes
(`a0tenant`, `a0stream`, `dataschema`...) are ignored. Auth0 documents the
type both as `user.created` and as `com.auth0.user.created`; both are read.

`read_delivery` returns a `StreamEvent` for a creation or a deletion,
`Ignored` for every other type, and raises `Unusable` (with a cause that
never quotes the body) for anything the pipeline cannot use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from shared.ids import canonical_ms

TYPE_PREFIX = "com.auth0."
CREATED: Literal["user.created"] = "user.created"
DELETED: Literal["user.deleted"] = "user.deleted"


class Unusable(ValueError):
    """An authenticated delivery the pipeline cannot use; the message is its cause."""


@dataclass(frozen=True)
class Ignored:
    """A delivery of a type the table does not record (e.g. `user.updated`)."""

    event_type: str


@dataclass(frozen=True)
class StreamEvent:
    """A `user.created` or `user.deleted` with what the pipeline needs of it."""

    kind: Literal["user.created", "user.deleted"]
    user: dict[str, Any]  # data.object
    time: datetime  # the event's `time`: for a deletion, the deletion time

    @property
    def user_id(self) -> str:
        return str(self.user["user_id"])


def read_delivery(body: bytes) -> StreamEvent | Ignored:
    """Decode and check one delivery; `Unusable` says why it cannot be used."""
    document = _json_object(body)
    kind = document.get("type")
    if not isinstance(kind, str) or not kind:
        raise Unusable("no type")
    kind = kind.removeprefix(TYPE_PREFIX)
    if kind not in (CREATED, DELETED):
        return Ignored(kind)
    data = document.get("data")
    user = data.get("object") if isinstance(data, dict) else None
    if not isinstance(user, dict):
        raise Unusable("no data.object (the user)")
    user_id = user.get("user_id")
    if not isinstance(user_id, str) or not user_id.strip():
        raise Unusable("no data.object.user_id")
    if not _is_unicode(user_id):
        raise Unusable("data.object.user_id holds an unpaired UTF-16 surrogate")
    moment = parse_time(document.get("time"), "time")
    if kind == CREATED:  # read here too: the validator's UTC conversion can overflow
        parse_time(user.get("created_at"), "data.object.created_at")
        return StreamEvent(CREATED, user, moment)
    return StreamEvent(DELETED, user, moment)


def parse_time(value: object, name: str) -> datetime:
    """An RFC 3339 time with a zone, as UTC truncated to milliseconds (the ids' precision).

    `Unusable` naming the field otherwise, years outside 1-9999 in UTC included.
    """
    if not isinstance(value, str):
        raise Unusable(f"no {name}")
    try:
        return datetime.fromisoformat(canonical_ms(value).replace("Z", "+00:00"))
    except ValueError:
        raise Unusable(f"{name} is not an ISO 8601 time with a time zone") from None


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Unusable("body is not UTF-8 text") from None
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise Unusable("body nests too deeply") from None
    except ValueError as exc:
        raise Unusable(f"body is not JSON ({type(exc).__name__})") from None
    if not isinstance(document, dict):
        raise Unusable("body is not a JSON object")
    return document


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN / Infinity: not RFC 8259


def _is_unicode(text: str) -> bool:
    # JSON's \ud800 escapes decode to lone surrogates, which no UTF-8 key or body can carry.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
