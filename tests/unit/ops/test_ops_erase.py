"""`registrations erase`: the user is gone everywhere, the audit row names only a hash."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ops.audit.record import AuditTrail
from ops.cli import app as cli
from ops.erasure import erase_user
from ops.errors import OpsError
from shared.audit_rows import erased_user_selection
from shared.erasure import Eraser
from shared.errors import QueueUnavailable
from shared.failures import FailureLog
from shared.tablestore import InMemoryTableStore
from shared.tombstones import TombstoneStore
from shared.writes import RegistrationWriter
from tests.unit.erasure.memory import InMemoryDeadLetters, creation_body
from tests.unit.ops.ops_fakes import InMemoryAuditStore
from tests.unit.ops.test_ops_cli import FakeWiring, run
from tests.unit.ops.test_ops_hardening import UnwritableAuditStore, registration

USER = "auth0|erase-me"
TENANT = "acme-prod"
NOW = datetime(2026, 11, 28, tzinfo=UTC)


class Stores:
    """The erasure's collaborators in memory, with one stored signup and one dead letter."""

    def __init__(self) -> None:
        self.registrations = InMemoryTableStore()
        RegistrationWriter(self.registrations).save(
            registration(tenant_id=TENANT, user_id=USER, nickname="ana")
        )
        self.dead_letters = InMemoryDeadLetters()
        self.dead_letters.bodies.append(creation_body(USER, datetime(2026, 11, 26, tzinfo=UTC)))
        self.eraser = Eraser(
            self.registrations,
            TombstoneStore(InMemoryTableStore(), clock=lambda: NOW),
            FailureLog(InMemoryTableStore()),
            self.dead_letters,
        )


def test_erase_removes_the_user_and_audits_a_hash_not_the_id() -> None:
    stores, audit_store = Stores(), InMemoryAuditStore()
    row = erase_user(stores.eraser, AuditTrail(audit_store, "local:ana"), TENANT, USER, lambda: NOW)
    assert len(stores.registrations) == 0
    assert stores.dead_letters.bodies == []
    assert row["entities"] == 1
    assert row["dead_letters"] == 1
    [entry] = audit_store.recent(1)
    assert (entry.action, entry.outcome, entry.operator) == ("erase", "succeeded", "local:ana")
    assert entry.selection == erased_user_selection(TENANT, USER)
    assert USER not in json.dumps(entry.row(), default=str)
    assert "erase-me" not in json.dumps(entry.row(), default=str)


def test_nothing_is_erased_when_the_audit_record_cannot_be_written() -> None:
    stores = Stores()
    with pytest.raises(OpsError, match="nothing was erased"):
        erase_user(stores.eraser, AuditTrail(UnwritableAuditStore(), "x"), TENANT, USER)
    assert len(stores.registrations) == 2  # entity and its time-index entry


class FailingSweeper:
    def remove(self, selected: Any) -> int:
        raise QueueUnavailable("ServiceBusConnectionError from the dead-letter queue")


def test_a_failed_erasure_is_audited_as_failed_and_says_run_again() -> None:
    stores, audit_store = Stores(), InMemoryAuditStore()
    stores.eraser = Eraser(
        stores.registrations,
        TombstoneStore(InMemoryTableStore(), clock=lambda: NOW),
        FailureLog(InMemoryTableStore()),
        FailingSweeper(),
    )
    with pytest.raises(OpsError, match="run the same command again"):
        erase_user(stores.eraser, AuditTrail(audit_store, "x"), TENANT, USER)
    [entry] = audit_store.recent(1)
    assert entry.outcome == "failed"
    assert "QueueUnavailable" in (entry.error or "")


@pytest.fixture
def erasing_wiring(monkeypatch: pytest.MonkeyPatch) -> Stores:
    stores = Stores()

    def wiring(*args: Any, **kwargs: Any) -> FakeWiring:
        made = FakeWiring(*args, **kwargs)
        made.app.set_table_store(made.settings.registrations_table, stores.registrations)
        made.app.eraser = stores.eraser
        return made

    monkeypatch.setattr(cli, "Wiring", wiring)
    return stores


def test_the_command_needs_yes_and_finds_the_tenant_itself(
    capsys: pytest.CaptureFixture[str], erasing_wiring: Stores
) -> None:
    code, _, err = run(capsys, "registrations", "erase", USER)
    assert code == 2
    assert "--yes" in err
    code, out, err = run(capsys, "registrations", "erase", USER, "--yes", "--json")
    assert code == 0, err
    [row] = [json.loads(line) for line in out.splitlines()]
    assert (row["tenant_id"], row["entities"]) == (TENANT, 1)
    assert len(erasing_wiring.registrations) == 0
    [entry] = FakeWiring.instance.audit_store.recent(1)
    assert entry.action == "erase"


def test_an_unknown_user_without_tenant_is_one_line_exit_1(
    capsys: pytest.CaptureFixture[str], erasing_wiring: Stores
) -> None:
    code, _, err = run(capsys, "registrations", "erase", "auth0|nobody", "--yes")
    assert code == 1
    assert err == "error: no registration for user 'auth0|nobody': name the tenant with --tenant\n"
