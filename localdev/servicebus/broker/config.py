"""Entity configuration in the official emulator's Config.json shape.

Only queues are supported; anything this emulator cannot honour (topics,
sessions, auto-forwarding) is refused at start-up with the field's path, so a
config never half-works.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The project's queue defaults (docs/architecture.md "Queue properties"); unspecified
# properties take these.
DEFAULT_QUEUE_PROPERTIES: dict[str, object] = {
    "DeadLetteringOnMessageExpiration": True,
    "DefaultMessageTimeToLive": "P14D",
    "DuplicateDetectionHistoryTimeWindow": "PT1H",
    "ForwardDeadLetteredMessagesTo": "",
    "ForwardTo": "",
    "LockDuration": "PT1M",
    "MaxDeliveryCount": 10,
    "RequiresDuplicateDetection": True,
    "RequiresSession": False,
}

MAX_LOCK_DURATION = 300.0  # Service Bus caps locks at 5 minutes
_DURATION = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_UNIT_SECONDS = {
    "years": 365 * 86400.0,
    "months": 30 * 86400.0,
    "weeks": 7 * 86400.0,
    "days": 86400.0,
    "hours": 3600.0,
    "minutes": 60.0,
    "seconds": 1.0,
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,259}$")


class ConfigError(ValueError):
    """The configuration is invalid; the message names the offending field."""


@dataclass(frozen=True)
class QueueSettings:
    """One queue's behaviour, in seconds and counts."""

    name: str
    lock_duration: float = 60.0
    max_delivery_count: int = 10
    default_ttl: float = 14 * 86400.0
    dead_lettering_on_expiration: bool = True
    requires_duplicate_detection: bool = True
    duplicate_window: float = 3600.0
    max_message_size: int = 256 * 1024


def parse_duration(text: str) -> float:
    """An ISO-8601 duration (`PT1M`, `P14D`, `PT0.5S`) in seconds (a year 365 days, a month 30)."""
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"not an ISO-8601 duration: {text!r}")
    return sum(float(v) * _UNIT_SECONDS[k] for k, v in match.groupdict().items() if v)


def load_config(path: Path) -> list[QueueSettings]:
    """Read and validate a Config.json file."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not JSON: {exc}") from exc
    return parse_config(document)


def parse_config(document: object) -> list[QueueSettings]:
    """Validate a Config.json document (already parsed) into queue settings."""
    user = _field(document, "UserConfig", dict, "")
    namespaces = _field(user, "Namespaces", list, "UserConfig")
    if not namespaces:
        raise ConfigError("UserConfig.Namespaces: at least one namespace is required")
    queues: list[QueueSettings] = []
    seen: set[str] = set()
    for n, namespace in enumerate(namespaces):
        where = f"UserConfig.Namespaces[{n}]"
        _field(namespace, "Name", str, where)
        topics = namespace.get("Topics", []) if isinstance(namespace, dict) else []
        if topics:
            raise ConfigError(f"{where}.Topics: topics and subscriptions are not supported")
        for q, entry in enumerate(_field(namespace, "Queues", list, where)):
            settings = _queue(entry, f"{where}.Queues[{q}]")
            if settings.name.lower() in seen:
                raise ConfigError(f"{where}.Queues[{q}].Name: duplicate queue {settings.name!r}")
            seen.add(settings.name.lower())
            queues.append(settings)
    return queues


def _queue(entry: object, where: str) -> QueueSettings:
    name = _field(entry, "Name", str, where)
    if not _NAME.match(name):
        raise ConfigError(f"{where}.Name: {name!r} is not a valid queue name")
    given = entry.get("Properties", {}) if isinstance(entry, dict) else {}
    if not isinstance(given, dict):
        raise ConfigError(f"{where}.Properties: must be an object")
    unknown = sorted(set(given) - set(DEFAULT_QUEUE_PROPERTIES))
    if unknown:
        raise ConfigError(f"{where}.Properties.{unknown[0]}: unknown property")
    props = {**DEFAULT_QUEUE_PROPERTIES, **given}
    where = f"{where}.Properties"
    for key in ("ForwardTo", "ForwardDeadLetteredMessagesTo"):
        if _typed(props, key, str, where):
            raise ConfigError(f"{where}.{key}: auto-forwarding is not supported")
    if _typed(props, "RequiresSession", bool, where):
        raise ConfigError(f"{where}.RequiresSession: sessions are not supported")
    lock = _duration(props, "LockDuration", where)
    if not 0 < lock <= MAX_LOCK_DURATION:
        raise ConfigError(f"{where}.LockDuration: must be more than 0 and at most PT5M")
    max_delivery = _typed(props, "MaxDeliveryCount", int, where)
    if max_delivery < 1:
        raise ConfigError(f"{where}.MaxDeliveryCount: must be at least 1")
    ttl = _duration(props, "DefaultMessageTimeToLive", where)
    window = _duration(props, "DuplicateDetectionHistoryTimeWindow", where)
    if ttl <= 0:
        raise ConfigError(f"{where}.DefaultMessageTimeToLive: must be positive")
    return QueueSettings(
        name=name,
        lock_duration=lock,
        max_delivery_count=max_delivery,
        default_ttl=ttl,
        dead_lettering_on_expiration=_typed(props, "DeadLetteringOnMessageExpiration", bool, where),
        requires_duplicate_detection=_typed(props, "RequiresDuplicateDetection", bool, where),
        duplicate_window=window,
    )


def _field(container: object, key: str, kind: type, where: str) -> Any:
    path = f"{where}.{key}" if where else key
    if not isinstance(container, dict) or key not in container:
        raise ConfigError(f"{path}: missing")
    return _check(container[key], kind, path)


def _typed(props: dict[str, object], key: str, kind: type, where: str) -> Any:
    return _check(props[key], kind, f"{where}.{key}")


def _check(value: object, kind: type, path: str) -> Any:
    # bool is an int in Python; a count given as `true` is still a mistake.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{path}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def _duration(props: dict[str, object], key: str, where: str) -> float:
    value = _typed(props, key, str, where)
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ConfigError(f"{where}.{key}: {exc}") from exc
