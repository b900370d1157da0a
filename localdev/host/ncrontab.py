"""NCRONTAB schedules, as the Functions timer trigger reads them.

Six fields, `{second} {minute} {hour} {day} {month} {day-of-week}`, each a
value, `*`, a range `a-b`, a list `a,b`, or a step `*/n` / `a-b/n` / `a/n`.
Months and days of the week may be English names or their three-letter
abbreviations, case-insensitive; day-of-week runs 0-6 from Sunday (7 is
Sunday too). Times are UTC (Flex Consumption runs on Linux, where
WEBSITE_TIME_ZONE is not supported). Like the NCrontab library the
Functions host uses, a time matches only when *every* field matches, so a
day-of-month and a day-of-week restrict together (no cron "either" rule).
The App Service `hh:mm:ss` TimeSpan form is refused: Flex Consumption
accepts only CRON expressions.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
FULL_NAMES = {
    "january": 1, "february": 2, "march": 3, "april": 4, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "sunday": 0, "monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4,
    "friday": 5, "saturday": 6,
}  # fmt: skip
# (name, low, high, names) per field, in order.
FIELDS = (
    ("second", 0, 59, None),
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day", 1, 31, None),
    ("month", 1, 12, MONTHS),
    ("day-of-week", 0, 7, DAYS),
)
# Five years: every valid schedule fires within that (29 February needs four).
SEARCH_LIMIT = timedelta(days=5 * 366)


class ScheduleError(ValueError):
    """The schedule is not a valid NCRONTAB expression; the message says which part."""


@dataclass(frozen=True)
class Schedule:
    """A parsed six-field NCRONTAB expression; `next_after(t)` is its next occurrence."""

    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday

    def matches(self, moment: datetime) -> bool:
        """Whether `moment` (UTC, whole second) is an occurrence."""
        return (
            moment.second in self.seconds
            and moment.minute in self.minutes
            and moment.hour in self.hours
            and moment.day in self.days
            and moment.month in self.months
            and (moment.weekday() + 1) % 7 in self.weekdays
        )

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment` (UTC)."""
        current = moment.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
        limit = current + SEARCH_LIMIT
        while current < limit:
            if current.month not in self.months:
                current = _first_of_next_month(current)
            elif current.day not in self.days or (current.weekday() + 1) % 7 not in self.weekdays:
                current = current.replace(hour=0, minute=0, second=0) + timedelta(days=1)
            elif current.hour not in self.hours:
                current = current.replace(minute=0, second=0) + timedelta(hours=1)
            elif current.minute not in self.minutes:
                current = current.replace(second=0) + timedelta(minutes=1)
            elif current.second not in self.seconds:
                current += timedelta(seconds=1)
            else:
                return current
        raise ScheduleError(f"{self.expression!r} never fires")

    def shortest_interval(self, start: datetime, samples: int = 8) -> timedelta:
        """The smallest gap between the next few occurrences (decides use_monitor's default)."""
        times = [self.next_after(start)]
        for _ in range(samples):
            times.append(self.next_after(times[-1]))
        return min(b - a for a, b in itertools.pairwise(times))


def _first_of_next_month(moment: datetime) -> datetime:
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return moment.replace(year=year, month=month, day=1, hour=0, minute=0, second=0)


def parse(expression: str) -> Schedule:
    """Parse a six-field NCRONTAB expression; ScheduleError names the bad field."""
    parts = expression.split()
    if ":" in expression and len(parts) == 1:
        raise ScheduleError(
            f"{expression!r}: TimeSpan schedules run only on an App Service plan; "
            "Flex Consumption needs a six-field CRON expression"
        )
    if len(parts) != 6:
        raise ScheduleError(
            f"{expression!r}: expected 6 fields (second minute hour day month day-of-week), "
            f"got {len(parts)}"
        )
    values = [_parse_field(part, *spec) for part, spec in zip(parts, FIELDS, strict=True)]
    weekdays = frozenset(0 if d == 7 else d for d in values[5])  # 7 is Sunday too
    seconds, minutes, hours, days, months = values[:5]
    schedule = Schedule(expression, seconds, minutes, hours, days, months, weekdays)
    schedule.next_after(datetime(2000, 1, 1, tzinfo=UTC))  # e.g. "0 0 0 31 2 *" never fires
    return schedule


def _parse_field(
    text: str, name: str, low: int, high: int, names: tuple[str, ...] | None
) -> frozenset[int]:
    result: set[int] = set()
    for item in text.split(","):
        result.update(_parse_item(item, name, low, high, names))
    return frozenset(result)


def _parse_item(item: str, name: str, low: int, high: int, names: tuple[str, ...] | None) -> range:
    base, _, step_text = item.partition("/")
    step = _number(step_text, name, names=None) if step_text else 1
    if step < 1:
        raise ScheduleError(f"{name} field {item!r}: the step must be at least 1")
    if base == "*":
        first, last = low, high
    elif "-" in base:
        start, _, end = base.partition("-")
        first, last = _number(start, name, names), _number(end, name, names)
    else:
        first = _number(base, name, names)
        last = high if step_text else first  # "a/n": from a to the end, every n
    if not (low <= first <= high and low <= last <= high) or first > last:
        raise ScheduleError(f"{name} field {item!r}: values must be in {low}-{high}, low to high")
    return range(first, last + 1, step)


def _number(text: str, field_name: str, names: tuple[str, ...] | None) -> int:
    lowered = text.strip().lower()
    if lowered.isdigit():
        return int(lowered)
    if names is not None and lowered[:3] in names and (len(lowered) == 3 or lowered in FULL_NAMES):
        index = names.index(lowered[:3])
        return index + 1 if names is MONTHS else index
    raise ScheduleError(f"{field_name} field: {text!r} is not a number or a name")
