"""Reconcile one `created_at` range: list Auth0's users, enqueue those the table lacks.

For each window `list_users` yields, the stored registrations of that window
are read with one time-index query (not one lookup per user). A user is then:

- `already_stored`: the table holds it with the same `created_at` millisecond;
- `skipped_dead_lettered` / `skipped_failed`: its message id is in the
  dead-letter queue or has a recorded processing failure (enqueuing it again on
  every sweep would only flood the dead-letter queue; an operator replays it);
  both, and the tombstones, are read once per run (`reconciler.known`);
- `skipped_tombstoned`: it was erased after this signup;
- `enqueued` (or `would_enqueue` with `dry_run`).

Windows are finished in time order, so `complete_until` (the end of the last
finished window) is a safe checkpoint: everything before it is enqueued.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from reconciler import mapping
from reconciler.known import KnownProblems
from reconciler.listing import list_users
from reconciler.management import UserSearch
from reconciler.prefetch import Prefetch
from reconciler.windows import Window, to_ms
from shared.errors import InvalidEvent
from shared.publisher import RegistrationPublisher
from shared.registrations import RegistrationReader
from shared.retries import INGEST_PUBLISH_RETRY

log = logging.getLogger(__name__)

# Users of one window checked and sent at once: table lookups and sends are I/O bound,
# and the publisher keeps one sender per concurrent send (up to its pool of 16).
WORKERS = 8


@dataclass
class ReconcileReport:
    """What one run did. All counts are users."""

    since: datetime
    until: datetime
    dry_run: bool = False
    scanned: int = 0
    already_stored: int = 0
    enqueued: int = 0
    would_enqueue: int = 0
    skipped_dead_lettered: int = 0
    skipped_failed: int = 0
    skipped_tombstoned: int = 0
    skipped_invalid: int = 0
    windows: int = 0
    complete_until: datetime | None = None  # everything before it is done
    stopped_early: bool = False  # the deadline came before `until`

    @property
    def complete(self) -> bool:
        return self.complete_until is not None and self.complete_until >= self.until

    def as_json(self) -> dict[str, Any]:
        """The `--json` object: integers for the counts, ISO text for times."""
        document = asdict(self)
        for key, value in document.items():
            if isinstance(value, datetime):
                document[key] = value.isoformat()
        document["complete"] = self.complete
        return document


@dataclass
class Reconciler:
    """Lists, compares, enqueues. Every collaborator is an interface (see the tests)."""

    search: UserSearch
    reader: RegistrationReader
    publisher: RegistrationPublisher
    known_problems: Callable[[], KnownProblems]  # read once per run (see reconciler.known)
    tenant_id: str
    send_fields: frozenset[str] = field(default_factory=frozenset)
    monotonic: Callable[[], float] = time.monotonic
    workers: int = WORKERS

    def run(
        self,
        since: datetime,
        until: datetime,
        *,
        dry_run: bool = False,
        deadline: float | None = None,
        on_window: Callable[[ReconcileReport], None] | None = None,
    ) -> ReconcileReport:
        """Reconcile `[since, until)`; stop between windows once `deadline` (monotonic) passes."""
        report = ReconcileReport(since=since, until=until, dry_run=dry_run)
        known = self.known_problems()
        listing = Prefetch(list_users(self.search, Window.between(since, until)))
        with listing as windows, ThreadPoolExecutor(self.workers) as pool:
            for window, users in windows:
                self._reconcile_window(window, users, known, report, pool)
                report.windows += 1
                report.complete_until = window.end
                if on_window is not None:
                    on_window(report)
                if deadline is not None and self.monotonic() >= deadline and window.end < until:
                    report.stopped_early = True
                    break
        log.info("reconcile run", extra={"report": report.as_json()})
        return report

    def _reconcile_window(
        self,
        window: Window,
        users: Iterable[dict[str, Any]],
        known: KnownProblems,
        report: ReconcileReport,
        pool: ThreadPoolExecutor,
    ) -> None:
        stored = {
            registration.user_id: to_ms(registration.created_at)
            for registration in self.reader.list(since=window.start, until=window.end)
            if registration.tenant_id == self.tenant_id
        }
        missing = []
        for user in users:
            report.scanned += 1
            if stored.get(str(user["user_id"])) == to_ms(mapping.created_at(user)):
                report.already_stored += 1
            else:
                missing.append(user)
        # Sends of one window run side by side; all finish before the next window counts.
        futures = [pool.submit(self._consider, user, known, report.dry_run) for user in missing]
        try:
            for future in futures:
                outcome = future.result()
                setattr(report, outcome, getattr(report, outcome) + 1)
        except BaseException:
            # The queue is down (retries spent): the sends not started yet would each spend
            # their own retry budget for nothing. The run stops; the checkpoint stays behind.
            for future in futures:
                future.cancel()
            raise

    def _consider(self, user: dict[str, Any], known: KnownProblems, dry_run: bool) -> str:
        """Skip or enqueue one user the table lacks; the name of the count it adds to."""
        message_id = mapping.message_id(self.tenant_id, user)
        if message_id in known.dead_lettered:
            return "skipped_dead_lettered"
        if message_id in known.failed:
            return "skipped_failed"
        created = mapping.created_at(user)
        if known.tombstones.is_tombstoned(self.tenant_id, str(user["user_id"]), created):
            return "skipped_tombstoned"
        try:
            message = mapping.registration_message(user, self.tenant_id, self.send_fields)
        except InvalidEvent:
            # Auth0 returned a user payload v1 cannot carry; counted, never retried blindly.
            log.warning("reconcile skipped invalid user", extra={"message_id": message_id})
            return "skipped_invalid"
        if dry_run:
            return "would_enqueue"
        INGEST_PUBLISH_RETRY.call(self.publisher.publish, message)
        return "enqueued"
