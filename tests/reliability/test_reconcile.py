"""Ingest unreachable for a run of signups (the Action gives up); then the reconciler runs.

The whole local stack (Azurite, the emulator, the Functions host with ingest and
the processor), an Auth0 stand-in holding every user, and the reconciler
assembled from the stack's settings. Figures: 0 lost, 0 duplicated.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from localdev.auth0.directory import format_ms
from reconciler.dependencies import close_search
from shared.runtime import AppContext
from shared.settings import Settings
from tests.integration.auth0.standin import TENANT_ID, running_standin, standin_settings
from tests.reliability.pipeline import Ledger, SignedClient, new_event

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def signup(auth0, index: int, created_at: datetime, group: str) -> dict:
    """One user in Auth0 and the event its Post User Registration Action would send."""
    user_id = f"auth0|{group}{index:04d}"
    auth0.state.directory.add({"user_id": user_id, "created_at": format_ms(created_at)})
    return new_event(user_id, tenant_id=TENANT_ID, created_at=format_ms(created_at))


def test_signups_the_action_gave_up_on_are_reconciled_once_each(fault_stack, figures):
    stack = fault_stack()
    client = SignedClient.for_stack(stack)
    ledger = Ledger()
    start = datetime.now(UTC) - timedelta(minutes=30)
    with running_standin() as auth0:
        # Given signups delivered while ingest answers
        delivered = [signup(auth0, n, start + timedelta(seconds=n), "ok") for n in range(80)]
        ledger.post_all(client, delivered)
        assert ledger.statuses == {202: 80}

        # And a run of signups while ingest is unreachable: the Action tries once and gives up
        stack.host.stop()
        missed = [
            signup(auth0, n, start + timedelta(minutes=5, seconds=n), "lost") for n in range(80)
        ]
        answers = [client.post(event) for event in missed]
        assert {answer.status for answer in answers} == {0}
        stack.start_host()

        # When the reconciler runs over the whole period
        settings = Settings.model_validate(
            {
                **stack.values,
                **standin_settings(auth0).model_dump(by_alias=True, exclude_unset=True),
            }
        )
        context = AppContext(settings)
        try:
            report = context.reconciler.run(start, datetime.now(UTC))
        finally:
            close_search(context.reconciler)
            context.publisher.close()  # type: ignore[attr-defined]
            context.service_bus_client.close()
            context.table_service_client.close()

        # Then every signup is stored exactly once
        assert report.scanned == 160
        assert report.enqueued + report.already_stored == 160
        assert report.enqueued >= 80
        for event in missed:
            ledger.accept(event)
        ledger.verify(stack, figures, timeout=180)
