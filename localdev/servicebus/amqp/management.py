"""The `$management` node: Service Bus request/response operations mapped to broker calls.

Each operation takes the request's amqp-value map and returns a `ManagementReply`
(`statusCode`, `statusDescription`, optional `errorCondition`, and a map body),
the shape `azure.servicebus` parses in `_common/mgmt_handlers.py`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from localdev.servicebus.amqp import conditions
from localdev.servicebus.amqp.codec import Array, DecodeError, Timestamp
from localdev.servicebus.amqp.message_format import parse_message, render
from localdev.servicebus.broker import Broker, BrokerError, errors

RECEIVE_AND_DELETE_MODE = 0
# A broker error's status and condition on the management link (any other: 500, internal error).
_BROKER_ERROR_REPLIES: dict[type[BrokerError], tuple[int, str]] = {
    errors.LockLost: (410, conditions.MESSAGE_LOCK_LOST),
    errors.MessageNotFound: (404, conditions.MESSAGE_NOT_FOUND),
    errors.EntityNotFound: (404, conditions.NOT_FOUND),
    errors.MessageTooLarge: (413, conditions.MESSAGE_SIZE_EXCEEDED),
}


@dataclass
class ManagementReply:
    """What goes back on the management link."""

    status: int
    description: str
    body: dict[str, Any] = field(default_factory=dict)
    condition: str | None = None


class BadRequest(Exception):
    """The request map lacks a field or has the wrong type."""


def handle(broker: Broker, path: str, operation: str, body: object) -> ManagementReply:
    """Run one management operation against the entity at `path` (a canonical broker path)."""
    handler = _OPERATIONS.get(operation)
    if handler is None:
        return ManagementReply(
            501,
            f"Operation {operation!r} is not supported by this emulator.",
            condition=conditions.NOT_IMPLEMENTED,
        )
    if not isinstance(body, dict):
        return ManagementReply(
            400, "The request body must be a map.", condition=conditions.ARGUMENT_ERROR
        )
    try:
        return handler(broker, path, body)
    except BadRequest as exc:
        return ManagementReply(400, str(exc), condition=conditions.ARGUMENT_ERROR)
    except DecodeError as exc:
        return ManagementReply(
            400, f"Malformed message: {exc}", condition=conditions.ARGUMENT_ERROR
        )
    except BrokerError as exc:
        status, condition = _BROKER_ERROR_REPLIES.get(type(exc), (500, conditions.INTERNAL_ERROR))
        return ManagementReply(status, str(exc), condition=condition)


def _get(body: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = body.get(key)
    if not isinstance(value, kind):
        raise BadRequest(f"The request field {key!r} is missing or has the wrong type.")
    return value


def _tokens(body: dict[str, Any]) -> list[uuid.UUID]:
    tokens = _get(body, "lock-tokens", list)
    if not all(isinstance(token, uuid.UUID) for token in tokens):
        raise BadRequest("'lock-tokens' must be an array of uuid.")
    return list(tokens)


def _sequence_numbers(body: dict[str, Any]) -> list[int]:
    numbers = _get(body, "sequence-numbers", list)
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
        raise BadRequest("'sequence-numbers' must be an array of long.")
    return [int(n) for n in numbers]


def _renew_lock(broker: Broker, path: str, body: dict[str, Any]) -> ManagementReply:
    expirations = [Timestamp(int(broker.renew_lock(path, token) * 1000)) for token in _tokens(body)]
    return ManagementReply(200, "OK", {"expirations": Array("timestamp", tuple(expirations))})


def _peek(broker: Broker, path: str, body: dict[str, Any]) -> ManagementReply:
    start = _get(body, "from-sequence-number", int)
    count = _get(body, "message-count", int)
    messages = broker.peek(path, start, max(count, 0))
    if not messages:
        return ManagementReply(204, "No messages to peek.")
    encoded = [
        {"message": render(message, locked_until=message.locked_until)} for message in messages
    ]
    return ManagementReply(200, "OK", {"messages": encoded})


def _schedule(broker: Broker, path: str, body: dict[str, Any]) -> ManagementReply:
    entries = _get(body, "messages", list)
    incoming = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("message"), bytes):
            raise BadRequest("Each scheduled entry needs an encoded 'message'.")
        incoming.append(parse_message(entry["message"]))
    numbers = broker.send(path, incoming)
    return ManagementReply(200, "OK", {"sequence-numbers": Array("long", tuple(numbers))})


def _cancel(broker: Broker, path: str, body: dict[str, Any]) -> ManagementReply:
    broker.cancel_scheduled(path, _sequence_numbers(body))
    return ManagementReply(200, "OK")


def _receive_deferred(broker: Broker, path: str, body: dict[str, Any]) -> ManagementReply:
    numbers = _sequence_numbers(body)
    mode = body.get("receiver-settle-mode", 1)
    messages = broker.receive_deferred(path, numbers)
    encoded = []
    for message in messages:
        token = message.lock_token
        assert token is not None  # receive_deferred locks what it returns
        encoded.append(
            {"lock-token": token, "message": render(message, locked_until=message.locked_until)}
        )
        if mode == RECEIVE_AND_DELETE_MODE:
            broker.complete(path, token)
    return ManagementReply(200, "OK", {"messages": encoded})


_DISPOSITIONS: dict[str, Callable[[Broker, str, uuid.UUID, dict[str, Any]], None]] = {
    "completed": lambda broker, path, token, body: broker.complete(path, token),
    "abandoned": lambda broker, path, token, body: broker.abandon(path, token),
    "defered": lambda broker, path, token, body: broker.defer(path, token),
    "deferred": lambda broker, path, token, body: broker.defer(path, token),
    "suspended": lambda broker, path, token, body: broker.dead_letter(
        path,
        token,
        _optional_text(body, "deadletter-reason"),
        _optional_text(body, "deadletter-description"),
    ),
}


def _optional_text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    return value if isinstance(value, str) else None


def _update_disposition(broker: Broker, path: str, body: dict[str, Any]) -> ManagementReply:
    status = _get(body, "disposition-status", str)
    settle = _DISPOSITIONS.get(status)
    if settle is None:
        raise BadRequest(f"Unknown disposition-status {status!r}.")
    for token in _tokens(body):
        settle(broker, path, token, body)
    return ManagementReply(200, "OK")


_OPERATIONS: dict[str, Callable[[Broker, str, dict[str, Any]], ManagementReply]] = {
    "com.microsoft:renew-lock": _renew_lock,
    "com.microsoft:peek-message": _peek,
    "com.microsoft:schedule-message": _schedule,
    "com.microsoft:cancel-scheduled-message": _cancel,
    "com.microsoft:receive-by-sequence-number": _receive_deferred,
    "com.microsoft:update-disposition": _update_disposition,
}
