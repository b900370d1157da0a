"""Durations and timestamps as operators type them: `7d`, `12h30m`, `PT1H`, `2026-11-26T03:00Z`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ops.errors import UsageProblem

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_COMPACT = re.compile(r"(\d+)([wdhms])")
_ISO = re.compile(
    r"P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?"
)


def parse_duration(text: str) -> timedelta:
    """A positive duration from `90s`, `15m`, `12h30m`, `7d`, `2w` or ISO 8601 `P7D`, `PT1H30M`."""
    cleaned = text.strip()
    seconds = _compact_seconds(cleaned.lower())
    if seconds is None:
        seconds = _iso_seconds(cleaned.upper())
    if seconds is None:
        raise UsageProblem(
            f"invalid duration {text!r}: use e.g. 90s, 15m, 12h30m, 7d, 2w, or ISO 8601 (P7D, PT1H)"
        )
    if seconds <= 0:
        raise UsageProblem(f"invalid duration {text!r}: must be longer than zero")
    return timedelta(seconds=seconds)


def _compact_seconds(text: str) -> float | None:
    parts = _COMPACT.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    units = [unit for _, unit in parts]
    if len(set(units)) != len(units):
        return None
    return float(sum(int(number) * _UNITS[unit] for number, unit in parts))


def _iso_seconds(text: str) -> float | None:
    match = _ISO.fullmatch(text)
    if match is None or text in ("P", "PT") or text.endswith("T"):
        return None
    fields = match.groupdict()
    return sum(float(fields[key] or 0) * _UNITS[key.lower()] for key in ("w", "d", "h", "m", "s"))


def parse_timestamp(text: str) -> datetime:
    """An aware UTC datetime from ISO 8601; a bare date is its midnight, no zone means UTC."""
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError:
        raise UsageProblem(
            f"invalid timestamp {text!r}: use ISO 8601, e.g. 2026-11-26 or 2026-11-26T03:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_rate(text: str) -> float:
    """Messages per second from `50`, `50/s`, `600/m` or `3600/h`."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:/\s*([smh]))?\s*", text.lower())
    if match is None or float(match.group(1)) <= 0:
        raise UsageProblem(f"invalid rate {text!r}: use e.g. 50/s, 600/m or 3600/h")
    per = {"s": 1, "m": 60, "h": 3600}[match.group(2) or "s"]
    return float(match.group(1)) / per
