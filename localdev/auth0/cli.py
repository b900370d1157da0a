"""`python -m localdev auth0`: the Auth0 stand-in in the foreground until Ctrl-C.

Flags win; what they leave out comes from `local.settings.json` `Values`
(AUTH0_DOMAIN, AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET, AUTH0_TENANT_ID, and the
port of AUTH0_BASE_URL), so `make run` and the reconciler agree by construction.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from localdev.auth0.runner import StandInOptions, ThreadedStandIn
from localdev.auth0.server import TenantConfig, load_seed

DEFAULT_DOMAIN = "localdev.auth0.invalid"
DEFAULT_PORT = 4010

EPILOG = """\
The reconciler reaches it with these app settings (local.settings.json Values):
  AUTH0_BASE_URL=http://127.0.0.1:PORT  AUTH0_DOMAIN=DOMAIN (the token audience is
  https://DOMAIN/api/v2/)  AUTH0_CLIENT_ID / AUTH0_CLIENT_SECRET as given here,
  AUTH0_TENANT_ID (the tenant id the reconciler stamps on messages).
Admin API (not Auth0's, loopback only): POST /admin/users with one user object or a
list ({"user_id", "email", "created_at", "connection", ...}; missing ids and times are
generated), DELETE /admin/users/{id}, GET /admin/stats.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m localdev auth0",
        description="Auth0 stand-in: client-credentials token and Management API user search.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--settings",
        type=Path,
        default=Path("local.settings.json"),
        help="read AUTH0_* defaults from this file (default local.settings.json)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: AUTH0_BASE_URL's, else 4010)")
    parser.add_argument(
        "--domain", help="tenant domain; the token audience is https://DOMAIN/api/v2/"
    )
    parser.add_argument("--client-id", help="the M2M application's client id")
    parser.add_argument("--client-secret", help="the M2M application's client secret")
    parser.add_argument("--tenant-id", help="tenant id shown in /admin/stats (AUTH0_TENANT_ID)")
    parser.add_argument("--seed", type=Path, help='JSON file: a list of users, or {"users": [...]}')
    parser.add_argument(
        "--search-delay",
        type=float,
        default=1.0,
        help="seconds before a new user is searchable (default 1.0)",
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=2.0,
        help="Management API requests per second, also the burst "
        "(default 2, Auth0's Free plan; 0 = unlimited)",
    )
    parser.add_argument(
        "--token-lifetime",
        type=int,
        default=86400,
        help="access token expires_in, seconds (default 86400)",
    )
    return parser  # fmt: skip


def _settings_values(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    values = document.get("Values", {}) if isinstance(document, dict) else {}
    return values if isinstance(values, dict) else {}


def resolve_options(args: argparse.Namespace) -> tuple[StandInOptions, str]:
    """Flags first, then local.settings.json; raises ValueError naming what is missing."""
    values = _settings_values(args.settings)
    base_port = urlsplit(str(values.get("AUTH0_BASE_URL") or "")).port
    client_id = args.client_id or values.get("AUTH0_CLIENT_ID")
    client_secret = args.client_secret or values.get("AUTH0_CLIENT_SECRET")
    if not client_id or not client_secret:
        raise ValueError("give --client-id and --client-secret (or AUTH0_CLIENT_* in the settings)")
    tenant = TenantConfig(
        domain=args.domain or values.get("AUTH0_DOMAIN") or DEFAULT_DOMAIN,
        client_id=str(client_id),
        client_secret=str(client_secret),
        token_lifetime=args.token_lifetime,
    )
    options = StandInOptions(
        tenant=tenant,
        host=args.host,
        port=args.port or base_port or DEFAULT_PORT,
        search_delay=args.search_delay,
        rate_limit=max(1, round(args.rate_limit)),
        rate_per_second=args.rate_limit,
    )
    return options, str(args.tenant_id or values.get("AUTH0_TENANT_ID") or "")


def main(argv: list[str]) -> int:
    """Serve until SIGINT/SIGTERM. Exit 2 on bad options or an unreadable seed file."""
    args = build_parser().parse_args(argv)
    try:
        options, tenant_id = resolve_options(args)
        seed = load_seed(args.seed.read_text(encoding="utf-8")) if args.seed else []
    except (OSError, ValueError) as exc:
        print(f"auth0 stand-in: {exc}", file=sys.stderr)
        return 2
    server = ThreadedStandIn(options)
    server.state.tenant_id = tenant_id
    try:
        for user in seed:
            server.state.directory.add(user)
    except (KeyError, ValueError) as exc:
        print(f"auth0 stand-in: bad seed user: {exc}", file=sys.stderr)
        return 2
    try:
        server.start()
    except OSError as exc:
        print(f"auth0 stand-in: cannot listen on port {options.port}: {exc}", file=sys.stderr)
        return 1
    print(
        f"auth0 stand-in on {server.base_url} (domain {options.tenant.domain}, "
        f"{len(seed)} seeded users, {options.rate_per_second:g} req/s)",
        flush=True,
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0
