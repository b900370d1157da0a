"""The Auth0 stand-in on a free port, in a thread of the test process (real sockets)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from localdev.auth0.directory import format_ms
from localdev.auth0.runner import StandInOptions, ThreadedStandIn
from localdev.auth0.server import TenantConfig
from shared.settings import Settings
from tests.fixtures.ports import free_port

DOMAIN = "tests.auth0.invalid"
CLIENT_ID = "reconciler-test-client"
CLIENT_SECRET = "reconciler-test-secret"
TENANT_ID = "tests-tenant"


@contextlib.contextmanager
def running_standin(
    *,
    rate_per_second: float = 0.0,
    rate_limit: int = 2,
    search_delay: float = 0.0,
    token_lifetime: int = 86400,
) -> Iterator[ThreadedStandIn]:
    """A started stand-in; fails (never skips) when it cannot listen."""
    tenant = TenantConfig(DOMAIN, CLIENT_ID, CLIENT_SECRET, token_lifetime)
    options = StandInOptions(
        tenant=tenant, port=free_port(), search_delay=search_delay,
        rate_limit=rate_limit, rate_per_second=rate_per_second,
    )  # fmt: skip
    server = ThreadedStandIn(options)
    try:
        server.start()
    except Exception as exc:
        pytest.fail(f"the Auth0 stand-in could not start: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


def standin_settings(server: ThreadedStandIn, **values: Any) -> Settings:
    """Settings pointing the reconciler at `server` (through AUTH0_BASE_URL)."""
    return Settings.model_validate(
        {
            "AUTH0_DOMAIN": DOMAIN,
            "AUTH0_CLIENT_ID": CLIENT_ID,
            "AUTH0_CLIENT_SECRET": CLIENT_SECRET,
            "AUTH0_TENANT_ID": TENANT_ID,
            "AUTH0_BASE_URL": server.base_url,
            **values,
        }
    )


def seed_users(
    server: ThreadedStandIn, count: int, start: datetime, span: timedelta, prefix: str = "u"
) -> list[dict[str, Any]]:
    """`count` users spread evenly over `[start, start + span)`, added straight to the directory."""
    step = span / count
    return [
        server.state.directory.add(
            {
                "user_id": f"auth0|{prefix}{index:06d}",
                "email": f"{prefix}{index}@example.com",
                "email_verified": index % 2 == 0,
                "created_at": format_ms(start + step * index),
            }
        )
        for index in range(count)
    ]


HOUR = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
