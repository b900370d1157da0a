"""Reconciler throughput: users checked per second against what the request ceiling allows.

The ceiling allows `RECONCILE_MAX_RPS x 100` users per second (100 per page);
a run that only waits for the ceiling reaches 1.0. Measured in one run against
the Auth0 stand-in (rate limit 2/s, Auth0's Free plan), Azurite and the Service
Bus emulator, through the real assembly (the `AppContext.reconciler` part):

- backfill: an hour of users the table lacks, all enqueued;
- steady sweep: an hour of users the table already holds (the timer's usual case).

Goal: ratio >= 0.8 for both.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.harness import Measurement, report, timed
from localdev.auth0.directory import format_ms
from localdev.auth0.runner import StandInOptions, ThreadedStandIn
from localdev.auth0.server import TenantConfig
from localdev.azurite import Azurite
from localdev.ports import free_port
from localdev.servicebus.process import ServiceBusEmulatorProcess, write_config
from reconciler import mapping
from reconciler.dependencies import close_search
from reconciler.listing import PER_PAGE
from shared.events import parse_event
from shared.registrations import Registration
from shared.runtime import AppContext
from shared.settings import Settings

QUEUE = "registrations"
TENANT = "bench-tenant"
BACKFILL_HOUR = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
STORED_HOUR = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def seed(server: ThreadedStandIn, count: int, start: datetime, prefix: str) -> list[dict[str, Any]]:
    """`count` users spread evenly over the hour from `start`."""
    return [
        server.state.directory.add(
            {"user_id": f"auth0|{prefix}{n:06d}", "created_at": format_ms(start + HOUR * n / count)}
        )
        for n in range(count)
    ]


def store_all(context: AppContext, users: list[dict[str, Any]]) -> None:
    """Write `users` into the table as the processor would (the steady sweep finds them)."""
    writer = context.registration_writer
    now = datetime.now(UTC)
    for user in users:
        message = mapping.registration_message(user, TENANT, frozenset())
        registration = Registration.from_event(
            parse_event(message.body), message_id=message.message_id, correlation_id="b" * 32,
            received_at=now, processed_at=now, delivery_count=1,
        )  # fmt: skip
        writer.save(registration)


def measure(name: str, context: AppContext, since: datetime, max_rps: float) -> Measurement:
    """One timed run over the hour from `since`."""
    with timed() as watch:
        result = context.reconciler.run(since, since + HOUR)
    if not result.complete:
        raise RuntimeError(f"{name}: the run did not complete")
    return Measurement(
        name=f"reconcile {name}: users checked/s vs ceiling",
        value=result.scanned / watch.elapsed,
        baseline=max_rps * PER_PAGE,
        unit="users/s",
        goal_min=0.8,
        details={"seconds": round(watch.elapsed, 2), **result.as_json()},
    )


def run(users: int, max_rps: float, folder: Path) -> list[Measurement]:
    """Start the stand-in, Azurite and the emulator; measure both phases; stop everything."""
    tenant = TenantConfig("bench.auth0.invalid", "bench-client", "bench-secret")
    standin = ThreadedStandIn(StandInOptions(tenant=tenant, port=free_port()))
    azurite = Azurite(table_port=free_port(), log_path=folder / "azurite.log")
    config = write_config(folder / "config.json", {QUEUE: {}})
    emulator = ServiceBusEmulatorProcess(free_port(), config, log_path=folder / "emulator.log")
    started: list[Any] = []
    try:
        for part in (standin, azurite, emulator):
            part.start()
            started.append(part)
        settings = Settings.model_validate(
            {
                "TablesConnection": azurite.connection_string,
                "ServiceBusConnection": emulator.connection_string,
                "REGISTRATIONS_QUEUE": QUEUE,
                "AUTH0_DOMAIN": tenant.domain,
                "AUTH0_CLIENT_ID": tenant.client_id,
                "AUTH0_CLIENT_SECRET": tenant.client_secret,
                "AUTH0_TENANT_ID": TENANT,
                "AUTH0_BASE_URL": standin.base_url,
                "RECONCILE_MAX_RPS": max_rps,
            }
        )
        seed(standin, users, BACKFILL_HOUR, "new")
        stored = seed(standin, users, STORED_HOUR, "old")
        context = AppContext(settings)
        try:
            store_all(context, stored)
            backfill = measure("backfill", context, BACKFILL_HOUR, max_rps)
            steady = measure("steady sweep", context, STORED_HOUR, max_rps)
        finally:
            close_search(context.reconciler)
            context.publisher.close()  # type: ignore[attr-defined]
            context.service_bus_client.close()
            context.table_service_client.close()
        throttled = standin.state.stats.throttled
        for measurement in (backfill, steady):
            measurement.details["auth0_429s"] = throttled
        return [backfill, steady]
    finally:
        for part in reversed(started):
            part.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write bench/results/reconcile.json."""
    parser = argparse.ArgumentParser(prog="python -m bench.reconcile", description=__doc__)
    parser.add_argument("--users", type=int, default=3000, help="users per hour (default 3000)")
    parser.add_argument("--max-rps", type=float, default=1.0, help="RECONCILE_MAX_RPS (1.0)")
    args = parser.parse_args([] if argv is None else argv)
    folder = Path(tempfile.mkdtemp(prefix="bench-reconcile-"))
    results = run(args.users, args.max_rps, folder)
    return report("reconcile", results, users=args.users, max_rps=args.max_rps)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
