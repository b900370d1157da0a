"""The timer trigger: NCRONTAB occurrences, one execution at a time, as the Functions host does.

Semantics (the timer extension, mirrored):
- occurrences come from the function's six-field NCRONTAB schedule, in UTC;
- singleton: an invocation never overlaps the previous one, and across
  instances of the host each occurrence runs once. Azure holds a blob lease;
  here an exclusive `flock` on `<state dir>/<function>.lock` guards a status
  file that records the last occurrence run, so a second instance that comes
  late finds it done and skips it;
- the next occurrence is computed after an invocation finishes, so one that
  overruns skips the occurrences it covered (no pile-up);
- `use_monitor`: the status file also holds the next expected occurrence; at
  start-up, if that time has passed (the host was down), the function runs at
  once with `past_due` True;
- `run_on_startup`: the function runs once when the host starts;
- an exception is logged and the schedule carries on (no retry, as in Azure);
- on stop, a running invocation gets the shutdown grace period.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from azure.functions.timer import TimerRequest

from localdev.host.discovery import TimerFunction
from localdev.host.invocation import Invoker, elapsed_ms, log_event

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


class TimerStatus:
    """The status file of one timer function: last occurrence run, next one expected."""

    def __init__(self, state_dir: Path, function_name: str) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / f"{function_name}.status.json"
        self.lock_path = state_dir / f"{function_name}.lock"

    @contextmanager
    def locked(self) -> Iterator[bool]:
        """Hold the function's cross-instance lock; yields False if another instance holds it."""
        with self.lock_path.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def read(self) -> dict[str, Any]:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return document if isinstance(document, dict) else {}

    def moment(self, key: str) -> datetime | None:
        value = self.read().get(key)
        try:
            return datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None

    def write(self, last: datetime, next_due: datetime) -> None:
        document = {"Last": _iso(last), "Next": _iso(next_due), "LastUpdated": _iso(utc_now())}
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(document), encoding="utf-8")
        temporary.replace(self.path)


class TimerListener:
    """Drives one timer-triggered function until `stopping` is set."""

    def __init__(
        self,
        function: TimerFunction,
        invoker: Invoker,
        state_dir: Path,
        clock: Clock = utc_now,
    ) -> None:
        self.function = function
        self.invoker = invoker
        self.status = TimerStatus(state_dir, function.name)
        self.clock = clock
        self._running: asyncio.Task[None] | None = None

    @property
    def in_flight(self) -> int:
        return 0 if self._running is None or self._running.done() else 1

    async def run(self, stopping: asyncio.Event, grace_seconds: float) -> None:
        """Fire at each occurrence until stopped; a running invocation gets `grace_seconds`."""
        schedule = self.function.schedule
        missed = self.status.moment("Next") if self.function.use_monitor else None
        now = self.clock()
        if missed is not None and missed < now:
            await self._fire(stopping, grace_seconds, missed, past_due=True)
        elif self.function.run_on_startup:
            await self._fire(stopping, grace_seconds, now.replace(microsecond=0), past_due=False)
        log_event("timer.scheduled", function=self.function.name, schedule=schedule.expression)
        while not stopping.is_set():
            due = schedule.next_after(self.clock())
            self._record_next(due)
            if await self._sleep_until(stopping, due):
                break
            await self._fire(stopping, grace_seconds, due, past_due=False)

    async def _sleep_until(self, stopping: asyncio.Event, due: datetime) -> bool:
        """Wait for `due` (or the stop); True if stopping."""
        while not stopping.is_set():
            remaining = (due - self.clock()).total_seconds()
            if remaining <= 0:
                return False
            try:
                # Wake at least every second: the wall clock may jump (suspend, NTP).
                await asyncio.wait_for(stopping.wait(), timeout=min(remaining, 1.0))
            except TimeoutError:
                continue
        return True

    def _record_next(self, due: datetime) -> None:
        with self.status.locked() as held:
            if held:
                last = self.status.moment("Last") or due
                self.status.write(last, due)

    async def _fire(
        self, stopping: asyncio.Event, grace_seconds: float, due: datetime, past_due: bool
    ) -> None:
        with self.status.locked() as held:
            last = self.status.moment("Last")
            if not held or (last is not None and last >= due and not past_due):
                log_event("timer.skipped", function=self.function.name, scheduled=_iso(due))
                return
            self.status.write(due, self.function.schedule.next_after(due))
            self._running = asyncio.create_task(self._invoke(due, past_due))
            _, pending = await asyncio.wait(
                [self._running, asyncio.create_task(stopping.wait())],
                return_when=asyncio.FIRST_COMPLETED,
            )
            if self._running in pending:  # stopping: the grace period, then cancel
                await asyncio.wait([self._running], timeout=grace_seconds)
                self._running.cancel()
            for task in pending:
                if task is not self._running:
                    task.cancel()

    async def _invoke(self, due: datetime, past_due: bool) -> None:
        fields: dict[str, Any] = {
            "function": self.function.name,
            "trigger": "timer",
            "scheduled": _iso(due),
            "past_due": past_due,
        }
        request = TimerRequest(
            past_due=past_due,
            schedule_status=self.status.read(),
            schedule={"AdjustForDST": False},
        )
        started = time.perf_counter()
        log_event("invocation.started", **fields)
        outcome, level = "succeeded", logging.INFO
        try:
            await self.invoker.call(self.function, request)
        except asyncio.CancelledError:
            outcome, level = "cancelled", logging.WARNING
            raise
        except Exception:
            outcome, level = "failed", logging.WARNING
            log_event("function.error", logging.ERROR, exc_info=True, function=self.function.name)
        finally:
            log_event(
                "invocation", level, **fields, outcome=outcome, duration_ms=elapsed_ms(started)
            )
