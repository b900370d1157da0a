"""The event payload v1 (**contract**: Auth0 Action -> ingest) as a pydantic model.

Strict where it matters (type, schema_version, the required ids, created_at);
tolerant of unknown fields (ignored, for forward compatibility). Parsing
errors become `InvalidEvent` naming the field, never echoing the value.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from shared.errors import InvalidEvent, UnsupportedSchemaVersion
from shared.ids import canonical_ms

SUPPORTED_SCHEMA_VERSION = 1
EVENT_TYPE = "user.registered"
# Which path reported the signup; absent means "action" (payloads from before the field).
Source = Literal["action", "first-login", "event-stream", "reconcile"]
SOURCES: tuple[str, ...] = get_args(Source)
DEFAULT_SOURCE: Source = "action"
# Auth0 user ids are far shorter; the cap keeps table keys and log lines bounded.
MAX_ID_LENGTH = 1024
# Metadata is free-form JSON; a bound on nesting keeps every walk over it cheap.
MAX_DEPTH = 32

Json = dict[str, Any]


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Tenant(_Part):
    """`event.tenant`."""

    id: StrictStr = Field(min_length=1, max_length=MAX_ID_LENGTH)


class Connection(_Part):
    """`event.connection` (Auth0's names)."""

    id: StrictStr | None = None
    name: StrictStr | None = None
    strategy: StrictStr | None = None


class User(_Part):
    """`event.user`: ids of any printable characters; email or phone may be absent."""

    user_id: StrictStr = Field(min_length=1, max_length=MAX_ID_LENGTH)
    created_at: AwareDatetime
    email: StrictStr | None = None
    email_verified: StrictBool | None = None
    phone_number: StrictStr | None = None
    phone_verified: StrictBool | None = None
    username: StrictStr | None = None
    name: StrictStr | None = None
    given_name: StrictStr | None = None
    family_name: StrictStr | None = None
    nickname: StrictStr | None = None
    picture: StrictStr | None = None
    user_metadata: dict[str, Any] | None = None
    app_metadata: dict[str, Any] | None = None

    @field_validator("created_at", mode="before")
    @classmethod
    def _iso_text_only(cls, value: object) -> object:
        # Numbers would be read as epoch seconds by pydantic; Auth0 sends ISO 8601 text.
        # The message id hashes this time, so it must parse as the Actions parse it, and
        # be representable in UTC (0001-01-01T00:00:00+01:00 is not).
        if not isinstance(value, str):
            raise ValueError("must be an RFC 3339 date-time string with a time zone")
        try:
            canonical_ms(value)
        except ValueError:
            raise ValueError(
                "must be an RFC 3339 date-time with a time zone, in years 1-9999 UTC"
            ) from None
        return value

    @field_validator("created_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)


class Request(_Part):
    """`event.request` (optional)."""

    ip: StrictStr | None = None
    language: StrictStr | None = None
    user_agent: StrictStr | None = None
    hostname: StrictStr | None = None


class RegistrationEvent(_Part):
    """One Auth0 Post User Registration, payload v1."""

    type: Literal["user.registered"]
    schema_version: StrictInt = Field(ge=1)
    source: Source | None = None
    tenant: Tenant
    user: User
    connection: Connection | None = None
    request: Request | None = None

    @property
    def tenant_id(self) -> str:
        return self.tenant.id

    @property
    def user_id(self) -> str:
        return self.user.user_id

    @property
    def origin(self) -> Source:
        """`source`, or "action" when the sender did not say."""
        return self.source or DEFAULT_SOURCE

    def canonical_json(self) -> str:
        """Sorted keys, no whitespace, nulls and unknown fields dropped, UTF-8 text."""
        return canonical_json(self.model_dump(mode="json", exclude_none=True))

    def payload_hash(self) -> str:
        """sha256 hex of `canonical_json()` (UTF-8): equal events hash equal."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()


def canonical_json(document: Any) -> str:
    """JSON with sorted keys and no insignificant whitespace."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def parse_event(body: bytes | str) -> RegistrationEvent:
    """Parse and validate a request or message body. Raises `InvalidEvent`."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError:
        raise InvalidEvent([("body", "is not UTF-8 text")]) from None
    return validate_event(load_json(text))


def load_json(text: str) -> Any:
    """Decode RFC 8259 JSON text. Raises `InvalidEvent` naming the problem, never the value.

    Python's decoder also accepts `NaN`, `Infinity` and `-Infinity`, and turns a
    number too large for a float (1e400) into infinity: none of them is JSON.
    """
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        reason = f"is not valid JSON (line {exc.lineno}, column {exc.colno})"
        raise InvalidEvent([("body", reason)]) from None
    except _NotJson as exc:
        raise InvalidEvent([("body", str(exc))]) from None
    except RecursionError:
        raise InvalidEvent([("body", f"nests deeper than {MAX_DEPTH} levels")]) from None
    except ValueError:  # an integer longer than Python's 4300-digit conversion limit
        raise InvalidEvent([("body", "holds a number too long to read")]) from None


class _NotJson(Exception):
    """Text Python's decoder accepts but RFC 8259 does not."""


def _refuse_constant(name: str) -> Any:
    raise _NotJson(f"holds {name}, which is not JSON (RFC 8259 has no NaN or Infinity)")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _NotJson("holds a number too large for a double")
    return number


def validate_event(document: object) -> RegistrationEvent:
    """Validate an already-decoded JSON document. Raises `InvalidEvent`."""
    if not isinstance(document, dict):
        raise InvalidEvent([("body", "must be a JSON object")])
    bad_text = _first_invalid_text(document)
    if bad_text is not None:
        raise InvalidEvent([(bad_text, "contains an unpaired UTF-16 surrogate")])
    version = document.get("schema_version")
    if isinstance(version, int) and not isinstance(version, bool):  # noqa: SIM102
        if version > SUPPORTED_SCHEMA_VERSION:  # checked first: a newer shape is not "invalid"
            raise UnsupportedSchemaVersion(version, SUPPORTED_SCHEMA_VERSION)
    try:
        return RegistrationEvent.model_validate(document)
    except ValidationError as exc:
        raise InvalidEvent(_field_errors(exc)) from None


def _field_errors(exc: ValidationError) -> list[tuple[str, str]]:
    # pydantic's `msg` describes the expectation, not the input; `input` is dropped.
    errors = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        field = schema_path(tuple(str(part) for part in error["loc"]))
        errors.append((field, _reason(error["type"], error["msg"])))
    return errors


def _reason(error_type: str, message: str) -> str:
    if error_type == "missing":
        return "is required"
    return message.removeprefix("Value error, ")


_PARTS: dict[str, type[BaseModel]] = {
    "tenant": Tenant, "user": User, "connection": Connection, "request": Request,
}  # fmt: skip


def schema_path(parts: tuple[str, ...]) -> str:
    """The deepest schema field on `parts`: "user.user_metadata", never a sender's own key.

    Problem answers and failure records name fields; a metadata key may be an email.
    """
    if not parts or parts[0] not in RegistrationEvent.model_fields:
        return "body"
    part = _PARTS.get(parts[0])
    if part is not None and len(parts) > 1 and parts[1] in part.model_fields:
        return f"{parts[0]}.{parts[1]}"
    return parts[0]


def _first_invalid_text(document: object) -> str | None:
    """Schema path of the first string (key or value) that cannot be encoded as UTF-8."""
    found = _invalid_text(document, 0)
    if found is None:
        return None
    reason, reversed_path = found
    path = schema_path(tuple(reversed(reversed_path)))
    if reason:
        raise InvalidEvent([(path, reason)])
    return path


def _invalid_text(value: object, depth: int) -> tuple[str, list[str]] | None:
    # The path is built only on the way back from a failure: the usual walk allocates nothing.
    if depth > MAX_DEPTH:
        return f"nests deeper than {MAX_DEPTH} levels", []
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "", []
        return None
    found: tuple[str, list[str]] | None = None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _invalid_text(key, depth) or _invalid_text(item, depth + 1)
            if found is not None:
                found[1].append(str(key))
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _invalid_text(item, depth + 1)
            if found is not None:
                found[1].append(str(index))
                return found
    return None
