"""Timer triggers of the sample app on a real host process: schedule, singleton, past due, stop."""

from __future__ import annotations

import itertools
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.integration.host.test_servicebus import wait_for

EVERY_SECOND = {"SAMPLE_TIMER_SCHEDULE": "* * * * * *"}


def test_fires_on_each_occurrence(sample_host):
    host = sample_host(EVERY_SECOND)
    runs = wait_for(lambda: len(host.records("tick")) >= 3 and host.records("tick"), timeout=15)
    assert not any(r["past_due"] for r in runs)
    invocations = [
        line
        for line in host.log_lines()
        if line.get("message") == "invocation.started" and line.get("function") == "tick"
    ]
    scheduled = [datetime.fromisoformat(line["scheduled"]) for line in invocations]
    started = [datetime.fromisoformat(line["ts"]) for line in invocations]
    # Whole-second occurrences, in order, each started at (not before) its time.
    assert all(s.microsecond == 0 for s in scheduled)
    assert all(a < b for a, b in itertools.pairwise(scheduled))
    assert all(
        timedelta(0) <= t - s < timedelta(seconds=2)
        for s, t in zip(scheduled, started, strict=True)
    )


def test_one_execution_at_a_time_and_overrun_occurrences_are_skipped(sample_host):
    # Given a run that takes 2.5 s on a schedule that fires every second
    host = sample_host({**EVERY_SECOND, "SAMPLE_TIMER_SLEEP": "2.5"})
    runs = wait_for(lambda: len(host.records("tick")) >= 3 and host.records("tick"), timeout=20)
    # Then no run starts before the previous one has ended
    ends = [r["at"] for r in runs]
    starts = [r["started"] for r in runs]
    assert all(start >= end for end, start in zip(ends, starts[1:], strict=False))
    # And the occurrences it covered did not pile up behind it
    assert len(host.records("tick_started")) <= len(runs) + 1


def test_a_missed_occurrence_runs_at_start_up_past_due(sample_host, tmp_path: Path):
    # Given the status of a monitored timer whose next occurrence passed while the host was down
    state = tmp_path / "timer-state"
    (state / "timers").mkdir(parents=True)
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    (state / "timers" / "tick.status.json").write_text(
        json.dumps(
            {"Last": (an_hour_ago - timedelta(days=1)).isoformat(), "Next": an_hour_ago.isoformat()}
        )
    )
    # When the host starts (the schedule's next occurrence is a year away)
    host = sample_host(state_dir=state)
    runs = wait_for(lambda: host.records("tick"), timeout=15)
    # Then it runs once at once, past due, and records the next occurrence
    assert [r["past_due"] for r in runs] == [True]
    status = json.loads((state / "timers" / "tick.status.json").read_text())
    assert datetime.fromisoformat(status["Next"]) > datetime.now(UTC)


def test_stop_lets_a_running_invocation_finish(sample_host):
    host = sample_host({**EVERY_SECOND, "SAMPLE_TIMER_SLEEP": "2"})
    wait_for(lambda: host.records("tick_started"), timeout=15)
    started = time.monotonic()
    assert host.process.stop() == 0
    assert time.monotonic() - started < 8
    assert len(host.records("tick")) == len(host.records("tick_started"))
    assert any(line.get("message") == "host.stopped" for line in host.log_lines())


def test_two_hosts_sharing_state_run_each_occurrence_once(sample_host, tmp_path: Path):
    # Two instances of the timer's group (as after a scale-out), one state dir
    state = tmp_path / "shared-state"
    first = sample_host({**EVERY_SECOND, "SAMPLE_TIMER_SLEEP": "0.2"}, state_dir=state)
    second = sample_host({**EVERY_SECOND, "SAMPLE_TIMER_SLEEP": "0.2"}, state_dir=state)
    time.sleep(5)
    first.process.stop()
    second.process.stop()
    scheduled = [
        line["scheduled"]
        for host in (first, second)
        for line in host.log_lines()
        if line.get("message") == "invocation" and line.get("function") == "tick"
    ]
    assert len(scheduled) >= 3
    assert len(scheduled) == len(set(scheduled)), "an occurrence ran on both instances"
