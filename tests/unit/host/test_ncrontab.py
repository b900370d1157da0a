"""NCRONTAB parsing and next occurrences, as the Functions timer trigger reads schedules."""

from datetime import UTC, datetime, timedelta

import pytest

from localdev.host.ncrontab import ScheduleError, parse


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # The project's default: every 10 minutes, on the minute.
        ("0 */10 * * * *", at(2026, 11, 29, 15, 4, 59), at(2026, 11, 29, 15, 10, 0)),
        ("0 */10 * * * *", at(2026, 11, 29, 15, 10, 0), at(2026, 11, 29, 15, 20, 0)),
        ("0 */10 * * * *", at(2026, 12, 31, 23, 55), at(2027, 1, 1, 0, 0, 0)),
        # Every 5 seconds; the Azure docs' "0 30 9 * * 1-5" (weekdays at 9:30).
        ("*/5 * * * * *", at(2026, 1, 1, 0, 0, 3), at(2026, 1, 1, 0, 0, 5)),
        ("0 30 9 * * 1-5", at(2026, 11, 27, 10, 0), at(2026, 11, 30, 9, 30)),  # Fri -> Mon
        # Names, case-insensitive, abbreviated or not: 9:30 on Mondays in January.
        ("0 30 9 * Jan Mon", at(2026, 2, 1), at(2027, 1, 4, 9, 30)),
        ("0 30 9 * january MONDAY", at(2026, 2, 1), at(2027, 1, 4, 9, 30)),
        # Lists, ranges with steps, "a/n".
        ("0 0 9,17 * * *", at(2026, 5, 1, 9, 0, 1), at(2026, 5, 1, 17, 0)),
        ("0 0 8-18/5 * * *", at(2026, 5, 1, 13, 0, 1), at(2026, 5, 1, 18, 0)),
        ("10/20 * * * * *", at(2026, 5, 1, 0, 0, 31), at(2026, 5, 1, 0, 0, 50)),
        # 7 is Sunday as well as 0.
        ("0 0 0 * * 7", at(2026, 11, 25), at(2026, 11, 29)),
        # Day and day-of-week both restrict (NCrontab): the next Friday the 13th.
        ("0 0 0 13 * Fri", at(2026, 3, 14), at(2026, 11, 13)),
        # 29 February exists only in leap years.
        ("0 0 12 29 2 *", at(2026, 1, 1), at(2028, 2, 29, 12)),
    ],
)
def test_next_occurrence(expression, after, expected):
    assert parse(expression).next_after(after) == expected


def test_next_occurrence_is_strictly_later_and_drops_microseconds():
    schedule = parse("* * * * * *")
    assert schedule.next_after(at(2026, 1, 1, 0, 0, 0).replace(microsecond=900)) == at(
        2026, 1, 1, 0, 0, 1
    )


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 */10 * * *", "expected 6 fields"),
        ("00:05:00", "TimeSpan schedules run only on an App Service plan"),
        ("60 * * * * *", "second field '60'"),
        ("0 0 24 * * *", "hour field"),
        ("0 0 0 0 * *", "day field"),
        ("0 0 0 * 13 *", "month field"),
        ("0 0 0 * * 8", "day-of-week field"),
        ("*/0 * * * * *", "step must be at least 1"),
        ("0 0 5-1 * * *", "low to high"),
        ("0 0 0 * Foo *", "'Foo' is not a number or a name"),
        ("0 0 0 * * Mo", "'Mo' is not a number or a name"),
        ("0 0 0 31 2 *", "never fires"),
        ("x * * * * *", "second field"),
    ],
)
def test_bad_schedules_name_the_field(expression, message):
    with pytest.raises(ScheduleError, match=message):
        parse(expression)


def test_shortest_interval_decides_use_monitor():
    assert parse("*/30 * * * * *").shortest_interval(at(2026, 1, 1)) == timedelta(seconds=30)
    assert parse("0 0 9,17 * * *").shortest_interval(at(2026, 1, 1)) == timedelta(hours=8)


def test_matches_agrees_with_next_after():
    schedule = parse("15 */7 1-3 * * Mon-Wed")
    moment = at(2026, 6, 1)
    for _ in range(50):
        moment = schedule.next_after(moment)
        assert schedule.matches(moment)
