"""`python -m localdev host`: run a v2 Python Function App without Core Tools.

Exit codes: 0 stopped cleanly, 1 crashed, 2 cannot start (bad settings,
unsupported binding, port in use); start-up errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from localdev.host.auth import HostKeys
from localdev.host.config import (
    StartupError,
    apply_app_settings,
    load_host_options,
    load_local_settings,
)
from localdev.host.discovery import discover_functions, load_app_module
from localdev.host.http_server import BODY_LIMIT_SETTING, MAX_REQUEST_BODY_BYTES
from localdev.host.invocation import configure_logging, log_event
from localdev.host.runtime import LocalHost


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m localdev host", description=__doc__)
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=7071, help="HTTP port (default 7071)")
    parser.add_argument("--app", type=Path, default=Path("function_app.py"), help="the app file")
    parser.add_argument(
        "--settings",
        type=Path,
        default=Path("local.settings.json"),
        help="local.settings.json to load",
    )
    parser.add_argument(
        "--host-json", type=Path, default=None, help="host.json (default: next to the app file)"
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="timer status and locks (default: .localdev/host next to the app file)",
    )
    parser.add_argument(
        "--shutdown-timeout",
        type=float,
        default=30.0,
        help="seconds to let in-flight invocations finish on SIGINT/SIGTERM (default 30)",
    )
    return parser.parse_args(argv)


def body_size_limit(settings: dict[str, str]) -> int:
    """FUNCTIONS_REQUEST_BODY_SIZE_LIMIT in bytes (unset: the host's 100 MiB default)."""
    raw = settings.get(BODY_LIMIT_SETTING, "").strip()
    if not raw:
        return MAX_REQUEST_BODY_BYTES
    if not raw.isdigit() or int(raw) < 1:
        raise StartupError(f"{BODY_LIMIT_SETTING} must be a positive number of bytes, not {raw!r}")
    return int(raw)


def build_host(args: argparse.Namespace) -> LocalHost:
    """Load settings, host.json and the app; raise StartupError for anything the user must fix."""
    kept = apply_app_settings(load_local_settings(args.settings), os.environ)
    if kept:
        log_event("host.settings_from_environment", names=sorted(kept))
    options = load_host_options(args.host_json or args.app.parent / "host.json")
    settings = dict(os.environ)
    functions = discover_functions(load_app_module(args.app), settings)
    if not functions:
        raise StartupError(f"{args.app}: the app has no functions")
    keys, generated = HostKeys.from_settings(settings)
    if generated:
        # Printed once, like Core Tools prints its URLs: admin routes need it.
        print(f"localdev host: master key for this run: {keys.master_key}", flush=True)
    if not keys.function_keys:
        log_event(
            "host.no_function_key",
            hint="set LOCALDEV_FUNCTION_KEY; function-level routes accept only the master key",
        )
    return LocalHost(
        max_body_bytes=body_size_limit(settings),
        functions=functions,
        options=options,
        keys=keys,
        app_directory=args.app.resolve().parent,
        state_dir=(args.state_dir or args.app.resolve().parent / ".localdev" / "host").resolve(),
        host=args.host,
        port=args.port,
        shutdown_timeout=args.shutdown_timeout,
    )


async def _serve(host: LocalHost) -> int:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals_seen = 0

    def on_signal() -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen > 1:
            log_event("host.forced_exit")
            os._exit(130)
        stopping.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    return await host.run(stopping)


def main(argv: list[str]) -> int:
    """Entry point of `python -m localdev host`."""
    args = parse_args(argv)
    configure_logging()
    try:
        host = build_host(args)
    except StartupError as exc:
        print(f"localdev host: {exc}", file=sys.stderr, flush=True)
        return 2
    return asyncio.run(_serve(host))
