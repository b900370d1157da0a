"""Conversions at the host's two edges: HTTP (aiohttp <-> azure.functions) and Service Bus.

Plain functions, so they are unit-tested without a server or a broker.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping
from typing import Any

import azure.functions as func
from aiohttp import web
from azure.functions import meta
from azure.functions.servicebus import ServiceBusMessage
from azure.servicebus import ServiceBusReceivedMessage
from azure.servicebus.amqp import AmqpMessageBodyType

# Hop-by-hop and framing headers aiohttp computes itself.
_SKIPPED_RESPONSE_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})


def to_http_request(
    method: str,
    url: str,
    headers: Iterable[tuple[str, str]],
    query: Iterable[tuple[str, str]],
    route_params: Mapping[str, str],
    body: bytes,
) -> func.HttpRequest:
    """Build the request object the Python worker hands to an HTTP function.

    Repeated headers are joined with ", " (RFC 9110); for a repeated query
    parameter the first value is kept.
    """
    merged: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        merged[key] = f"{merged[key]}, {value}" if key in merged else value
    params: dict[str, str] = {}
    for name, value in query:
        params.setdefault(name, value)
    return func.HttpRequest(
        method=method.upper(),
        url=url,
        headers=merged,
        params=params,
        route_params=dict(route_params),
        body=body,
    )


def to_web_response(result: Any) -> web.Response:
    """Map an HTTP function's return value to an aiohttp response, like the worker does.

    HttpResponse keeps status, headers, mimetype and charset; a str becomes a
    200 text/plain body; None becomes 204. Anything else is a function error.
    """
    if isinstance(result, func.HttpResponse):
        response = web.Response(status=result.status_code, body=result.get_body())
        for name, value in result.headers.items():
            if name.lower() not in _SKIPPED_RESPONSE_HEADERS:
                response.headers.add(name, value)
        if "content-type" not in {name.lower() for name, _ in result.headers.items()}:
            mimetype = result.mimetype or "text/plain"
            charset = result.charset or "utf-8"
            response.headers["Content-Type"] = f"{mimetype}; charset={charset}"
        return response
    if isinstance(result, str):
        return web.Response(status=200, text=result, content_type="text/plain", charset="utf-8")
    if result is None:
        return web.Response(status=204)
    raise TypeError(
        f"an HTTP function must return func.HttpResponse or str, not {type(result).__name__}"
    )


def decode_amqp_value(value: Any) -> Any:
    """The SDK hands AMQP strings back as bytes; turn them into str where they are UTF-8."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    return value


def decode_properties(properties: Mapping[Any, Any] | None) -> dict[str, Any]:
    """Application properties with str keys and decoded string values."""
    if not properties:
        return {}
    return {
        str(decode_amqp_value(key)): decode_amqp_value(value) for key, value in properties.items()
    }


def message_body(message: ServiceBusReceivedMessage) -> bytes:
    """The body as bytes: data sections joined; an amqp-value str/bytes as is, else as JSON."""
    if message.body_type == AmqpMessageBodyType.DATA:
        return b"".join(message.body)
    value = message.body
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value, default=str).encode("utf-8")


def _text(value: Any) -> str | None:
    return None if value is None else str(decode_amqp_value(value))


def _iso(value: datetime.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def functions_delivery_count(message: ServiceBusReceivedMessage) -> int:
    """DeliveryCount as the Functions host reports it: 1 on the first delivery.

    The Python SDK returns the AMQP header's count of *prior* attempts (0 at
    first); the .NET SDK inside the real host adds 1 to it for received
    messages, and that is what a Python function sees on Azure.
    """
    return (message.delivery_count or 0) + 1


def to_servicebus_message(message: ServiceBusReceivedMessage) -> ServiceBusMessage:
    """Build the func.ServiceBusMessage the Python worker would hand to the function."""
    properties = decode_properties(message.application_properties)
    lock_token = _text(message.lock_token)
    state = int(message.state.value) if message.state is not None else None
    delivery_count = functions_delivery_count(message)
    metadata = {
        "MessageId": meta.Datum(_text(message.message_id), "string"),
        "DeliveryCount": meta.Datum(delivery_count, "int"),
        "SequenceNumber": meta.Datum(message.sequence_number, "int"),
        "EnqueuedTimeUtc": meta.Datum(_iso(message.enqueued_time_utc), "string"),
        "LockedUntil": meta.Datum(_iso(message.locked_until_utc), "string"),
        "LockToken": meta.Datum(lock_token, "string"),
        "ContentType": meta.Datum(_text(message.content_type), "string"),
        "CorrelationId": meta.Datum(_text(message.correlation_id), "string"),
        "Subject": meta.Datum(_text(message.subject), "string"),
        "ApplicationProperties": meta.Datum(json.dumps(properties, default=str), "json"),
        "UserProperties": meta.Datum(json.dumps(properties, default=str), "json"),
    }
    return ServiceBusMessage(
        body=message_body(message),
        trigger_metadata=metadata,
        application_properties=properties,
        content_type=_text(message.content_type),
        correlation_id=_text(message.correlation_id),
        dead_letter_error_description=_text(message.dead_letter_error_description),
        dead_letter_reason=_text(message.dead_letter_reason),
        dead_letter_source=_text(message.dead_letter_source),
        delivery_count=delivery_count,
        enqueued_sequence_number=message.enqueued_sequence_number,
        enqueued_time_utc=message.enqueued_time_utc,
        expires_at_utc=message.expires_at_utc,
        label=_text(message.subject),
        locked_until=message.locked_until_utc,
        lock_token=lock_token,
        message_id=str(_text(message.message_id)),
        partition_key=_text(message.partition_key),
        reply_to=_text(message.reply_to),
        reply_to_session_id=_text(message.reply_to_session_id),
        scheduled_enqueue_time_utc=message.scheduled_enqueue_time_utc,
        sequence_number=message.sequence_number,
        session_id=_text(message.session_id),
        state=state,
        subject=_text(message.subject),
        time_to_live=message.time_to_live,
        to=_text(message.to),
        transaction_partition_key=None,
        user_properties=dict(properties),
    )
