"""Flag parsing: durations, rates, timestamps, sequence numbers and selections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ops.cli.options import parse_sequence_numbers, selection_from_flags
from ops.deadletters.model import Selection
from ops.durations import parse_duration, parse_rate, parse_timestamp
from ops.errors import UsageProblem
from tests.unit.ops.ops_fakes import START, letter


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("12h30m", timedelta(hours=12, minutes=30)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("P7D", timedelta(days=7)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
        ("pt45s", timedelta(seconds=45)),
        ("P1DT2H", timedelta(days=1, hours=2)),
    ],
)
def test_durations_in_compact_and_iso_form(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "7", "d7", "7x", "1h1h", "P", "PT", "P1DT", "0s", "-5m", "7 days"]
)
def test_bad_durations_are_usage_problems(text: str) -> None:
    with pytest.raises(UsageProblem, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "per_second"), [("50", 50.0), ("50/s", 50.0), ("600/m", 10.0), ("3600/h", 1.0)]
)
def test_rates(text: str, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("text", ["0", "fast", "5/d", "-1/s", ""])
def test_bad_rates(text: str) -> None:
    with pytest.raises(UsageProblem, match="invalid rate"):
        parse_rate(text)


def test_timestamps_are_utc_and_a_bare_date_is_midnight() -> None:
    assert parse_timestamp("2026-11-26") == datetime(2026, 11, 26, tzinfo=UTC)
    assert parse_timestamp("2026-11-26T03:00:00Z") == datetime(2026, 11, 26, 3, tzinfo=UTC)
    assert parse_timestamp("2026-11-26T04:00:00+01:00") == datetime(2026, 11, 26, 3, tzinfo=UTC)
    with pytest.raises(UsageProblem, match="invalid timestamp"):
        parse_timestamp("yesterday")


def test_sequence_numbers_repeat_or_comma_separate() -> None:
    assert parse_sequence_numbers(["5", "7,9", "11 12"]) == [5, 7, 9, 11, 12]
    for bad in (["0"], ["x"], ["3,-1"], ["1.5"]):
        with pytest.raises(UsageProblem, match="invalid sequence number"):
            parse_sequence_numbers(bad)


def test_a_selection_is_required_and_all_stands_alone() -> None:
    with pytest.raises(UsageProblem, match="say which messages"):
        selection_from_flags(False, [], None, None)
    with pytest.raises(UsageProblem, match="cannot be combined"):
        selection_from_flags(True, ["3"], None, None)
    with pytest.raises(UsageProblem, match="non-empty"):
        selection_from_flags(False, [], "  ", None)
    assert selection_from_flags(True, [], None, None).everything


def test_filters_combine_with_and() -> None:
    old_timeout = letter(
        1, dead_letter_reason="ProcessingTimeout", enqueued_time=START - timedelta(days=8)
    )
    new_timeout = letter(
        2, dead_letter_reason="ProcessingTimeout", enqueued_time=START - timedelta(hours=1)
    )
    old_other = letter(3, enqueued_time=START - timedelta(days=8))
    selection = Selection(reason="timeout", older_than=timedelta(days=7))
    assert [selection.matches(x, START) for x in (old_timeout, new_timeout, old_other)] == [
        True,
        False,
        False,
    ]
    by_seq = Selection(sequence_numbers=frozenset({2, 3}), reason="max")
    assert [by_seq.matches(x, START) for x in (old_timeout, new_timeout, old_other)] == [
        False,
        False,
        True,
    ]
    assert "seq 2,3" in by_seq.describe()
    assert "'max'" in by_seq.describe()


def test_the_error_filter_matches_the_recorded_error() -> None:
    selection = selection_from_flags(False, [], None, None, "storage")
    assert selection.matches(letter(1), START, "StorageUnavailable: 503")
    assert not selection.matches(letter(1), START, "InvalidEvent: user.created_at")
    assert not selection.matches(letter(1), START, None)
    with pytest.raises(UsageProblem, match="--error needs"):
        selection_from_flags(False, [], None, None, " ")
    with pytest.raises(UsageProblem, match="cannot be combined"):
        selection_from_flags(True, [], None, None, "storage")


def test_older_than_skips_letters_without_an_enqueued_time() -> None:
    assert not Selection(older_than=timedelta(seconds=1)).matches(
        letter(1, enqueued_time=None), START
    )
