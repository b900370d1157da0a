"""What the host reads before it loads the app: `local.settings.json` and `host.json`.

App settings follow Core Tools: every `Values` entry becomes an environment
variable *unless the variable is already set* (the environment wins; Core
Tools documents the same order and logs which settings it skipped).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any


class StartupError(Exception):
    """The host cannot start; the message is one line meant for the user (exit code 2)."""


@dataclass(frozen=True)
class ServiceBusOptions:
    """`extensions.serviceBus` of host.json, with the extension 5.x defaults."""

    auto_complete_messages: bool = True
    max_concurrent_calls: int = 16
    max_auto_lock_renewal_duration: timedelta = timedelta(minutes=5)
    prefetch_count: int = 0


@dataclass(frozen=True)
class HostOptions:
    """The parts of host.json this host honours."""

    route_prefix: str = "api"
    service_bus: ServiceBusOptions = field(default_factory=ServiceBusOptions)


_TIMESPAN = re.compile(r"^(?:(?P<days>\d+)\.)?(?P<h>\d{1,2}):(?P<m>\d{2}):(?P<s>\d{2}(?:\.\d+)?)$")


def parse_timespan(value: str) -> timedelta:
    """Parse a .NET TimeSpan as host.json writes it: `hh:mm:ss[.fff]` or `d.hh:mm:ss`."""
    match = _TIMESPAN.match(value.strip())
    if match is None:
        raise StartupError(f"host.json: {value!r} is not a timespan like 00:05:00")
    return timedelta(
        days=int(match["days"] or 0),
        hours=int(match["h"]),
        minutes=int(match["m"]),
        seconds=float(match["s"]),
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise StartupError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(data, dict):
        raise StartupError(f"{path}: expected a JSON object at the top level")
    return data


def load_host_options(path: Path) -> HostOptions:
    """Read host.json; a missing file means the defaults, like the real host."""
    if not path.exists():
        return HostOptions()
    extensions = _read_json(path).get("extensions") or {}
    http = extensions.get("http") or {}
    bus = extensions.get("serviceBus") or {}
    defaults = ServiceBusOptions()
    renewal = bus.get("maxAutoLockRenewalDuration")
    options = ServiceBusOptions(
        auto_complete_messages=bool(
            bus.get("autoCompleteMessages", defaults.auto_complete_messages)
        ),
        max_concurrent_calls=int(bus.get("maxConcurrentCalls", defaults.max_concurrent_calls)),
        max_auto_lock_renewal_duration=(
            parse_timespan(renewal) if renewal else defaults.max_auto_lock_renewal_duration
        ),
        prefetch_count=int(bus.get("prefetchCount", defaults.prefetch_count)),
    )
    if options.max_concurrent_calls < 1:
        raise StartupError("host.json: extensions.serviceBus.maxConcurrentCalls must be at least 1")
    prefix = str(http.get("routePrefix", "api")).strip("/")
    return HostOptions(route_prefix=prefix, service_bus=options)


def load_local_settings(path: Path) -> dict[str, str]:
    """The `Values` of local.settings.json as strings; a missing file means no values."""
    if not path.exists():
        return {}
    data = _read_json(path)
    if data.get("IsEncrypted"):
        raise StartupError(
            f"{path}: encrypted settings are not supported; set IsEncrypted to false"
        )
    values = data.get("Values") or {}
    if not isinstance(values, dict):
        raise StartupError(f"{path}: Values must be a JSON object")
    return {str(name): "" if value is None else str(value) for name, value in values.items()}


def apply_app_settings(values: Mapping[str, str], environ: MutableMapping[str, str]) -> list[str]:
    """Export `values` into `environ` where unset; return the names the environment kept."""
    kept = []
    for name, value in values.items():
        if name in environ:
            kept.append(name)
        else:
            environ[name] = value
    return kept


_EXPRESSION = re.compile(r"%([^%]+)%")


def resolve_setting_expressions(value: str, settings: Mapping[str, str], where: str) -> str:
    """Replace each `%NAME%` in a binding value with the app setting NAME, as the host does."""

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in settings:
            raise StartupError(f"{where}: app setting {name!r} (from %{name}%) is not set")
        return settings[name]

    return _EXPRESSION.sub(lookup, value)
