"""Request/response messages on the `$cbs` and `$management` nodes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from localdev.servicebus.amqp.codec import (
    DecodeError,
    Described,
    Int,
    Symbol,
    ULong,
    decode,
    encode,
)
from localdev.servicebus.amqp.message_format import (
    APPLICATION_PROPERTIES,
    PROPERTIES,
    VALUE,
    split_sections,
)


@dataclass
class Request:
    """The parts of a request message the nodes act on."""

    message_id: Any
    reply_to: str | None
    application_properties: dict[Any, Any] = field(default_factory=dict)
    body: Any = None


def decode_request(raw: bytes) -> Request:
    """Decode a request; DecodeError when it is not a well-formed AMQP message."""
    request = Request(message_id=None, reply_to=None)
    for section in split_sections(raw):
        if section.code in (PROPERTIES, APPLICATION_PROPERTIES, VALUE):
            value, _ = decode(raw, section.value_start)
            if section.code == PROPERTIES and isinstance(value, list):
                request.message_id = value[0] if value else None
                reply_to = value[4] if len(value) > 4 else None
                request.reply_to = reply_to if isinstance(reply_to, str) else None
            elif section.code == APPLICATION_PROPERTIES:
                if not isinstance(value, dict):
                    raise DecodeError("application-properties must be a map")
                request.application_properties = value
            elif section.code == VALUE:
                request.body = value
    return request


def encode_reply(correlation_id: Any, application_properties: dict[str, Any], body: Any) -> bytes:
    """A response: properties (correlation-id), application-properties, amqp-value body."""
    if not isinstance(correlation_id, str | bytes | uuid.UUID | int) or isinstance(
        correlation_id, bool
    ):
        correlation_id = None
    properties = [None, None, None, None, None, correlation_id]
    return (
        encode(Described(ULong(0x73), properties))
        + encode(Described(ULong(0x74), application_properties))
        + encode(Described(ULong(0x77), body))
    )


def status_properties(
    status: int, description: str, condition: str | None, *, cbs: bool = False
) -> dict[str, Any]:
    """Status application-properties: CBS spells them `status-code`, management `statusCode`."""
    if cbs:
        props: dict[str, Any] = {"status-code": Int(status), "status-description": description}
    else:
        props = {"statusCode": Int(status), "statusDescription": description}
    if condition is not None:
        props["errorCondition"] = Symbol(condition)
    return props
