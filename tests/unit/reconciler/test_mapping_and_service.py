"""Mapping a Management API user, the skip rules, the checkpoint and the sweep, in memory."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler import mapping
from reconciler.checkpoint import CheckpointStore
from reconciler.known import TableKnownProblems
from reconciler.service import Reconciler
from reconciler.sweep import FIRST_SWEEP, OVERLAP, sweep
from shared.ids import registration_id
from shared.publisher import InMemoryPublisher
from shared.registrations import RegistrationReader
from shared.send_fields import parse_send_fields
from shared.tablestore import InMemoryTableStore
from tests.unit.reconciler.fakes import InMemoryUserSearch

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
USER: dict[str, Any] = {
    "user_id": "google-oauth2|1029",
    "created_at": "2026-11-26T03:00:00.123Z",
    "email": "ana@example.com",
    "email_verified": True,
    "name": "Ana",
    "user_metadata": {"plan": "pro"},
    "identities": [{"connection": "google-oauth2", "provider": "google-oauth2", "isSocial": True}],
}


def test_payload_carries_only_what_send_fields_allows():
    payload = mapping.registration_payload(USER, "acme", frozenset())
    assert payload["user"] == {
        "user_id": "google-oauth2|1029",
        "created_at": "2026-11-26T03:00:00.123Z",
        "email_verified": True,
    }
    assert payload["connection"] == {"name": "google-oauth2", "strategy": "google-oauth2"}
    assert payload["source"] == "reconcile"
    full = mapping.registration_payload(USER, "acme", parse_send_fields("all").fields)
    assert full["user"]["email"] == "ana@example.com"
    assert full["user"]["user_metadata"] == {"plan": "pro"}


def test_the_message_id_is_the_actions():
    message = mapping.registration_message(USER, "acme", frozenset())
    assert message.message_id == registration_id("acme", USER["user_id"], USER["created_at"])
    assert json.loads(message.body)["tenant"] == {"id": "acme"}
    assert message.application_properties["source"] == "reconcile"


def make_reconciler(users, publisher=None):
    return Reconciler(
        search=InMemoryUserSearch(users),
        reader=RegistrationReader(InMemoryTableStore()),
        publisher=publisher or InMemoryPublisher(),
        known_problems=TableKnownProblems(set, InMemoryTableStore(), InMemoryTableStore()),
        tenant_id="acme",
    )


def test_a_user_payload_v1_cannot_carry_is_counted_not_sent():
    bad = {"user_id": "", "created_at": "2026-11-26T03:00:00.000Z"}
    reconciler = make_reconciler([bad, USER])
    report = reconciler.run(T0, T0 + timedelta(minutes=1))
    assert (report.scanned, report.skipped_invalid, report.enqueued) == (2, 1, 1)


def test_the_checkpoint_only_moves_forward():
    checkpoints = CheckpointStore(InMemoryTableStore())
    assert checkpoints.get("acme") is None
    checkpoints.advance("acme", T0 + timedelta(hours=1))
    checkpoints.advance("acme", T0)
    assert checkpoints.get("acme") == T0 + timedelta(hours=1)


def test_the_first_sweep_covers_a_day_and_later_ones_overlap():
    reconciler = make_reconciler([USER])
    checkpoints = CheckpointStore(InMemoryTableStore())
    now = T0 + timedelta(hours=1)
    first = sweep(reconciler, checkpoints, timedelta(minutes=2), now=lambda: now)
    assert first is not None
    assert first.since == now - timedelta(minutes=2) - FIRST_SWEEP
    assert first.enqueued == 1
    assert checkpoints.get("acme") == now - timedelta(minutes=2)
    later = now + timedelta(minutes=10)
    second = sweep(reconciler, checkpoints, timedelta(minutes=2), now=lambda: later)
    assert second is not None
    assert second.since == now - timedelta(minutes=2) - OVERLAP


def test_nothing_settled_means_no_sweep():
    checkpoints = CheckpointStore(InMemoryTableStore())
    checkpoints.advance("acme", T0 + timedelta(hours=2))
    reconciler = make_reconciler([])
    assert (
        sweep(reconciler, checkpoints, timedelta(hours=2), now=lambda: T0 + timedelta(hours=2))
        is None
    )
