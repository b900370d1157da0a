"""Skips, --dry-run, the checkpoint, and a run that dies midway, through the real SDK."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from reconciler import mapping
from reconciler.sweep import sweep
from shared.errors import QueueUnavailable
from shared.failures import ProcessingFailure
from tests.integration.auth0.standin import HOUR, TENANT_ID, running_standin, seed_users
from tests.integration.reconciler.test_listing import CrashingPublisher

pytestmark = pytest.mark.timeout(120)
SPAN = timedelta(minutes=30)


def test_stored_dead_lettered_failed_and_erased_users_are_not_enqueued(rig_factory):
    with running_standin() as server:
        users = seed_users(server, 50, HOUR, SPAN)
        rig = rig_factory(server)
        for user in users[:10]:  # the Action's copies already reached the table
            message = mapping.registration_message(user, TENANT_ID, frozenset())
            rig.store(message.body, message.message_id)
        rig.dead_letters.add(mapping.message_id(TENANT_ID, users[10]))
        rig.failures.record(
            ProcessingFailure(
                message_id=mapping.message_id(TENANT_ID, users[11]), delivery_count=3,
                error_type="StorageRejected", error_message="x", permanent=True,
                correlation_id="c" * 32, failed_at=HOUR,
            )
        )  # fmt: skip
        rig.tombstones.record(TENANT_ID, users[12]["user_id"], HOUR + timedelta(hours=1))

        report = rig.reconciler.run(HOUR, HOUR + SPAN)

        assert (report.scanned, report.already_stored, report.enqueued) == (50, 10, 37)
        assert (report.skipped_dead_lettered, report.skipped_failed) == (1, 1)
        assert report.skipped_tombstoned == 1
        enqueued = set(rig.enqueued_user_ids())
        assert enqueued == {u["user_id"] for u in users[13:]}


def test_messages_carry_the_actions_id_source_and_only_the_allowed_fields(rig_factory):
    with running_standin() as server:
        [user] = seed_users(server, 1, HOUR, SPAN)
        rig = rig_factory(server)
        rig.reconciler.run(HOUR, HOUR + SPAN)
        [message] = rig.publisher.messages
        assert message.message_id == mapping.message_id(TENANT_ID, user)
        body = json.loads(message.body)
        assert body["source"] == "reconcile"
        assert body["tenant"] == {"id": TENANT_ID}
        assert body["connection"] == {
            "name": "Username-Password-Authentication",
            "strategy": "auth0",
        }
        assert body["user"]["email"] == user["email"]  # the rig's SEND_FIELDS is "email"
        assert "name" not in body["user"]
        assert body["user"]["created_at"] == user["created_at"]


def test_dry_run_changes_nothing(rig_factory):
    with running_standin() as server:
        seed_users(server, 120, HOUR, SPAN)
        rig = rig_factory(server)
        before = len(rig.registrations)

        report = rig.reconciler.run(HOUR, HOUR + SPAN, dry_run=True)

        assert (report.would_enqueue, report.enqueued) == (120, 0)
        assert rig.publisher.messages == []
        assert len(rig.registrations) == before
        assert rig.checkpoints.get(TENANT_ID) is None


def test_a_sweep_that_dies_midway_loses_nothing_when_run_again(rig_factory):
    with running_standin() as server:
        users = seed_users(server, 2500, HOUR, SPAN)
        now = HOUR + SPAN + timedelta(minutes=2)
        crashing = rig_factory(server, publisher=CrashingPublisher(survive=1300))
        crashing.checkpoints.advance(TENANT_ID, HOUR)

        with pytest.raises(QueueUnavailable):
            sweep(crashing.reconciler, crashing.checkpoints, timedelta(minutes=2), now=lambda: now)
        assert crashing.checkpoints.get(TENANT_ID) == HOUR  # nothing moved past a lost message

        # The next run, with the same checkpoint table, enqueues every user.
        rig = rig_factory(server)
        rig.checkpoints = crashing.checkpoints
        report = sweep(rig.reconciler, rig.checkpoints, timedelta(minutes=2), now=lambda: now)
        assert report is not None
        assert report.complete
        assert set(rig.enqueued_user_ids()) == {u["user_id"] for u in users}
        assert rig.checkpoints.get(TENANT_ID) == HOUR + SPAN


def test_a_sweep_past_its_budget_keeps_what_it_finished_and_the_next_goes_on(rig_factory):
    with running_standin() as server:
        users = seed_users(server, 2500, HOUR, SPAN)
        now = HOUR + SPAN + timedelta(minutes=2)
        rig = rig_factory(server)
        rig.checkpoints.advance(TENANT_ID, HOUR)

        first = sweep(rig.reconciler, rig.checkpoints, timedelta(minutes=2), now=lambda: now,
                      budget_seconds=0.0)  # fmt: skip
        assert first is not None
        assert first.stopped_early
        assert first.windows == 1
        middle = rig.checkpoints.get(TENANT_ID)
        assert middle is not None
        assert HOUR < middle < HOUR + SPAN

        second = sweep(rig.reconciler, rig.checkpoints, timedelta(minutes=2), now=lambda: now,
                       budget_seconds=0.0)  # fmt: skip
        while second is not None and not second.complete:
            second = sweep(rig.reconciler, rig.checkpoints, timedelta(minutes=2),
                           now=lambda: now, budget_seconds=0.0)  # fmt: skip
        assert set(rig.enqueued_user_ids()) == {u["user_id"] for u in users}
        assert rig.checkpoints.get(TENANT_ID) == HOUR + SPAN
